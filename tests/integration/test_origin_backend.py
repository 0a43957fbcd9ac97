"""The origin in front of S3 (Ceph's RADOS Gateway, started by the test): every pushed
blob is written back, the write-back survives a killed origin and an S3 outage, the
disk evicts only what the bucket holds and fills back from it, and an origin with an
empty disk in front of a filled bucket serves agents. boto3 reads the bucket as an
independent client."""

import hashlib
import json
import os
import tempfile
import time
import unittest

from peer_harness import PeerTestCase, get_to_file
from rgw_harness import Rgw, blob_key, require_rgw
from shoal_harness import (MiB, ShoalTestCase, http_request, make_bytes, run_cli,
                           run_origin_expect_exit, sha256_digest, wait_until)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_rgw = None
_buckets = 0


def setUpModule():
    global _rgw
    require_rgw()
    directory = tempfile.mkdtemp(prefix="shoal-rgw-")
    os.rmdir(directory)  # rgw.sh makes it
    _rgw = Rgw(directory)
    try:
        _rgw.start()
    except Exception:
        _rgw.stop()
        raise


def tearDownModule():
    if _rgw is not None:
        _rgw.stop()


def fresh_bucket():
    """One bucket per test: the gateway is shared by the module, state is not."""
    global _buckets
    _buckets += 1
    name = f"shoal-{os.getpid()}-{_buckets}"
    _rgw.create_bucket(name)
    return name


def s3_flags(bucket, directory, prefix=""):
    flags = []
    for key, value in _rgw.origin_config(bucket, directory, prefix).items():
        flags += ["--" + key.replace("_", "-"), value]
    return flags


class BackendCase:
    """Mixed into test cases: an origin writing to a fresh bucket of the shared gateway."""

    def setup_backend(self):
        self.bucket = fresh_bucket()
        self.backend_flags = s3_flags(self.bucket, self.tmp)
        # The gateway comes back after tests that stop it, whatever they assert.
        self.addCleanup(lambda: _rgw.gateway_start() if not _gateway_up() else None)

    def push(self, origin, data):
        d = sha256_digest(data)
        r = http_request(origin.port, "PUT", f"/blobs/{d}", body=data)
        self.assertIn(r.status, (200, 201), r)
        return d

    def wait_written(self, origin, count, timeout=60):
        def drained():
            m = origin.metrics()
            return m.value("shoal_origin_writeback_pending", 1) == 0 and count <= len(
                [k for k in _rgw.keys(self.bucket)])
        self.assertTrue(wait_until(drained, timeout=timeout, interval=0.2),
                        f"write-back did not drain: {origin.metrics().value('shoal_origin_writeback_pending')} "
                        f"pending, bucket holds {_rgw.keys(self.bucket)}")

    def assertInBucket(self, data, digest):
        self.assertEqual(_rgw.object_sha256(self.bucket, blob_key(digest)),
                         hashlib.sha256(data).hexdigest(), f"{digest} in the bucket")

    def status(self, origin, digest):
        r = http_request(origin.port, "GET", f"/blobs/{digest}/status")
        self.assertEqual(r.status, 200, r)
        return r.json()


def _gateway_up():
    try:
        _rgw.s3().list_buckets()
        return True
    except Exception:
        return False


