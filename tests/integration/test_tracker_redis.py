"""`shoal tracker --peer-store redis://...`: several trackers over one Redis share one
view of the swarms; peers expire by TTL on Redis's clock; a swarm is bounded; an
unreachable or silent Redis turns announces into failure reasons within the timeout
while /health and /metrics still answer, and the tracker recovers by itself when Redis
comes back; over Sentinel a tracker follows a failover without a restart; bad
peer_store values are refused at start-up."""

import os
import socket
import subprocess
import threading
import time
import unittest

from redis_harness import RedisMixin, elapsed, redis_answers, silent_server
from shoal_harness import HOST, SHOAL_BIN, unused_port, wait_until
from tracker_harness import (TrackerTestCase, announce_path, bdecode, compact_peers, peer_id,
                             quote)

IH = bytes(range(20))
IH2 = bytes(range(100, 120))
LOOPBACK = socket.inet_aton("127.0.0.1")


class RedisTrackerCase(RedisMixin, TrackerTestCase):
    def tracker_over(self, store, *args):
        return self.start_tracker("--peer-store", store, *args)

    def announce(self, tracker, tag, port, left=0, info_hash=IH, **extra):
        r = tracker.request("GET", announce_path(info_hash, peer_id(tag), port, left=left, **extra))
        self.assertEqual(r.status, 200, r)
        return bdecode(r.body)

    def scrape(self, tracker, *hashes):
        q = "&".join(f"info_hash={quote(h)}" for h in hashes)
        r = tracker.request("GET", "/scrape?" + q)
        self.assertEqual(r.status, 200, r)
        return bdecode(r.body)

    def assertAnnounceOk(self, reply):
        self.assertNotIn(b"failure reason", reply, reply)
        return reply


class SharedView(RedisTrackerCase):
    def test_two_trackers_share_swarms_and_counts(self):
        redis = self.start_redis()
        store = f"redis://{redis.addr}/3"
        a = self.tracker_over(store)
        b = self.tracker_over(store)
        self.assertIn(store, [l.get("store") for l in a.log_lines if l.get("msg") == "peer store"])

        r = self.assertAnnounceOk(self.announce(a, "seed", 7001, event="started", compact=1))
        self.assertEqual(r[b"peers"], b"")
        self.assertEqual((r[b"complete"], r[b"incomplete"]), (1, 0))
        r = self.assertAnnounceOk(self.announce(b, "leech", 7002, left=5, event="started",
                                                compact=1))
        self.assertEqual(compact_peers(r[b"peers"]), [(LOOPBACK, 7001)],
                         "tracker B hands out the peer that announced to tracker A")
        self.assertEqual((r[b"complete"], r[b"incomplete"]), (1, 1))
        r = self.assertAnnounceOk(self.announce(a, "seed", 7001, compact=1))
        self.assertEqual(compact_peers(r[b"peers"]), [(LOOPBACK, 7002)])

        # Every field round-trips: both families, the port, the peer id, origin order.
        self.assertAnnounceOk(self.announce(b, "dual", 7003, left=1, ip="10.9.8.7",
                                            ipv6=quote(b"::1")))
        origin = peer_id("o", prefix=b"-SHO0100-")
        r = b.request("GET", announce_path(IH, origin, 7004, left=0))
        self.assertAnnounceOk(bdecode(r.body))
        d = self.assertAnnounceOk(self.announce(a, "me", 7099, left=9))
        got = sorted((p[b"ip"], p[b"port"], p[b"peer id"]) for p in d[b"peers"])
        self.assertEqual(got, sorted([(b"127.0.0.1", 7001, peer_id("seed")),
                                      (b"127.0.0.1", 7002, peer_id("leech")),
                                      (b"10.9.8.7", 7003, peer_id("dual")),
                                      (b"::1", 7003, peer_id("dual")),
                                      (b"127.0.0.1", 7004, origin)]))
        r = self.assertAnnounceOk(self.announce(a, "me", 7099, left=9, compact=1))
        ports = [p for _, p in compact_peers(r[b"peers"])]
        self.assertEqual(ports[1], 7004, "seeders, then the origin, then leechers")

        self.assertAnnounceOk(self.announce(b, "leech", 7002, left=0, event="completed"))
        self.assertAnnounceOk(self.announce(a, "other", 7005, info_hash=IH2))
        unknown = b"\xee" * 20
        for t in (a, b):
            files = self.scrape(t, IH, IH2, unknown)[b"files"]
            self.assertEqual(files[IH], {b"complete": 3, b"incomplete": 2, b"downloaded": 1})
            self.assertEqual(files[IH2], {b"complete": 1, b"incomplete": 0, b"downloaded": 0})
            self.assertEqual(files[unknown], {b"complete": 0, b"incomplete": 0, b"downloaded": 0})

        r = self.assertAnnounceOk(self.announce(a, "dual", 7003, left=1, event="stopped",
                                                compact=1))
        self.assertEqual(r[b"peers"], b"", "a peer that stops gets no peers")
        r = self.assertAnnounceOk(self.announce(b, "seed", 7001, compact=1))
        self.assertNotIn(7003, [p for _, p in compact_peers(r[b"peers"])])

        # The data model: one hash tag per swarm, in the DB named, with a TTL.
        key = f"shoal:swarm:{{{IH.hex()}}}:peers"
        self.assertEqual(redis.command("EXISTS", key), 0, "DB 0 holds nothing")
        ttl = redis_command_in_db(redis, 3, "PTTL", key)
        self.assertTrue(0 < ttl <= 300_000, ttl)
        self.assertEqual(redis_command_in_db(redis, 3, "HLEN", key), 4)

        # Scripts go by EVALSHA; each is sent whole (EVAL) once, after a NOSCRIPT.
        stats = redis.command("INFO", "commandstats").decode()
        calls = {line.split(":")[0]: int(line.split("calls=")[1].split(",")[0])
                 for line in stats.splitlines() if line.startswith("cmdstat_")}
        self.assertLessEqual(calls.get("cmdstat_eval", 0), 2, stats)  # announce, counts
        self.assertGreaterEqual(calls.get("cmdstat_evalsha", 0), 14, stats)

        m = a.metrics()
        self.assertGreater(m.value("shoal_tracker_redis_commands_total"), 0)
        self.assertGreaterEqual(m.value("shoal_tracker_store_seconds_count", op="announce"), 4)
        self.assertEqual(m.value("shoal_tracker_store_errors_total", op="announce"), 0)
        self.assertGreaterEqual(m.value("shoal_tracker_redis_connections"), 1)
        self.assertHealthy(a)
        self.assertHealthy(b)


