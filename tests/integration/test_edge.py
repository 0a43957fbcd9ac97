"""The CDN edge against the real binary: misses filled from the origin or the
swarm, hits from RAM and disk, collapsing, ranges, conditional requests, limits,
a warm restart, and curl over HTTP/1.1 and HTTP/2."""

import concurrent.futures
import hashlib
import http.client
import http.server
import os
import subprocess
import threading
import time
import unittest

from edge_harness import EdgeTestCase
from shoal_harness import ConnectionClosed, HOST, MiB, make_file, sha256_digest, wait_until

UNKNOWN = "sha256:" + "ab" * 32


class EdgeBasics(EdgeTestCase):
    def setUp(self):
        super().setUp()
        self.start_cluster(peers=0)
        self.edge = self.start_edge()

    def object(self, size, seed):
        path = os.path.join(self.tmp, f"obj-{seed}")
        make_file(path, size, seed=seed)
        with open(path, "rb") as f:
            data = f.read()
        return self.push(path), data

    def test_miss_then_hit_from_ram_with_age(self):
        d, data = self.object(300 * 1024, 1)
        r1 = self.edge.request("GET", f"/blobs/{d}")
        self.assertEqual(r1.status, 200)
        self.assertEqual(r1.header("X-Cache"), "MISS")
        self.assertEqual(sha256_digest(r1.body), d)
        r2 = self.edge.request("GET", f"/blobs/{d}")
        self.assertEqual((r2.status, r2.header("X-Cache")), (200, "HIT"))
        self.assertEqual(r2.body, data)
        self.assertIsNotNone(r2.header("Age"))
        self.assertEqual(r2.header("ETag"), f'"{d}"')
        self.assertIn("immutable", r2.header("Cache-Control"))
        m = self.edge.metrics()
        self.assertEqual(m.sum("shoal_edge_misses_total"), 1)
        self.assertEqual(m.sum("shoal_edge_hits_total", tier="ram"), 1)
        self.assertEqual(m.sum("shoal_edge_fills_total", source="origin", outcome="ok"), 1)
        self.assertEqual(m.value("shoal_edge_cache_objects", tier="disk"), 1)
        self.assertEqual(m.sum("shoal_edge_fill_seconds_count"), 1)
        # Lines are written after each response and read from the pipe in a thread.
        log = wait_until(lambda: len(self.access_log(self.edge, f"/blobs/{d}")) >= 2 and
                         self.access_log(self.edge, f"/blobs/{d}"), timeout=10)
        # A line is written once its handler has finished, which for the MISS can be
        # after the client already has the whole body and the HIT's line is out.
        by_cache = {l["cache"]: l for l in log}
        self.assertEqual(sorted(by_cache), ["HIT", "MISS"])
        self.assertEqual(by_cache["HIT"]["bytes_out"], len(data))

    def test_large_object_is_a_disk_hit(self):
        d, data = self.object(12 * MiB, 2)  # over the default 8 MiB RAM object limit
        self.assertEqual(self.edge.request("GET", f"/blobs/{d}").header("X-Cache"), "MISS")
        r = self.edge.request("GET", f"/blobs/{d}")
        self.assertEqual((r.status, r.header("X-Cache")), (200, "HIT"))
        self.assertEqual(r.body, data)
        self.assertEqual(self.edge.metrics().sum("shoal_edge_hits_total", tier="disk"), 1)

    def test_ranges_head_and_conditional(self):
        d, data = self.object(1 * MiB + 17, 3)
        for when in ("miss", "hit"):
            r = self.edge.request("GET", f"/blobs/{d}", headers={"Range": "bytes=1000-1999"})
            self.assertEqual(r.status, 206, when)
            self.assertEqual(r.body, data[1000:2000], when)
            self.assertEqual(r.header("Content-Range"), f"bytes 1000-1999/{len(data)}")
        r = self.edge.request("GET", f"/blobs/{d}", headers={"Range": "bytes=-10"})
        self.assertEqual((r.status, r.body), (206, data[-10:]))
        r = self.edge.request("GET", f"/blobs/{d}", headers={"Range": f"bytes={len(data)}-"})
        self.assertEqual(r.status, 416)
        self.assertEqual(r.header("Content-Range"), f"bytes */{len(data)}")
        r = self.edge.request("HEAD", f"/blobs/{d}")
        self.assertEqual((r.status, r.body, r.header("Content-Length")), (200, b"", str(len(data))))
        r = self.edge.request("GET", f"/blobs/{d}", headers={"If-None-Match": f'"{d}"'})
        self.assertEqual((r.status, r.body), (304, b""))
        r = self.edge.request("GET", f"/blobs/{d}", headers={"If-None-Match": f'"{UNKNOWN}"'})
        self.assertEqual(r.status, 200)

    def test_errors(self):
        self.assertError(self.edge.request("GET", f"/blobs/{UNKNOWN}"), 404, "BLOB_UNKNOWN")
        self.assertError(self.edge.request("GET", "/blobs/sha256:xyz"), 400, "DIGEST_INVALID")
        self.assertError(self.edge.request("GET", "/blobs/md5:abc"), 400, "DIGEST_INVALID")
        r = self.edge.request("PUT", f"/blobs/{UNKNOWN}", body=b"x")
        self.assertEqual(r.status, 405)
        self.assertEqual(self.edge.request("GET", "/nothing").status, 404)
        self.assertEqual(self.edge.metrics().sum("shoal_edge_fills_total", outcome="failed"), 1)
        # An unknown digest is not cached as anything.
        self.assertEqual(self.edge.metrics().value("shoal_edge_cache_objects", tier="disk"), 0)

    def test_concurrent_misses_collapse_into_one_fill(self):
        d, data = self.object(48 * MiB, 4)
        want = hashlib.sha256(data).hexdigest()

        def get(_):
            conn = http.client.HTTPConnection(HOST, self.edge.http_port, timeout=120)
            conn.request("GET", f"/blobs/{d}")
            resp = conn.getresponse()
            h = hashlib.sha256()
            while chunk := resp.read(MiB):
                h.update(chunk)
            conn.close()
            return resp.status, resp.getheader("X-Cache"), h.hexdigest()

        with concurrent.futures.ThreadPoolExecutor(100) as pool:
            results = list(pool.map(get, range(100)))
        self.assertTrue(all(r[0] == 200 and r[2] == want for r in results), results[:3])
        kinds = [r[1] for r in results]
        self.assertEqual(kinds.count("MISS"), 1, kinds)
        m = self.edge.metrics()
        self.assertEqual(m.sum("shoal_edge_fills_total"), 1)
        self.assertEqual(m.sum("shoal_edge_misses_total"), 1)
        self.assertEqual(m.sum("shoal_edge_collapsed_total") + m.sum("shoal_edge_hits_total"), 99)
        self.assertGreater(m.sum("shoal_edge_collapsed_total"), 0)
        # The origin sent the object once.
        sent = self.origin.metrics().sum("shoal_http_sent_bytes_total")
        self.assertLess(sent, 2 * len(data))


