"""Shoal on a test bed of capped hosts (scripts/testbed/testbed.sh): every host is a
network namespace with its own link, capped by tc tbf, on one bridge that exists only
inside the test bed. Host 1 runs the tracker and the origin; hosts 2.. run a peer agent
each, its HTTP API on the host's own loopback. Needs root; the test bed has a name of
its own per test process, and is torn down (with every process in it) by a cleanup.
"""

import hashlib
import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

from shoal_harness import HERE, MiB, SANITIZER_MARKERS, SHOAL_BIN, make_file, require_binary

TESTBED = os.path.normpath(os.path.join(HERE, "..", "..", "scripts", "testbed", "testbed.sh"))
SRC = "10.213.0.1"
ORIGIN = f"http://{SRC}:4100"
TRACKER = f"http://{SRC}:4200"


def addr(host):
    return f"10.213.0.{host}"


def netns_unavailable():
    """None when a network namespace can be made here, else what `ip` said."""
    name = f"shoalprobe{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode != 0:
        return r.stderr.strip() or f"ip exited {r.returncode}"
    subprocess.run(["ip", "netns", "delete", name], capture_output=True)
    return None


class TestbedCase(unittest.TestCase):
    """One test bed per test: `receivers` peer hosts plus the source host."""

    def setUp(self):
        require_binary()
        if os.geteuid() != 0:
            raise unittest.SkipTest("the test bed needs root (ip netns, tc)")
        if (why := netns_unavailable()) is not None:
            raise unittest.SkipTest(f"this machine cannot make network namespaces: {why}")
        self.name = f"tb{os.getpid() % 100000}"
        self.tmp = tempfile.mkdtemp(prefix="shoal-testbed-")
        os.chmod(self.tmp, 0o755)
        self.procs = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        self.bed("down")
        for p, _ in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        bad = []
        for _, log in self.procs:
            with open(log, errors="replace") as f:
                text = f.read()
            if any(m in text for m in SANITIZER_MARKERS):
                bad.append(f"{log}:\n{text[-4000:]}")
        subprocess.run(["rm", "-rf", self.tmp], check=False)
        if bad:
            self.fail("sanitizer report:\n" + "\n".join(bad))

    def bed(self, *args):
        subprocess.run([TESTBED, "--name", self.name, *args], check=True,
                       stdout=subprocess.DEVNULL)

    def in_host(self, host, *argv):
        return ["ip", "netns", "exec", f"{self.name}-h{host}", *argv]

    def spawn(self, host, name, *argv):
        log = os.path.join(self.tmp, f"{name}.log")
        with open(log, "wb") as out:
            # `ip netns exec` execs the command: the Popen is the process itself.
            p = subprocess.Popen(self.in_host(host, *argv), stdout=out, stderr=subprocess.STDOUT)
        self.procs.append((p, log))
        return p

    def run_in(self, host, *argv, timeout=60):
        return subprocess.run(self.in_host(host, *argv), capture_output=True, timeout=timeout)

    def get_json(self, host, url):
        r = self.run_in(host, "curl", "-sf", "--max-time", "10", url)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        self.fail(f"timed out after {timeout}s waiting for {what}")

    # ----------------------------------------------------------------------------------

    def start_swarm(self, receivers, rate, peer_args=()):
        """Test bed up, tracker + origin on host 1, an agent on hosts 2..receivers+1.
        Returns the peer processes by host number."""
        self.bed("up", "--hosts", str(receivers + 1), "--rate", rate)
        self.spawn(1, "tracker", SHOAL_BIN, "tracker", "--listen", f"{SRC}:4200",
                   "--origin", ORIGIN)
        self.spawn(1, "origin", SHOAL_BIN, "origin", "--listen", f"{SRC}:4100",
                   "--data", os.path.join(self.tmp, "origin"), "--tracker", TRACKER,
                   "--bt-listen", f"{SRC}:6881")
        peers = {}
        for h in range(2, receivers + 2):
            peers[h] = self.spawn(h, f"peer{h}", SHOAL_BIN, "peer", "--listen", "127.0.0.1:4300",
                                  "--data", os.path.join(self.tmp, f"peer{h}"),
                                  "--origin", ORIGIN, "--tracker", TRACKER,
                                  "--bt-listen", f"{addr(h)}:6881", *peer_args)
        up = lambda h, url: self.run_in(h, "curl", "-sf", url + "/health").returncode == 0
        self.wait(lambda: up(1, ORIGIN) and up(1, TRACKER), 30, "tracker and origin")
        for h in peers:
            self.wait(lambda: up(h, "http://127.0.0.1:4300"), 30, f"peer agent on host {h}")
        return peers

    def push(self, size, seed):
        path = os.path.join(self.tmp, f"blob{seed}")
        digest = make_file(path, size, seed=seed)
        r = self.run_in(1, SHOAL_BIN, "push", path, "--origin", ORIGIN, "--quiet",
                        "--state-dir", os.path.join(self.tmp, "state"), timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(r.stdout.decode().strip(), digest)
        os.unlink(path)
        self.wait(lambda: self.swarm(digest) is not None, 120, "the origin to seed the blob")
        return digest

    def swarm(self, digest):
        """The origin's GET /blobs/<digest>/swarm, or None."""
        return self.get_json(1, f"{ORIGIN}/blobs/{digest}/swarm")

    def pull_all(self, hosts, digest):
        """Starts GET /blobs/<digest> on each host's agent at once; returns a dict that
        each host's thread fills with (curl exit, sha256 of the body, bytes, seconds)."""
        results = {}
        start = time.monotonic()

        def pull(h):
            out = os.path.join(self.tmp, f"copy{h}")
            r = subprocess.run(self.in_host(h, "curl", "-sf", "--max-time", "600", "-o", out,
                                            f"http://127.0.0.1:4300/blobs/{digest}"),
                               capture_output=True)
            took = time.monotonic() - start
            got, n = hashlib.sha256(), 0
            if os.path.exists(out):
                with open(out, "rb") as f:
                    while b := f.read(4 * MiB):
                        got.update(b)
                        n += len(b)
                os.unlink(out)
            results[h] = (r.returncode, "sha256:" + got.hexdigest(), n, took)

        threads = [threading.Thread(target=pull, args=(h,)) for h in hosts]
        for t in threads:
            t.start()
        self._threads = threads
        return results

    def join(self, timeout=500):  # inside ctest's 600 s for slow tests
        for t in self._threads:
            t.join(timeout)