class WriteBack(BackendCase, ShoalTestCase):
    def setUp(self):
        super().setUp()
        self.setup_backend()

    def test_every_pushed_blob_reaches_the_bucket_whole(self):
        origin = self.start_origin(*self.backend_flags)
        blobs = [make_bytes(40 * MiB, seed=1), make_bytes(3 * MiB, seed=2), b"small"]
        digests = [self.push(origin, data) for data in blobs]
        self.wait_written(origin, len(blobs))
        for data, d in zip(blobs, digests):
            self.assertInBucket(data, d)
            st = self.status(origin, d)
            self.assertTrue(st["here"], st)
            self.assertEqual(st["backend"]["state"], "written", st)
        m = origin.metrics()
        self.assertEqual(m.value("shoal_origin_writeback_bytes_total"), sum(map(len, blobs)))
        self.assertEqual(m.value("shoal_origin_writeback_failures_total"), 0)
        # A restart finds every marker: nothing is written twice.
        origin = self.restart_origin(origin)
        self.assertEqual(origin.metrics().value("shoal_origin_writeback_pending"), 0)

    def test_the_queue_survives_an_outage_and_a_killed_origin(self):
        origin = self.start_origin(*self.backend_flags)
        _rgw.gateway_stop()
        blobs = [make_bytes(2 * MiB, seed=10 + i) for i in range(4)]
        digests = [self.push(origin, data) for data in blobs]  # S3 down: pushes still succeed
        self.assertEqual(origin.metrics().value("shoal_origin_writeback_pending"), len(blobs))
        self.assertEqual(self.status(origin, digests[0])["backend"]["state"], "pending")
        self.assertTrue(wait_until(
            lambda: origin.metrics().value("shoal_origin_writeback_failures_total", 0) > 0,
            timeout=10), "no write-back was tried while S3 was down")
        # SIGKILL with the queue full; the start-up check wants S3 back first. Only the
        # reloaded queue can write these blobs now.
        origin.kill()
        origin.expected_exit = True
        _rgw.gateway_start()
        origin = self.restart_origin(origin, graceful=False)
        self.wait_written(origin, len(blobs), timeout=90)
        for data, d in zip(blobs, digests):
            self.assertInBucket(data, d)
            r = http_request(origin.port, "GET", f"/blobs/{d}")
            self.assertEqual(r.body, data)

    def test_a_blob_already_in_the_bucket_is_not_written_again(self):
        data = make_bytes(5 * MiB, seed=20)
        d = sha256_digest(data)
        _rgw.s3().put_object(Bucket=self.bucket, Key=blob_key(d), Body=data)
        origin = self.start_origin(*self.backend_flags)
        self.push(origin, data)
        self.wait_written(origin, 1)
        self.assertEqual(origin.metrics().value("shoal_origin_writeback_bytes_total"), 0)

    def test_delete_removes_the_blob_from_the_bucket(self):
        origin = self.start_origin(*self.backend_flags)
        data = make_bytes(MiB, seed=30)
        d = self.push(origin, data)
        self.wait_written(origin, 1)
        r = http_request(origin.port, "DELETE", f"/blobs/{d}")
        self.assertEqual(r.status, 204, r)
        self.assertIsNone(_rgw.object_sha256(self.bucket, blob_key(d)))
        self.assertEqual(http_request(origin.port, "GET", f"/blobs/{d}").status, 404)

    def test_a_ring_writes_each_blob_once(self):
        ring = self.start_ring(3, *self.backend_flags, replicas=2, write_quorum=2)
        self.assertTrue(wait_until(ring.all_up, timeout=10), "the ring did not come up")
        blobs = [make_bytes(MiB, seed=40 + i) for i in range(6)]
        digests = [self.push(ring[i % 3], data) for i, data in enumerate(blobs)]
        for o in ring:
            self.wait_written(o, len(blobs))
        for data, d in zip(blobs, digests):
            self.assertInBucket(data, d)
        written = sum(o.metrics().value("shoal_origin_writeback_bytes_total") for o in ring)
        self.assertEqual(written, sum(map(len, blobs)), "some blob was written twice")
        self.assertReadsBackWhole(ring, dict(zip(digests, blobs)))


class Collection(BackendCase, ShoalTestCase):
    def setUp(self):
        super().setUp()
        self.setup_backend()

    def test_garbage_collection_removes_unreachable_blobs_from_the_bucket(self):
        origin = self.start_origin(*self.backend_flags, "--gc-grace", "1s")
        kept, dropped = make_bytes(MiB, seed=90), make_bytes(MiB, seed=91)
        kept_d, dropped_d = self.push(origin, kept), self.push(origin, dropped)
        r = http_request(origin.port, "PUT", "/tags/keep", body=kept_d.encode())
        self.assertEqual(r.status, 201, r)
        self.wait_written(origin, 2)
        time.sleep(1.5)  # past the grace
        r = http_request(origin.port, "POST", "/gc")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["removed"], [dropped_d])
        self.assertIsNone(_rgw.object_sha256(self.bucket, blob_key(dropped_d)))
        self.assertInBucket(kept, kept_d)
        # Gone for good: no fill brings it back from the bucket.
        self.assertEqual(http_request(origin.port, "GET", f"/blobs/{dropped_d}").status, 404)
        self.assertEqual(http_request(origin.port, "GET", f"/blobs/{kept_d}").body, kept)


class StartUpCheck(BackendCase, ShoalTestCase):
    def setUp(self):
        super().setUp()
        self.setup_backend()

    def refused(self, *flags):
        data = self.mkdir("data")
        done = run_origin_expect_exit(["--listen", "127.0.0.1:0", "--data", data, *flags],
                                      timeout=60)
        self.assertNotEqual(done.returncode, 0)
        return self.assertOneLine(done.stderr)

    def test_a_missing_bucket_wrong_secret_or_dead_endpoint_is_one_line_at_start(self):
        flags = s3_flags("no-such-bucket", self.tmp)
        self.assertIn("no-such-bucket", self.refused(*flags))
        creds = os.path.join(self.tmp, "wrong-credentials")
        with open(creds, "w") as f:
            f.write(f"{_rgw.access_key}\nnot-the-secret\n")
        flags = s3_flags(self.bucket, self.tmp)
        flags[flags.index("--s3-credentials") + 1] = creds
        self.assertIn("SignatureDoesNotMatch", self.refused(*flags))
        flags = s3_flags(self.bucket, self.tmp)
        flags[flags.index("--s3-endpoint") + 1] = "http://127.0.0.1:9"
        self.assertIn("unreachable", self.refused(*flags))


