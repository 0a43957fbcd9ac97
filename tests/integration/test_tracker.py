"""`shoal tracker` on a loopback port: announces and scrapes over raw HTTP (BEP 3, 23,
7, 48), failure reasons for malformed announces, the hand-out policy as clients see
it, peer TTL, metainfo by digest, and a real third-party BitTorrent client (aria2c)
swarming through it."""

import os
import random
import shutil
import socket
import subprocess
import time
import unittest

from shoal_harness import (HOST, SHOAL_BIN, Metrics, make_bytes, make_file, requires_tool,
                           sha256_digest, unused_port, wait_until)
from tracker_harness import (TrackerTestCase, announce_path, bdecode, compact_peers, make_v1_torrent,
                             peer_id, quote)

IH = bytes(range(20))
LOOPBACK = socket.inet_aton("127.0.0.1")


class Announce(TrackerTestCase):
    def setUp(self):
        super().setUp()
        self.tracker = self.start_tracker()

    def get(self, path):
        r = self.tracker.request("GET", path)
        self.assertEqual(r.status, 200, r)
        return bdecode(r.body)

    def announce(self, tag, port, left=0, info_hash=IH, **extra):
        return self.get(announce_path(info_hash, peer_id(tag), port, left=left, **extra))

    def test_compact_and_dict_peers(self):
        a = self.announce("a", 7001, left=0, compact=1, event="started")
        self.assertEqual(a[b"peers"], b"", "first peer gets nobody (never itself)")
        self.assertEqual((a[b"complete"], a[b"incomplete"]), (1, 0))
        self.assertEqual(a[b"interval"], 30)
        self.assertIn(b"min interval", a)
        b = self.announce("b", 7002, left=100, compact=1)
        self.assertEqual(compact_peers(b[b"peers"]), [(LOOPBACK, 7001)])
        self.assertEqual(b[b"peers6"], b"")
        self.assertEqual((b[b"complete"], b[b"incomplete"]), (1, 1))
        d = self.announce("b", 7002, left=100, compact=0)
        self.assertEqual(d[b"peers"], [{b"ip": b"127.0.0.1", b"port": 7001, b"peer id": peer_id("a")}])
        d = self.announce("b", 7002, left=100, no_peer_id=1)
        self.assertEqual(d[b"peers"], [{b"ip": b"127.0.0.1", b"port": 7001}])

    def test_ipv6_peers6_and_explicit_ip(self):
        self.announce("v6", 7003, ipv6=quote(b"::1"))
        self.announce("ip", 7004, ip="10.9.8.7")
        r = self.announce("q", 7005, compact=1)
        self.assertCountEqual(compact_peers(r[b"peers"]), [(LOOPBACK, 7003), (socket.inet_aton("10.9.8.7"), 7004)])
        self.assertEqual(compact_peers(r[b"peers6"], 18), [(socket.inet_pton(socket.AF_INET6, "::1"), 7003)])
        d = self.announce("q", 7005)
        self.assertCountEqual([(p[b"ip"], p[b"port"]) for p in d[b"peers"]],
                              [(b"127.0.0.1", 7003), (b"::1", 7003), (b"10.9.8.7", 7004)])

    def test_malformed_announces_get_failure_reason(self):
        good = dict(info_hash=quote(IH), peer_id=quote(peer_id("x")), port="7000", left="0")
        cases = {
            "missing info_hash": {k: v for k, v in good.items() if k != "info_hash"},
            "missing peer_id": {k: v for k, v in good.items() if k != "peer_id"},
            "missing port": {k: v for k, v in good.items() if k != "port"},
            "invalid info_hash: must be 20 bytes, got 19": {**good, "info_hash": quote(IH[:19])},
            "invalid peer_id: must be 20 bytes, got 21": {**good, "peer_id": quote(b"x" * 21)},
            "invalid port: expected 1 to 65535": {**good, "port": "70000"},
            "invalid event: expected started, completed, stopped or empty": {**good, "event": "bogus"},
            "invalid numwant: expected an unsigned integer": {**good, "numwant": "-3"},
            "invalid ip: expected an IP address": {**good, "ip": "not-an-ip"},
        }
        for reason, params in cases.items():
            with self.subTest(reason=reason):
                q = "&".join(f"{k}={v}" for k, v in params.items())
                r = self.get("/announce?" + q)
                self.assertEqual(r, {b"failure reason": reason.encode()})
        r = self.announce("x", 7000, numwant="999999999999999999999999")
        self.assertNotIn(b"failure reason", r, "huge numwant is capped, not refused")
        self.assertEqual(self.tracker.metrics().value("shoal_tracker_announce_failures_total"), len(cases))
        self.assertHealthy(self.tracker)

    def test_garbage_never_crashes(self):
        rng = random.Random(7)
        for i in range(200):
            junk = bytes(rng.randrange(256) for _ in range(rng.randrange(80)))
            q = quote(junk).replace("%3D", "=").replace("%26", "&")
            r = self.tracker.request("GET", "/announce?" + q)
            self.assertEqual(r.status, 200, r)
            self.assertIn(b"failure reason", bdecode(r.body))
            r = self.tracker.request("GET", "/scrape?info_hash=" + q)
            self.assertEqual(r.status, 200, r)
        for method in ("POST", "PUT", "DELETE"):
            self.assertError(self.tracker.request(method, "/announce"), 405, "METHOD_NOT_ALLOWED")
        self.assertError(self.tracker.request("GET", "/nothing"), 404, "NOT_FOUND")
        self.assertHealthy(self.tracker)

    def test_peer_never_receives_itself(self):
        for i in range(12):
            self.announce(f"p{i}", 7100 + i, left=i % 3)
        for i in range(12):
            r = self.announce(f"p{i}", 7100 + i, left=i % 3, compact=1)
            ports = [p for _, p in compact_peers(r[b"peers"])]
            self.assertEqual(len(ports), 11)
            self.assertNotIn(7100 + i, ports)

    def test_handout_order_seeders_origins_leechers(self):
        self.get(announce_path(IH, peer_id("o", prefix=b"-SHO0100-"), 7200, left=0))
        for i in range(3):
            self.announce(f"leech{i}", 7210 + i, left=5)
            self.announce(f"seed{i}", 7220 + i, left=0)
        r = self.announce("me", 7299, left=5, compact=1)
        ports = [p for _, p in compact_peers(r[b"peers"])]
        self.assertCountEqual(ports[:3], [7220, 7221, 7222])
        self.assertEqual(ports[3], 7200)
        self.assertCountEqual(ports[4:], [7210, 7211, 7212])
        r = self.announce("me", 7299, left=5, compact=1, numwant=2)
        self.assertEqual(len(compact_peers(r[b"peers"])), 2)

    def test_handout_order_key_turns_the_piece_aware_order_off(self):
        # Two leechers: one holds every piece of the first byte, one a single piece; the
        # asker holds none. The piece-aware order (default) always puts the first one
        # first; handout_order = completeness shuffles leechers, whatever they hold.
        def firsts(tracker):
            get = lambda tag, port, have: bdecode(tracker.request(
                "GET", announce_path(IH, peer_id(tag), port, left=5, compact=1,
                                     shoal_have=have)).body)
            get("many", 7401, "ff")
            get("one", 7402, "80")
            return {compact_peers(get("me", 7499, "00")[b"peers"])[0][1] for _ in range(24)}
        self.assertEqual(firsts(self.tracker), {7401})
        self.assertEqual(firsts(self.start_tracker("--handout-order", "completeness")),
                         {7401, 7402})
        p = subprocess.run([SHOAL_BIN, "tracker", "--listen", f"{HOST}:0", "--handout-order",
                            "random"], capture_output=True, text=True, timeout=20,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 2, p)
        self.assertEqual(p.stderr.strip(), 'shoal tracker: invalid value "random" for '
                                           'handout_order: expected pieces or completeness')

    def test_scrape_and_stopped(self):
        other = bytes(reversed(range(20)))
        self.announce("s", 7301, left=0, event="started")
        self.announce("l", 7302, left=10, event="started")
        self.announce("c", 7303, left=0, event="completed")
        self.announce("z", 7304, left=0, info_hash=other)
        unknown = b"\xff" * 20
        r = self.get(f"/scrape?info_hash={quote(IH)}&info_hash={quote(other)}&info_hash={quote(unknown)}")
        files = r[b"files"]
        self.assertEqual(files[IH], {b"complete": 2, b"incomplete": 1, b"downloaded": 1})
        self.assertEqual(files[other], {b"complete": 1, b"incomplete": 0, b"downloaded": 0})
        self.assertEqual(files[unknown], {b"complete": 0, b"incomplete": 0, b"downloaded": 0})
        self.announce("l", 7302, left=10, event="stopped")
        r = self.announce("s", 7301, compact=1)
        self.assertEqual(sorted(p for _, p in compact_peers(r[b"peers"])), [7303])
        self.assertEqual(self.get("/scrape?info_hash=abc"),
                         {b"failure reason": b"invalid info_hash: must be 20 bytes, got 3"})
        self.assertEqual(self.get("/scrape"), {b"files": {}})
        m = self.tracker.metrics()
        self.assertEqual(m.value("shoal_tracker_announces_total", event="started"), 2)
        self.assertEqual(m.value("shoal_tracker_announces_total", event="completed"), 1)
        self.assertEqual(m.value("shoal_tracker_announces_total", event="stopped"), 1)
        self.assertEqual(m.value("shoal_tracker_swarms"), 2)
        self.assertEqual(m.value("shoal_tracker_peers"), 3)
        self.assertGreaterEqual(m.value("shoal_tracker_handout_size_count"), 5)
        self.assertGreaterEqual(m.sum("shoal_http_requests_total", route="announce"), 5)


