"""A ring of origins (issue 18): placement on owners, write quorum, reads and metainfo
through any origin, repair after a loss, refill of a wiped origin, and nothing lost.
Every test ends by reading back every acknowledged blob through every live origin."""

import json
import os
import time
import unittest

from shoal_harness import (MiB, ShoalTestCase, blob_path, make_bytes, make_file, run_cli,
                           sha256_digest, start_cli, unused_port, wait_until)

# Fast health and repair, so a loss is noticed and repaired within a test's time.
FAST = ["--health-interval", "200ms", "--health-fails", "2", "--health-passes", "1",
        "--repair-interval", "500ms"]


class RingTestCase(ShoalTestCase):
    def start_ring(self, n, *extra, repair_after="1h"):
        self.ring = super().start_ring(n, *FAST, *extra, repair_after=repair_after)
        self.urls = self.ring.urls
        self.acked = {}  # digest -> bytes of every push that succeeded
        self.addCleanup(self.check_nothing_lost)
        # Members that started before the others saw them down; wait for the checks.
        self.assertTrue(wait_until(self.ring.all_up, timeout=10),
                        "the ring never saw all members up")
        return self.ring

    def data_of(self, i):
        return self.ring.data_dirs[i]

    def live(self):
        return self.ring.live()

    def push(self, origin, data, expect=(200, 201)):
        d = sha256_digest(data)
        r = origin.request("PUT", f"/blobs/{d}", body=data)
        self.assertIn(r.status, expect, r.body[:300])
        if r.status in (200, 201):
            self.acked[d] = data
        return d, r

    def holders(self, digest):
        return [i for i in range(len(self.ring))
                if os.path.exists(blob_path(self.data_of(i), digest))]

    def locations(self, origin, digest):
        r = origin.request("GET", f"/blobs/{digest}/locations")
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def check_nothing_lost(self):
        self.assertReadsBackWhole(self.live(), self.acked)


class Placement(RingTestCase):
    def test_push_through_one_read_through_each(self):
        ring = self.start_ring(3)
        data = make_bytes(3 * MiB + 17, seed=1)
        d, r = self.push(ring[0], data)
        self.assertEqual(r.status, 201)
        # Three origins, three replicas: every origin holds it once the queue drains.
        self.assertTrue(wait_until(lambda: len(self.holders(d)) == 3, timeout=20), self.holders(d))
        for o in ring:
            got = o.request("GET", f"/blobs/{d}")
            self.assertEqual(got.status, 200)
            self.assertEqual(got.body, data)
            part = o.request("GET", f"/blobs/{d}", headers={"Range": "bytes=100-199"})
            self.assertEqual(part.status, 206)
            self.assertEqual(part.body, data[100:200])

    def test_every_origin_agrees_on_locations_and_members(self):
        ring = self.start_ring(4)
        d = sha256_digest(b"where")
        answers = [self.locations(o, d) for o in ring]
        owners = [[x["url"] for x in a["owners"]] for a in answers]
        self.assertEqual(len(owners[0]), 3)
        self.assertTrue(all(o == owners[0] for o in owners), owners)
        clusters = [o.request("GET", "/cluster").json() for o in ring]
        self.assertEqual(len({c["fingerprint"] for c in clusters}), 1)
        self.assertEqual(sorted(m["url"] for m in clusters[0]["members"]), sorted(self.urls))

    def test_blob_ends_on_its_owners_only(self):
        ring = self.start_ring(4)
        stored = []
        for k in range(6):
            data = make_bytes(64 * 1024 + k, seed=10 + k)
            d, _ = self.push(ring[k % 4], data)
            stored.append(d)
        for d in stored:
            want = sorted(self.urls.index(x["url"]) for x in self.locations(ring[0], d)["owners"])
            # A receiving origin that is not an owner drops its copy once the owners hold it.
            self.assertTrue(wait_until(lambda: sorted(self.holders(d)) == want, timeout=20),
                            f"{d}: held by {self.holders(d)}, owners {want}")

    def test_metainfo_through_a_non_owner_is_the_owners(self):
        ring = self.start_ring(4)
        data = make_bytes(2 * MiB, seed=3)
        d, _ = self.push(ring[0], data)
        infos = set()
        for o in ring:
            r = o.request("GET", f"/blobs/{d}/metainfo")
            self.assertEqual(r.status, 200, r.body[:200])
            infos.add(r.body)
        self.assertEqual(len(infos), 1, "origins made different metainfo for one blob")

    def test_delete_through_one_origin_removes_every_copy(self):
        ring = self.start_ring(4)
        data = make_bytes(200 * 1024, seed=8)
        d, _ = self.push(ring[0], data)
        self.acked.pop(d)
        self.assertTrue(wait_until(lambda: len(self.holders(d)) == 3, timeout=20))
        r = ring[3].request("DELETE", f"/blobs/{d}")
        self.assertEqual(r.status, 204, r.body)
        time.sleep(1.5)  # a few repair walks: nothing brings it back
        self.assertEqual(self.holders(d), [])
        for o in ring:
            self.assertEqual(o.request("GET", f"/blobs/{d}").status, 404)

    def test_mismatched_member_lists_are_reported(self):
        a, b = unused_port(), unused_port()
        ua, ub = f"http://127.0.0.1:{a}", f"http://127.0.0.1:{b}"
        extra = f"http://127.0.0.1:{unused_port()}"
        oa = self.start_origin("--origins", f"{ua},{ub}", "--self", ua, *FAST,
                               data_dir=self.mkdir("a"), port=a)
        self.start_origin("--origins", f"{ua},{ub},{extra}", "--self", ub, *FAST,
                          data_dir=self.mkdir("b"), port=b)
        self.assertTrue(wait_until(
            lambda: oa.metrics().value("shoal_origin_ring_mismatches", 0) == 1, timeout=10))
        self.assertTrue(any("disagrees about the ring" in line for line in oa.raw_stdout))