def redis_command_in_db(redis, db, *args):
    """A command in database `db` (one connection: SELECT then the command)."""
    with socket.create_connection((HOST, redis.port), timeout=5) as s:
        from redis_harness import _encode, _Reader
        s.sendall(_encode(["SELECT", db]) + _encode(list(args)))
        reader = _Reader(s)
        reader.reply()
        return reader.reply()


class Expiry(RedisTrackerCase):
    def test_peers_and_swarms_expire_by_ttl(self):
        redis = self.start_redis()
        t = self.tracker_over(f"redis://{redis.addr}/0", "--peer-ttl", "1s",
                              "--announce-interval", "1s")
        self.assertAnnounceOk(self.announce(t, "old", 7401))
        r = self.assertAnnounceOk(self.announce(t, "new", 7402, compact=1))
        self.assertEqual(compact_peers(r[b"peers"]), [(LOOPBACK, 7401)])
        time.sleep(1.3)
        r = self.assertAnnounceOk(self.announce(t, "new", 7402, compact=1))
        self.assertEqual(r[b"peers"], b"", "the silent peer expired")
        self.assertEqual((r[b"complete"], r[b"incomplete"]), (1, 0))
        self.assertEqual(self.scrape(t, IH)[b"files"][IH][b"complete"], 1)
        self.assertEqual(redis.command("HLEN", f"shoal:swarm:{{{IH.hex()}}}:peers"), 1,
                         "the announce dropped the expired peer from Redis")
        # Nobody announces any more: the whole swarm goes, by Redis's key TTL.
        gone = wait_until(lambda: redis.command("KEYS", "shoal:swarm:*") == [], timeout=5)
        self.assertTrue(gone, redis.command("KEYS", "shoal:swarm:*"))
        self.assertEqual(self.scrape(t, IH)[b"files"][IH],
                         {b"complete": 0, b"incomplete": 0, b"downloaded": 0})

    def test_gauges_count_every_trackers_swarms(self):
        """shoal_tracker_peers and _swarms come from a periodic SCAN of Redis (every
        peer_ttl / 2, at least 1 s apart): they count what all trackers put there."""
        redis = self.start_redis()
        a = self.tracker_over(f"redis://{redis.addr}", "--peer-ttl", "10s")
        b = self.tracker_over(f"redis://{redis.addr}", "--peer-ttl", "10s")
        self.assertAnnounceOk(self.announce(a, "p1", 7451))
        self.assertAnnounceOk(self.announce(b, "p2", 7452, left=1))
        self.assertAnnounceOk(self.announce(b, "p3", 7453, info_hash=IH2))
        for t in (a, b):
            counted = wait_until(lambda t=t: (t.metrics().value("shoal_tracker_peers"),
                                              t.metrics().value("shoal_tracker_swarms")) == (3, 2),
                                 timeout=9)
            self.assertTrue(counted, t.metrics().select("shoal_tracker_peers"))

    def test_swarm_size_is_bounded(self):
        redis = self.start_redis()
        t = self.tracker_over(f"redis://{redis.addr}", "--max-swarm-peers", "2")
        self.assertAnnounceOk(self.announce(t, "p1", 7501))
        self.assertAnnounceOk(self.announce(t, "p2", 7502))
        self.assertEqual(self.announce(t, "p3", 7503),
                         {b"failure reason": b"swarm is full (2 peers)"})
        self.assertAnnounceOk(self.announce(t, "p1", 7501, left=0))  # known peers still refresh
        self.assertAnnounceOk(self.announce(t, "p3", 7503, info_hash=IH2))  # other swarms are fine
        self.assertAnnounceOk(self.announce(t, "p2", 7502, event="stopped"))
        self.assertAnnounceOk(self.announce(t, "p3", 7503))
        self.assertEqual(t.metrics().value("shoal_tracker_store_errors_total", op="announce"), 1)


