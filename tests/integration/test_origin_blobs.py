"""Origin blob API: monolithic PUT, GET/HEAD with ranges and caching headers, and
every bad-input case of issue 2 item 4 (malformed digests, mismatched bodies,
oversized bodies, path traversal, disconnecting clients, malformed HTTP)."""

import os
import socket
import time
import unittest

from shoal_harness import (MiB, ShoalTestCase, blob_path, chunks_of, list_files, make_bytes,
                           sha256_digest, stream_request, wait_until)

IMMUTABLE = {"public", "max-age=31536000", "immutable"}
EMPTY_DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def cache_control_set(value):
    return {p.strip().lower() for p in (value or "").split(",") if p.strip()}


class BlobBasics(ShoalTestCase):
    def setUp(self):
        super().setUp()
        self.origin = self.start_origin()

    def put(self, data, digest=None, headers=None):
        digest = digest or sha256_digest(data)
        return self.origin.request("PUT", f"/blobs/{digest}", body=data, headers=headers)

    def test_health(self):
        r = self.origin.request("GET", "/health")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json().get("status"), "ok", r)

    def test_logs_are_json_lines(self):
        self.put(b"hello logs")
        self.origin.request("GET", "/blobs/" + sha256_digest(b"hello logs"))
        self.origin.stop()
        bad = [l for l in self.origin.raw_stdout if l.strip() and not l.lstrip().startswith("{")]
        self.assertEqual(bad, [], "stdout lines that are not JSON objects")
        listening = [l for l in self.origin.log_lines if l.get("msg") == "listening"]
        self.assertEqual(len(listening), 1)
        self.assertTrue(str(listening[0].get("url", "")).startswith("http://127.0.0.1:"),
                        listening[0])

    def test_put_then_put_again_does_not_rewrite(self):
        data = make_bytes(300_000, seed=1)
        digest = sha256_digest(data)
        r = self.put(data)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.header("Location"), f"/blobs/{digest}", r)
        path = blob_path(self.origin.data_dir, digest)
        self.assertTrue(os.path.isfile(path), f"{path} missing; have {list_files(self.origin.data_dir)}")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), data)
        st1 = os.stat(path)
        time.sleep(0.3)
        r = self.put(data)
        self.assertEqual(r.status, 200, r)
        st2 = os.stat(path)
        self.assertEqual(st1.st_ino, st2.st_ino, "blob file was replaced on second PUT")
        self.assertEqual(st1.st_mtime_ns, st2.st_mtime_ns, "blob file was rewritten on second PUT")
        self.assertHealthy(self.origin)

    def test_put_chunked_body(self):
        data = make_bytes(2 * MiB + 17, seed=2)
        digest = sha256_digest(data)
        r = self.origin.request("PUT", f"/blobs/{digest}", body=chunks_of(data, 100_000),
                                chunked=True)
        self.assertEqual(r.status, 201, r)
        r = self.origin.request("GET", f"/blobs/{digest}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, data)

    def test_empty_blob(self):
        r = self.put(b"")
        self.assertEqual(r.status, 201, r)
        r = self.origin.request("GET", f"/blobs/{EMPTY_DIGEST}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("Content-Length"), "0", r)

    def test_get_and_head_headers(self):
        data = make_bytes(123_457, seed=3)
        digest = sha256_digest(data)
        self.assertEqual(self.put(data).status, 201)
        for method in ("GET", "HEAD"):
            with self.subTest(method=method):
                r = self.origin.request(method, f"/blobs/{digest}")
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, data if method == "GET" else b"")
                self.assertEqual(r.header("ETag"), f'"{digest}"', r)
                self.assertEqual(r.header("Docker-Content-Digest"), digest, r)
                self.assertEqual(r.header("Accept-Ranges"), "bytes", r)
                self.assertEqual(cache_control_set(r.header("Cache-Control")), IMMUTABLE, r)
                self.assertEqual(r.header("Content-Type"), "application/octet-stream", r)
                self.assertEqual(r.header("Content-Length"), str(len(data)), r)

    def test_ranges(self):
        size = 100_000
        data = make_bytes(size, seed=4)
        digest = sha256_digest(data)
        self.assertEqual(self.put(data).status, 201)
        cases = [
            ("bytes=0-0", 0, 0),
            ("bytes=0-99", 0, 99),
            ("bytes=100-199", 100, 199),
            ("bytes=99990-99999", 99990, 99999),
            ("bytes=99990-200000", 99990, 99999),   # end past EOF is clamped
            ("bytes=500-", 500, size - 1),
            ("bytes=99999-", 99999, 99999),
            ("bytes=-100", size - 100, size - 1),
            ("bytes=-1", size - 1, size - 1),
        ]
        for rng, a, b in cases:
            with self.subTest(range=rng):
                r = self.origin.request("GET", f"/blobs/{digest}", headers={"Range": rng})
                self.assertEqual(r.status, 206, r)
                self.assertEqual(r.header("Content-Range"), f"bytes {a}-{b}/{size}", r)
                self.assertEqual(r.header("Content-Length"), str(b - a + 1), r)
                self.assertEqual(r.body, data[a:b + 1])
                self.assertEqual(r.header("ETag"), f'"{digest}"', r)

        with self.subTest(range="suffix longer than blob"):
            r = self.origin.request("GET", f"/blobs/{digest}", headers={"Range": "bytes=-200000"})
            self.assertIn(r.status, (200, 206), r)
            self.assertEqual(r.body, data)
            if r.status == 206:
                self.assertEqual(r.header("Content-Range"), f"bytes 0-{size - 1}/{size}", r)

        with self.subTest(range="several ranges → whole blob"):
            r = self.origin.request("GET", f"/blobs/{digest}", headers={"Range": "bytes=0-1,5-6"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, data)

        with self.subTest(range="HEAD with range"):
            r = self.origin.request("HEAD", f"/blobs/{digest}", headers={"Range": "bytes=10-19"})
            self.assertIn(r.status, (200, 206), r)
            self.assertEqual(r.body, b"")
            if r.status == 206:
                self.assertEqual(r.header("Content-Range"), f"bytes 10-19/{size}", r)

    def test_unsatisfiable_ranges(self):
        size = 50_000
        data = make_bytes(size, seed=5)
        digest = sha256_digest(data)
        self.assertEqual(self.put(data).status, 201)
        for rng in (f"bytes={size}-", f"bytes={size}-{size + 10}", "bytes=999999-", "bytes=-0"):
            with self.subTest(range=rng):
                r = self.origin.request("GET", f"/blobs/{digest}", headers={"Range": rng})
                self.assertError(r, 416, "RANGE_NOT_SATISFIABLE")
                self.assertEqual(r.header("Content-Range"), f"bytes */{size}", r)
        self.assertHealthy(self.origin)

    def test_invalid_range_syntax_never_breaks(self):
        data = make_bytes(1000, seed=6)
        digest = sha256_digest(data)
        self.assertEqual(self.put(data).status, 201)
        for rng in ("bytes=abc", "items=0-1", "bytes=5-1", "bytes=", "bytes=--1",
                    "bytes=1-2-3", "bytes=99999999999999999999999-"):
            with self.subTest(range=rng):
                r = self.origin.request("GET", f"/blobs/{digest}", headers={"Range": rng})
                self.assertIn(r.status, (200, 400, 416), r)
                if r.status == 200:
                    self.assertEqual(r.body, data)
        self.assertHealthy(self.origin)

    def test_if_none_match(self):
        data = b"conditional" * 100
        digest = sha256_digest(data)
        self.assertEqual(self.put(data).status, 201)
        for inm in (f'"{digest}"', "*", f'"sha256:{"0" * 64}", "{digest}"', f'W/"{digest}"'):
            with self.subTest(if_none_match=inm):
                r = self.origin.request("GET", f"/blobs/{digest}", headers={"If-None-Match": inm})
                self.assertEqual(r.status, 304, r)
                self.assertEqual(r.body, b"")
                self.assertEqual(r.header("ETag"), f'"{digest}"', r)
        with self.subTest(if_none_match="other etag"):
            r = self.origin.request("GET", f"/blobs/{digest}",
                                    headers={"If-None-Match": f'"sha256:{"1" * 64}"'})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, data)
        with self.subTest(if_none_match="HEAD"):
            r = self.origin.request("HEAD", f"/blobs/{digest}",
                                    headers={"If-None-Match": f'"{digest}"'})
            self.assertEqual(r.status, 304, r)

    def test_unknown_blob(self):
        digest = "sha256:" + "ab" * 32
        r = self.origin.request("GET", f"/blobs/{digest}")
        self.assertError(r, 404, "BLOB_UNKNOWN")
        r = self.origin.request("HEAD", f"/blobs/{digest}")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.body, b"")

    def test_malformed_digests(self):
        hexd = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        bad = {
            "uppercase hex": "sha256:" + hexd.upper(),
            "short": "sha256:" + hexd[:63],
            "long": "sha256:" + hexd + "0",
            "wrong algorithm sha512": "sha512:" + hexd + hexd,
            "wrong algorithm md5": "md5:" + hexd[:32],
            "no algorithm": hexd,
            "non-hex": "sha256:" + "g" * 64,
            "uppercase algorithm": "SHA256:" + hexd,
            "empty hex": "sha256:",
            "space": "sha256:" + hexd[:32] + "%20" + hexd[33:],
        }
        for label, d in bad.items():
            for method in ("GET", "PUT"):
                with self.subTest(label, method=method):
                    body = b"test" if method == "PUT" else None
                    r = self.origin.request(method, f"/blobs/{d}", body=body)
                    self.assertError(r, 400, "DIGEST_INVALID")
        self.assertNoBlobs(self.origin)
        self.assertHealthy(self.origin)

    def test_digest_mismatch(self):
        data = make_bytes(200_000, seed=7)
        wrong = sha256_digest(data + b"x")
        with self.subTest("content-length body"):
            r = self.origin.request("PUT", f"/blobs/{wrong}", body=data)
            body = self.assertError(r, 400, "DIGEST_MISMATCH")
            self.assertIn(sha256_digest(data), body["message"], "message should name the real digest")
        with self.subTest("chunked body"):
            r = self.origin.request("PUT", f"/blobs/{wrong}", body=chunks_of(data, 7000), chunked=True)
            self.assertError(r, 400, "DIGEST_MISMATCH")
        self.assertNoBlobs(self.origin)
        self.assertTmpEmpty(self.origin)
        r = self.origin.request("GET", f"/blobs/{wrong}")
        self.assertError(r, 404, "BLOB_UNKNOWN")
        r = self.origin.request("GET", f"/blobs/{sha256_digest(data)}")
        self.assertError(r, 404, "BLOB_UNKNOWN")
        self.assertHealthy(self.origin)

    def test_not_found_route_and_method_not_allowed(self):
        r = self.origin.request("GET", "/no/such/route")
        self.assertError(r, 404, "NOT_FOUND")
        digest = sha256_digest(b"x")
        r = self.origin.request("POST", f"/blobs/{digest}", body=b"x")
        self.assertError(r, 405, "METHOD_NOT_ALLOWED")
        allow = {m.strip().upper() for m in (r.header("Allow") or "").split(",")}
        self.assertTrue({"GET", "HEAD", "PUT"} <= allow, r)
        r = self.origin.request("PATCH", "/tags/x", body=b"x")
        self.assertError(r, 405, "METHOD_NOT_ALLOWED")
        self.assertIsNotNone(r.header("Allow"), r)
        r = self.origin.request("DELETE", "/blobs/sha256:" + "ab" * 32)
        self.assertError(r, 404, "BLOB_UNKNOWN")

    def test_length_required(self):
        digest = sha256_digest(b"")
        req = (f"PUT /blobs/{digest} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").encode()
        r = self.origin.raw(req)
        self.assertIsNotNone(r, "no response")
        self.assertError(r, 411, "LENGTH_REQUIRED")
        self.assertNoBlobs(self.origin)

    def test_keep_alive_serves_several_requests(self):
        data = b"keepalive" * 10
        digest = sha256_digest(data)
        self.assertEqual(self.put(data).status, 201)
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.origin.port, timeout=10)
        try:
            for i in range(5):
                conn.request("GET", f"/blobs/{digest}")
                r = conn.getresponse()
                self.assertEqual(r.status, 200)
                self.assertEqual(r.read(), data)
            # An error answer keeps the connection usable too.
            conn.request("GET", "/blobs/sha256:nothex")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 400)
            conn.request("GET", "/health")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
        finally:
            conn.close()

    def test_metrics(self):
        data = make_bytes(100_000, seed=8)
        digest = sha256_digest(data)
        m0 = self.origin.metrics()
        for name in ("shoal_http_requests_total", "shoal_http_received_bytes_total",
                     "shoal_http_sent_bytes_total", "shoal_origin_upload_sessions",
                     "shoal_store_blobs", "shoal_store_bytes"):
            with self.subTest(metric=name):
                if name in ("shoal_http_requests_total",):
                    continue  # may have no series before the first request completes
                self.assertTrue(m0.has(name), f"{name} missing from /metrics:\n{m0.text}")
        self.assertEqual(self.put(data).status, 201)
        r = self.origin.request("GET", f"/blobs/{digest}")
        self.assertEqual(r.status, 200)
        self.origin.request("GET", "/blobs/sha256:" + "0" * 64)
        # A request is counted after its response has gone out: wait for all three.
        def counted():
            m = self.origin.metrics()
            return m.sum("shoal_http_requests_total", route="blobs") >= 3 and m
        m1 = wait_until(counted, timeout=10)
        self.assertTrue(m1, "the three blob requests were not counted within 10 s")
        self.assertGreaterEqual(m1.sum("shoal_http_received_bytes_total")
                                - m0.sum("shoal_http_received_bytes_total"), len(data))
        self.assertGreaterEqual(m1.sum("shoal_http_sent_bytes_total")
                                - m0.sum("shoal_http_sent_bytes_total"), len(data))
        self.assertEqual(m1.sum("shoal_store_blobs"), 1, m1.text)
        self.assertEqual(m1.sum("shoal_store_bytes"), len(data), m1.text)
        self.assertGreaterEqual(m1.sum("shoal_http_requests_total", method="PUT", status="201"), 1,
                                m1.text)
        self.assertGreaterEqual(m1.sum("shoal_http_requests_total", method="GET", status="200"), 1,
                                m1.text)
        self.assertGreaterEqual(m1.sum("shoal_http_requests_total", method="GET", status="404"), 1,
                                m1.text)
        routes = {l.get("route") for l, _ in m1.select("shoal_http_requests_total")}
        self.assertTrue(all(routes), f"series without a route label: {m1.text}")
        # The route label is a route, not the raw path (no digests in label values).
        self.assertFalse(any(digest.split(":")[1] in (r or "") for r in routes), routes)


