"""Several trackers (issue 20, item 2): the origin lists every tracker it is given in
the metainfo it serves (`announce` and one `announce-list` tier, outside the info dict,
so the torrent is the same as without them), a tracker relays and caches that metainfo,
and an agent given several trackers fails over when one dies: for the metainfo
(GET /metainfo on the next tracker) and for announces (libtorrent's tracker tier)."""

import hashlib
import os
import time
import unittest

from peer_harness import PeerTestCase, get_to_file
from shoal_harness import HOST, MiB, file_digest, make_file, run_origin_expect_exit, unused_port, \
    wait_until
from tracker_harness import bdecode, bencode, quote


class TrackerList(PeerTestCase):
    def start_fleet(self):
        """Two trackers and an origin given both; returns the `tracker` list."""
        origin_port = unused_port()
        relay = ("--peer-ttl", "60s", "--announce-interval", "5s",
                 "--origin", f"http://{HOST}:{origin_port}")
        self.t1 = self.start_tracker(*relay)
        self.t2 = self.start_tracker(*relay)
        self.tracker = self.t1
        self.trackers = f"http://{HOST}:{self.t1.port},http://{HOST}:{self.t2.port}/announce"
        self.origin = self.start_origin("--tracker", self.trackers, port=origin_port)

    def pushed(self, name, size, seed, count):
        path = os.path.join(self.tmp, name)
        digest = make_file(path, size, seed=seed)
        self.assertEqual(self.push_file(path), digest)
        self.wait_seeded(count)
        return digest

    def assert_pulls(self, peer, digest, size):
        out = os.path.join(self.tmp, f"out-{time.monotonic_ns()}")
        status, _, n = get_to_file(peer.port, f"/blobs/{digest}", out, timeout=60)
        self.assertEqual((status, n), (200, size), peer.stderr_text()[-3000:])
        self.assertEqual(file_digest(out), digest)

    def complete_on(self, tracker, digest):
        """Complete peers the tracker's scrape counts for the blob's v1 info-hash."""
        meta = bdecode(self.origin.request("GET", f"/blobs/{digest}/metainfo").body)
        v1 = hashlib.sha1(bencode(meta[b"info"])).digest()
        files = bdecode(tracker.request("GET", f"/scrape?info_hash={quote(v1)}").body)[b"files"]
        return files.get(v1, {}).get(b"complete", 0)

    def test_the_metainfo_lists_every_tracker_and_names_the_same_torrent(self):
        self.start_fleet()
        digest = self.pushed("blob", 3 * MiB + 7, seed=5, count=1)
        r = self.origin.request("GET", f"/blobs/{digest}/metainfo")
        self.assertEqual(r.status, 200, r)
        torrent = bdecode(r.body)
        a1 = f"http://{HOST}:{self.t1.port}/announce".encode()
        a2 = f"http://{HOST}:{self.t2.port}/announce".encode()
        self.assertEqual(torrent[b"announce"], a1)
        self.assertEqual(torrent[b"announce-list"], [[a1, a2]])
        info = torrent[b"info"]
        self.assertEqual(info[b"meta version"], 2)  # hybrid: v2 ...
        self.assertEqual(len(info[b"pieces"]), 20 * 13)  # ... and v1 SHA-1 pieces
        # The stored metainfo has no trackers; what is served is it with the two keys
        # added in front (they sort first) and every other byte the same, so both
        # info-hashes are those of the torrent the origin seeds.
        hexd = digest.split(":", 1)[1]
        with open(os.path.join(self.origin.data_dir, "metainfo", "sha256", hexd[:2], hexd), "rb") as f:
            stored = f.read()
        self.assertNotIn(b"announce", stored)
        added = bencode({"announce": a1, "announce-list": [[a1, a2]]})[1:-1]
        self.assertEqual(r.body, b"d" + added + stored[1:])
        self.assertEqual(hashlib.sha1(bencode(info)).digest(),
                         hashlib.sha1(bencode(bdecode(stored)[b"info"])).digest())
        self.assertIn(hexd, r.header("ETag"))
        self.assertNotIn("immutable", r.header("Cache-Control"))
        # Each tracker relays the origin's document byte for byte, the second time from
        # its cache.
        for t in (self.t1, self.t2):
            for _ in range(2):
                relayed = t.request("GET", f"/metainfo/{digest}")
                self.assertEqual(relayed.status, 200, relayed)
                self.assertEqual(relayed.body, r.body)
            m = t.metrics()
            self.assertEqual(m.value("shoal_tracker_metainfo_requests_total", result="miss"), 1)
            self.assertEqual(m.value("shoal_tracker_metainfo_requests_total", result="hit"), 1)

    def test_an_agent_pulls_through_the_second_tracker_when_the_first_dies(self):
        self.start_fleet()
        # No HTTP hand-out: every piece comes over BitTorrent, from the origin the agent
        # can only find through a tracker.
        peer = self.start_peer("peer", "--handout-window", "0", tracker=self.trackers)
        first = self.pushed("first", 4 * MiB, seed=1, count=1)
        self.assert_pulls(peer, first, 4 * MiB)
        # Blocks from the origin's BitTorrent side count as the origin's (a peer plugin
        # counts them as they arrive).
        self.assertTrue(wait_until(lambda: peer.metrics().value(
            "shoal_peer_downloaded_bytes_total", source="origin") >= 4 * MiB, 5), peer.metrics().text)
        self.assertGreater(self.t1.metrics().sum("shoal_tracker_announces_total"), 0)
        self.assertEqual(self.t1.metrics().value("shoal_tracker_metainfo_requests_total",
                                                 result="miss"), 1)
        self.t1.kill()
        second = self.pushed("second", 4 * MiB, seed=2, count=2)
        started = time.monotonic()
        self.assert_pulls(peer, second, 4 * MiB)
        elapsed = time.monotonic() - started
        m2 = self.t2.metrics()
        self.assertEqual(m2.value("shoal_tracker_metainfo_requests_total", result="miss"), 1)
        # The agent announced to the second tracker: it counts the origin and the agent
        # as complete for the blob's (v1) info-hash.
        self.assertTrue(wait_until(lambda: self.complete_on(self.t2, second) >= 2, 10))
        self.assertTrue(wait_until(lambda: any(
            line.get("msg") == "tracker failed, trying the next" for line in peer.log_lines), 5))
        print(f"\n  pull after the first tracker died: {elapsed:.2f} s", flush=True)
        self.assertLess(elapsed, 30)

    def test_an_agent_whose_first_tracker_never_started_still_pulls(self):
        self.start_fleet()
        dead = f"http://{HOST}:{unused_port()}"  # nothing listens there
        peer = self.start_peer("peer", "--handout-window", "0",
                               tracker=f"{dead},http://{HOST}:{self.t1.port}")
        digest = self.pushed("blob", 2 * MiB, seed=3, count=1)
        self.assert_pulls(peer, digest, 2 * MiB)

    def test_a_dns_tracker_list_is_refused(self):
        r = run_origin_expect_exit(["--data", self.mkdir("d"), "--tracker", "dns:trackers:4200"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("tracker", r.stderr)


if __name__ == "__main__":
    unittest.main()