class RedisDown(RedisTrackerCase):
    def test_killed_redis_gives_failure_reasons_then_recovers(self):
        redis = self.start_redis()
        t = self.tracker_over(f"redis://{redis.addr}", "--peer-store-timeout", "500ms")
        self.assertAnnounceOk(self.announce(t, "a", 7601))
        redis.kill()

        r, took = elapsed(lambda: self.announce(t, "b", 7602))
        self.assertIn(b"failure reason", r)
        self.assertTrue(r[b"failure reason"].startswith(b"peer store unavailable: redis "), r)
        self.assertLess(took, 3.0)
        files = self.scrape(t, IH)
        self.assertIn(b"failure reason", files)
        self.assertHealthy(t)
        m = t.metrics()
        self.assertGreaterEqual(m.value("shoal_tracker_store_errors_total", op="announce"), 1)
        self.assertGreaterEqual(m.value("shoal_tracker_store_errors_total", op="counts"), 1)
        self.assertGreaterEqual(m.value("shoal_tracker_announce_failures_total"), 1)
        self.assertTrue(any(l.get("msg") == "redis peer store unavailable" for l in t.log_lines))

        # Same port, empty data: the tracker reconnects on its own; peers re-register.
        self.start_redis("redis-again", port=redis.port)
        ok = wait_until(lambda: b"failure reason" not in self.announce(t, "b", 7602), timeout=10)
        self.assertTrue(ok, "announces did not work again after Redis came back")
        r = self.assertAnnounceOk(self.announce(t, "a", 7601, compact=1))
        self.assertEqual(compact_peers(r[b"peers"]), [(LOOPBACK, 7602)])
        self.assertTrue(wait_until(lambda: any(l.get("msg") == "redis peer store available again"
                                               for l in t.log_lines), timeout=2))
        self.assertHealthy(t)

    def test_silent_redis_times_out_and_other_routes_answer(self):
        sock, port = silent_server()
        self.addCleanup(sock.close)
        t = self.tracker_over(f"redis://{HOST}:{port}", "--peer-store-timeout", "2s")
        results = []

        def one():
            results.append(elapsed(lambda: self.announce(t, f"s{len(results)}", 7700)))
        workers = [threading.Thread(target=one) for _ in range(12)]
        for w in workers:
            w.start()
        # While a dozen announces wait (seconds) on Redis, health and metrics answer.
        time.sleep(0.2)
        for _ in range(5):
            (healthy, took) = elapsed(t.healthy)
            self.assertTrue(healthy)
            self.assertLess(took, 1.0)
            self.assertEqual(t.request("GET", "/metrics").status, 200)
        for w in workers:
            w.join(30)
        self.assertEqual(len(results), 12)
        # Two attempts of 2 s each, or a wait for a free connection first: bounded.
        for r, took in results:
            self.assertIn(b"failure reason", r)
            self.assertLess(took, 9.0, r)
        reasons = {r[b"failure reason"] for r, _ in results}
        self.assertTrue(any(b"timed out after 2000 ms" in x for x in reasons), reasons)
        self.assertHealthy(t)


    def test_read_only_replica_is_refused_until_it_is_a_master_again(self):
        """A server demoted behind the tracker's back answers writes with READONLY: the
        tracker retries once on a fresh connection, then gives a failure reason (with
        redis:// there is nobody else to ask), and works again once it is a master."""
        redis = self.start_redis()
        other = self.start_redis("other")
        t = self.tracker_over(f"redis://{redis.addr}")
        self.assertAnnounceOk(self.announce(t, "a", 7651))
        self.assertEqual(redis.command("REPLICAOF", HOST, other.port), "OK")
        retries = t.metrics().value("shoal_tracker_redis_retries_total")
        r = self.announce(t, "a", 7651)
        self.assertTrue(r.get(b"failure reason", b"").startswith(
            f"peer store unavailable: redis {redis.addr} answered: READONLY ".encode()), r)
        self.assertEqual(t.metrics().value("shoal_tracker_redis_retries_total"), retries + 1)
        self.assertIn(b"errorstat_READONLY:count=2", redis.command("INFO", "errorstats"))
        self.assertEqual(redis.command("REPLICAOF", "NO", "ONE"), "OK")
        self.assertAnnounceOk(self.announce(t, "b", 7652))


