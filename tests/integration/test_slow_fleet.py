"""Faults in a fleet on the test bed (issue 20, item 4): 16 agents pull one 256 MiB blob at
once from a ring of 3 origins, 2 trackers over Redis with Sentinel (fleet_harness), while
the Redis master is killed, a tracker is killed, the origin running the blob's hand-out is
killed, or an origin's link is cut and restored. Every agent must end with a verified
copy, and every origin must still read the blob back whole. Each test prints its all-hosts
time next to the fault-free run's. Slow: labelled "slow" by name; needs root."""

import hashlib
import os
import signal
import time

# As in test_slow_testbed: timing tests run against the optimised build.
if os.environ.get("SHOAL_PERF_BIN"):
    os.environ["SHOAL_BIN"] = os.environ["SHOAL_PERF_BIN"]

from fleet_harness import (ORIGIN_HOSTS, REDIS_MASTER, REDIS_REPLICA, TRACKER_HOSTS,
                           FleetCase, origin_url)
from shoal_harness import MiB
from testbed_harness import addr

AGENTS = 16
SIZE = 256 * MiB
RATE = "1gbit"  # the two cores, not the links, set the pace: faults are what is measured


class FleetFaults(FleetCase):
    fault_free_s = None  # the first test's time, when it ran in this process

    def pull_with_fault(self, seed, fault=None, when=1 / 3):
        """Starts the fleet, pushes a blob, pulls it on every agent; `fault(digest)` runs
        once the hand-out origin has sent `when` of the pieces. Checks every copy."""
        agents = self.start_fleet(AGENTS, RATE)
        digest = self.push_to_ring(SIZE, seed)
        runner = self.handout_host(digest)
        results = self.pull_all(list(agents), digest)
        start = time.monotonic()
        if fault is not None:
            def sent_enough():
                s = self.get_json(runner, f"{origin_url(runner)}/blobs/{digest}/swarm")
                return bool(s) and s["pieces_sent"] >= when * s["pieces"]
            self.wait(sent_enough, 120, f"{when:.0%} of the pieces to leave the origin")
            fault(digest, runner)
        self.join()
        took = time.monotonic() - start
        for h in agents:
            self.assertIn(h, results, f"agent on host {h} never finished")
            rc, got, n, t = results[h]
            self.assertEqual((rc, got, n), (0, digest, SIZE), f"agent on host {h} after {t:.1f}s")
        return digest, took

    def assert_ring_reads_whole(self, digest, hosts=ORIGIN_HOSTS):
        for h in hosts:
            r = self.run_in(h, "curl", "-sf", "--max-time", "120",
                            f"{origin_url(h)}/blobs/{digest}", timeout=150)
            self.assertEqual(r.returncode, 0, f"origin {h} cannot read {digest}")
            self.assertEqual("sha256:" + hashlib.sha256(r.stdout).hexdigest(), digest,
                             f"origin {h} answered other bytes")

    def report(self, what, took):
        base = type(self).fault_free_s
        vs = f" (fault-free {base:.1f}s: {took / base:.2f}x)" if base else ""
        print(f"\n{what}: all {AGENTS} agents done in {took:.1f}s{vs}")

    def test_0_fault_free(self):
        digest, took = self.pull_with_fault(seed=90)
        type(self).fault_free_s = took
        self.assert_ring_reads_whole(digest)
        self.report("no fault", took)

    def test_redis_master_killed_mid_pull(self):
        def kill_master(digest, runner):
            self.redis[REDIS_MASTER].send_signal(signal.SIGKILL)
            self.wait(lambda: self.sentinel_master() == addr(REDIS_REPLICA), 60,
                      "Sentinel to promote the replica")
        digest, took = self.pull_with_fault(seed=91, fault=kill_master)
        self.assertEqual(self.redis_role(REDIS_REPLICA), "master")
        # The trackers follow the new master: a swarm they answer now has every agent.
        swarm = self.get_json(TRACKER_HOSTS[1], f"http://{addr(TRACKER_HOSTS[1])}:4200"
                              f"/swarms/{digest}")
        self.assertIsNotNone(swarm, "the tracker does not answer after the failover")
        self.assertGreaterEqual(len(swarm["peers"]), AGENTS)
        self.assert_ring_reads_whole(digest)
        self.report("Redis master killed", took)

    def test_one_tracker_killed_mid_pull(self):
        def kill_tracker(digest, runner):
            self.trackers[TRACKER_HOSTS[0]].send_signal(signal.SIGKILL)
        digest, took = self.pull_with_fault(seed=92, fault=kill_tracker)
        self.assert_ring_reads_whole(digest)
        self.report("a tracker killed", took)

    def test_the_handout_origin_killed_mid_pull(self):
        killed = []

        def kill_runner(digest, runner):
            self.origins[runner].send_signal(signal.SIGKILL)
            killed.append(runner)
        digest, took = self.pull_with_fault(seed=93, fault=kill_runner)
        self.assert_ring_reads_whole(digest, [h for h in ORIGIN_HOSTS if h not in killed])
        self.report("the hand-out origin killed", took)

    def test_an_origin_link_cut_and_restored(self):
        def cut(digest, runner):
            self.bed("cut", str(runner))
            time.sleep(5)
            self.bed("restore", str(runner))
        digest, took = self.pull_with_fault(seed=94, fault=cut)
        self.assert_ring_reads_whole(digest)
        self.report("the hand-out origin's link cut for 5 s", took)