class EdgeCache(EdgeTestCase):
    def test_disk_budget_evicts_and_refills(self):
        self.start_cluster(peers=0)
        edge = self.start_edge("--disk-cache", "10MiB", "--mem-cache", "0")
        digests = []
        for i in range(5):
            path = os.path.join(self.tmp, f"o{i}")
            make_file(path, 3 * MiB, seed=10 + i)
            digests.append(self.push(path))
            self.assertEqual(edge.request("GET", f"/blobs/{digests[-1]}").status, 200)
        m = edge.metrics()
        self.assertLessEqual(m.value("shoal_edge_cache_bytes", tier="disk"), 10 * MiB)
        self.assertLessEqual(m.value("shoal_edge_cache_objects", tier="disk"), 3)
        files = os.listdir(os.path.join(edge.data_dir, "cache", "blobs", "sha256"))
        stored = sum(len(os.listdir(os.path.join(edge.data_dir, "cache", "blobs", "sha256", p)))
                     for p in files)
        self.assertLessEqual(stored, 3)
        r = edge.request("GET", f"/blobs/{digests[0]}")
        self.assertEqual((r.status, r.header("X-Cache")), (200, "MISS"))
        self.assertEqual(sha256_digest(r.body), digests[0])

    def test_restart_keeps_the_disk_tier(self):
        self.start_cluster(peers=0)
        edge = self.start_edge()
        path = os.path.join(self.tmp, "warm")
        make_file(path, 5 * MiB, seed=21)
        d = self.push(path)
        self.assertEqual(edge.request("GET", f"/blobs/{d}").header("X-Cache"), "MISS")
        self.origin.stop()
        self.origin.expected_exit = True
        edge = self.restart_edge(edge)
        r = edge.request("GET", f"/blobs/{d}")
        self.assertEqual((r.status, r.header("X-Cache")), (200, "HIT"))
        self.assertEqual(sha256_digest(r.body), d)
        # With the origin gone, a miss reports the upstream, not a crash.
        r = edge.request("GET", "/blobs/sha256:" + "cd" * 32)
        self.assertEqual(r.status, 502)

    def test_swarm_fill_and_origin_fallback(self):
        self.start_cluster(peers=1)
        edge = self.start_edge(peer=self.peers[0])
        path = os.path.join(self.tmp, "s")
        make_file(path, 6 * MiB, seed=31)
        d = self.push(path)
        self.wait_seeded()
        r = edge.request("GET", f"/blobs/{d}")
        self.assertEqual((r.status, sha256_digest(r.body)), (200, d))
        self.assertEqual(edge.metrics().sum("shoal_edge_fills_total", source="peer"), 1)
        # The agent counts bytes from libtorrent's alerts, which can trail the last
        # bytes it already handed to the edge.
        downloaded = wait_until(lambda: self.peers[0].metrics().sum(
            "shoal_peer_downloaded_bytes_total") >= 6 * MiB, timeout=10)
        self.assertTrue(downloaded, self.peers[0].metrics().sum("shoal_peer_downloaded_bytes_total"))
        # The peer agent is down: the next miss comes from the origin.
        self.peers[0].stop()
        self.peers[0].expected_exit = True
        path2 = os.path.join(self.tmp, "s2")
        make_file(path2, 2 * MiB, seed=32)
        d2 = self.push(path2)
        r = edge.request("GET", f"/blobs/{d2}")
        self.assertEqual((r.status, sha256_digest(r.body)), (200, d2))
        self.assertEqual(edge.metrics().sum("shoal_edge_fills_total", source="origin"), 1)