class Sentinel(RedisTrackerCase):
    def all_name(self, sentinels, server):
        """Every Sentinel names `server` as the master."""
        return all(self.master_port_by(s) == server.port for s in sentinels)

    def test_tracker_follows_a_failover(self):
        master, (replica,), sentinels = self.start_sentinel_group("shoal")
        dead_sentinel = unused_port()  # listed first: asked first, and skipped
        addrs = ",".join([f"{HOST}:{dead_sentinel}"] + [s.addr for s in sentinels])
        t = self.tracker_over(f"redis-sentinel://{addrs}/shoal", "--peer-store-timeout", "500ms")
        self.assertAnnounceOk(self.announce(t, "before", 7801, left=0))
        found = [l for l in t.log_lines if l.get("msg") == "redis master found"]
        self.assertEqual([l.get("addr") for l in found], [master.addr])
        key = f"shoal:swarm:{{{IH.hex()}}}:peers"
        self.assertTrue(wait_until(lambda: replica.command("EXISTS", key) == 1, timeout=5),
                        "the replica never got the swarm")

        master.kill()
        promoted = wait_until(lambda: self.all_name(sentinels, replica), timeout=30, interval=0.2)
        self.assertTrue(promoted, "\n".join(s.log_tail(2000) for s in sentinels))
        self.assertTrue(wait_until(lambda: replica.command("ROLE")[0] == b"master", timeout=10))

        # Once Sentinel names the new master, the next announce works: its pooled
        # connection is dead, the old address refuses, so the tracker asks the
        # Sentinels again (the dead one first) and retries there.
        r = self.assertAnnounceOk(self.announce(t, "after", 7802, left=3, compact=1))
        self.assertEqual(compact_peers(r[b"peers"]), [(LOOPBACK, 7801)],
                         "the promoted replica had the swarm")
        self.assertTrue(wait_until(lambda: any(l.get("msg") == "redis master changed" and
                                               l.get("to") == replica.addr for l in t.log_lines),
                                   timeout=2), t.stdout_text()[-3000:])
        self.assertGreaterEqual(t.metrics().value("shoal_tracker_redis_master_changes_total"), 1)
        self.assertEqual(self.scrape(t, IH)[b"files"][IH],
                         {b"complete": 1, b"incomplete": 1, b"downloaded": 0})
        self.assertHealthy(t)

    def test_demoted_master_is_left_for_the_new_one(self):
        """A failover while the old master stays up: Sentinel makes it a replica and
        closes its clients; reconnecting to the address it knew, the tracker finds with
        ROLE that it is no master any more, asks the Sentinels again and retries."""
        master, (replica,), sentinels = self.start_sentinel_group("shoal")
        t = self.tracker_over(f"redis-sentinel://{','.join(s.addr for s in sentinels)}/shoal",
                              "--peer-store-timeout", "500ms")
        self.assertAnnounceOk(self.announce(t, "x", 7901))
        # Promote the replica by hand, then tell the old master to follow it: the
        # tracker's pooled connections now point at a replica.
        self.assertEqual(sentinels[0].command("SENTINEL", "failover", "shoal"), "OK")
        self.assertTrue(wait_until(lambda: self.all_name(sentinels, replica), timeout=30,
                                   interval=0.2))
        self.assertTrue(wait_until(lambda: master.command("ROLE")[0] == b"slave" and
                                   replica.command("ROLE")[0] == b"master", timeout=15))
        retries = t.metrics().value("shoal_tracker_redis_retries_total")
        self.assertAnnounceOk(self.announce(t, "y", 7902))  # ROLE: slave, ask Sentinel, retry
        m = t.metrics()
        self.assertEqual(m.value("shoal_tracker_redis_retries_total"), retries + 1)
        self.assertEqual(m.value("shoal_tracker_redis_master_changes_total"), 1)
        self.assertEqual(m.value("shoal_tracker_store_errors_total", op="announce"), 0)