class TrackerTtl(TrackerTestCase):
    def test_peers_expire(self):
        tracker = self.start_tracker("--peer-ttl", "1s", "--announce-interval", "1s")
        tracker.request("GET", announce_path(IH, peer_id("old"), 7401))
        r = bdecode(tracker.request("GET", announce_path(IH, peer_id("new"), 7402, compact=1)).body)
        self.assertEqual(compact_peers(r[b"peers"]), [(LOOPBACK, 7401)])
        self.assertEqual(r[b"interval"], 1)
        time.sleep(1.3)
        r = bdecode(tracker.request("GET", announce_path(IH, peer_id("new"), 7402, compact=1)).body)
        self.assertEqual(r[b"peers"], b"", "the silent peer expired")
        self.assertEqual(r[b"complete"], 1, "only the announcing peer is left")
        gone = wait_until(lambda: tracker.metrics().value("shoal_tracker_peers") == 1, timeout=3)
        self.assertTrue(gone, "expired peers are pruned")


class TrackerMetainfo(TrackerTestCase):
    def test_without_origin(self):
        tracker = self.start_tracker()
        self.assertError(tracker.request("GET", "/metainfo/" + sha256_digest(b"x")), 503, "UNAVAILABLE")
        self.assertError(tracker.request("GET", "/metainfo/sha256:abc"), 400, "DIGEST_INVALID")

    def test_origin_down(self):
        tracker = self.start_tracker("--origin", f"http://{HOST}:{unused_port()}")
        self.assertError(tracker.request("GET", "/metainfo/" + sha256_digest(b"x")), 502, "ORIGIN_UNAVAILABLE")
        self.assertHealthy(tracker)

    def test_from_origin(self):
        origin = self.start_origin()
        tracker = self.start_tracker("--origin", origin.url)
        absent = sha256_digest(b"absent")
        self.assertEqual(origin.request("GET", f"/blobs/{absent}/metainfo").status, 404)
        self.assertError(tracker.request("GET", f"/metainfo/{absent}"), 404, "METAINFO_UNKNOWN")
        data = make_bytes(300_000, seed=3)
        digest = sha256_digest(data)
        self.assertIn(origin.request("PUT", f"/blobs/{digest}", body=data).status, (200, 201))
        direct = origin.request("GET", f"/blobs/{digest}/metainfo")
        self.assertEqual(direct.status, 200, direct)
        for expect in ("miss", "hit"):
            r = tracker.request("GET", f"/metainfo/{digest}")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, direct.body)
            self.assertEqual(tracker.metrics().value("shoal_tracker_metainfo_requests_total", result=expect), 1)


