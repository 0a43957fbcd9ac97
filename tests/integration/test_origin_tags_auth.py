"""Origin tags (PUT/GET/DELETE /tags/<name>, the name grammar, durability) and bearer
token authentication (--token-file, --auth-reads)."""

import os
import unittest

from shoal_harness import ShoalTestCase, list_files, make_bytes, sha256_digest, url_path

TOKEN = "s3cret-token-0123456789"


class Tags(ShoalTestCase):
    def setUp(self):
        super().setUp()
        self.origin = self.start_origin()
        self.data = make_bytes(10_000, seed=50)
        self.digest = sha256_digest(self.data)
        r = self.origin.request("PUT", f"/blobs/{self.digest}", body=self.data)
        self.assertEqual(r.status, 201, r)

    def test_put_get_delete(self):
        for name in ("release-42", "hls/intro", "team/app:v1", "team/app:v1.2", "a",
                     "a/b/c/d_e.f-g", "_x", "9:_", "x" * 255, "r:" + "t" * 128):
            with self.subTest(name=name[:40]):
                r = self.origin.request("PUT", f"/tags/{name}", body=self.digest.encode())
                self.assertEqual(r.status, 201, r)
                r = self.origin.request("GET", f"/tags/{name}")
                self.assertEqual(r.status, 200, r)
                self.assertTrue((r.header("Content-Type") or "").startswith("text/plain"), r)
                self.assertEqual(r.text().strip(), self.digest)
                r = self.origin.request("DELETE", f"/tags/{name}")
                self.assertEqual(r.status, 204, r)
                r = self.origin.request("GET", f"/tags/{name}")
                self.assertError(r, 404, "TAG_UNKNOWN")
        tags_dir = os.path.join(self.origin.data_dir, "tags")
        self.assertEqual(list_files(tags_dir), [], "deleted tags left files")

    def test_overwrite_and_whitespace(self):
        other = b"other blob"
        other_digest = sha256_digest(other)
        self.assertEqual(self.origin.request("PUT", f"/blobs/{other_digest}", body=other).status, 201)
        r = self.origin.request("PUT", "/tags/hls/intro", body=f"  {self.digest}\n".encode())
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.origin.request("GET", "/tags/hls/intro").text().strip(), self.digest)
        r = self.origin.request("PUT", "/tags/hls/intro", body=f"{other_digest}\r\n".encode())
        self.assertIn(r.status, (200, 201), r)
        self.assertEqual(self.origin.request("GET", "/tags/hls/intro").text().strip(), other_digest)

    def test_tag_to_unknown_blob(self):
        r = self.origin.request("PUT", "/tags/nothing", body=("sha256:" + "cd" * 32).encode())
        self.assertError(r, 404, "BLOB_UNKNOWN")
        self.assertError(self.origin.request("GET", "/tags/nothing"), 404, "TAG_UNKNOWN")

    def test_tag_with_invalid_digest_body(self):
        for body in (b"", b"not a digest", ("sha256:" + "AB" * 32).encode(), b"sha256:abc",
                     (self.digest + " extra").encode()):
            with self.subTest(body=body):
                r = self.origin.request("PUT", "/tags/t", body=body)
                self.assertError(r, 400, ("DIGEST_INVALID", "BAD_REQUEST"))
        self.assertError(self.origin.request("GET", "/tags/t"), 404, "TAG_UNKNOWN")

    def test_huge_tag_body(self):
        body = self.digest.encode() + b" " * (8 << 20)
        from shoal_harness import stream_request, chunks_of
        head = (f"PUT /tags/huge HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        r, _ = stream_request(self.origin.port, head, chunks_of(body))
        self.assertIsNotNone(r, "closed without an answer")
        # Surrounding whitespace is allowed, so accepting is fine; but it must not fall over.
        self.assertIn(r.status, (201, 400, 413), r)
        self.assertHealthy(self.origin)

    def test_delete_unknown_tag(self):
        self.assertError(self.origin.request("DELETE", "/tags/never"), 404, "TAG_UNKNOWN")

    def test_invalid_names(self):
        bad = ["..", "a/../b", "a//b", "a/", ".hidden", "-x", "a/.b", "a:b:c", "a:", "a:-x",
               "a:.x", "x" * 256, "r:" + "t" * 129, "a%20b", "caf%C3%A9", "a%00b", "a*b",
               "a?b=c".replace("?", "%3F"), "a%2F..%2Fb", "a;b", ":v1", "a/:v1", "a%5Cb"]
        for name in bad:
            with self.subTest(name=name[:40]):
                r = self.origin.request("PUT", f"/tags/{name}", body=self.digest.encode())
                self.assertError(r, 400, "NAME_INVALID")
                r = self.origin.request("GET", f"/tags/{name}")
                self.assertError(r, 400, "NAME_INVALID")
        with self.subTest(name="leading slash"):
            r = self.origin.request("PUT", "/tags//a", body=self.digest.encode())
            self.assertError(r, (400, 404), ("NAME_INVALID", "NOT_FOUND"))
        with self.subTest(name="empty"):
            r = self.origin.request("PUT", "/tags/", body=self.digest.encode())
            self.assertError(r, (400, 404, 405), ("NAME_INVALID", "NOT_FOUND", "METHOD_NOT_ALLOWED"))
        self.assertEqual(list_files(os.path.join(self.origin.data_dir, "tags")), [])
        self.assertHealthy(self.origin)

    def test_tag_survives_restart(self):
        r = self.origin.request("PUT", "/tags/team/app:v1", body=self.digest.encode())
        self.assertEqual(r.status, 201, r)
        for graceful in (True, False):
            with self.subTest(graceful=graceful):
                self.origin = self.restart_origin(self.origin, graceful=graceful)
                r = self.origin.request("GET", "/tags/team/app:v1")
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.text().strip(), self.digest)
                self.assertEqual(self.origin.request("GET", f"/blobs/{self.digest}").body, self.data)
        self.assertTmpEmpty(self.origin)

    def test_deleted_blob_makes_tag_dangle(self):
        r = self.origin.request("PUT", "/tags/dangling", body=self.digest.encode())
        self.assertEqual(r.status, 201, r)
        r = self.origin.request("DELETE", f"/blobs/{self.digest}")
        self.assertEqual(r.status, 204, r)
        self.assertError(self.origin.request("GET", f"/blobs/{self.digest}"), 404, "BLOB_UNKNOWN")
        r = self.origin.request("GET", "/tags/dangling")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.text().strip(), self.digest)
        self.assertNoBlobs(self.origin)
        self.assertEqual(self.origin.metrics().sum("shoal_store_blobs"), 0)