class BadValues(RedisTrackerCase):
    def refused(self, *args):
        try:
            p = subprocess.run([SHOAL_BIN, "tracker", "--listen", f"{HOST}:0"] + list(args),
                               capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL,
                               cwd=self.tmp)
        except subprocess.TimeoutExpired:
            self.fail(f"shoal tracker {args} did not exit")
        self.assertEqual(p.returncode, 2, p)
        return self.assertOneLine(p.stderr)

    def test_bad_peer_store_values_are_refused_at_start_up(self):
        cases = {
            "redis": "expected memory, redis://HOST:PORT/DB or "
                     "redis-sentinel://HOST:PORT,HOST:PORT/MASTER",
            "redis://h:0/0": 'invalid port "0": expected 1 to 65535',
            "redis://h:6379/x": 'invalid database "x": expected a number from 0 to 1048576',
            "redis-sentinel://h:26379":
                "missing master name: expected redis-sentinel://HOST:PORT,.../MASTER",
            "redis://:pw@h":
                "credentials (user:password@) are not supported; protect Redis by network",
        }
        for value, why in cases.items():
            with self.subTest(value=value):
                line = self.refused("--peer-store", value)
                self.assertEqual(
                    line, f'shoal tracker: invalid value "{value}" for peer_store: {why}')
        line = self.refused("--peer-store", "redis://127.0.0.1:1", "--peer-store-timeout", "0s")
        self.assertIn("peer_store_timeout", line)
        line = self.refused("--peer-store", "redis://127.0.0.1:1", "--peer-store-connections", "0")
        self.assertIn("peer_store_connections", line)

    def test_config_file_form_and_start_without_redis(self):
        """peer_store in a config file; a tracker starts while Redis is still down and
        uses it once it is up."""
        port = unused_port()
        conf = os.path.join(self.tmp, "tracker.conf")
        with open(conf, "w") as f:
            f.write(f"peer_store = redis://{HOST}:{port}/1\npeer_store_timeout = 300ms\n")
        t = self.start_tracker("--config", conf)
        self.assertIn(f"redis://{HOST}:{port}/1",
                      [l.get("store") for l in t.log_lines if l.get("msg") == "peer store"])
        self.assertIn(b"failure reason", self.announce(t, "early", 7951))
        self.assertHealthy(t)
        self.start_redis(port=port)
        self.assertTrue(redis_answers(port))
        ok = wait_until(lambda: b"failure reason" not in self.announce(t, "late", 7952), timeout=10)
        self.assertTrue(ok)


if __name__ == "__main__":
    unittest.main()
