"""`shoal get` against a real edge over HTTP/1.1 and HTTP/2 (the protocol checked on the
edge's own metrics), digest verification against a server that lies, errors that are
one line and leave no file behind, ALPN fallback and refusal, and the load generator's
summary."""

import http.server
import json
import os
import ssl
import stat
import subprocess
import threading
import unittest

from edge_harness import EdgeTestCase, make_cert
from shoal_harness import (HOST, SHOAL_BIN, ShoalTestCase, make_file, run_cli, sha256_digest,
                           wait_until)

UNKNOWN = "sha256:" + "ab" * 32


def read(path):
    with open(path, "rb") as f:
        return f.read()


class GetFromEdge(EdgeTestCase):
    def setUp(self):
        super().setUp()
        self.start_cluster(peers=0)
        self.edge = self.start_edge()
        src = os.path.join(self.tmp, "blob")
        make_file(src, 3 * 1024 * 1024 + 17, seed=7)
        self.data = read(src)
        self.digest = self.push(src)
        self.url = self.https(self.edge, f"/blobs/{self.digest}")

    def get(self, *args, url=None):
        return run_cli(["get", url or self.url, "--cacert", self.cert, *args], home=self.home)

    def blob_requests(self, protocol):
        return self.edge.metrics().sum("shoal_http_requests_total", protocol=protocol,
                                       route="blobs")

    def wait_blob_requests(self, protocol, count):
        ok = wait_until(lambda: self.blob_requests(protocol) >= count, timeout=10)
        self.assertTrue(ok, f"{protocol}: {self.blob_requests(protocol)} requests, not {count}")

    def assert_fetched(self, flag, protocol):
        out = os.path.join(self.tmp, f"out-{protocol.replace('/', '')}")
        before = self.blob_requests(protocol)
        r = self.get(*([flag] if flag else []), "-o", out, "--verbose")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read(out), self.data)
        self.assertFalse(os.path.exists(out + ".part"))
        self.assertIn(f"over {protocol}: 200", r.stderr)
        self.assertIn("digest verified", r.stderr)
        self.wait_blob_requests(protocol, before + 1)

    def test_http11_http2_and_default(self):
        self.assert_fetched("--http1.1", "http/1.1")
        self.assert_fetched("--http2", "h2")
        self.assert_fetched(None, "h2")  # https: ALPN offers h2

    def test_plain_http_defaults_to_http11(self):
        url = f"{self.edge.plain_url()}/blobs/{self.digest}"
        r = run_cli(["get", url, "--verbose"], home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("over http/1.1: 200", r.stderr)

    def test_to_stdout(self):
        for flag in ("--http1.1", "--http2"):
            p = subprocess.run([SHOAL_BIN, "get", self.url, "--cacert", self.cert, flag],
                               capture_output=True, timeout=60)  # bytes, not run_cli's text
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(sha256_digest(p.stdout), self.digest)

    def test_not_found_is_one_line_and_no_file(self):
        for flag in ("--http1.1", "--http2"):
            out = os.path.join(self.tmp, "missing")
            r = self.get(flag, "-o", out, url=self.https(self.edge, f"/blobs/{UNKNOWN}"))
            self.assertNotEqual(r.returncode, 0)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertIn("404", r.stderr)
            self.assertFalse(os.path.exists(out))
            self.assertFalse(os.path.exists(out + ".part"))

    def test_untrusted_certificate_and_insecure(self):
        r = run_cli(["get", self.url, "-o", os.path.join(self.tmp, "x")], home=self.home)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        out = os.path.join(self.tmp, "insecure")
        r = run_cli(["get", self.url, "--insecure", "-o", out], home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read(out), self.data)

    def test_http2_needs_https(self):
        url = f"{self.edge.plain_url()}/blobs/{self.digest}"
        r = run_cli(["get", url, "--http2"], home=self.home)
        self.assertEqual(r.returncode, 2)
        self.assertIn("https", r.stderr)

    def test_output_to_a_fifo_writes_into_it(self):
        # -o onto something that is not a regular file (a FIFO here, /dev/null in
        # practice) writes into it: a rename over it would replace it.
        fifo = os.path.join(self.tmp, "fifo")
        os.mkfifo(fifo)
        got = []
        reader = threading.Thread(target=lambda: got.append(read(fifo)))
        reader.start()
        r = self.get("-o", fifo)
        reader.join(timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(stat.S_ISFIFO(os.stat(fifo).st_mode), "the FIFO was replaced")
        self.assertEqual(got, [self.data])
        self.assertFalse(os.path.exists(fifo + ".part"))

    def test_http3(self):
        out = os.path.join(self.tmp, "h3")
        r = self.get("--http3", "-o", out, "--verbose")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("over h3: 200", r.stderr)
        self.assertEqual(read(out), self.data)
        self.load("--http3", "h3")

    def test_http3_without_a_quic_listener(self):
        edge = self.start_edge("--http3=false", name="tcp-only")
        out = os.path.join(self.tmp, "h3-none")
        r = self.get("--http3", "-o", out, url=self.https(edge, f"/blobs/{self.digest}"))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertFalse(os.path.exists(out))
        self.assertFalse(os.path.exists(out + ".part"))

    def load(self, flag, protocol, streams=1):
        before = self.blob_requests(protocol)
        r = self.get(flag, "--parallel", "4", "--requests", "200", "--streams", str(streams),
                     "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        s = json.loads(r.stdout)
        self.assertEqual((s["requests"], s["failures"], s["protocol"], s["connections"],
                          s["streams"]), (200, 0, protocol, 4, streams))
        self.assertEqual(s["bytes"], 200 * len(self.data))
        self.assertGreater(s["seconds"], 0)
        self.assertGreater(s["requests_per_second"], 0)
        self.assertAlmostEqual(s["bytes_per_second"], s["bytes"] / s["seconds"],
                               delta=s["bytes_per_second"] * 0.01)
        lat = s["latency_ms"]
        self.assertTrue(0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"], lat)
        self.wait_blob_requests(protocol, before + 200)

    def test_load_generator_http2(self):
        self.load("--http2", "h2")

    def test_load_generator_http2_streams(self):
        self.load("--http2", "h2", streams=8)

    def test_load_generator_http11(self):
        self.load("--http1.1", "http/1.1")

    def test_load_generator_text_summary(self):
        r = self.get("--parallel", "2", "--requests", "10")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("requests  10, 0 failed", r.stdout)
        self.assertIn("protocol  h2, 2 connections x 1 streams", r.stdout)


class LyingServer(http.server.BaseHTTPRequestHandler):
    """Serves the same bytes for every path: wrong for any digest but theirs."""

    body = b"not what you asked for\n" * 1000

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


class GetAgainstOtherServers(ShoalTestCase):
    def serve(self, tls_alpn=None):
        server = http.server.ThreadingHTTPServer((HOST, 0), LyingServer)
        scheme = "http"
        if tls_alpn is not None:
            self.cert, key = make_cert(self.mkdir("tls"))
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert, key)
            ctx.set_alpn_protocols(tls_alpn)
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return f"{scheme}://localhost:{server.server_address[1]}"

    def test_wrong_bytes_fail_and_leave_nothing(self):
        base = self.serve()
        out = os.path.join(self.tmp, "blob")
        for path in (f"/blobs/{UNKNOWN}", f"/v2/team/app/blobs/{UNKNOWN}"):
            r = run_cli(["get", base + path, "-o", out], home=self.home)
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertIn(f"not {UNKNOWN}", r.stderr)
            self.assertFalse(os.path.exists(out))
            self.assertFalse(os.path.exists(out + ".part"))

    def test_path_without_digest_is_not_checked(self):
        base = self.serve()
        out = os.path.join(self.tmp, "file")
        r = run_cli(["get", f"{base}/blobs/{UNKNOWN}/metainfo", "-o", out], home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read(out), LyingServer.body)

    def test_load_generator_counts_mismatches(self):
        base = self.serve()
        r = run_cli(["get", f"{base}/blobs/{UNKNOWN}", "--parallel", "2", "--requests", "6",
                     "--json"], home=self.home)
        self.assertNotEqual(r.returncode, 0)
        s = json.loads(r.stdout)
        self.assertEqual((s["requests"], s["failures"]), (6, 6))
        self.assertIn("does not hash to", r.stderr)

    def test_alpn_without_h2(self):
        base = self.serve(tls_alpn=["http/1.1"])
        url = f"{base}/anything"
        r = run_cli(["get", url, "--cacert", self.cert, "--http2"], home=self.home)
        self.assertEqual(r.returncode, 1)
        self.assertIn('did not agree to HTTP/2: ALPN chose "http/1.1"', r.stderr)
        out = os.path.join(self.tmp, "fallback")
        r = run_cli(["get", url, "--cacert", self.cert, "-o", out, "--verbose"], home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("over http/1.1: 200", r.stderr)
        self.assertEqual(read(out), LyingServer.body)


if __name__ == "__main__":
    unittest.main()
