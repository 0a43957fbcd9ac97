"""Faults on a test bed of capped hosts (issue 8, item 5): peers killed mid-distribution,
the origin's host cut off, a host on a link ten times slower. Every host is a network
namespace with its own tbf-capped link (testbed_harness). Slow: labelled "slow" by name;
skipped unless run as root."""

import os
import signal
import time

# Timing depends on Shoal's speed next to libtorrent's: scripts/test.sh points the slow
# tests at an optimised build. Set before the harness reads SHOAL_BIN.
if os.environ.get("SHOAL_PERF_BIN"):
    os.environ["SHOAL_BIN"] = os.environ["SHOAL_PERF_BIN"]

from shoal_harness import MiB
from testbed_harness import TestbedCase

RATE = "100mbit"
RATE_BPS = 100e6


def ideal(size):
    return size * 8 / RATE_BPS


class Faults(TestbedCase):
    def assert_complete(self, results, hosts, digest, size):
        for h in hosts:
            self.assertIn(h, results, f"host {h} never finished")
            rc, got, n, took = results[h]
            self.assertEqual((rc, got, n), (0, digest, size), f"host {h} after {took:.1f}s")

    def test_a_quarter_of_the_peers_killed_mid_distribution_the_rest_complete(self):
        size = 48 * MiB
        peers = self.start_swarm(8, RATE)
        digest = self.push(size, seed=81)
        results = self.pull_all(peers, digest)
        # Mid-distribution: once the origin has sent a third of the pieces.
        self.wait(lambda: (s := self.swarm(digest)) and s["pieces_sent"] * 3 >= s["pieces"],
                  60, "a third of the pieces to leave the origin")
        killed = list(peers)[::4]
        for h in killed:
            peers[h].send_signal(signal.SIGKILL)
        self.join()
        survivors = [h for h in peers if h not in killed]
        self.assert_complete(results, survivors, digest, size)
        slowest = max(results[h][3] for h in survivors)
        print(f"\n{len(killed)} of {len(peers)} peers killed; the others done in {slowest:.1f}s"
              f" (S/R = {ideal(size):.1f}s)")
        for h in killed:
            self.assertNotEqual(results[h][0], 0, f"host {h}'s agent was killed, yet curl got it all")

    def cut_origin_when(self, fraction):
        """Origin's link 4x the peers' so pieces leave it faster than peers finish them;
        host 1 is cut off once it has sent `fraction` of the pieces and its send queues
        have drained (a block counts as sent once handed to the socket). The agents pull
        rarest-first (no reader window): with the window they all ask the origin for the
        same next pieces, so its last piece leaves only when the peers are nearly done,
        and how near depends on the machine. Returns the pulls."""
        size = 96 * MiB
        peers = self.start_swarm(6, RATE, peer_args=("--readahead-pieces", "0"))
        self.bed("rate", "1", "400mbit")
        digest = self.push(size, seed=82 + int(fraction * 10))
        results = self.pull_all(peers, digest)
        seen = {}

        def out():
            s = self.swarm(digest)
            if s and s["pieces_sent"] >= fraction * s["pieces"]:
                seen.update(s)
                return True
            return False

        self.wait(out, 60, f"{fraction:.0%} of the pieces to leave the origin")
        # Before a whole-blob cut, the send queues drain; a half cut goes at once, or the
        # hand-out, which sends no piece twice, has sent the rest in the meantime.
        if fraction >= 1.0:
            time.sleep(1.5)
        seen.update(self.swarm(digest))
        self.bed("cut", "1")
        return peers, digest, size, results, seen

    def test_origin_cut_off_once_every_piece_has_left_it_the_peers_finish_alone(self):
        peers, digest, size, results, seen = self.cut_origin_when(1.0)
        # Not vacuous: at the cut, the peers were far from done.
        self.assertEqual(seen["complete_peers"], 0, seen)
        self.assertEqual(results, {}, "a pull had finished before the cut")
        self.join()
        self.assert_complete(results, peers, digest, size)
        print(f"\norigin cut off at {seen}; peers done in"
              f" {max(r[3] for r in results.values()):.1f}s")

    def test_origin_cut_off_at_half_the_swarm_resumes_when_it_returns(self):
        peers, digest, size, results, seen = self.cut_origin_when(0.5)
        self.assertLess(seen["pieces_sent"], seen["pieces"], "cut too late to be a half")
        # Half the pieces are nowhere but on the origin: nobody can finish, nobody fails.
        time.sleep(8)
        self.assertEqual(results, {}, "a pull ended while the origin was cut off")
        self.bed("restore", "1")
        self.join()
        self.assert_complete(results, peers, digest, size)

    def test_a_host_ten_times_slower_does_not_slow_the_others(self):
        size = 32 * MiB
        peers = self.start_swarm(7, RATE)
        hosts = list(peers)
        fast, slow = hosts[:-1], hosts[-1]
        # Baseline: every link at RATE.
        d1 = self.push(size, seed=91)
        base = self.pull_all(hosts, d1)
        self.join()
        self.assert_complete(base, hosts, d1, size)
        base_s = max(base[h][3] for h in fast)
        # One host's link at a tenth.
        self.bed("rate", str(slow), "10mbit")
        d2 = self.push(size, seed=92)
        results = self.pull_all(hosts, d2)
        self.join()
        self.assert_complete(results, hosts, d2, size)
        fast_s = max(results[h][3] for h in fast)
        print(f"\nfast hosts: {base_s:.1f}s with every link at {RATE}, {fast_s:.1f}s with host"
              f" {slow} at 10mbit (it took {results[slow][3]:.1f}s; S/R = {ideal(size):.1f}s)")
        # Not free: the origin gives the slow host first copies until a delivery shows it
        # is slow (a piece that fits in the origin's socket buffer leaves at once), and
        # fast peers wait on blocks they asked of it until a piece is overdue (1 s at
        # least). Fourteen runs on a 2-core VM: 3.8-4.4 s with every link at RATE,
        # 4.1-7.0 s (median 5.6-5.7) with the slow host; two over 1.3x + 1 s.
        self.assertLess(fast_s, base_s * 1.5 + 1.5)
        self.assertGreater(results[slow][3], ideal(size) * 5, "the slow link was not slow")


if __name__ == "__main__":
    import unittest
    unittest.main()
