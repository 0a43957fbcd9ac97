"""Hostile peers in the swarm (issue 3, item 7): a peer that answers every block
request with wrong bytes is caught by piece hashing and banned, the download
completes from the origin, and the client receives only correct bytes; a peer that
never answers does not stall the download. The misbehaving peer is bad_peer.BadPeer,
a test-only BitTorrent peer that the tracker hands out as a complete seeder."""

import os
import unittest

from bad_peer import BadPeer
from peer_harness import PeerTestCase, get_to_file
from shoal_harness import HOST, MiB, file_digest, make_file, wait_until


class HostilePeers(PeerTestCase):
    def setUp(self):
        super().setUp()
        # Rate-limited so the download lasts long enough to meet the bad peer.
        self.peer, = self.start_cluster(1, peer_args=["--download-rate", "4MiB"])
        path = os.path.join(self.tmp, "blob")
        self.digest = make_file(path, 16 * MiB, seed=11)
        self.assertEqual(self.push_file(path), self.digest)
        self.wait_seeded()
        r = self.origin.request("GET", f"/blobs/{self.digest}/metainfo")
        self.assertEqual(r.status, 200)
        self.metainfo = r.body
        self.announce = f"http://{HOST}:{self.tracker.port}/announce"

    def fetch(self):
        out = os.path.join(self.tmp, "out")
        status, _, n = get_to_file(self.peer.port, f"/blobs/{self.digest}", out, timeout=120)
        return status, out

    def test_corrupt_pieces_are_caught_and_the_sender_banned(self):
        with BadPeer(self.announce, self.metainfo, mode="corrupt") as bad:
            # The tracker hands complete peers out first: the agent meets the bad one.
            self.assertTrue(wait_until(lambda: self.tracker_complete() >= 2, 10))
            status, out = self.fetch()
            served = bad.blocks_served
        self.assertEqual(status, 200)
        self.assertEqual(file_digest(out), self.digest)
        self.assertGreater(served, 0, "the bad peer was never asked for a block")
        m = self.peer.metrics()
        self.assertGreaterEqual(m.value("shoal_peer_hash_failures_total"), 1)
        self.assertGreaterEqual(m.value("shoal_peer_banned_peers_total"), 1)
        self.assertEqual(m.value("shoal_peer_download_failures_total"), 0)

    def test_a_peer_that_never_answers_does_not_stall_the_download(self):
        with BadPeer(self.announce, self.metainfo, mode="silent"):
            self.assertTrue(wait_until(lambda: self.tracker_complete() >= 2, 10))
            status, out = self.fetch()
        self.assertEqual(status, 200)
        self.assertEqual(file_digest(out), self.digest)

    def tracker_complete(self):
        """Complete peers of the blob's swarm, from the tracker's scrape."""
        import hashlib
        from tracker_harness import bdecode, quote
        from bad_peer import info_span
        announced = hashlib.sha256(info_span(self.metainfo)).digest()[:20]
        r = self.tracker.request("GET", f"/scrape?info_hash={quote(announced)}")
        files = bdecode(r.body).get(b"files", {})
        return files.get(announced, {}).get(b"complete", 0)


if __name__ == "__main__":
    unittest.main()
