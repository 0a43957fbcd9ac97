"""Origin start-up: flag and config-file errors (non-zero exit, one stderr line naming
the key and value), config file values and precedence, TLS, start-up cleanup of tmp/."""

import http.client
import os
import shutil
import ssl
import subprocess
import unittest

from shoal_harness import (MiB, ShoalTestCase, make_bytes, requires_tool, run_cli,
                            run_origin_expect_exit, sha256_digest)


class StartupErrors(ShoalTestCase):
    def expect_fail(self, args, *needles):
        r = run_origin_expect_exit(["--listen", "127.0.0.1:0", "--data", self.mkdir("data")] + args)
        self.assertNotEqual(r.returncode, 0, f"origin accepted {args}")
        line = self.assertOneLine(r.stderr, f"for {args}")
        for n in needles:
            if isinstance(n, tuple):
                self.assertTrue(any(x in line for x in n), f"{line!r} names none of {n}")
            else:
                self.assertIn(n, line)
        return line

    def test_bad_flag_values(self):
        cases = [
            (["--max-upload-size", "12XB"], ("max_upload_size", "max-upload-size"), "12XB"),
            (["--upload-idle-timeout", "soon"], ("upload_idle_timeout", "upload-idle-timeout"), "soon"),
            (["--read-timeout", "-5s"], ("read_timeout", "read-timeout"), "-5s"),
            (["--max-header-size", "lots"], ("max_header_size", "max-header-size"), "lots"),
            (["--no-such-flag", "1"], ("no-such-flag", "no_such_flag")),
            (["--piece-size", "300KiB"], ("piece_size", "piece-size"), "300KiB"),
            (["--piece-size", "32MiB"], ("piece_size", "piece-size"), "32MiB"),
            (["--super-seeding=maybe"], ("super_seeding", "super-seeding"), "maybe"),
            (["--origins", "ftp://x"], ("origins",), "ftp://x"),
            (["--origins", "dns:nohost"], ("origins",), "dns:nohost"),
            (["--origins", "http://127.0.0.1:4101,http://127.0.0.1:4102",
              "--self", "http://127.0.0.1:4103"], ("self",), "http://127.0.0.1:4103"),
            (["--origins", "http://127.0.0.1:4101", "--self", "http://127.0.0.1:4101",
              "--replicas", "0"], ("replicas",)),
            (["--origins", "http://127.0.0.1:4101", "--self", "http://127.0.0.1:4101",
              "--write-quorum", "0"], ("write_quorum",)),
        ]
        for args, *needles in cases:
            with self.subTest(args=args):
                self.expect_fail(args, *needles)
        with self.subTest("bad listen address"):
            r = run_origin_expect_exit(["--listen", "not-an-address", "--data", self.mkdir("data")])
            self.assertNotEqual(r.returncode, 0)
            line = self.assertOneLine(r.stderr)
            self.assertIn("not-an-address", line)

    def test_check_config_says_ok_or_what_is_wrong_and_starts_nothing(self):
        data = os.path.join(self.mkdir("check"), "data")
        ring = ["--origins", "http://127.0.0.1:1,http://127.0.0.1:2", "--data", data]
        r = run_origin_expect_exit(ring + ["--self", "http://127.0.0.1:1", "--check-config"])
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "shoal origin: configuration OK"))
        self.assertFalse(os.path.exists(data), "a check opened the data directory")
        r = run_origin_expect_exit(ring + ["--self", "http://127.0.0.1:3", "--check-config"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("self", self.assertOneLine(r.stderr))
        self.assertFalse(os.path.exists(data))

    def test_config_file_errors(self):
        cfg = os.path.join(self.tmp, "origin.conf")
        cases = [
            ("read_timeout = forever\n", ("read_timeout",), "forever"),
            ("# comment\nmax_upload_size = 7QB\n", ("max_upload_size",), "7QB"),
            ("bogus_key = 1\n", ("bogus_key",)),
            ("this line has no equals sign\n", (cfg, "origin.conf", "line")),
        ]
        for text, *needles in cases:
            with self.subTest(config=text):
                with open(cfg, "w") as f:
                    f.write(text)
                self.expect_fail(["--config", cfg], *needles)
        with self.subTest("missing config file"):
            self.expect_fail(["--config", os.path.join(self.tmp, "missing.conf")], "missing.conf")


class ConfigValues(ShoalTestCase):
    def put(self, origin, size, seed):
        data = make_bytes(size, seed=seed)
        from shoal_harness import chunks_of, stream_request
        digest = sha256_digest(data)
        head = (f"PUT /blobs/{digest} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        r, _ = stream_request(origin.port, head, chunks_of(data))
        self.assertIsNotNone(r)
        return r

    def test_config_file_applies_and_flags_win(self):
        cfg = os.path.join(self.tmp, "origin.conf")
        with open(cfg, "w") as f:
            f.write("# origin settings\n\nmax_upload_size = 1MiB   # small\n"
                    "upload_idle_timeout = 30m\n")
        origin = self.start_origin("--config", cfg)
        self.assertEqual(self.put(origin, MiB + 1, 1).status, 413)
        self.assertEqual(self.put(origin, MiB, 2).status, 201)
        origin.stop()
        origin2 = self.start_origin("--config", cfg, "--max-upload-size", "2MiB",
                                    data_dir=os.path.join(self.tmp, "data2"))
        self.assertEqual(self.put(origin2, MiB + MiB // 2, 3).status, 201)
        self.assertEqual(self.put(origin2, 2 * MiB + 1, 4).status, 413)

    def test_equals_form_of_flags(self):
        origin = self.start_origin("--max-upload-size=1MiB")
        self.assertEqual(self.put(origin, MiB + 1, 5).status, 413)

    def test_tmp_cleaned_at_startup(self):
        data_dir = self.mkdir("data")
        os.makedirs(os.path.join(data_dir, "tmp"), exist_ok=True)
        junk = os.path.join(data_dir, "tmp", "leftover-from-crash")
        with open(junk, "wb") as f:
            f.write(b"partial" * 1000)
        origin = self.start_origin(data_dir=data_dir)
        self.assertFalse(os.path.exists(junk), "tmp/ not cleaned at start-up")
        self.assertHealthy(origin)

    def test_blobs_on_disk_are_counted_after_restart(self):
        origin = self.start_origin()
        data = make_bytes(12345, seed=6)
        digest = sha256_digest(data)
        self.assertEqual(origin.request("PUT", f"/blobs/{digest}", body=data).status, 201)
        origin2 = self.restart_origin(origin)
        m = origin2.metrics()
        self.assertEqual(m.sum("shoal_store_blobs"), 1, m.text)
        self.assertEqual(m.sum("shoal_store_bytes"), len(data), m.text)
        self.assertEqual(origin2.request("GET", f"/blobs/{digest}").body, data)


@requires_tool(shutil.which("openssl"), "openssl command not found")
class Tls(ShoalTestCase):
    def make_cert(self):
        cert = os.path.join(self.tmp, "cert.pem")
        key = os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        return cert, key

    def test_https(self):
        cert, key = self.make_cert()
        origin = self.start_origin("--tls-cert", cert, "--tls-key", key)
        self.assertTrue(str(origin.url).startswith("https://"), origin.url)
        ctx = ssl.create_default_context(cafile=cert)
        data = b"over tls" * 1000
        digest = sha256_digest(data)
        conn = http.client.HTTPSConnection("127.0.0.1", origin.port, context=ctx, timeout=10)
        try:
            conn.request("PUT", f"/blobs/{digest}", body=data)
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 201)
            conn.request("GET", f"/blobs/{digest}", headers={"Range": "bytes=0-7"})
            r = conn.getresponse()
            self.assertEqual(r.status, 206)
            self.assertEqual(r.read(), b"over tls")
        finally:
            conn.close()
        # Plain HTTP to a TLS port is refused without harming the server.
        from shoal_harness import raw_request
        try:
            raw_request(origin.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
        except Exception:
            pass
        conn = http.client.HTTPSConnection("127.0.0.1", origin.port, context=ctx, timeout=10)
        try:
            conn.request("GET", "/health")
            self.assertEqual(conn.getresponse().status, 200)
        finally:
            conn.close()
        # HTTP/3 on the same port number, with its endpoint's counters in /metrics.
        r = run_cli(["get", f"{origin.url}/blobs/{digest}", "--http3", "--cacert", cert])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, data.decode())
        conn = http.client.HTTPSConnection("127.0.0.1", origin.port, context=ctx, timeout=10)
        try:
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
        finally:
            conn.close()
        received = [l for l in text.splitlines()
                    if l.startswith("shoal_http3_datagrams_received_total ")]
        self.assertEqual(len(received), 1, text[-2000:])
        self.assertGreater(float(received[0].split()[1]), 0)

    def test_bad_tls_files(self):
        cert, key = self.make_cert()
        r = run_origin_expect_exit(["--listen", "127.0.0.1:0", "--data", self.mkdir("data"),
                                    "--tls-cert", cert, "--tls-key", os.path.join(self.tmp, "nokey.pem")])
        self.assertNotEqual(r.returncode, 0)
        line = self.assertOneLine(r.stderr)
        self.assertIn("nokey.pem", line)


if __name__ == "__main__":
    unittest.main()
