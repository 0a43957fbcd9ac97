"""Origin resumable uploads: POST / PATCH / GET / PUT?digest= / DELETE, ordering rules,
mid-PATCH disconnects, idle expiry and survival across an origin restart."""

import os
import socket
import time
import unittest

from shoal_harness import (MiB, ShoalTestCase, blob_path, list_files, make_bytes, sha256_digest,
                           url_path, wait_until)


class UploadMixin:
    def new_upload(self, origin, headers=None):
        r = origin.request("POST", "/uploads", body=b"", headers=headers)
        self.assertEqual(r.status, 202, r)
        loc = r.header("Location")
        self.assertIsNotNone(loc, r)
        path = url_path(loc)
        self.assertRegex(path, r"^/uploads/[^/]+$", r)
        self.assertEqual(r.header("Upload-Offset"), "0", r)
        body = r.json()
        self.assertEqual(body.get("offset"), 0, r)
        self.assertEqual("/uploads/" + str(body.get("id")), path, r)
        return path

    def patch(self, origin, path, data, start=None, form="star", headers=None):
        hdrs = dict(headers or {})
        if start is not None:
            end = start + len(data) - 1
            if form == "star":
                hdrs["Content-Range"] = f"bytes {start}-{end}/*"
            elif form == "oci":
                hdrs["Content-Range"] = f"{start}-{end}"
            elif form == "total":
                hdrs["Content-Range"] = f"bytes {start}-{end}/{form_total(self)}"
            else:
                hdrs["Content-Range"] = form
        hdrs.setdefault("Content-Type", "application/octet-stream")
        return origin.request("PATCH", path, body=data, headers=hdrs)

    def offset(self, origin, path):
        r = origin.request("GET", path)
        self.assertEqual(r.status, 200, r)
        off = int(r.header("Upload-Offset"))
        self.assertEqual(r.json().get("offset"), off, r)
        return off

    def commit(self, origin, path, digest, body=b"", headers=None):
        return origin.request("PUT", f"{path}?digest={digest}", body=body, headers=headers)


def form_total(tc):
    return tc.total