class Quorum(RingTestCase):
    def test_two_of_three_down_refuses_pushes_but_serves_reads(self):
        ring = self.start_ring(3)
        data = make_bytes(MiB, seed=4)
        d, _ = self.push(ring[0], data)
        self.assertTrue(wait_until(lambda: len(self.holders(d)) == 3, timeout=20))
        ring.stop(1, graceful=False)
        ring.stop(2, graceful=False)
        fresh = make_bytes(MiB, seed=5)
        # Noticed by the checks (or by the push's own failed copies): a 503 naming the quorum.
        def refused():
            _, r = self.push(ring[0], fresh, expect=(201, 503))
            return r if r.status == 503 else None
        r = wait_until(refused, timeout=10, interval=0.3)
        self.assertTrue(r, "a push with 2 of 3 origins down was acknowledged")
        body = r.json()
        self.assertEqual(body["error"], "QUORUM_UNAVAILABLE")
        self.assertIn("quorum", body["message"])
        self.acked.pop(sha256_digest(fresh), None)
        got = ring[0].request("GET", f"/blobs/{d}")
        self.assertEqual(got.status, 200)
        self.assertEqual(got.body, data)

    def test_resumable_upload_through_a_non_owner(self):
        ring = self.start_ring(4)
        data = make_bytes(5 * MiB + 3, seed=6)
        d = sha256_digest(data)
        non_owner = next(i for i, u in enumerate(self.urls)
                         if u not in [x["url"] for x in self.locations(ring[0], d)["owners"]])
        path = os.path.join(self.tmp, "up.bin")
        with open(path, "wb") as f:
            f.write(data)
        r = run_cli(["push", path, "--origin", self.urls[non_owner], "--chunk-size", "1MiB",
                     "--quiet"], home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), d)
        self.acked[d] = data
        owners = [self.urls.index(x["url"]) for x in self.locations(ring[0], d)["owners"]]
        # Acknowledged at the quorum: at least two owners hold it durably already.
        self.assertGreaterEqual(len(set(self.holders(d)) & set(owners)), 2)


