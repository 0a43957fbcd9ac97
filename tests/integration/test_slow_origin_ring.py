"""A ring of origins under a fleet pull (issue 18, item 9): eight agents pull one blob
at once from a ring of three seeding origins while the origin running the blob's
hand-out is killed; every agent completes with a verified copy, and every
acknowledged blob still reads back whole through every live origin. Slow."""

import os
import threading
import unittest

if os.environ.get("SHOAL_PERF_BIN"):
    os.environ["SHOAL_BIN"] = os.environ["SHOAL_PERF_BIN"]

from peer_harness import PeerTestCase
from shoal_harness import HOST, MiB, make_file, run_cli, sha256_digest, wait_until
from test_slow_swarm import pull_and_hash

FAST = ["--health-interval", "200ms", "--health-fails", "2", "--health-passes", "1",
        "--repair-interval", "1s"]


class RingFleet(PeerTestCase):
    def start_ring_cluster(self, n_origins, n_peers):
        # Tracker and origins each need the other's URLs: the ring's ports come first.
        self.ring = self.start_ring(n_origins, *FAST, start=False)
        self.urls = self.ring.urls
        self.tracker = self.start_tracker("--peer-ttl", "60s", "--announce-interval", "5s",
                                          "--origin", self.ring.origins_flag())
        tracker_url = f"http://{HOST}:{self.tracker.port}"
        for i in range(n_origins):
            self.ring.start(i, extra_args=["--tracker", tracker_url])
        self.origin = self.ring[0]
        self.assertTrue(wait_until(self.ring.all_up, timeout=10))
        return [self.start_peer(f"peer{i}", origin=self.ring.origins_flag())
                for i in range(n_peers)]

    def test_handout_origin_killed_during_a_fleet_pull(self):
        size = 128 * MiB
        peers = self.start_ring_cluster(3, 8)
        path = os.path.join(self.tmp, "blob")
        digest = make_file(path, size, seed=33)
        r = run_cli(["push", path, "--origin", self.urls[1], "--quiet"], home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        os.unlink(path)
        loc = self.ring[0].request("GET", f"/blobs/{digest}/locations").json()
        runner = self.urls.index(loc["owners"][0]["url"])
        self.assertTrue(wait_until(lambda: all(
            o.metrics().value("shoal_origin_seeding_torrents", 0) >= 1 for o in self.ring),
            timeout=120), "not every owner seeds the blob")
        results = {}
        threads = [threading.Thread(target=pull_and_hash, args=(p.port, digest, results, i))
                   for i, p in enumerate(peers)]
        for t in threads:
            t.start()
        # Kill the hand-out's origin once it has sent something.
        wait_until(lambda: self.ring[runner].metrics().value(
            "shoal_origin_handout_bytes_total", 0) > 8 * MiB, timeout=60, interval=0.1)
        self.ring.stop(runner, graceful=False)
        for t in threads:
            t.join(900)
        for i in range(len(peers)):
            self.assertEqual(results.get(i, ("missing",))[:3], (200, digest, size), f"peer {i}")
        for o in self.ring:
            if not o.alive():
                continue
            got = o.request("GET", f"/blobs/{digest}", timeout=120)
            self.assertEqual(got.status, 200)
            self.assertEqual(sha256_digest(got.body), digest, f"through {o.url}")


if __name__ == "__main__":
    unittest.main()
