"""`shoal up`: a whole local cluster (tracker, origin and PEERS peer agents) as child
processes of one command; cluster.json, push and pull through it, a clean stop on
SIGTERM or SIGINT, children that die with a SIGKILLed parent, a component that dies
(at start-up or later) taking the cluster down, bad flags, and a ring of origins
(--origins N) whose members agree on the ring."""

import itertools
import json
import os
import signal
import subprocess
import unittest
import urllib.parse

from shoal_harness import (SANITIZER_MARKERS, ShoalTestCase, http_request, make_file, run_cli,
                           sha256_digest, start_cli, wait_until)

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


def assertRingAgrees(test, urls, timeout=15.0):
    """GET /cluster on every member of a ring: itself as self, the same members and
    fingerprint everywhere, and within `timeout` every member up (the health checks may
    still be settling when the last member has just started)."""
    views = {}
    for url in urls:
        r = http_request(port_of(url), "GET", "/cluster")
        test.assertEqual(r.status, 200, f"GET /cluster on {url}: {r!r}")
        views[url] = r.json()
    for url, view in views.items():
        test.assertEqual(view["self"], url, view)
        test.assertEqual(sorted(m["url"] for m in view["members"]), sorted(urls), view)
        test.assertEqual([m["url"] for m in view["members"] if m["self"]], [url], view)
        for m in view["members"]:
            test.assertIsInstance(m["up"], bool, view)
    test.assertEqual(len({json.dumps(v["fingerprint"]) for v in views.values()}), 1,
                     f"members disagree on the ring: {views}")
    test.assertEqual(len({json.dumps([m["url"] for m in v["members"]]) for v in views.values()}),
                     1, f"member lists differ: {views}")

    def down():
        return [(url, m["url"]) for url in urls
                for m in http_request(port_of(url), "GET", "/cluster").json()["members"]
                if not m["up"]]
    test.assertTrue(wait_until(lambda: not down(), timeout=timeout),
                    f"(viewer, member) pairs still down after {timeout} s: {down()}")


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
        proc = start_cli(["up", "--peers", peers, "--data", self.data] + list(extra),
                         home=self.home)
        self.addCleanup(self._cleanup, proc)
        ready = wait_until(lambda: os.path.exists(self.json_path) or proc.poll() is not None,
                           timeout=START_TIMEOUT)
        if not os.path.exists(self.json_path):
            out, err = self.finish(proc, kill=not ready)
            self.fail(f"no cluster.json (exit status {proc.returncode}); "
                      f"stdout={out!r} stderr={err!r}")
        with open(self.json_path) as f:
            cluster = json.load(f)
        self.children = [(c["pid"], c["log"]) for c in self.components(cluster)]
        return proc, cluster

    @staticmethod
    def components(cluster):
        """Every component once: "origin" is also the first of "origins"."""
        return [cluster["tracker"]] + cluster["origins"] + cluster["peers"] + \
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
        sources = [("--origin", cluster["origin"]["url"])] + \
            [("--peer", p["url"]) for p in cluster["peers"]]
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
        self.assertIn(f"curl --cacert {cluster['edge']['cert']} {cluster['edge']['url']}/blobs/",
                      stdout)
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
        self.assertEqual(len({c["url"] for c in self.components(cluster)}), 3 + PEERS,
                         "ports must differ")
        self.assertEqual(cluster["origins"], [cluster["origin"]])
        self.assertTrue(os.path.isfile(cluster["edge"]["cert"]))

    def test_sigint_and_quiet(self):
        proc, _ = self.start_up("--quiet")
        self.assertEqual(self.assertStoppedCleanly(proc, signal.SIGINT), "",
                         "--quiet printed something")

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
                 ["--origins", "0"], ["--origins=17"], ["--bogus"], ["extra-argument"]]
        for args in cases:
            with self.subTest(args=args):
                r = run_cli(["up", "--data", self.data] + args, home=self.home, timeout=30)
                self.assertNotEqual(r.returncode, 0, r.stdout)
                self.assertTrue(self.assertOneLine(r.stderr).startswith("shoal up: "), r.stderr)
                self.assertFalse(os.path.exists(self.data),
                                 "a refused start created the data directory")

    def test_help(self):
        r = run_cli(["up", "--help"], home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        for flag in ("--peers", "--origins", "--data", "--host", "--quiet"):
            self.assertIn(flag, r.stdout)


class UpRing(UpTestCase):
    ORIGINS = 3

    def test_a_ring_of_origins_serves_push_and_pull_and_agrees_on_its_members(self):
        proc, cluster = self.start_up("--origins", self.ORIGINS, peers=1)
        origins = cluster["origins"]
        self.check_ring_schema(cluster)
        for o in origins:
            r = http_request(port_of(o["url"]), "GET", "/health")
            self.assertEqual(r.status, 200, f"{o['name']}: {r!r}")
        assertRingAgrees(self, [o["url"] for o in origins])
        # One blob per origin whose hand-out runs there (its first owner): the peer agent
        # must reach each, whichever origin of its list it asks first.
        blobs = self.blobs_led_by_each(origins)
        for src, digest in blobs:
            r = run_cli(["push", src, "--origin", cluster["origin"]["url"]], home=self.home)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, digest), r.stderr)
        sources = [("--origin", o["url"]) for o in origins] + \
            [("--peer", cluster["peers"][0]["url"])]
        for (src, digest), (flag, url) in itertools.product(blobs, sources):
            with self.subTest(blob=digest, source=url):
                out = os.path.join(self.tmp, "copy.bin")
                r = run_cli(["pull", digest, flag, url, "-o", out], home=self.home)
                self.assertEqual(r.returncode, 0, r.stderr)
                with open(out, "rb") as a, open(src, "rb") as b:
                    self.assertTrue(a.read() == b.read(), f"pulled bytes differ from {src}")
        stdout = self.assertStoppedCleanly(proc, signal.SIGTERM)
        self.assertIn(f"a ring of {self.ORIGINS} origins", stdout)
        for o in origins:
            self.assertIn(o["url"], stdout, "origin missing from the table")

    def blobs_led_by_each(self, origins, size=300_000):
        """[(path, digest)]: one file per origin whose blob has that origin as its first
        owner (GET /blobs/<d>/locations; placement needs no copy of the blob)."""
        led = {}
        seed = 100
        while len(led) < len(origins):
            path = os.path.join(self.tmp, f"blob-{seed}.bin")
            digest = make_file(path, size, seed=seed)
            r = http_request(port_of(origins[0]["url"]), "GET", f"/blobs/{digest}/locations")
            self.assertEqual(r.status, 200, r)
            led.setdefault(r.json()["owners"][0]["url"], (path, digest))
            seed += 1
        return list(led.values())

    def check_ring_schema(self, cluster):
        origins = cluster["origins"]
        self.assertEqual(len(origins), self.ORIGINS)
        self.assertEqual(cluster["origin"], origins[0], "origin must be the first of origins")
        self.assertEqual([o["name"] for o in origins],
                         [f"origin-{i}" for i in range(1, self.ORIGINS + 1)])
        for o in origins:
            self.assertEqual(sorted(o), ["data", "log", "name", "pid", "url"], o)
            self.assertEqual(o["data"], os.path.join(self.data, o["name"]))
            self.assertTrue(os.path.isdir(o["data"]), o)
            self.assertTrue(writes_to(o["pid"], o["log"]), o)
        self.assertFalse(os.path.exists(os.path.join(self.data, "origin")),
                         "a ring made the lone origin's data directory")
        self.assertEqual(len({c["url"] for c in self.components(cluster)}),
                         3 + self.ORIGINS, "ports must differ")