class EdgeLimits(EdgeTestCase):
    def test_request_rate_limit_answers_429(self):
        self.start_cluster(peers=0)
        edge = self.start_edge("--rate-limit-requests", "5")
        path = os.path.join(self.tmp, "r")
        make_file(path, 1024, seed=41)
        d = self.push(path)
        statuses = [edge.request("GET", f"/blobs/{d}") for _ in range(20)]
        limited = [r for r in statuses if r.status == 429]
        self.assertGreater(len(limited), 5)
        self.assertGreaterEqual(int(limited[0].header("Retry-After")), 1)
        self.assertEqual(limited[0].json()["error"], "RATE_LIMITED")
        self.assertEqual(edge.metrics().sum("shoal_edge_rate_limited_total"), len(limited))
        time.sleep(1.2)
        self.assertEqual(edge.request("GET", f"/blobs/{d}").status, 200)

    def test_byte_rate_limit_answers_429(self):
        self.start_cluster(peers=0)
        edge = self.start_edge("--rate-limit-bytes", "1MiB")
        path = os.path.join(self.tmp, "b")
        make_file(path, 3 * MiB, seed=42)
        d = self.push(path)
        self.assertEqual(edge.request("GET", f"/blobs/{d}").status, 200)
        r = edge.request("GET", f"/blobs/{d}")
        self.assertEqual(r.status, 429)
        self.assertGreaterEqual(int(r.header("Retry-After")), 1)

    def test_connection_limit_per_client(self):
        self.start_cluster(peers=0)
        edge = self.start_edge("--max-connections-per-client", "4")
        import socket
        held = [socket.create_connection((HOST, edge.http_port)) for _ in range(4)]
        extra = socket.create_connection((HOST, edge.http_port))
        extra.settimeout(5)
        extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            self.assertEqual(extra.recv(100), b"")  # closed without an answer
        except ConnectionResetError:
            pass
        extra.close()
        for s in held:
            s.close()

        # The edge frees a slot only once it has seen the close: until then a new
        # connection is still one too many and is closed unanswered.
        def served():
            try:
                return edge.request("GET", "/health").status == 200
            except ConnectionClosed:
                return False
        wait_until(served, timeout=5)


