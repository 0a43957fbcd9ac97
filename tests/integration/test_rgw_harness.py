"""The RADOS Gateway harness itself (tests/support/rgw.sh through rgw_harness.py): it
starts, serves a bucket to boto3, survives a gateway outage with its data, and leaves
no process behind. The S3 backend's own tests are GoogleTests (S3Rgw*)."""

import os
import socket
import unittest

from rgw_harness import RgwMixin, blob_key


class RgwHarnessTest(RgwMixin, unittest.TestCase):
    def test_a_bucket_survives_a_gateway_outage_and_stop_leaves_nothing(self):
        rgw = self.start_rgw()
        rgw.create_bucket("blobs")
        key = blob_key("sha256:" + "ab" * 32, prefix="p/")
        rgw.s3().put_object(Bucket="blobs", Key=key, Body=b"hello")
        rgw.gateway_stop()
        port = int(rgw.endpoint.rsplit(":", 1)[1])
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        rgw.gateway_start()
        self.assertEqual(rgw.keys("blobs"), [key])
        self.assertEqual(rgw.object_sha256("blobs", key),
                         "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        self.assertIsNone(rgw.object_sha256("blobs", "absent"))
        pids = [line.split()[1] for line in open(os.path.join(rgw.dir, "pids"))]
        rgw.stop()
        self.assertFalse(os.path.exists(rgw.dir))
        for pid in pids:
            self.assertFalse(os.path.exists(f"/proc/{pid}/cmdline") and
                             rgw.dir in open(f"/proc/{pid}/cmdline").read(), pid)


if __name__ == "__main__":
    unittest.main()
