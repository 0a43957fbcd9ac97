"""Disk full: the origin's data directory on a 16 MiB tmpfs; a 32 MiB upload must fail
with 507 DISK_FULL, store nothing, free its temporary space and leave the server
working. Needs root (mount); skipped otherwise."""

import os
import subprocess
import unittest

from shoal_harness import (MiB, ShoalTestCase, chunks_of, list_files, make_bytes, sha256_digest,
                           stream_request, url_path, wait_until)


class DiskFull(ShoalTestCase):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a small tmpfs")
        self.mnt = self.mkdir("mnt")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", self.mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here: {r.stderr.strip()}")
        self.addCleanup(self._umount)
        self.origin = self.start_origin(data_dir=os.path.join(self.mnt, "data"))

    def _umount(self):
        r = subprocess.run(["umount", self.mnt], capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", self.mnt], capture_output=True)

    def free_bytes(self):
        st = os.statvfs(self.mnt)
        return st.f_bavail * st.f_frsize

    def assertSpaceFreed(self, free_before):
        ok = wait_until(lambda: self.free_bytes() >= free_before - MiB, timeout=5)
        self.assertTrue(ok, f"space not given back: {self.free_bytes()} free, {free_before} before; "
                            f"files: {list_files(self.mnt)}")

    def assertStillWorks(self):
        self.assertHealthy(self.origin)
        small = make_bytes(100_000, seed=81)
        d = sha256_digest(small)
        r = self.origin.request("PUT", f"/blobs/{d}", body=small)
        self.assertEqual(r.status, 201, r)
        r = self.origin.request("GET", f"/blobs/{d}")
        self.assertEqual(r.body, small)
        self.assertEqual(self.origin.request("DELETE", f"/blobs/{d}").status, 204)

    def test_monolithic_put_too_big_for_disk(self):
        free_before = self.free_bytes()
        data = make_bytes(32 * MiB, seed=80)
        digest = sha256_digest(data)
        for label, declared in (("content-length", True), ("chunked", False)):
            with self.subTest(label):
                if declared:
                    head = (f"PUT /blobs/{digest} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            f"Content-Length: {len(data)}\r\n\r\n").encode()
                    body = chunks_of(data, 256 * 1024)
                else:
                    head = (f"PUT /blobs/{digest} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            f"Transfer-Encoding: chunked\r\n\r\n").encode()
                    body = (b"%x\r\n" % len(c) + c + b"\r\n" for c in chunks_of(data, 256 * 1024))
                r, _ = stream_request(self.origin.port, head, body, timeout=30)
                self.assertIsNotNone(r, "connection closed without a 507 answer")
                self.assertError(r, 507, "DISK_FULL")
                self.assertNoBlobs(self.origin)
                self.assertTmpEmpty(self.origin)
                self.assertSpaceFreed(free_before)
                self.assertError(self.origin.request("GET", f"/blobs/{digest}"), 404, "BLOB_UNKNOWN")
                self.assertStillWorks()

    def test_resumable_upload_too_big_for_disk(self):
        free_before = self.free_bytes()
        data = make_bytes(32 * MiB, seed=82)
        r = self.origin.request("POST", "/uploads", body=b"")
        self.assertEqual(r.status, 202, r)
        path = url_path(r.header("Location"))
        head = (f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Range: bytes 0-{len(data) - 1}/*\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        r, _ = stream_request(self.origin.port, head, chunks_of(data, 256 * 1024), timeout=30,
                              method="PATCH")
        self.assertIsNotNone(r, "connection closed without a 507 answer")
        self.assertError(r, 507, "DISK_FULL")
        self.assertHealthy(self.origin)
        r = self.origin.request("DELETE", path)
        self.assertEqual(r.status, 204, r)
        self.assertNoBlobs(self.origin)
        self.assertSpaceFreed(free_before)
        self.assertStillWorks()


if __name__ == "__main__":
    unittest.main()
