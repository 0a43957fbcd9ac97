"""The origin in front of S3 at size and through a long outage (Ceph's RADOS Gateway,
started by the test, shared with test_origin_backend's helpers): a 1 GiB push reaches
the bucket whole by multipart upload without the origin holding it in memory, and a
gateway gone for a minute fails no push; everything is written back when it returns.
boto3 reads the bucket as an independent client."""

import os
import threading
import time
import unittest

import test_origin_backend as backend
from rgw_harness import blob_key
from shoal_harness import (GiB, MiB, ShoalTestCase, file_chunks, http_request, make_bytes,
                           make_file, stream_request, wait_until)

setUpModule = backend.setUpModule
tearDownModule = backend.tearDownModule


class PeakRss:
    """Samples a process's resident set size in a thread until stopped."""

    def __init__(self, origin):
        self.origin = origin
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._done.wait(0.05):
            self.peak = max(self.peak, self.origin.vm_rss() or 0)

    def stop(self):
        self._done.set()
        self._thread.join()
        return self.peak


class LargeAndLong(backend.BackendCase, ShoalTestCase):
    def setUp(self):
        super().setUp()
        self.setup_backend()

    def test_a_gib_push_reaches_the_bucket_whole_without_being_held_in_memory(self):
        origin = self.start_origin(*self.backend_flags)
        path = os.path.join(self.tmp, "big")
        d = make_file(path, GiB, seed=80)
        before = origin.vm_rss()
        rss = PeakRss(origin)
        head = (f"PUT /blobs/{d} HTTP/1.1\r\nHost: t\r\n"
                f"Content-Length: {GiB}\r\n\r\n").encode()
        r, _ = stream_request(origin.port, head, file_chunks(path), timeout=120)
        self.assertIsNotNone(r)
        self.assertIn(r.status, (200, 201), r)
        self.wait_written(origin, 1, timeout=300)
        growth = rss.stop() - before
        # Parts go up four at a time, 16 MiB each: far below the blob's size.
        self.assertLess(growth, 256 * MiB, f"the origin grew by {growth >> 20} MiB")
        self.assertEqual(backend._rgw.object_sha256(self.bucket, blob_key(d)), d[7:])
        self.assertEqual(origin.metrics().value("shoal_origin_writeback_bytes_total"), GiB)
        os.unlink(path)

    def test_a_minute_without_s3_fails_no_push_and_loses_nothing(self):
        origin = self.start_origin(*self.backend_flags)
        backend._rgw.gateway_stop()
        pushed = {}
        end = time.monotonic() + 60
        seed = 100
        while time.monotonic() < end:
            data = make_bytes(3 * MiB, seed=seed)
            pushed[self.push(origin, data)] = data  # asserts success while S3 is down
            seed += 1
            time.sleep(1.5)
        m = origin.metrics()
        self.assertEqual(m.value("shoal_origin_writeback_pending"), len(pushed))
        self.assertGreater(m.value("shoal_origin_writeback_oldest_seconds"), 50)
        self.assertGreater(m.value("shoal_origin_writeback_failures_total"), 0)
        backend._rgw.gateway_start()
        # The backoff tops out at a minute: everything is retried within it.
        self.wait_written(origin, len(pushed), timeout=120)
        self.assertEqual(origin.metrics().value("shoal_origin_writeback_oldest_seconds"), 0)
        for d, data in pushed.items():
            self.assertInBucket(data, d)
            self.assertEqual(http_request(origin.port, "GET", f"/blobs/{d}").body, data)


if __name__ == "__main__":
    unittest.main()