class RingHarness(ShoalTestCase):
    """The harness's Ring (shoal_harness.start_ring), which the ring's fault tests build
    on: members on ports chosen up front, and a member that is killed, wiped and started
    again comes back on the same URL and data directory, and the others see it up."""

    def test_a_member_restarts_on_its_port_and_data_directory(self):
        ring = self.start_ring(3, health_fails=1, health_passes=1)
        self.assertEqual(len(set(ring.urls)), 3)
        assertRingAgrees(self, ring.urls)
        data = b"kept across a restart"
        digest = sha256_digest(data)
        r = ring[1].request("PUT", f"/blobs/{digest}", body=data)
        self.assertIn(r.status, (200, 201), r)
        old = ring[1]
        ring.stop(1, graceful=False)
        self.assertFalse(old.alive())

        def sees_down():
            members = ring[0].request("GET", "/cluster").json()["members"]
            return [m["up"] for m in members if m["url"] == ring.urls[1]] == [False]
        self.assertTrue(wait_until(sees_down, timeout=10), "the others never saw it go down")
        fresh = ring.restart(1, wipe=True)
        self.assertEqual((fresh.port, fresh.data_dir), (old.port, old.data_dir))
        self.assertIsNot(fresh, old)
        self.assertEqual(list(ring.live()), list(ring))
        assertRingAgrees(self, ring.urls)
        with self.assertRaises(AssertionError):
            ring.wipe(2)  # a running member's disk is not pulled from under it


if __name__ == "__main__":
    unittest.main()
