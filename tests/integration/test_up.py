"""`shoal up`: a whole local cluster (tracker, origin and PEERS peer agents) as child
processes of one command; cluster.json, push and pull through it, a clean stop on
SIGTERM or SIGINT, children that die with a SIGKILLed parent, a component that dies
(at start-up or later) taking the cluster down, and bad flags."""

import json
import os
import signal
import subprocess
import unittest
import urllib.parse

from shoal_harness import (SANITIZER_MARKERS, ShoalTestCase, http_request, make_file, run_cli,
                           start_cli, wait_until)

PEERS = 2  # peer agents per cluster
START_TIMEOUT = 60.0  # tracker and origin, then the peers: up to 30 s each


def port_of(url):
    return urllib.parse.urlsplit(url).port


def writes_to(pid, path):
    """True while process `pid` runs with its stdout on `path`. Checking the log, not
    just the pid, keeps a recycled pid (pid_max may be small) from passing for a
    component. A zombie has no fds and counts as gone."""
    try:
        return os.readlink(f"/proc/{pid}/fd/1") == path
    except OSError:
        return False


def processes_writing(path):
    """Pids whose stdout is `path`: finds components even when their pids are unknown."""
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and writes_to(int(e), path)]


class UpTestCase(ShoalTestCase):
    def setUp(self):
        super().setUp()
        self.data = os.path.join(self.tmp, "cluster")
        self.json_path = os.path.join(self.data, "cluster.json")
        self.children = []  # (pid, log path) of every component, from cluster.json

    def start_up(self, *extra, peers=PEERS):
        """Starts `shoal up` and waits for cluster.json; returns (process, cluster)."""
        proc = start_cli(["up", "--peers", peers, "--data", self.data] + list(extra), home=self.home)
        self.addCleanup(self._cleanup, proc)
        ready = wait_until(lambda: os.path.exists(self.json_path) or proc.poll() is not None,
                           timeout=START_TIMEOUT)
        if not os.path.exists(self.json_path):
            out, err = self.finish(proc, kill=not ready)
            self.fail(f"no cluster.json (exit status {proc.returncode}); stdout={out!r} stderr={err!r}")
        with open(self.json_path) as f:
            cluster = json.load(f)
        self.children = [(c["pid"], c["log"]) for c in self.components(cluster)]
        return proc, cluster

    @staticmethod
    def components(cluster):
        return [cluster["tracker"], cluster["origin"]] + cluster["peers"] + \
            ([cluster["edge"]] if "edge" in cluster else [])

    @staticmethod
    def finish(proc, kill=False, timeout=15.0):
        """Waits for the process (SIGKILL first when kill); returns (stdout, stderr) text."""
        if kill and proc.poll() is None:
            proc.kill()
        out, err = proc.communicate(timeout=timeout)
        return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def _cleanup(self, proc):
        if proc.poll() is None:
            proc.kill()
        try:
            proc.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ValueError):
            pass
        for pid, log in self.children:  # in case PR_SET_PDEATHSIG did not do its job
            if writes_to(pid, log):
                os.kill(pid, signal.SIGKILL)
        self.assertNoSanitizerReport()

    def assertNoSanitizerReport(self):
        if not os.path.isdir(self.data):
            return
        for name in sorted(os.listdir(self.data)):
            if name.endswith(".log"):
                with open(os.path.join(self.data, name), errors="replace") as f:
                    text = f.read()
                for m in SANITIZER_MARKERS:
                    self.assertNotIn(m, text, f"{name} has a sanitizer report:\n{text[-6000:]}")

    def assertAllGone(self, timeout=15.0):
        def running():
            return [pid for pid, log in self.children if writes_to(pid, log)]
        self.assertTrue(wait_until(lambda: not running(), timeout=timeout),
                        f"still running: {running()} of {self.children}")

    def assertStoppedCleanly(self, proc, sig):
        proc.send_signal(sig)
        try:
            out, err = self.finish(proc, timeout=15.0)
        except subprocess.TimeoutExpired:
            self.fail(f"shoal up did not exit within 15 s of signal {sig}")
        self.assertEqual(proc.returncode, 0, f"stdout={out!r} stderr={err!r}")
        self.assertEqual(err, "", "a clean stop wrote to stderr")
        self.assertAllGone(timeout=1.0)  # reaped before shoal up exited
        self.assertFalse(os.path.exists(self.json_path), "cluster.json left after a stop")
        return out