class LyingOrigin(http.server.BaseHTTPRequestHandler):
    """Answers every blob with bytes that do not hash to its digest."""
    body = b"not what you asked for" * 50000

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


class EdgeVerification(EdgeTestCase):
    def test_bytes_failing_their_digest_are_never_served_whole_nor_cached(self):
        server = http.server.ThreadingHTTPServer((HOST, 0), LyingOrigin)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        edge = self.start_edge(origin_url=f"http://{HOST}:{server.server_address[1]}")
        d = "sha256:" + hashlib.sha256(b"the real bytes").hexdigest()
        for _ in range(2):
            conn = http.client.HTTPConnection(HOST, edge.http_port, timeout=30)
            conn.request("GET", f"/blobs/{d}")
            resp = conn.getresponse()
            if resp.status == 200:
                with self.assertRaises(http.client.IncompleteRead):
                    resp.read()
            else:
                self.assertEqual(resp.status, 502)
            conn.close()
            # The next request starts a fill of its own once this one is over.
            wait_until(lambda: edge.metrics().value("shoal_edge_fills_in_flight") == 0)
        m = edge.metrics()
        self.assertEqual(m.sum("shoal_edge_fills_total", outcome="failed"), 2)
        self.assertEqual(m.sum("shoal_edge_misses_total"), 2)
        self.assertEqual(m.value("shoal_edge_cache_objects", tier="disk"), 0)
        self.assertEqual(m.value("shoal_edge_cache_objects", tier="ram"), 0)


class EdgeFlags(EdgeTestCase):
    def test_bad_flags_are_refused_at_start_up(self):
        from shoal_harness import SHOAL_BIN
        data = os.path.join(self.tmp, "never")
        cases = [[], ["--origin", "not a url"], ["--origin", "http://127.0.0.1:1", "--max-fills", "0"],
                 ["--origin", "http://127.0.0.1:1", "--plain-listen", "127.0.0.1:0"],
                 ["--origin", "http://127.0.0.1:1", "--plain-listen", "nonsense"],
                 ["--origin", "http://127.0.0.1:1", "--mem-cache", "lots"],
                 ["--origin", "http://127.0.0.1:1", "--fill-timeout", "0s"],
                 ["--origin", "http://127.0.0.1:1", "--tls-cert", "/nonexistent.pem",
                  "--tls-key", "/nonexistent.key"]]
        for args in cases:
            with self.subTest(args=args):
                r = subprocess.run([SHOAL_BIN, "edge", "--listen", f"{HOST}:0", "--data", data] + args,
                                   capture_output=True, text=True, timeout=30)
                self.assertNotEqual(r.returncode, 0, r.stdout)
                lines = r.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertTrue(lines[0].startswith("shoal edge: "), r.stderr)