class UploadFailover(RingTestCase):
    def session_offsets(self, uid):
        found = {}
        for i, o in enumerate(self.ring):
            if not o.alive():
                continue
            r = o.request("GET", f"/uploads/{uid}")
            if r.status == 200:
                found[i] = int(r.header("Upload-Offset"))
        return found

    def test_upload_continues_on_the_mirror_from_its_offset(self):
        ring = self.start_ring(3)
        chunk = 1 * MiB
        data = make_bytes(5 * chunk + 99, seed=70)
        d = sha256_digest(data)
        r = ring[0].request("POST", "/uploads")
        self.assertEqual(r.status, 202)
        uid = r.json()["id"]
        for k in range(3):
            part = data[k * chunk:(k + 1) * chunk]
            r = ring[0].request("PATCH", f"/uploads/{uid}", body=part, headers={
                "Content-Range": f"bytes {k * chunk}-{(k + 1) * chunk - 1}/*"})
            self.assertEqual(r.status, 202, r.body)
        # The mirror trails by at most the chunk in flight; here it catches up.
        self.assertTrue(wait_until(lambda: 3 * chunk in [
            v for i, v in self.session_offsets(uid).items() if i != 0], timeout=10),
            self.session_offsets(uid))
        ring.stop(0, graceful=False)
        survivors = {i: v for i, v in self.session_offsets(uid).items() if i != 0}
        self.assertEqual(list(survivors.values()), [3 * chunk])
        at_index = next(iter(survivors))
        at = survivors[at_index]
        r = ring[at_index].request("PATCH", f"/uploads/{uid}", body=data[at:], headers={
            "Content-Range": f"bytes {at}-{len(data) - 1}/*"})
        self.assertEqual(r.status, 202, r.body)
        r = ring[at_index].request("PUT", f"/uploads/{uid}?digest={d}")
        self.assertEqual(r.status, 201, r.body)
        self.acked[d] = data


    def test_push_survives_its_origin_and_resumes_on_the_mirror(self):
        ring = self.start_ring(3)
        path = os.path.join(self.tmp, "big.bin")
        d = make_file(path, 48 * MiB, seed=71)
        proc = start_cli(["push", path, "--origin", ",".join(self.urls), "--chunk-size", "4MiB",
                          "--limit-rate", "16MiB"], home=self.home)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())

        def receiving_offset():
            return ring[0].metrics().value("shoal_origin_upload_sessions", 0) >= 1
        self.assertTrue(wait_until(receiving_offset, timeout=20))
        time.sleep(1.5)  # a few chunks in, and mirrored
        ring.stop(0, graceful=False)
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(out.decode().strip(), d)
        self.assertRegex(err.decode(), r"continues on http://\S+ at byte [1-9]")
        with open(path, "rb") as f:
            self.acked[d] = f.read()


class Repair(RingTestCase):
    def test_lost_origin_is_replaced_and_copies_return_to_three(self):
        ring = self.start_ring(4, repair_after="2s")
        blobs = []
        for k in range(8):
            d, _ = self.push(ring[k % 4], make_bytes(256 * 1024 + k, seed=20 + k))
            blobs.append(d)
        for d in blobs:
            self.assertTrue(wait_until(lambda: len(self.holders(d)) == 3, timeout=20))
        victim = 3
        ring.stop(victim, graceful=False)
        alive = [i for i in range(4) if i != victim]

        def three_copies_on_the_rest():
            return all(len(set(self.holders(d)) & set(alive)) == 3 for d in blobs)
        self.assertTrue(wait_until(three_copies_on_the_rest, timeout=30),
                        {d: self.holders(d) for d in blobs})

    def test_wiped_origin_is_refilled(self):
        ring = self.start_ring(3)
        blobs = [self.push(ring[0], make_bytes(300 * 1024 + k, seed=40 + k))[0] for k in range(5)]
        for d in blobs:
            self.assertTrue(wait_until(lambda: len(self.holders(d)) == 3, timeout=20))
        ring.restart(2, graceful=False, wipe=True)
        self.assertTrue(wait_until(lambda: all(2 in self.holders(d) for d in blobs), timeout=30),
                        {d: self.holders(d) for d in blobs})

    def test_pending_copies_survive_a_restart(self):
        # No repair walk during the test: only the persisted queue can deliver the copy.
        ring = self.start_ring(3, "--repair-interval", "1h")
        ring.stop(2, graceful=False)
        data = make_bytes(512 * 1024, seed=60)
        d, _ = self.push(ring[0], data)  # the quorum is 2: origins 1 and 2 hold it
        ring.restart(0, graceful=False)  # the copy owed to origin 3 is queued on disk only
        ring.start(2)
        self.assertTrue(wait_until(lambda: 2 in self.holders(d), timeout=30))


if __name__ == "__main__":
    unittest.main()