class Up(UpTestCase):
    def test_cluster_serves_push_and_pull_and_stops_on_sigterm(self):
        proc, cluster = self.start_up()
        self.check_schema(cluster)
        for c in self.components(cluster):
            r = http_request(port_of(c.get("plain_url", c["url"])), "GET", "/health")
            self.assertEqual(r.status, 200, f"{c['name']}: {r!r}")
        src = os.path.join(self.tmp, "small.bin")
        digest = make_file(src, 300_000, seed=5)
        r = run_cli(["push", src, "--origin", cluster["origin"]["url"]], home=self.home)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, digest), r.stderr)
        sources = [("--origin", cluster["origin"]["url"])] + [("--peer", p["url"]) for p in cluster["peers"]]
        for flag, url in sources:
            with self.subTest(source=url):
                out = os.path.join(self.tmp, f"copy-{port_of(url)}.bin")
                r = run_cli(["pull", digest, flag, url, "-o", out], home=self.home)
                self.assertEqual(r.returncode, 0, r.stderr)
                with open(out, "rb") as a, open(src, "rb") as b:
                    self.assertTrue(a.read() == b.read(), f"pulled bytes differ from {src}")
        # The edge, over HTTPS with the certificate shoal up made, fills through the swarm.
        edge = cluster["edge"]
        out = os.path.join(self.tmp, "from-edge.bin")
        r = subprocess.run(["curl", "-sS", "--http2", "--cacert", edge["cert"], "-o", out, "-w",
                            "%{http_code} %{http_version}", f"{edge['url']}/blobs/{digest}"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.stdout, "200 2", r.stderr)
        with open(out, "rb") as a, open(src, "rb") as b:
            self.assertTrue(a.read() == b.read(), "the edge's bytes differ")
        stdout = self.assertStoppedCleanly(proc, signal.SIGTERM)
        for c in self.components(cluster):
            self.assertIn(c["url"], stdout, "endpoint missing from the table")
        self.assertIn("shoal push FILE --origin " + cluster["origin"]["url"], stdout)
        self.assertIn("shoal pull DIGEST", stdout)
        self.assertIn(f"curl --cacert {cluster['edge']['cert']} {cluster['edge']['url']}/blobs/", stdout)
        with open(cluster["tracker"]["log"]) as f:
            self.assertIn('"msg":"listening"', f.read(), "logs are kept after a stop")

    def check_schema(self, cluster):
        self.assertEqual(cluster["data"], os.path.abspath(self.data))
        self.assertEqual(len(cluster["peers"]), PEERS)
        names = [c["name"] for c in self.components(cluster)]
        self.assertEqual(names, ["tracker", "origin"] + [f"peer{i}" for i in range(1, PEERS + 1)] +
                         ["edge"])
        tracker = cluster["tracker"]
        self.assertEqual(tracker["announce"], tracker["url"] + "/announce")
        self.assertNotIn("data", tracker)
        for c in self.components(cluster):
            scheme = "https" if c["name"] == "edge" else "http"
            self.assertTrue(c["url"].startswith(f"{scheme}://127.0.0.1:"), c)
            self.assertEqual(c["log"], os.path.join(self.data, c["name"] + ".log"))
            self.assertTrue(os.path.isfile(c["log"]), c)
            self.assertTrue(writes_to(c["pid"], c["log"]), c)
            if c is not tracker:
                self.assertEqual(c["data"], os.path.join(self.data, c["name"]))
                self.assertTrue(os.path.isdir(c["data"]), c)
        self.assertEqual(len({c["url"] for c in self.components(cluster)}), 3 + PEERS, "ports must differ")
        self.assertTrue(os.path.isfile(cluster["edge"]["cert"]))

    def test_sigint_and_quiet(self):
        proc, _ = self.start_up("--quiet")
        self.assertEqual(self.assertStoppedCleanly(proc, signal.SIGINT), "", "--quiet printed something")

    def test_sigkill_of_shoal_up_takes_the_children_down(self):
        proc, _ = self.start_up()
        proc.kill()
        proc.communicate(timeout=10)
        self.assertAllGone()

    def test_a_component_that_dies_stops_the_cluster(self):
        proc, cluster = self.start_up()
        os.kill(cluster["origin"]["pid"], signal.SIGKILL)
        try:
            out, err = self.finish(proc, timeout=15.0)
        except subprocess.TimeoutExpired:
            self.fail("shoal up kept running after the origin died")
        self.assertEqual(proc.returncode, 1, f"stdout={out!r} stderr={err!r}")
        line = self.assertOneLine(err)
        self.assertIn("origin", line)
        self.assertIn("signal 9", line)
        self.assertAllGone(timeout=1.0)
        self.assertFalse(os.path.exists(self.json_path))

    def test_a_component_failing_at_start_is_reported_with_its_log(self):
        # A file where the origin wants its blobs directory: the origin exits at once.
        os.makedirs(os.path.join(self.data, "origin"))
        with open(os.path.join(self.data, "origin", "blobs"), "w") as f:
            f.write("not a directory")
        r = run_cli(["up", "--peers", PEERS, "--data", self.data], home=self.home, timeout=60)
        self.assertEqual(r.returncode, 1, f"stdout={r.stdout!r} stderr={r.stderr!r}")
        line = self.assertOneLine(r.stderr)
        self.assertTrue(line.startswith("shoal up: origin"), line)
        self.assertIn(os.path.join(self.data, "origin.log"), line)
        self.assertFalse(os.path.exists(self.json_path))
        self.assertEqual(processes_writing(os.path.join(self.data, "tracker.log")), [],
                         "the tracker outlived a failed start")

    def test_one_cluster_per_directory(self):
        self.start_up()
        r = run_cli(["up", "--peers", 0, "--data", self.data], home=self.home, timeout=30)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("in use", self.assertOneLine(r.stderr))
        self.assertTrue(os.path.exists(self.json_path), "the running cluster's file was touched")

    def test_bad_flags(self):
        cases = [["--peers", "-1"], ["--peers=65"], ["--peers", "two"], ["--host", "not-an-ip"],
                 ["--bogus"], ["extra-argument"]]
        for args in cases:
            with self.subTest(args=args):
                r = run_cli(["up", "--data", self.data] + args, home=self.home, timeout=30)
                self.assertNotEqual(r.returncode, 0, r.stdout)
                self.assertTrue(self.assertOneLine(r.stderr).startswith("shoal up: "), r.stderr)
                self.assertFalse(os.path.exists(self.data), "a refused start created the data directory")

    def test_help(self):
        r = run_cli(["up", "--help"], home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        for flag in ("--peers", "--data", "--host", "--quiet"):
            self.assertIn(flag, r.stdout)


if __name__ == "__main__":
    unittest.main()
