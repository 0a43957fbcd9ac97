"""The peer agent (issue 3, item 4): `shoal peer` serves blobs it fetches through
the swarm (tracker + seeding origin + other peers), streams them while the download
is in flight, shares one download between concurrent requests, answers ranges,
resolves tags and preloads through the origin, keeps seeding what it holds, evicts
by budget and idle time, and fails a download nobody serves instead of hanging."""

import http.client
import os
import threading
import time
import unittest

from peer_harness import PeerTestCase, get_to_file
from shoal_harness import HOST, MiB, blob_path, file_digest, http_request, list_files, make_file, \
    run_cli, wait_until

PIECE = 256 * 1024  # piece size of blobs up to 512 MiB


class PeerAgent(PeerTestCase):
    def blob(self, name, size, seed):
        path = os.path.join(self.tmp, name)
        digest = make_file(path, size, seed=seed)
        return path, digest

    def pushed(self, size=8 * MiB, seed=1, name="blob", count=1, *extra):
        path, digest = self.blob(name, size, seed)
        self.assertEqual(self.push_file(path, *extra), digest)
        self.wait_seeded(count)
        return digest

    def fetch(self, peer, digest, headers=None):
        out = os.path.join(self.tmp, f"out-{time.monotonic_ns()}")
        status, hdrs, n = get_to_file(peer.port, f"/blobs/{digest}", out, headers=headers)
        return status, hdrs, out

    def assert_fetches(self, peer, digest, size):
        status, hdrs, out = self.fetch(peer, digest)
        self.assertEqual(status, 200)
        self.assertEqual(os.path.getsize(out), size)
        self.assertEqual(file_digest(out), digest)
        self.assertEqual(hdrs.get("docker-content-digest"), digest)
        return out

    def test_get_fetches_through_the_swarm_then_serves_from_cache(self):
        peer, = self.start_cluster(1)
        digest = self.pushed(8 * MiB)
        self.assert_fetches(peer, digest, 8 * MiB)
        # The response ends once the bytes are verified; the move into the store follows.
        self.assertTrue(wait_until(lambda: peer.metrics().value("shoal_peer_cache_blobs") == 1, 10))
        self.assertEqual(peer.metrics().value("shoal_peer_pieces_total"), 8 * MiB // PIECE)
        self.assertTrue(os.path.exists(blob_path(peer.data_dir, digest)))
        self.assertEqual(list_files(os.path.join(peer.data_dir, "incoming")), [])
        # Every piece came from the origin's HTTP hand-out, once; nothing over BitTorrent,
        # whose side of the origin the agent ignores while the hand-out serves it.
        m = self.origin.metrics()
        # (A piece the agent had not yet checked 2 s after it left may go out again.)
        self.assertEqual(m.value("shoal_origin_handout_pieces_total", reason="first"), 8 * MiB // PIECE)
        self.assertLessEqual(m.sum("shoal_origin_handout_pieces_total"), 8 * MiB // PIECE + 2)
        self.assertEqual(m.value("shoal_origin_bt_uploaded_bytes"), 0)
        # The origin was the only source: every byte is counted as the origin's.
        self.assertTrue(wait_until(lambda: peer.metrics().value(
            "shoal_peer_downloaded_bytes_total", source="origin") >= 8 * MiB, 5), peer.metrics().text)
        self.assertEqual(peer.metrics().value("shoal_peer_downloaded_bytes_total", source="peers"), 0)
        # Again: from the cache, no new piece.
        self.assert_fetches(peer, digest, 8 * MiB)
        self.assertEqual(peer.metrics().value("shoal_peer_pieces_total"), 8 * MiB // PIECE)

    def test_a_second_peer_gets_pieces_from_the_first(self):
        p1, p2 = self.start_cluster(2)
        digest = self.pushed(16 * MiB)
        self.assert_fetches(p1, digest, 16 * MiB)
        self.assert_fetches(p2, digest, 16 * MiB)
        sent = wait_until(lambda: p1.metrics().value("shoal_peer_uploaded_bytes_total", 0), 5)
        self.assertGreater(sent, 0, "the first peer did not serve the second one")

    def test_concurrent_requests_share_one_download(self):
        peer, = self.start_cluster(1)
        digest = self.pushed(8 * MiB)
        results = []

        def one():
            results.append(self.fetch(peer, digest))
        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(len(results), 4)
        for status, _, out in results:
            self.assertEqual(status, 200)
            self.assertEqual(file_digest(out), digest)
        starts = [line for line in peer.log_lines if line.get("msg") == "download started"]
        self.assertEqual(len(starts), 1)
        self.assertEqual(peer.metrics().value("shoal_peer_pieces_total"), 8 * MiB // PIECE)

    def test_streams_while_the_download_is_in_flight(self):
        # 2 MiB/s for 16 MiB: about 8 s to download; the first bytes must come long before.
        peer, = self.start_cluster(1, peer_args=["--download-rate", "2MiB"])
        digest = self.pushed(16 * MiB)
        conn = http.client.HTTPConnection(HOST, peer.port, timeout=60)
        start = time.monotonic()
        conn.request("GET", f"/blobs/{digest}")
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        first = resp.read(PIECE)
        first_at = time.monotonic() - start
        in_flight = peer.metrics().value("shoal_peer_downloads_active")
        rest = resp.read()
        total_at = time.monotonic() - start
        conn.close()
        self.assertEqual(in_flight, 1, "the download had finished before the first bytes came")
        print(f"\nfirst {PIECE} bytes after {first_at:.2f} s, all after {total_at:.2f} s")
        self.assertLess(first_at, total_at / 2, (first_at, total_at))
        import hashlib
        self.assertEqual("sha256:" + hashlib.sha256(first + rest).hexdigest(), digest)

    def test_single_ranges_in_flight_and_cached(self):
        peer, = self.start_cluster(1, peer_args=["--download-rate", "4MiB"])
        path, digest = self.blob("blob", 8 * MiB, seed=3)
        self.push_file(path)
        self.wait_seeded()
        with open(path, "rb") as f:
            data = f.read()
        first, last = 5 * MiB + 17, 6 * MiB + 100
        for when in ("in flight", "cached"):
            r = http_request(peer.port, "GET", f"/blobs/{digest}", headers={"Range": f"bytes={first}-{last}"},
                             timeout=60)
            self.assertEqual(r.status, 206, when)
            self.assertEqual(r.header("Content-Range"), f"bytes {first}-{last}/{8 * MiB}", when)
            self.assertEqual(r.body, data[first:last + 1], when)
            if when == "in flight":
                wait_until(lambda: peer.metrics().value("shoal_peer_cache_blobs") == 1, 30)
        r = http_request(peer.port, "GET", f"/blobs/{digest}", headers={"Range": f"bytes={8 * MiB}-"})
        self.assertError(r, 416)
        self.assertEqual(r.header("Content-Range"), f"bytes */{8 * MiB}")

    def test_if_none_match_with_the_digest_is_304_without_body(self):
        # The same conditional answer as the origin's and the edge's (issue 17).
        peer, = self.start_cluster(1)
        digest = self.pushed(2 * MiB)
        etag = f'"{digest}"'
        for when in ("uncached", "cached"):
            r = http_request(peer.port, "GET", f"/blobs/{digest}", headers={"If-None-Match": etag},
                             timeout=60)
            self.assertEqual(r.status, 304, when)
            self.assertEqual(r.body, b"", when)
            self.assertEqual(r.header("ETag"), etag, when)
            if when == "uncached":
                self.assert_fetches(peer, digest, 2 * MiB)
                self.assertTrue(wait_until(lambda: peer.metrics().value("shoal_peer_cache_blobs") == 1, 30))
        r = http_request(peer.port, "GET", f"/blobs/{digest}", headers={"If-None-Match": '"sha256:other"'})
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), 2 * MiB)

    def test_bad_requests(self):
        peer, = self.start_cluster(1)
        unknown = "sha256:" + "0" * 64
        self.assertError(peer.request("GET", f"/blobs/{unknown}"), 404, "BLOB_UNKNOWN")
        self.assertError(peer.request("GET", "/blobs/sha256:xyz"), 400, "DIGEST_INVALID")
        self.assertError(peer.request("PUT", f"/blobs/{unknown}", body=b"x"), 405)
        self.assertError(peer.request("GET", "/nothing"), 404)
        self.assertEqual(peer.request("HEAD", f"/blobs/{unknown}").status, 404)
        self.assertEqual(peer.metrics().value("shoal_peer_download_failures_total"), 1)

    def test_head_answers_the_size_without_downloading(self):
        peer, = self.start_cluster(1)
        digest = self.pushed(3 * MiB + 5)
        r = peer.request("HEAD", f"/blobs/{digest}")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), str(3 * MiB + 5))
        self.assertEqual(r.header("Docker-Content-Digest"), digest)
        m = peer.metrics()
        self.assertEqual(m.value("shoal_peer_downloads_active"), 0)
        self.assertEqual(m.value("shoal_peer_pieces_total"), 0)

    def test_tags_and_preload_go_through_the_origin(self):
        peer, = self.start_cluster(1)
        path, digest = self.blob("blob", 4 * MiB, seed=4)
        self.assertEqual(self.push_file(path, "--tag", "team/app:v1"), digest)
        self.wait_seeded()
        r = peer.request("GET", "/tags/team/app:v1")
        self.assertEqual((r.status, r.text()), (200, digest))
        self.assertError(peer.request("GET", "/tags/team/none"), 404, "TAG_UNKNOWN")
        r = peer.request("POST", "/preload/team/app:v1")
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json(), {"digest": digest, "state": "downloading"})
        self.assertTrue(wait_until(lambda: peer.metrics().value("shoal_peer_cache_blobs") == 1, 30))
        r = peer.request("POST", f"/preload/{digest}")
        self.assertEqual((r.status, r.json()["state"]), (200, "cached"))
        self.assertError(peer.request("POST", "/preload/team/none"), 404, "TAG_UNKNOWN")
        self.assertError(peer.request("GET", f"/preload/{digest}"), 405)

    def test_budget_evicts_the_least_recently_used_blob(self):
        peer, = self.start_cluster(1, peer_args=["--cache-size", "12MiB"])
        a = self.pushed(8 * MiB, seed=5, name="a", count=1)
        b = self.pushed(8 * MiB, seed=6, name="b", count=2)
        self.assert_fetches(peer, a, 8 * MiB)
        self.assertTrue(wait_until(lambda: peer.metrics().value("shoal_peer_cache_blobs") == 1, 10))
        self.assert_fetches(peer, b, 8 * MiB)
        self.assertTrue(wait_until(lambda: peer.metrics().value("shoal_peer_cache_blobs") == 1, 10))
        m = peer.metrics()
        self.assertEqual(m.value("shoal_peer_evictions_total"), 1)
        self.assertEqual(m.value("shoal_peer_cache_bytes"), 8 * MiB)
        self.assertFalse(os.path.exists(blob_path(peer.data_dir, a)))
        self.assertTrue(os.path.exists(blob_path(peer.data_dir, b)))
        self.assert_fetches(peer, a, 8 * MiB)  # fetched again through the swarm

    def test_idle_blobs_expire(self):
        peer, = self.start_cluster(1, peer_args=["--cache-ttl", "1s"])
        digest = self.pushed(2 * MiB)
        self.assert_fetches(peer, digest, 2 * MiB)
        self.assertTrue(wait_until(lambda: peer.metrics().value("shoal_peer_evictions_total") == 1, 10))
        self.assertFalse(os.path.exists(blob_path(peer.data_dir, digest)))
        self.assertEqual(peer.metrics().value("shoal_peer_swarms"), 0)

    def test_restarted_peer_seeds_its_cache_without_the_origin(self):
        p1, = self.start_cluster(1)
        digest = self.pushed(8 * MiB)
        self.assert_fetches(p1, digest, 8 * MiB)
        self.assertTrue(wait_until(lambda: p1.metrics().value("shoal_peer_cache_blobs") == 1, 10))
        p1 = self.restart_peer(p1)
        m = p1.metrics()
        self.assertEqual((m.value("shoal_peer_cache_blobs"), m.value("shoal_peer_swarms")), (1, 1))
        # The tracker still caches the metainfo; the bytes can only come from p1.
        self.origin.stop()
        self.origin.expected_exit = True
        p2 = self.start_peer("peer-late")
        self.assert_fetches(p2, digest, 8 * MiB)
        self.assertEqual(p2.metrics().value("shoal_peer_downloaded_bytes_total", source="origin"), 0)

    def test_a_download_nobody_serves_fails_instead_of_hanging(self):
        peer, = self.start_cluster(1, peer_args=["--stall-timeout", "2s"])
        path, digest = self.blob("blob", 4 * MiB, seed=7)
        self.push_file(path)
        self.wait_seeded()
        self.origin.stop()  # the tracker keeps the metainfo but nobody has the bytes
        self.origin.expected_exit = True
        # The tracker fetched no metainfo yet: nothing can be resolved at all.
        r = peer.request("GET", f"/blobs/{digest}", timeout=30)
        self.assertError(r, (502, 503))
        self.assertEqual(peer.metrics().value("shoal_peer_download_failures_total"), 1)

    def test_bad_flags_are_refused_at_start_up(self):
        data = self.mkdir("bad")
        cases = [
            ([], "origin"),  # --origin and --tracker are required
            (["--origin", "http://127.0.0.1:1", "--tracker", "ftp://x"], "tracker"),
            (["--origin", "http://127.0.0.1:1", "--tracker", "http://127.0.0.1:1",
              "--max-connections", "1"], "max_connections"),
            (["--origin", "http://127.0.0.1:1", "--tracker", "http://127.0.0.1:1",
              "--cache-size", "lots"], "cache_size"),
            (["--origin", "http://127.0.0.1:1", "--tracker", "http://127.0.0.1:1",
              "--stall-timeout", "0s"], "stall_timeout"),
            (["--origin", "http://127.0.0.1:1", "--tracker", "http://127.0.0.1:1",
              "--readahead-pieces", "-1"], "readahead_pieces"),
            (["--origin", "http://127.0.0.1:1", "--tracker", "http://127.0.0.1:1",
              "--readahead-pieces", "5000"], "readahead_pieces"),
            (["--origin", "http://127.0.0.1:1", "--tracker", "http://127.0.0.1:1",
              "--handout-window", "17"], "handout_window"),
            (["--origin", "http://127.0.0.1:1", "--tracker", "http://127.0.0.1:1",
              "--handout-window", "-1"], "handout_window"),
        ]
        for args, word in cases:
            r = run_cli(["peer", "--listen", "127.0.0.1:0", "--data", data] + args, timeout=30)
            self.assertNotEqual(r.returncode, 0, args)
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn(word, lines[0], args)

    def test_pull_cli_goes_through_the_peer(self):
        peer, = self.start_cluster(1)
        digest = self.pushed(4 * MiB)
        out = os.path.join(self.tmp, "pulled")
        r = run_cli(["pull", digest, "-o", out, "--peer", peer.url, "--quiet"], home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(file_digest(out), digest)
        self.assertEqual(peer.metrics().value("shoal_peer_pieces_total"), 4 * MiB // PIECE)

    def test_each_received_byte_is_hashed_at_most_twice_and_never_read_back(self):
        # Issue 21: the agent checks each piece from the bytes as they arrived and feeds
        # the same bytes to the whole-blob SHA-256; nothing is read back from its file.
        p1, = self.start_cluster(1)
        p2 = self.start_peer("bt-only", "--handout-window", "0")  # every piece over BitTorrent
        size = 12 * MiB  # under the 16 MiB held for the whole-blob hash: any order fits
        digest = self.pushed(size)
        for peer in (p1, p2):
            out = os.path.join(self.tmp, f"pulled-{peer.port}")
            r = run_cli(["pull", digest, "-o", out, "--peer", peer.url, "--quiet"], home=self.home)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(file_digest(out), digest)
            m = peer.metrics()
            piece = m.value("shoal_peer_hashed_bytes_total", purpose="piece")
            whole = m.value("shoal_peer_hashed_bytes_total", purpose="whole")
            self.assertEqual(piece, size, m.text)  # each byte once, none skipped
            self.assertEqual(whole, size, m.text)
            self.assertLessEqual(piece + whole, 2 * size)
            self.assertEqual(m.value("shoal_peer_read_back_bytes_total"), 0, m.text)
        self.assertEqual(self.origin.metrics().value("shoal_origin_handout_bytes_total"), size)
        # What the agent vouches for, so that `shoal pull` on this host need not hash it.
        status, hdrs, _ = self.fetch(p2, digest)
        self.assertEqual(status, 200)
        self.assertEqual(hdrs.get("shoal-verified"), digest)


if __name__ == "__main__":
    unittest.main()