class EdgeOverTls(EdgeTestCase):
    def test_curl_http11_and_http2(self):
        self.start_cluster(peers=0)
        edge = self.start_edge()
        path = os.path.join(self.tmp, "t")
        make_file(path, 2 * MiB, seed=51)
        d = self.push(path)
        r = self.curl(self.https(edge, f"/blobs/{d}"), version="--http2")
        self.assertEqual((r.returncode, r.status, r.http_version), (0, 200, "2"), r.stderr)
        self.assertEqual((r.header("x-cache"), r.digest()), ("MISS", d))
        r = self.curl(self.https(edge, f"/blobs/{d}"), version="--http1.1")
        self.assertEqual((r.status, r.http_version, r.header("x-cache")), (200, "1.1", "HIT"))
        self.assertEqual(r.digest(), d)
        r = self.curl(self.https(edge, f"/blobs/{d}"), "-r", "100-199", version="--http2")
        self.assertEqual((r.status, len(r.body)), (206, 100))
        r = self.curl(self.https(edge, f"/blobs/{d}"), "-H", f'If-None-Match: "{d}"',
                      version="--http2")
        self.assertEqual(r.status, 304)
        r = self.curl(self.https(edge, f"/blobs/{UNKNOWN}"), version="--http2")
        self.assertEqual(r.status, 404)
        m = wait_until(lambda: (lambda m: m.sum("shoal_http_requests_total", protocol="h2") >= 4
                                and m)(edge.metrics()), timeout=10)
        self.assertTrue(m, "h2 requests not counted within 10 s")
        self.assertGreaterEqual(m.sum("shoal_http_requests_total", protocol="h2"), 4)
        self.assertGreaterEqual(m.sum("shoal_http_requests_total", protocol="http/1.1"), 1)
        self.assertGreaterEqual(m.sum("shoal_edge_served_bytes_total", protocol="h2"), 2 * MiB)

    def test_nghttp_many_streams_on_one_connection(self):
        self.start_cluster(peers=0)
        edge = self.start_edge()
        path = os.path.join(self.tmp, "n")
        make_file(path, 256 * 1024, seed=52)
        d = self.push(path)
        # 60 concurrent streams for one cold object on one connection: one fill.
        r = subprocess.run(["nghttp", "-n", "-v", "-y", "-m", "60",
                            self.https(edge, f"/blobs/{d}")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertEqual(r.stdout.count(":status: 200"), 60, r.stdout[-2000:])
        # Requests are counted after their responses: wait for the last ones.
        m = wait_until(lambda: (lambda m: m.sum("shoal_http_requests_total", protocol="h2",
                                                route="blobs") >= 60 and m)(edge.metrics()),
                       timeout=10)
        self.assertTrue(m, "60 h2 requests not counted within 10 s")
        self.assertEqual(m.sum("shoal_edge_fills_total"), 1)
        self.assertEqual(m.sum("shoal_http_requests_total", protocol="h2", route="blobs"), 60)

    def test_rapid_reset_does_not_exhaust_the_edge(self):
        import h2_attack
        self.start_cluster(peers=0)
        edge = self.start_edge()
        path = os.path.join(self.tmp, "rr")
        make_file(path, 4 * MiB, seed=53)
        d = self.push(path)
        idle = edge.vm_rss()
        outcomes = []
        attackers = [threading.Thread(
            target=lambda: outcomes.append(h2_attack.rapid_reset(edge.port, f"/blobs/{d}")))
            for _ in range(3)]
        for t in attackers:
            t.start()
        # A well-behaved client is served while the attack runs.
        r = self.curl(self.https(edge, f"/blobs/{d}"), version="--http2")
        for t in attackers:
            t.join(60)
        self.assertEqual((r.status, r.digest()), (200, d), r.stderr)
        for o in outcomes:
            self.assertEqual(o.goaway, h2_attack.ENHANCE_YOUR_CALM, o)
        edge.check_alive()
        m = edge.metrics()
        self.assertEqual(m.sum("shoal_edge_fills_total"), 1)  # reset streams share one fill
        handled = m.sum("shoal_http_requests_total", protocol="h2", route="blobs")
        self.assertLess(handled, 3000, f"{handled} handlers ran for 15000 reset streams")
        # What the attack costs, not the sanitizer build's own footprint (an idle ASan edge
        # is at about 175 MiB here, so an absolute bound measured the build instead).
        grown = edge.vm_rss() - idle
        self.assertLess(grown, 64 * MiB, f"the attack grew the edge by {grown / MiB:.0f} MiB")
        r = self.curl(self.https(edge, f"/blobs/{d}"), version="--http2")
        self.assertEqual((r.status, r.header("x-cache")), (200, "HIT"))


if __name__ == "__main__":
    unittest.main()