class Auth(ShoalTestCase):
    def start(self, *extra):
        token_file = os.path.join(self.tmp, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(token_file, 0o600)
        return self.start_origin("--token-file", token_file, *extra)

    def setup_content(self, origin, auth):
        data = make_bytes(5000, seed=60)
        digest = sha256_digest(data)
        r = origin.request("PUT", f"/blobs/{digest}", body=data, headers=auth)
        self.assertEqual(r.status, 201, r)
        r = origin.request("PUT", "/tags/base", body=digest.encode(), headers=auth)
        self.assertEqual(r.status, 201, r)
        r = origin.request("POST", "/uploads", body=b"", headers=auth)
        self.assertEqual(r.status, 202, r)
        return data, digest, url_path(r.header("Location"))

    def write_requests(self, digest, upload):
        new = b"new data"
        return [
            ("PUT", f"/blobs/{sha256_digest(new)}", new),
            ("POST", "/uploads", b""),
            ("PATCH", upload, b"chunk"),
            ("PUT", f"{upload}?digest={sha256_digest(b'')}", b""),
            ("DELETE", upload, None),
            ("PUT", "/tags/newtag", digest.encode()),
            ("DELETE", "/tags/base", None),
            ("DELETE", f"/blobs/{digest}", None),
        ]

    def test_writes_need_token(self):
        origin = self.start()
        good = {"Authorization": f"Bearer {TOKEN}"}
        data, digest, upload = self.setup_content(origin, good)
        bad_headers = {
            "no header": ({}, 401, "UNAUTHORIZED"),
            "empty bearer": ({"Authorization": "Bearer "}, (401, 403), ("UNAUTHORIZED", "FORBIDDEN")),
            "basic scheme": ({"Authorization": "Basic dXNlcjpwYXNz"}, (401, 403),
                             ("UNAUTHORIZED", "FORBIDDEN")),
            "wrong token": ({"Authorization": "Bearer wrong"}, 403, "FORBIDDEN"),
            "same length wrong": ({"Authorization": "Bearer " + "x" * len(TOKEN)}, 403, "FORBIDDEN"),
            "prefix": ({"Authorization": "Bearer " + TOKEN[:-1]}, 403, "FORBIDDEN"),
            "longer": ({"Authorization": "Bearer " + TOKEN + "x"}, 403, "FORBIDDEN"),
        }
        for method, path, body in self.write_requests(digest, upload):
            for label, (hdrs, status, code) in bad_headers.items():
                with self.subTest(method=method, path=path, auth=label):
                    r = origin.request(method, path, body=body, headers=hdrs)
                    self.assertError(r, status, code)
                    if r.status == 401:
                        # RFC 9110 11.6.1: a 401 carries a WWW-Authenticate challenge.
                        self.assertTrue((r.header("WWW-Authenticate") or "").lower().startswith("bearer"),
                                        f"401 without WWW-Authenticate: Bearer: {r!r}")
        with self.subTest("auth scheme is case-insensitive (RFC 9110 11.1)"):
            r = origin.request("PUT", "/tags/scheme", body=digest.encode(),
                               headers={"Authorization": f"bearer {TOKEN}"})
            self.assertEqual(r.status, 201, r)
            self.assertEqual(origin.request("DELETE", "/tags/scheme", headers=good).status, 204)
        # Nothing changed.
        self.assertEqual(origin.request("GET", "/tags/base").text().strip(), digest)
        self.assertEqual(origin.request("GET", f"/blobs/{digest}").body, data)
        self.assertEqual(origin.request("GET", "/tags/newtag").status, 404)
        self.assertEqual(origin.request("HEAD", f"/blobs/{sha256_digest(b'new data')}").status, 404)
        # The right token works for every write.
        for method, path, body in self.write_requests(digest, upload):
            with self.subTest(method=method, path=path, auth="right token"):
                if (method, path) == ("PUT", f"{upload}?digest={sha256_digest(b'')}"):
                    # Commit needs a fresh session whose content is empty.
                    r = origin.request("POST", "/uploads", body=b"", headers=good)
                    self.assertEqual(r.status, 202, r)
                    sess = url_path(r.header("Location"))
                    r = origin.request("PUT", f"{sess}?digest={sha256_digest(b'')}", body=b"",
                                       headers=good)
                    self.assertEqual(r.status, 201, r)
                    continue
                r = origin.request(method, path, body=body, headers=good)
                self.assertLess(r.status, 300, r)

    def test_reads_open_without_auth_reads(self):
        origin = self.start()
        good = {"Authorization": f"Bearer {TOKEN}"}
        data, digest, _ = self.setup_content(origin, good)
        for hdrs in ({}, {"Authorization": "Bearer wrong"}):
            with self.subTest(headers=hdrs):
                r = origin.request("GET", f"/blobs/{digest}", headers=hdrs)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, data)
                r = origin.request("HEAD", f"/blobs/{digest}", headers=hdrs)
                self.assertEqual(r.status, 200, r)
                r = origin.request("GET", "/tags/base", headers=hdrs)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(origin.request("GET", "/health", headers=hdrs).status, 200)

    def test_auth_reads(self):
        origin = self.start("--auth-reads")
        good = {"Authorization": f"Bearer {TOKEN}"}
        data, digest, upload = self.setup_content(origin, good)
        reads = [("GET", f"/blobs/{digest}"), ("HEAD", f"/blobs/{digest}"), ("GET", "/tags/base"),
                 ("GET", upload)]
        for method, path in reads:
            with self.subTest(method=method, path=path):
                r = origin.request(method, path)
                self.assertEqual(r.status, 401, r)
                if method != "HEAD":
                    self.assertError(r, 401, "UNAUTHORIZED")
                r = origin.request(method, path, headers={"Authorization": "Bearer nope"})
                self.assertEqual(r.status, 403, r)
                r = origin.request(method, path, headers=good)
                self.assertEqual(r.status, 200, r)
        self.assertEqual(origin.request("GET", f"/blobs/{digest}", headers=good).body, data)

    def test_missing_token_file_fails_at_start(self):
        from shoal_harness import run_origin_expect_exit
        r = run_origin_expect_exit(["--listen", "127.0.0.1:0", "--data", self.mkdir("d"),
                                    "--token-file", os.path.join(self.tmp, "nope")])
        self.assertNotEqual(r.returncode, 0)
        line = self.assertOneLine(r.stderr)
        self.assertIn("nope", line)


if __name__ == "__main__":
    unittest.main()
