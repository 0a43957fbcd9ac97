"""HTTP/2 on the origin's TLS port: ALPN picks h2 or HTTP/1.1 on the same port, the
API behaves as over HTTP/1.1 (full and range GETs, HEAD, JSON errors, uploads of known
and unknown length), many streams share one connection, large bodies arrive intact,
and hostile clients (rapid reset, CONTINUATION flood, HPACK bomb, SETTINGS and PING
floods) cost the server a GOAWAY or a closed connection and nothing more: it stays up,
its memory stays bounded and a well-behaved client is served meanwhile. Frames on the
wrong stream get the answers RFC 9113 §5.1 and §5.1.1 require (test_h2_conformance.py
holds the whole case list and compares the edge with nginx)."""

import hashlib
import http.client
import json
import os
import shutil
import ssl
import subprocess
import threading
import unittest

import h2_attack
from shoal_harness import MiB, ShoalTestCase, file_digest, make_file, run_cli

HAVE_TOOLS = all(shutil.which(t) for t in ("openssl", "curl", "nghttp"))
# Growth of the origin's resident memory an attack may cause (ASan builds included).
RSS_BUDGET = 96 * MiB


@unittest.skipUnless(HAVE_TOOLS, "needs openssl, curl and nghttp (nghttp2-client)")
class Http2(ShoalTestCase):
    def setUp(self):
        super().setUp()
        self.cert = os.path.join(self.tmp, "cert.pem")
        self.key = os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", self.key,
                        "-out", self.cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        self.origin = self.start_origin("--tls-cert", self.cert, "--tls-key", self.key)
        self.base = f"https://127.0.0.1:{self.origin.port}"

    # -- helpers --

    def push(self, size, seed):
        path = os.path.join(self.tmp, f"blob-{seed}")
        digest = make_file(path, size, seed=seed)
        r = run_cli(["push", path, "--origin", self.base, "--ca-file", self.cert, "--quiet"],
                    home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), digest)
        return path, digest

    def curl(self, *args, version="--http2", timeout=120, stdin=None):
        """curl with `-w`'s status and protocol version as the last line."""
        cmd = ["curl", "-sS", "--cacert", self.cert, version, "-w", "\n%{http_code} %{http_version}",
               *args]
        r = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=stdin)
        self.assertEqual(r.returncode, 0, f"{cmd}: {r.stderr!r}")
        body, _, tail = r.stdout.rpartition(b"\n")
        status, proto = tail.decode().split()
        return int(status), proto, body

    def assertH2Ok(self, msg=""):
        status, proto, _ = self.curl(f"{self.base}/health")
        self.assertEqual((status, proto), (200, "2"), msg)

    def run_attack(self, attack):
        """Runs attack() in a thread while a well-behaved client keeps fetching; returns
        the attack's outcome. The server must stay up with bounded memory."""
        rss_before = self.origin.vm_rss()
        result = {}

        def go():
            try:
                result["outcome"] = attack()
            except Exception as e:  # noqa: BLE001 (reported below)
                result["error"] = e
        t = threading.Thread(target=go, daemon=True)
        t.start()
        served = 0
        while t.is_alive() or served == 0:
            self.assertH2Ok("a well-behaved client during the attack")
            served += 1
        t.join(60)
        self.assertNotIn("error", result, result.get("error"))
        self.origin.check_alive()
        self.assertH2Ok("after the attack")
        growth = self.origin.vm_rss() - rss_before
        self.assertLess(growth, RSS_BUDGET, f"RSS grew by {growth >> 20} MiB")
        return result["outcome"]

    # -- the API over h2 --

    def test_gets_heads_ranges_and_errors(self):
        path, digest = self.push(300_000, seed=1)
        with open(path, "rb") as f:
            data = f.read()
        url = f"{self.base}/blobs/{digest}"
        status, proto, body = self.curl(url)
        self.assertEqual((status, proto), (200, "2"))
        self.assertEqual(body, data)
        status, proto, body = self.curl("-H", "Range: bytes=1000-1999", url)
        self.assertEqual((status, proto), (206, "2"))
        self.assertEqual(body, data[1000:2000])
        status, proto, head = self.curl("-I", url)
        self.assertEqual((status, proto), (200, "2"))
        headers = head.decode().lower()
        self.assertIn("content-length: 300000", headers)
        self.assertIn(f'etag: "{digest}"', headers)
        self.assertIn("server: shoal", headers)
        self.assertNotIn("connection:", headers)
        missing = "sha256:" + "0" * 64
        status, proto, body = self.curl(f"{self.base}/blobs/{missing}")
        self.assertEqual((status, proto), (404, "2"))
        self.assertEqual(json.loads(body)["error"], "BLOB_UNKNOWN")

    def test_http11_still_works_on_the_same_port(self):
        path, digest = self.push(50_000, seed=2)
        status, proto, body = self.curl(f"{self.base}/blobs/{digest}", version="--http1.1")
        self.assertEqual((status, proto), (200, "1.1"))
        self.assertEqual(hashlib.sha256(body).hexdigest(), digest.split(":")[1])
        # A client without ALPN gets HTTP/1.1 too.
        ctx = ssl.create_default_context(cafile=self.cert)
        conn = http.client.HTTPSConnection("127.0.0.1", self.origin.port, context=ctx, timeout=10)
        try:
            conn.request("GET", "/health")
            self.assertEqual(conn.getresponse().status, 200)
        finally:
            conn.close()

    def test_config_keys(self):
        plain = self.start_origin("--tls-cert", self.cert, "--tls-key", self.key, "--http2=false",
                                  data_dir=os.path.join(self.tmp, "data-h1"))
        status, proto, _ = self.curl(f"https://127.0.0.1:{plain.port}/health")
        self.assertEqual((status, proto), (200, "1.1"), "--http2=false still chose h2")
        few = self.start_origin("--tls-cert", self.cert, "--tls-key", self.key,
                                "--h2-max-concurrent-streams", "7",
                                data_dir=os.path.join(self.tmp, "data-few"))
        r = subprocess.run(["nghttp", "-nv", f"https://127.0.0.1:{few.port}/health"],
                           capture_output=True, text=True, timeout=60)
        self.assertIn("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):7", r.stdout)

    def test_many_streams_on_one_connection(self):
        _, digest = self.push(100_000, seed=3)
        url = f"{self.base}/blobs/{digest}"
        r = subprocess.run(["nghttp", "-nv", url], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100", r.stdout)
        r = subprocess.run(["nghttp", "-ns", "-m", "100", url], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        ok = [l for l in r.stdout.splitlines() if " 200 " in l and digest in l]
        self.assertEqual(len(ok), 100, r.stdout[-2000:])

    def test_large_blob_arrives_intact(self):
        _, digest = self.push(64 * MiB, seed=4)
        out = os.path.join(self.tmp, "out")
        status, proto, _ = self.curl("-o", out, f"{self.base}/blobs/{digest}")
        self.assertEqual((status, proto), (200, "2"))
        self.assertEqual(file_digest(out), digest)

    def test_uploads(self):
        path = os.path.join(self.tmp, "up")
        digest = make_file(path, 5 * MiB + 123, seed=5)
        status, proto, body = self.curl("-X", "PUT", "--data-binary", f"@{path}",
                                        f"{self.base}/blobs/{digest}")
        self.assertEqual((status, proto), (201, "2"), body)
        # No Content-Length: the body ends with the stream, like a chunked one.
        path2 = os.path.join(self.tmp, "up2")
        digest2 = make_file(path2, 3 * MiB, seed=6)
        with open(path2, "rb") as f:
            status, proto, body = self.curl("-X", "PUT", "-T", "-", f"{self.base}/blobs/{digest2}",
                                            stdin=f)
        self.assertEqual((status, proto), (201, "2"), body)
        for d in (digest, digest2):
            out = os.path.join(self.tmp, "check")
            self.curl("-o", out, f"{self.base}/blobs/{d}")
            self.assertEqual(file_digest(out), d)
        # A body that does not match its digest is refused over h2 as over HTTP/1.1.
        wrong = "sha256:" + "1" * 64
        status, proto, body = self.curl("-X", "PUT", "--data-binary", f"@{path}",
                                        f"{self.base}/blobs/{wrong}")
        self.assertEqual(proto, "2")
        self.assertEqual(status, 400, body)

    # -- hostile clients --

    def test_rapid_reset(self):
        missing = "/blobs/sha256:" + "a" * 64
        outcome = self.run_attack(lambda: h2_attack.rapid_reset(self.origin.port, missing))
        self.assertEqual(outcome.goaway, h2_attack.ENHANCE_YOUR_CALM, outcome)
        # Work stayed bounded: most streams never reached a handler.
        handled = sum(1 for l in self.origin.log_lines
                      if l.get("msg") == "request" and l.get("path") == missing)
        self.assertLess(handled, 1000, f"{handled} handlers ran for 5000 reset streams")

    def test_continuation_flood(self):
        outcome = self.run_attack(lambda: h2_attack.continuation_flood(self.origin.port))
        self.assertTrue(outcome.ended() or outcome.send_failed, outcome)
        self.assertEqual(outcome.responses, 0, outcome)

    def test_hpack_bomb(self):
        outcome = self.run_attack(lambda: h2_attack.header_bomb(self.origin.port))
        self.assertEqual(outcome.responses, 0, outcome)  # no handler saw such a request
        self.assertTrue(outcome.resets > 0 or outcome.ended(), outcome)

    def test_settings_flood(self):
        outcome = self.run_attack(lambda: h2_attack.settings_flood(self.origin.port))
        self.assertEqual(outcome.goaway, h2_attack.ENHANCE_YOUR_CALM, outcome)

    def test_ping_flood(self):
        outcome = self.run_attack(lambda: h2_attack.ping_flood(self.origin.port))
        self.assertEqual(outcome.goaway, h2_attack.ENHANCE_YOUR_CALM, outcome)


    # -- stream states (RFC 9113 §5.1, §5.1.1) --

    def h2(self):
        conn = h2_attack.Connection(self.origin.port)
        self.addCleanup(conn.close)
        self.assertIsNotNone(conn.wait_for(lambda f: f.type == h2_attack.SETTINGS))
        return conn

    def get(self, stream_id, flags=h2_attack.END_STREAM | h2_attack.END_HEADERS, path="/health"):
        return h2_attack.frame(h2_attack.HEADERS, flags, stream_id, h2_attack.request_block(path))

    def assertServes(self, conn, stream_id):
        conn.send(self.get(stream_id))
        f = conn.wait_for(lambda f: f.stream_id == stream_id and f.type == h2_attack.HEADERS)
        self.assertIsNotNone(f, conn.outcome)
        self.assertIsNone(conn.outcome.goaway, conn.outcome.frames)

    def test_a_stream_id_lower_than_one_opened_ends_the_connection(self):
        for wait in (False, True):
            conn = self.h2()
            conn.send(self.get(5))
            if wait:
                conn.wait_for(lambda f: f.stream_id == 5 and f.flags & h2_attack.END_STREAM)
            conn.send(self.get(3))
            conn.read_until_end(5)
            self.assertEqual(conn.outcome.goaway, h2_attack.PROTOCOL_ERROR, conn.outcome.frames)
            self.assertFalse(any(f.stream_id == 3 for f in conn.outcome.frames))
        self.origin.check_alive()

    def test_frames_after_the_clients_reset_get_stream_closed(self):
        conn = self.h2()
        conn.send(self.get(1, h2_attack.END_HEADERS) + h2_attack.rst_stream(1) +
                  h2_attack.frame(h2_attack.DATA, h2_attack.END_STREAM, 1, b"late"))
        f = conn.wait_for(lambda f: f.type == h2_attack.RST_STREAM and f.stream_id == 1)
        self.assertIsNotNone(f, conn.outcome.frames)
        self.assertEqual(f.code(), h2_attack.STREAM_CLOSED)
        conn.send(self.get(3, h2_attack.END_HEADERS) + h2_attack.rst_stream(3) + self.get(3))
        f = conn.wait_for(lambda f: f.type == h2_attack.RST_STREAM and f.stream_id == 3)
        self.assertIsNotNone(f, conn.outcome.frames)
        self.assertEqual(f.code(), h2_attack.STREAM_CLOSED)
        self.assertServes(conn, 5)  # a stream error: the connection lives on

    def test_frames_after_both_ends_get_stream_closed(self):
        late_data = h2_attack.frame(h2_attack.DATA, h2_attack.END_STREAM, 1, b"late")
        for late in (late_data, self.get(1)):
            conn = self.h2()
            conn.send(self.get(1))
            self.assertIsNotNone(conn.wait_for(
                lambda f: f.stream_id == 1 and f.flags & h2_attack.END_STREAM), conn.outcome)
            conn.send(late)
            conn.read_until_end(5)
            self.assertEqual(conn.outcome.goaway, h2_attack.STREAM_CLOSED, conn.outcome.frames)

    def test_frames_in_flight_after_the_servers_reset_are_ignored(self):
        conn = self.h2()
        # A request head whose body is still to come: the origin answers /health at once
        # and resets the rest of the stream (RST_STREAM NO_ERROR, RFC 9113 §8.1).
        conn.send(self.get(1, h2_attack.END_HEADERS))
        f = conn.wait_for(lambda f: f.type == h2_attack.RST_STREAM and f.stream_id == 1)
        self.assertIsNotNone(f, conn.outcome.frames)
        # What the client had sent before that reset reached it: body and trailers.
        trailers = h2_attack.frame(h2_attack.HEADERS, h2_attack.END_STREAM | h2_attack.END_HEADERS,
                                   1, h2_attack.literal("x-trailer", "1"))
        conn.send(h2_attack.frame(h2_attack.DATA, 0, 1, b"x" * 1000) + trailers)
        self.assertServes(conn, 3)
        self.assertEqual([f for f in conn.outcome.frames
                          if f.type == h2_attack.RST_STREAM and f.code() != h2_attack.NO_ERROR], [])

    def test_every_stream_state_case(self):
        results = {c.name: h2_attack.run_case(c, self.origin.port, "/health")
                   for c in h2_attack.STREAM_STATE_CASES}
        failed = {name: detail for name, (ok, detail) in results.items() if not ok}
        self.assertEqual(failed, {})
        self.origin.check_alive()
        self.assertH2Ok("after every case")


if __name__ == "__main__":
    unittest.main()