class ConcurrentPuts(ShoalTestCase):
    def test_same_blob_from_many_clients(self):
        import threading
        origin = self.start_origin()
        data = make_bytes(3 * MiB, seed=13)
        digest = sha256_digest(data)
        results = []

        def put():
            try:
                results.append(origin.request("PUT", f"/blobs/{digest}", body=data).status)
            except AssertionError as e:
                results.append(repr(e))
        threads = [threading.Thread(target=put) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(len(results), 6)
        self.assertTrue(all(r in (200, 201) for r in results), results)
        self.assertIn(201, results)
        self.assertEqual(origin.request("GET", f"/blobs/{digest}").body, data)
        self.assertEqual(list_files(os.path.join(origin.data_dir, "blobs")),
                         [os.path.relpath(blob_path(origin.data_dir, digest),
                                          os.path.join(origin.data_dir, "blobs"))])
        self.assertTmpEmpty(origin)
        m = origin.metrics()
        self.assertEqual(m.sum("shoal_store_blobs"), 1, m.text)
        self.assertEqual(m.sum("shoal_store_bytes"), len(data), m.text)


class BlobUploadLimits(ShoalTestCase):
    def test_body_over_max_upload_size(self):
        origin = self.start_origin("--max-upload-size", "1MiB")
        with self.subTest("Content-Length over the limit"):
            data = make_bytes(MiB + 1, seed=10)
            digest = sha256_digest(data)
            head = (f"PUT /blobs/{digest} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n").encode()
            r, _ = stream_request(origin.port, head, chunks_of(data, 64 * 1024))
            self.assertIsNotNone(r, "connection closed without a response")
            self.assertError(r, 413, "TOO_LARGE")
        with self.subTest("chunked body over the limit"):
            data = make_bytes(3 * MiB, seed=11)
            digest = sha256_digest(data)
            head = (f"PUT /blobs/{digest} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Transfer-Encoding: chunked\r\n\r\n").encode()

            def chunked():
                for c in chunks_of(data, 64 * 1024):
                    yield b"%x\r\n" % len(c) + c + b"\r\n"
                yield b"0\r\n\r\n"
            r, _ = stream_request(origin.port, head, chunked())
            self.assertIsNotNone(r, "connection closed without a response")
            self.assertError(r, 413, "TOO_LARGE")
        self.assertNoBlobs(origin)
        self.assertTmpEmpty(origin)
        self.assertHealthy(origin)
        with self.subTest("exactly at the limit is accepted"):
            data = make_bytes(MiB, seed=12)
            r = origin.request("PUT", f"/blobs/{sha256_digest(data)}", body=data)
            self.assertEqual(r.status, 201, r)


class PathTraversal(ShoalTestCase):
    def test_traversal_is_rejected_and_nothing_written_outside(self):
        # Data dir deep inside the test's directory; the process runs in <tmp>/cwd.
        root = self.tmp
        data_dir = self.mkdir("a", "b", "data")
        origin = self.start_origin(data_dir=data_dir)
        # A real blob and tag to make sure nothing legitimate is deleted either.
        real = b"real blob"
        real_digest = sha256_digest(real)
        self.assertEqual(origin.request("PUT", f"/blobs/{real_digest}", body=real).status, 201)
        self.assertEqual(origin.request("PUT", "/tags/keep", body=real_digest.encode()).status, 201)
        before_outside = set(list_files(root)) - {p for p in list_files(root) if p.startswith("a/b/data/")}
        digest_body = real_digest.encode()
        upload_digest = "?digest=" + real_digest
        requests = [
            ("GET", "/blobs/../../etc/passwd", None),
            ("GET", "/blobs/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd", None),
            ("GET", "/blobs/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", None),
            ("GET", "/blobs/sha256:../../../../../../etc/passwd", None),
            ("GET", "/blobs/sha256%3A..%2F..%2F..%2Fetc%2Fpasswd", None),
            ("GET", "/blobs/" + real_digest + "/../../../../etc/passwd", None),
            ("GET", "/tags/../../../../../../etc/passwd", None),
            ("GET", "/tags/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd", None),
            ("GET", "/tags/%2e%2e%2f%2e%2e%2fetc%2fpasswd", None),
            ("GET", "/uploads/../../../../etc/passwd", None),
            ("GET", "/uploads/..%2F..%2F..%2F..%2Fetc%2Fpasswd", None),
            ("GET", "//etc/passwd", None),
            ("GET", "/tags/..\\..\\..\\etc\\passwd", None),
            ("PUT", "/blobs/../../x", b"hello"),
            ("PUT", "/blobs/..%2F..%2Fx", b"hello"),
            ("PUT", "/blobs/sha256:..%2F..%2F..%2Fx", b"hello"),
            ("PUT", "/tags/../../x", digest_body),
            ("PUT", "/tags/..%2F..%2Fx", digest_body),
            ("PUT", "/tags/..%2f..%2f..%2fx", digest_body),
            ("PUT", "/tags/%2e%2e/%2e%2e/x", digest_body),
            ("PUT", "/tags/a/../../../x", digest_body),
            ("PUT", "/tags/a%2F..%2F..%2F..%2Fx", digest_body),
            ("PUT", "/tags/..", digest_body),
            ("PUT", "/tags/.", digest_body),
            ("PUT", "/tags/%2e%2e", digest_body),
            ("PUT", "/tags/..\\..\\x", digest_body),
            ("PUT", "/tags/x%00y", digest_body),
            ("PUT", "/tags/..%252F..%252Fx", digest_body),
            ("POST", "/uploads/../x", b""),
            ("PATCH", "/uploads/../x", b"data"),
            ("PATCH", "/uploads/..%2F..%2Fx", b"data"),
            ("PATCH", "/uploads/..%2F..%2F..%2F..%2Fx", b"data"),
            ("PUT", "/uploads/..%2F..%2Fx" + upload_digest, b""),
            ("PUT", "/uploads/..%2F..%2F..%2F..%2Fx" + upload_digest, b""),
            ("DELETE", "/uploads/..%2Fblobs", None),
            ("DELETE", "/uploads/..%2F..%2Fdata", None),
            ("DELETE", "/uploads/..", None),
            ("DELETE", "/tags/..%2Fblobs", None),
            ("DELETE", "/tags/..%2F..%2Fdata", None),
            ("DELETE", "/tags/..%2Ftags", None),
            ("DELETE", "/blobs/..%2F..%2Fdata", None),
            ("DELETE", "/blobs/sha256:..%2F..%2F..%2Fblobs", None),
        ]
        for method, path, body in requests:
            with self.subTest(method=method, path=path):
                req = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                if body is not None:
                    req += f"Content-Length: {len(body)}\r\n"
                raw = req.encode() + b"\r\n" + (body or b"")
                r = origin.raw(raw, method=method)
                self.assertIsNotNone(r, "no response")
                self.assertIn(r.status, (400, 404), r)
                self.assertNotIn(b"root:", r.body)
                if r.body:
                    self.assertError(r, (400, 404))
                self.assertHealthy(origin)
        after_outside = set(list_files(root)) - {p for p in list_files(root) if p.startswith("a/b/data/")}
        self.assertEqual(after_outside - before_outside, set(), "files created outside the data dir")
        for p in ("x", "a/x", "a/b/x", "cwd/x"):
            self.assertFalse(os.path.exists(os.path.join(root, p)), p)
        # The legitimate blob and tag are still there.
        r = origin.request("GET", f"/blobs/{real_digest}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, real)
        r = origin.request("GET", "/tags/keep")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.text().strip(), real_digest)


class Disconnects(ShoalTestCase):
    def test_client_disconnects_mid_put(self):
        origin = self.start_origin()
        data = make_bytes(4 * MiB, seed=20)
        digest = sha256_digest(data)
        head = (f"PUT /blobs/{digest} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        for mode in ("close", "reset"):
            with self.subTest(mode=mode):
                s = socket.create_connection(("127.0.0.1", origin.port), timeout=10)
                s.sendall(head + data[:MiB + 12345])
                time.sleep(0.3)
                # Nothing is visible while the body is still arriving.
                r = origin.request("HEAD", f"/blobs/{digest}")
                self.assertEqual(r.status, 404, f"partial blob visible during upload: {r!r}")
                self.assertNoBlobs(origin, "during an unfinished PUT")
                if mode == "reset":
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()
                self.assertTmpEmpty(origin, msg=f"after client {mode}")
                self.assertNoBlobs(origin)
                self.assertHealthy(origin)
                r = origin.request("GET", f"/blobs/{digest}")
                self.assertError(r, 404, "BLOB_UNKNOWN")
        r = origin.request("PUT", f"/blobs/{digest}", body=data)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(origin.request("GET", f"/blobs/{digest}").body, data)

    def test_stalled_upload_times_out(self):
        origin = self.start_origin("--read-timeout", "1s", "--idle-timeout", "2s")
        data = make_bytes(2 * MiB, seed=21)
        digest = sha256_digest(data)
        head = (f"PUT /blobs/{digest} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        s = socket.create_connection(("127.0.0.1", origin.port), timeout=15)
        try:
            s.sendall(head + data[:300_000])
            t0 = time.monotonic()
            # The server must give up on us: a response (408) or a closed connection.
            try:
                while s.recv(65536):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
            waited = time.monotonic() - t0
            self.assertLess(waited, 12, "server did not time out a stalled upload")
        finally:
            s.close()
        self.assertTmpEmpty(origin)
        self.assertNoBlobs(origin)
        self.assertHealthy(origin)

    def test_slow_headers_time_out(self):
        origin = self.start_origin("--read-timeout", "1s", "--idle-timeout", "2s")
        s = socket.create_connection(("127.0.0.1", origin.port), timeout=15)
        try:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            t0 = time.monotonic()
            try:
                while s.recv(65536):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
            self.assertLess(time.monotonic() - t0, 12, "server kept a half-sent request head open")
        finally:
            s.close()
        with self.subTest("idle keep-alive connection is closed"):
            s = socket.create_connection(("127.0.0.1", origin.port), timeout=15)
            try:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                from shoal_harness import read_response
                r = read_response(s)
                self.assertEqual(r.status, 200)
                t0 = time.monotonic()
                try:
                    while s.recv(65536):
                        pass
                except (ConnectionResetError, socket.timeout):
                    pass
                self.assertLess(time.monotonic() - t0, 12, "idle connection never closed")
            finally:
                s.close()
        self.assertHealthy(origin)


class MalformedHttp(ShoalTestCase):
    def test_malformed_requests(self):
        origin = self.start_origin("--max-header-size", "8KiB")
        digest = sha256_digest(b"abc")
        cases = {
            "garbage line": (b"GARBAGE\r\n\r\n", (400,)),
            "method only": (b"GET\r\n\r\n", (400,)),
            "no version": (b"GET /health\r\n\r\n", (400,)),
            "bad version": (b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n", (400, 505)),
            "header without colon": (b"GET /health HTTP/1.1\r\nHost: x\r\nBadHeader\r\n\r\n", (400,)),
            "space before colon": (b"GET /health HTTP/1.1\r\nHost : x\r\n\r\n", (400,)),
            "control char in target": (b"GET /he\x01alth HTTP/1.1\r\nHost: x\r\n\r\n", (400,)),
            "bad content-length": (f"PUT /blobs/{digest} HTTP/1.1\r\nHost: x\r\n"
                                   "Content-Length: abc\r\n\r\nabc".encode(), (400,)),
            "negative content-length": (f"PUT /blobs/{digest} HTTP/1.1\r\nHost: x\r\n"
                                        "Content-Length: -3\r\n\r\nabc".encode(), (400,)),
            "conflicting content-length": (f"PUT /blobs/{digest} HTTP/1.1\r\nHost: x\r\n"
                                           "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".encode(),
                                           (400,)),
            "huge content-length": (f"PUT /blobs/{digest} HTTP/1.1\r\nHost: x\r\n"
                                    "Content-Length: 99999999999999999999999999\r\n\r\nabc".encode(),
                                    (400, 413)),
            "bad chunk size": (f"PUT /blobs/{digest} HTTP/1.1\r\nHost: x\r\n"
                               "Transfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n".encode(),
                               (400,)),
            "unknown transfer-encoding": (f"PUT /blobs/{digest} HTTP/1.1\r\nHost: x\r\n"
                                          "Transfer-Encoding: gzip\r\n\r\nabc".encode(), (400, 411, 501)),
            "nul bytes": (b"\x00" * 64 + b"\r\n\r\n", (400,)),
            "binary junk": (bytes(range(256)) * 8 + b"\r\n\r\n", (400,)),
            "bare LF junk": (b"\n\n\n\n\n\n", (400,)),
        }
        for label, (data, statuses) in cases.items():
            with self.subTest(label):
                r = origin.raw(data, timeout=10)
                # A server may also just close the connection on garbage; it must not crash.
                if r is not None:
                    self.assertIn(r.status, statuses, r)
                self.assertHealthy(origin, msg=f"after {label!r}")
        self.assertNoBlobs(origin)

    def test_oversized_headers(self):
        origin = self.start_origin("--max-header-size", "8KiB")
        with self.subTest("one huge header"):
            req = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 64 * 1024 + b"\r\n\r\n"
            r = origin.raw(req)
            self.assertIsNotNone(r, "closed without an answer")
            self.assertError(r, 431, "HEADERS_TOO_LARGE")
        self.assertHealthy(origin)
        with self.subTest("many headers"):
            req = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(
                b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(1000)) + b"\r\n"
            r = origin.raw(req)
            self.assertIsNotNone(r, "closed without an answer")
            self.assertError(r, 431, "HEADERS_TOO_LARGE")
        self.assertHealthy(origin)
        with self.subTest("huge request target"):
            req = b"GET /blobs/" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
            r = origin.raw(req)
            if r is not None:
                self.assertIn(r.status, (400, 404, 414, 431), r)
        self.assertHealthy(origin)
        with self.subTest("megabytes of header without end"):
            s = socket.create_connection(("127.0.0.1", origin.port), timeout=10)
            try:
                s.sendall(b"GET /health HTTP/1.1\r\nX-Big: ")
                sent = 0
                try:
                    while sent < 16 * MiB:
                        s.sendall(b"a" * 65536)
                        sent += 65536
                except (BrokenPipeError, ConnectionResetError, socket.timeout):
                    pass  # closed, reset, or stopped reading: all fine
                self.assertLess(sent, 16 * MiB, "server kept reading an endless header")
            finally:
                s.close()
        self.assertHealthy(origin)
        with self.subTest("headers just under the limit are fine"):
            req = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 6000 + b"\r\n\r\n"
            r = origin.raw(req)
            self.assertIsNotNone(r)
            self.assertEqual(r.status, 200, r)

    def test_pipelined_requests_and_http10(self):
        origin = self.start_origin()
        data = b"pipelined" * 50
        digest = sha256_digest(data)
        self.assertEqual(origin.request("PUT", f"/blobs/{digest}", body=data).status, 201)
        from shoal_harness import read_response
        with socket.create_connection(("127.0.0.1", origin.port), timeout=10) as s:
            s.sendall((f"GET /blobs/{digest} HTTP/1.1\r\nHost: x\r\n\r\n"
                       f"HEAD /blobs/{digest} HTTP/1.1\r\nHost: x\r\n\r\n"
                       f"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").encode())
            r1 = read_response(s)
            r2 = read_response(s, method="HEAD")
            r3 = read_response(s)
        self.assertEqual((r1.status, r1.body), (200, data))
        self.assertEqual((r2.status, r2.body), (200, b""))
        self.assertEqual(r3.status, 200)
        with self.subTest("HTTP/1.0 without Host"):
            r = origin.raw(b"GET /health HTTP/1.0\r\n\r\n")
            self.assertIsNotNone(r)
            self.assertEqual(r.status, 200, r)

    def test_expect_100_continue(self):
        origin = self.start_origin("--max-upload-size", "1MiB")
        data = make_bytes(200_000, seed=14)
        digest = sha256_digest(data)
        from shoal_harness import read_response
        with self.subTest("accepted upload gets 100 Continue"):
            with socket.create_connection(("127.0.0.1", origin.port), timeout=10) as s:
                s.sendall((f"PUT /blobs/{digest} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                           f"Content-Length: {len(data)}\r\n\r\n").encode())
                r = read_response(s, timeout=3)
                self.assertIsNotNone(r, "closed without answering Expect: 100-continue")
                self.assertEqual(r.status, 100, r)
                s.sendall(data)
                r = read_response(s, timeout=10)
                self.assertEqual(r.status, 201, r)
        with self.subTest("too large upload gets the final status instead"):
            big = MiB * 2
            with socket.create_connection(("127.0.0.1", origin.port), timeout=10) as s:
                s.sendall((f"PUT /blobs/sha256:{'a' * 64} HTTP/1.1\r\nHost: x\r\n"
                           f"Expect: 100-continue\r\nContent-Length: {big}\r\n\r\n").encode())
                r = read_response(s, timeout=3)
                self.assertIsNotNone(r)
                self.assertError(r, 413, "TOO_LARGE")
        self.assertHealthy(origin)

    def test_content_length_and_transfer_encoding_together(self):
        origin = self.start_origin()
        data = b"smuggle"
        digest = sha256_digest(data)
        req = (f"PUT /blobs/{digest} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
               f"Transfer-Encoding: chunked\r\n\r\n7\r\nsmuggle\r\n0\r\n\r\n").encode()
        r = origin.raw(req)
        if r is not None:
            # RFC 9112 6.3: reject, or let chunked win (and then close the connection).
            self.assertIn(r.status, (400, 201), r)
            if r.status == 201:
                self.assertEqual(origin.request("GET", f"/blobs/{digest}").body, data)
        self.assertHealthy(origin)

    def test_many_concurrent_connections(self):
        origin = self.start_origin()
        socks = []
        try:
            for _ in range(200):
                s = socket.create_connection(("127.0.0.1", origin.port), timeout=10)
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finished
                socks.append(s)
            self.assertHealthy(origin)
        finally:
            for s in socks:
                s.close()
        self.assertHealthy(origin)


if __name__ == "__main__":
    unittest.main()