@requires_tool(shutil.which("aria2c"), "aria2c (Debian package aria2)")
class ThirdPartyClient(TrackerTestCase):
    """aria2c seeds a v1 torrent announcing to `shoal tracker`; a second aria2c finds
    it only through the tracker (DHT, LPD, PEX off) and downloads a verified copy."""

    ARIA = ["--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
            "--enable-peer-exchange=false", "--file-allocation=none", "--no-conf",
            "--summary-interval=0", "--console-log-level=warn", "--bt-tracker-interval=1",
            "--check-certificate=false", "--allow-overwrite=true"]

    def aria(self, args, log_name):
        log = open(os.path.join(self.tmp, log_name), "wb")
        self.addCleanup(log.close)
        p = subprocess.Popen(["aria2c"] + self.ARIA + args, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=self.tmp)
        self.addCleanup(self.kill, p)
        return p

    @staticmethod
    def kill(p):
        if p.poll() is None:
            p.kill()
        p.wait(10)

    def log_text(self, name):
        with open(os.path.join(self.tmp, name), "rb") as f:
            return f.read().decode("utf-8", "replace")[-3000:]

    def test_aria2_swarm_through_shoal_tracker(self):
        tracker = self.start_tracker("--announce-interval", "1s")
        seed_dir, leech_dir = self.mkdir("seed"), self.mkdir("leech")
        src = os.path.join(seed_dir, "artifact.bin")
        digest = make_file(src, 8 << 20, seed=11)
        torrent, info_hash = make_v1_torrent(src, f"http://{HOST}:{tracker.port}/announce")
        tpath = os.path.join(self.tmp, "artifact.torrent")
        with open(tpath, "wb") as f:
            f.write(torrent)

        seeder = self.aria([tpath, "-d", seed_dir, "--check-integrity=true", "--seed-ratio=0.0",
                            "--seed-time=2", f"--listen-port={unused_port()}"], "seeder.log")
        scrape = f"/scrape?info_hash={quote(info_hash)}"

        def seeding():
            r = bdecode(tracker.request("GET", scrape).body)
            return r[b"files"][info_hash][b"complete"] >= 1
        self.assertTrue(wait_until(seeding, timeout=20),
                        f"aria2c seeder never announced as complete:\n{self.log_text('seeder.log')}")

        leecher = self.aria([tpath, "-d", leech_dir, "--seed-time=0", "--check-integrity=true",
                             f"--listen-port={unused_port()}", "--bt-stop-timeout=40"], "leecher.log")
        try:
            rc = leecher.wait(45)
        except subprocess.TimeoutExpired:
            self.fail(f"aria2c leecher did not finish in 45 s:\n{self.log_text('leecher.log')}")
        self.assertEqual(rc, 0, self.log_text("leecher.log"))
        from shoal_harness import file_digest
        self.assertEqual(file_digest(os.path.join(leech_dir, "artifact.bin")), digest)
        self.assertIsNone(seeder.poll(), "the seeder should still be seeding")
        m = tracker.metrics()
        self.assertGreaterEqual(m.value("shoal_tracker_announces_total", event="started"), 2)
        self.assertGreaterEqual(m.value("shoal_tracker_handout_size_sum"), 1,
                                "the tracker handed the seeder to the leecher")


if __name__ == "__main__":
    unittest.main()