class Uploads(UploadMixin, ShoalTestCase):
    def setUp(self):
        super().setUp()
        self.origin = self.start_origin()

    def test_chunked_upload_and_commit(self):
        data = make_bytes(3 * MiB + 1000, seed=30)
        digest = sha256_digest(data)
        self.total = len(data)
        path = self.new_upload(self.origin)
        pieces = [(0, MiB, "star"), (MiB, 2 * MiB, "oci"), (2 * MiB, 3 * MiB, "total"),
                  (3 * MiB, 3 * MiB + 500, None), (3 * MiB + 500, len(data), "star")]
        for a, b, form in pieces:
            with self.subTest(chunk=(a, b), form=form):
                r = self.patch(self.origin, path, data[a:b], start=a if form else None,
                               form=form or "star")
                self.assertEqual(r.status, 202, r)
                self.assertEqual(r.header("Upload-Offset"), str(b), r)
                self.assertEqual(r.header("Range"), f"0-{b - 1}", r)
                self.assertEqual(self.offset(self.origin, path), b)
        r = self.origin.request("GET", path)
        self.assertEqual(r.header("Range"), f"0-{len(data) - 1}", r)
        # Nothing is visible before the commit.
        self.assertEqual(self.origin.request("HEAD", f"/blobs/{digest}").status, 404)
        r = self.commit(self.origin, path, digest)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(url_path(r.header("Location") or ""), f"/blobs/{digest}", r)
        r = self.origin.request("GET", f"/blobs/{digest}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, data)
        with open(blob_path(self.origin.data_dir, digest), "rb") as f:
            self.assertEqual(f.read(), data)
        r = self.origin.request("GET", path)
        self.assertError(r, 404, "UPLOAD_UNKNOWN")
        self.assertTmpEmpty(self.origin)

    def test_commit_with_final_chunk(self):
        data = make_bytes(700_000, seed=31)
        digest = sha256_digest(data)
        path = self.new_upload(self.origin)
        self.assertEqual(self.patch(self.origin, path, data[:400_000], start=0).status, 202)
        r = self.commit(self.origin, path, digest, body=data[400_000:])
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.origin.request("GET", f"/blobs/{digest}").body, data)

    def test_commit_of_whole_body_and_of_empty_upload(self):
        with self.subTest("single PUT with all the data"):
            data = b"all in the commit" * 1000
            path = self.new_upload(self.origin)
            r = self.commit(self.origin, path, sha256_digest(data), body=data)
            self.assertEqual(r.status, 201, r)
            self.assertEqual(self.origin.request("GET", f"/blobs/{sha256_digest(data)}").body, data)
        with self.subTest("empty upload"):
            path = self.new_upload(self.origin)
            r = self.commit(self.origin, path, sha256_digest(b""))
            self.assertEqual(r.status, 201, r)
            r = self.origin.request("GET", f"/blobs/{sha256_digest(b'')}")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b"")

    def test_out_of_order_and_overlapping_ranges(self):
        data = make_bytes(300_000, seed=32)
        digest = sha256_digest(data)
        path = self.new_upload(self.origin)
        self.assertEqual(self.patch(self.origin, path, data[:100_000], start=0).status, 202)
        bad = {
            "gap (starts after offset)": (data[150_000:200_000], "bytes 150000-199999/*"),
            "overlap (starts before offset)": (data[50_000:150_000], "bytes 50000-149999/*"),
            "restart at 0": (data[:100_000], "bytes 0-99999/*"),
            "length differs from range": (data[100_000:150_000], "bytes 100000-200000/*"),
            "overlap OCI form": (data[99_000:150_000], "99000-149999"),
            "end before start": (data[100_000:150_000], "bytes 100000-99999/*"),
        }
        for label, (chunk, cr) in bad.items():
            with self.subTest(label):
                r = self.origin.request("PATCH", path, body=chunk, headers={"Content-Range": cr})
                self.assertIn(r.status, (400, 416), r)
                if label != "end before start":
                    self.assertError(r, 416, "RANGE_NOT_SATISFIABLE")
                    self.assertEqual(r.header("Upload-Offset"), "100000", r)
                else:
                    self.assertError(r, (400, 416))
                self.assertEqual(self.offset(self.origin, path), 100_000)
        # The rejected chunks left no trace: continuing gives the right blob.
        self.assertEqual(self.patch(self.origin, path, data[100_000:], start=100_000).status, 202)
        r = self.commit(self.origin, path, digest)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.origin.request("GET", f"/blobs/{digest}").body, data)

    def test_absurd_content_ranges(self):
        for cr in ("bytes 18446744073709551615-0/*", "bytes -1-5/*", "bytes 0-18446744073709551616/*",
                   "bytes 0-99999999999999999999999/*", "bytes 0-4/3", "bytes x-y/*", "bytes 0-4/-1",
                   "bytes=0-4", "bytes 0-4/*,5-9/*"):
            with self.subTest(content_range=cr):
                path = self.new_upload(self.origin)
                r = self.origin.request("PATCH", path, body=b"hello", headers={"Content-Range": cr})
                self.assertIn(r.status, (400, 416), r)
                self.assertError(r, (400, 416))
                self.assertEqual(self.offset(self.origin, path), 0)
        self.assertHealthy(self.origin)

    def test_wrong_digest_on_commit_removes_session(self):
        data = make_bytes(200_000, seed=33)
        path = self.new_upload(self.origin)
        self.assertEqual(self.patch(self.origin, path, data, start=0).status, 202)
        wrong = sha256_digest(data + b"!")
        r = self.commit(self.origin, path, wrong)
        self.assertError(r, 400, "DIGEST_MISMATCH")
        r = self.origin.request("GET", path)
        self.assertError(r, 404, "UPLOAD_UNKNOWN")
        r = self.commit(self.origin, path, sha256_digest(data))
        self.assertError(r, 404, "UPLOAD_UNKNOWN")
        self.assertNoBlobs(self.origin)
        self.assertTmpEmpty(self.origin)
        self.assertEqual(list_files(os.path.join(self.origin.data_dir, "uploads")), [],
                         "session files left under uploads/")

    def test_malformed_commit_digest(self):
        data = b"x" * 1000
        path = self.new_upload(self.origin)
        self.assertEqual(self.patch(self.origin, path, data, start=0).status, 202)
        for label, q in (("uppercase", "?digest=sha256:" + "AB" * 32),
                         ("short", "?digest=sha256:abc"),
                         ("sha512", "?digest=sha512:" + "ab" * 64)):
            with self.subTest(label):
                r = self.origin.request("PUT", path + q, body=b"")
                self.assertError(r, 400, "DIGEST_INVALID")
        with self.subTest("missing digest"):
            r = self.origin.request("PUT", path, body=b"")
            self.assertError(r, 400, ("BAD_REQUEST", "DIGEST_INVALID"))
        self.assertNoBlobs(self.origin)
        self.assertHealthy(self.origin)

    def test_delete_abandons(self):
        path = self.new_upload(self.origin)
        self.assertEqual(self.patch(self.origin, path, b"abc" * 1000, start=0).status, 202)
        r = self.origin.request("DELETE", path)
        self.assertEqual(r.status, 204, r)
        for method, body in (("GET", None), ("PATCH", b"more"), ("DELETE", None)):
            with self.subTest(method=method):
                r = self.origin.request(method, path, body=body)
                self.assertError(r, 404, "UPLOAD_UNKNOWN")
        r = self.commit(self.origin, path, sha256_digest(b"abc" * 1000))
        self.assertError(r, 404, "UPLOAD_UNKNOWN")
        self.assertNoBlobs(self.origin)
        self.assertEqual(list_files(os.path.join(self.origin.data_dir, "uploads")), [])

    def test_unknown_upload(self):
        for upload_id in ("doesnotexist", "0123456789abcdef0123456789abcdef"):
            with self.subTest(upload_id):
                r = self.origin.request("GET", f"/uploads/{upload_id}")
                body = self.assertError(r, (400, 404), ("UPLOAD_UNKNOWN", "NAME_INVALID"))
                if r.status == 404:
                    self.assertEqual(body["error"], "UPLOAD_UNKNOWN")
                r = self.origin.request("PATCH", f"/uploads/{upload_id}", body=b"x")
                self.assertError(r, (400, 404), ("UPLOAD_UNKNOWN", "NAME_INVALID"))

    def test_interleaved_sessions_and_gauge(self):
        base = self.origin.metrics().sum("shoal_origin_upload_sessions")
        a = make_bytes(500_000, seed=34)
        b = make_bytes(600_000, seed=35)
        pa = self.new_upload(self.origin)
        pb = self.new_upload(self.origin)
        self.assertNotEqual(pa, pb)
        self.assertEqual(self.origin.metrics().sum("shoal_origin_upload_sessions"), base + 2)
        for i in range(0, 600_000, 100_000):
            if i < len(a):
                self.assertEqual(self.patch(self.origin, pa, a[i:i + 100_000], start=i).status, 202)
            self.assertEqual(self.patch(self.origin, pb, b[i:i + 100_000], start=i).status, 202)
        self.assertEqual(self.commit(self.origin, pa, sha256_digest(a)).status, 201)
        self.assertEqual(self.origin.metrics().sum("shoal_origin_upload_sessions"), base + 1)
        self.assertEqual(self.origin.request("DELETE", pb).status, 204)
        self.assertEqual(self.origin.metrics().sum("shoal_origin_upload_sessions"), base)
        self.assertEqual(self.origin.request("GET", f"/blobs/{sha256_digest(a)}").body, a)
        self.assertEqual(self.origin.request("HEAD", f"/blobs/{sha256_digest(b)}").status, 404)

    def test_client_disconnects_mid_patch(self):
        data = make_bytes(8 * MiB, seed=36)
        digest = sha256_digest(data)
        path = self.new_upload(self.origin)
        sent = 3 * MiB + 4321
        head = (f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Range: bytes 0-{len(data) - 1}/*\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        s = socket.create_connection(("127.0.0.1", self.origin.port), timeout=10)
        s.sendall(head + data[:sent])
        time.sleep(0.5)
        s.close()

        def settled_offset():
            r = self.origin.request("GET", path)
            if r.status != 200:
                return None
            off = int(r.header("Upload-Offset"))
            return off if off > 0 else None
        off = wait_until(settled_offset, timeout=10, interval=0.2)
        self.assertIsNotNone(off, "the bytes received before the disconnect were dropped")
        # Let the server finish with the dead connection, then read the final offset.
        time.sleep(0.5)
        off = self.offset(self.origin, path)
        self.assertGreater(off, 0)
        self.assertLessEqual(off, sent)
        self.assertLess(off, len(data))
        self.assertNoBlobs(self.origin)
        r = self.patch(self.origin, path, data[off:], start=off)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.header("Upload-Offset"), str(len(data)), r)
        r = self.commit(self.origin, path, digest)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.origin.request("GET", f"/blobs/{digest}").body, data)

    def test_patch_without_content_range_appends(self):
        data = make_bytes(10_000, seed=37)
        path = self.new_upload(self.origin)
        for i in range(0, 10_000, 2500):
            r = self.origin.request("PATCH", path, body=data[i:i + 2500])
            self.assertEqual(r.status, 202, r)
            self.assertEqual(r.header("Upload-Offset"), str(i + 2500), r)
        self.assertEqual(self.commit(self.origin, path, sha256_digest(data)).status, 201)


class UploadConcurrencyAndLimits(UploadMixin, ShoalTestCase):
    def test_two_patches_racing_on_one_session(self):
        origin = self.start_origin()
        data = make_bytes(2 * MiB, seed=38)
        path = self.new_upload(origin)
        head = (f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Range: bytes 0-{len(data) - 1}/*\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        s = socket.create_connection(("127.0.0.1", origin.port), timeout=15)
        try:
            s.sendall(head + data[:MiB])     # first PATCH, half sent, still open
            time.sleep(0.3)
            other = make_bytes(MiB, seed=39)
            r2 = self.patch(origin, path, other, start=0)
            self.assertIn(r2.status, (202, 409, 416), r2)
            try:
                s.sendall(data[MiB:])
            except (BrokenPipeError, ConnectionResetError):
                pass
            from shoal_harness import read_response
            try:
                r1 = read_response(s, method="PATCH", timeout=15)
            except (ConnectionResetError, AssertionError):
                r1 = None
        finally:
            s.close()
        statuses = (r1.status if r1 else None, r2.status)
        self.assertNotEqual(statuses, (202, 202), "both racing PATCHes at offset 0 were accepted")
        off = self.offset(origin, path)
        if r1 is not None and r1.status == 202:
            expected = data
        elif r2.status == 202:
            expected = other
        else:
            expected = data[:off]  # the first PATCH was cut short; whatever arrived is kept
        self.assertEqual(off, len(expected), f"statuses {statuses}")
        r = self.commit(origin, path, sha256_digest(expected))
        self.assertEqual(r.status, 201, f"session content is not what was accepted: {r!r}; "
                                        f"statuses {statuses}")
        self.assertEqual(origin.request("GET", f"/blobs/{sha256_digest(expected)}").body, expected)

    def test_upload_over_max_upload_size(self):
        origin = self.start_origin("--max-upload-size", "1MiB")
        data = make_bytes(1200 * 1024, seed=43)
        path = self.new_upload(origin)
        self.assertEqual(self.patch(origin, path, data[:600 * 1024], start=0).status, 202)
        r = self.patch(origin, path, data[600 * 1024:], start=600 * 1024)
        self.assertError(r, 413, "TOO_LARGE")
        r = self.commit(origin, path, sha256_digest(data))
        self.assertNotEqual(r.status, 201, r)
        self.assertNoBlobs(origin)
        self.assertHealthy(origin)


class UploadLifetime(UploadMixin, ShoalTestCase):
    def test_idle_sessions_expire(self):
        origin = self.start_origin("--upload-idle-timeout", "2s")
        path = self.new_upload(origin)
        self.assertEqual(self.patch(origin, path, b"z" * 5000, start=0).status, 202)
        busy = self.new_upload(origin)
        self.assertEqual(self.offset(origin, path), 5000)
        t0 = time.monotonic()
        # Keep the second session busy (every 0.5 s) while the first one idles.
        n = 0
        while time.monotonic() - t0 < 5.0:
            time.sleep(0.5)
            r = self.patch(origin, busy, b"k" * 10, start=n)
            self.assertEqual(r.status, 202, f"an active session expired: {r!r}")
            n += 10
        r = origin.request("GET", path)
        self.assertError(r, 404, "UPLOAD_UNKNOWN")
        r = self.patch(origin, path, b"more", start=5000)
        self.assertError(r, 404, "UPLOAD_UNKNOWN")
        self.assertEqual(self.offset(origin, busy), n)
        self.assertEqual(origin.metrics().sum("shoal_origin_upload_sessions"), 1)
        r = self.commit(origin, busy, sha256_digest(b"k" * n))
        self.assertEqual(r.status, 201, r)
        left = wait_until(lambda: list_files(os.path.join(origin.data_dir, "uploads")) == [],
                          timeout=5)
        self.assertTrue(left, f"expired session left files: "
                              f"{list_files(os.path.join(origin.data_dir, 'uploads'))}")

    def test_session_survives_graceful_restart(self):
        origin = self.start_origin()
        data = make_bytes(3 * MiB, seed=40)
        digest = sha256_digest(data)
        path = self.new_upload(origin)
        self.assertEqual(self.patch(origin, path, data[:2 * MiB], start=0).status, 202)
        origin2 = self.restart_origin(origin, graceful=True)
        self.assertEqual(self.offset(origin2, path), 2 * MiB)
        self.assertEqual(self.patch(origin2, path, data[2 * MiB:], start=2 * MiB).status, 202)
        r = self.commit(origin2, path, digest)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(origin2.request("GET", f"/blobs/{digest}").body, data)

    def test_restored_sessions_still_expire(self):
        origin = self.start_origin("--upload-idle-timeout", "2s")
        path = self.new_upload(origin)
        self.assertEqual(self.patch(origin, path, b"q" * 1000, start=0).status, 202)
        origin2 = self.restart_origin(origin)
        self.assertEqual(origin2.metrics().sum("shoal_origin_upload_sessions"), 1,
                         "restored session not counted")
        ok = wait_until(lambda: origin2.metrics().sum("shoal_origin_upload_sessions") == 0,
                        timeout=8, interval=0.25)
        self.assertTrue(ok, "a session restored at start-up never expired")
        self.assertError(origin2.request("GET", path), 404, "UPLOAD_UNKNOWN")

    def test_session_survives_kill(self):
        origin = self.start_origin()
        data = make_bytes(3 * MiB, seed=41)
        digest = sha256_digest(data)
        path = self.new_upload(origin)
        self.assertEqual(self.patch(origin, path, data[:MiB], start=0).status, 202)
        self.assertEqual(self.patch(origin, path, data[MiB:2 * MiB], start=MiB).status, 202)
        origin2 = self.restart_origin(origin, graceful=False)
        off = self.offset(origin2, path)
        self.assertLessEqual(off, 2 * MiB)
        self.assertEqual(self.patch(origin2, path, data[off:], start=off).status, 202)
        r = self.commit(origin2, path, digest)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(origin2.request("GET", f"/blobs/{digest}").body, data)

    def test_wrong_digest_after_restart(self):
        origin = self.start_origin()
        data = make_bytes(MiB, seed=42)
        path = self.new_upload(origin)
        self.assertEqual(self.patch(origin, path, data, start=0).status, 202)
        origin2 = self.restart_origin(origin)
        r = self.commit(origin2, path, sha256_digest(data[:-1]))
        self.assertError(r, 400, "DIGEST_MISMATCH")
        self.assertError(origin2.request("GET", path), 404, "UPLOAD_UNKNOWN")
        self.assertNoBlobs(origin2)


if __name__ == "__main__":
    unittest.main()