class DiskAsACache(BackendCase, ShoalTestCase):
    def setUp(self):
        super().setUp()
        self.setup_backend()

    def test_only_written_blobs_are_evicted_and_come_back_verified(self):
        origin = self.start_origin(*self.backend_flags, "--cache-size", "5MiB")
        _rgw.gateway_stop()
        blobs = [make_bytes(2 * MiB, seed=50 + i) for i in range(4)]
        digests = [self.push(origin, data) for data in blobs]
        time.sleep(1.5)  # pumps ran: over budget, but nothing is in the bucket yet
        self.assertEqual(origin.metrics().value("shoal_origin_evicted_blobs_total"), 0)
        self.assertEqual(origin.metrics().value("shoal_store_bytes"), 8 * MiB)
        _rgw.gateway_start()
        self.wait_written(origin, len(blobs), timeout=90)
        self.assertTrue(wait_until(
            lambda: origin.metrics().value("shoal_store_bytes") <= 5 * MiB, timeout=10))
        self.assertEqual(origin.metrics().value("shoal_origin_evicted_blobs_total"), 2)
        # The least recently used went first; each comes back whole from the bucket.
        for data, d in zip(blobs, digests):
            r = http_request(origin.port, "GET", f"/blobs/{d}")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, data)
        self.assertGreaterEqual(origin.metrics().value("shoal_origin_backend_fills_total"), 2)

    def test_a_manifest_may_name_blobs_evicted_to_the_bucket(self):
        origin = self.start_origin(*self.backend_flags, "--cache-size", "1MiB")
        config, layer = b'{"architecture":"amd64","os":"linux"}', make_bytes(2 * MiB, seed=62)
        config_d, layer_d = self.push(origin, config), self.push(origin, layer)
        self.push(origin, make_bytes(2 * MiB, seed=63))  # pushes the others out
        self.wait_written(origin, 3)
        self.assertTrue(wait_until(lambda: not self.status(origin, layer_d)["here"], timeout=10))
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_d, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_d, "size": len(layer)}]}).encode()
        r = http_request(origin.port, "PUT", "/v2/team/app/manifests/v1", body=manifest,
                         headers={"Content-Type": OCI_MANIFEST})
        self.assertEqual(r.status, 201, r)
        r = http_request(origin.port, "GET", f"/v2/team/app/blobs/{layer_d}")
        self.assertEqual(r.body, layer)

    def test_a_wrong_object_in_the_bucket_is_refused(self):
        origin = self.start_origin(*self.backend_flags, "--cache-size", "1MiB")
        data = make_bytes(2 * MiB, seed=60)
        d = self.push(origin, data)
        self.push(origin, make_bytes(2 * MiB, seed=61))
        self.wait_written(origin, 2)
        self.assertTrue(wait_until(lambda: not self.status(origin, d)["here"], timeout=10))
        wrong = bytearray(data)
        wrong[12345] ^= 1
        _rgw.s3().put_object(Bucket=self.bucket, Key=blob_key(d), Body=bytes(wrong))
        try:
            r = http_request(origin.port, "GET", f"/blobs/{d}")
            whole = r.status == 200 and len(r.body) == len(data)
        except Exception:  # the connection closed before the last byte: as it should
            whole = False
        self.assertFalse(whole, "a blob that fails its digest was served whole")
        self.assertFalse(self.status(origin, d)["here"], "a wrong blob was stored")
        self.assertTmpEmpty(origin)


class EmptyOriginFilledBucket(BackendCase, PeerTestCase):
    def setUp(self):
        super().setUp()
        self.setup_backend()

    def test_agents_pull_what_only_the_bucket_holds(self):
        blobs = [make_bytes(24 * MiB, seed=70), make_bytes(3 * MiB, seed=71)]
        digests = []
        for data in blobs:  # filled by another client: no origin ever held these
            d = sha256_digest(data)
            _rgw.s3().put_object(Bucket=self.bucket, Key=blob_key(d), Body=data)
            digests.append(d)
        peers = self.start_cluster(peers=2, origin_args=self.backend_flags)
        for peer in peers:
            for data, d in zip(blobs, digests):
                out = os.path.join(self.tmp, f"{peer.port}-{d[7:15]}")
                status, _, n = get_to_file(peer.port, f"/blobs/{d}", out)
                self.assertEqual(status, 200)
                with open(out, "rb") as f:
                    self.assertEqual(hashlib.sha256(f.read()).hexdigest(), d[7:])
        st = self.status(self.origin, digests[0])
        self.assertTrue(st["here"], st)  # kept: it owns them
        self.assertEqual(st["backend"]["state"], "written", st)
        self.assertEqual(self.origin.metrics().value("shoal_origin_writeback_bytes_total"), 0)


if __name__ == "__main__":
    unittest.main()
