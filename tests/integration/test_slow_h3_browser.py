"""HTTP/3 with a real browser (issue 5 item 6): headless Chromium, forced onto QUIC for
the edge's port, fetches a blob from a page on the edge's own origin; the resource
timing says "h3", the bytes hash to the blob's digest, and the edge logged the request
as h3. Needs chromium, node and tests/e2e/hls/install.sh (playwright-core)."""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import unittest

from edge_harness import EdgeTestCase
from shoal_harness import requires_tool, MiB, make_file, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
E2E_H3 = os.path.normpath(os.path.join(HERE, "..", "e2e", "h3"))
PLAYWRIGHT = os.path.normpath(os.path.join(HERE, "..", "e2e", "hls", "node_modules", "playwright-core"))
NODE = shutil.which("node")
CHROMIUM = shutil.which(os.environ.get("CHROMIUM") or "chromium")


def spki_sha256_base64(cert_pem):
    """base64(SHA-256(DER SubjectPublicKeyInfo)): what --ignore-certificate-errors-spki-list
    takes. Same as `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64`."""
    pub = subprocess.run(["openssl", "x509", "-in", cert_pem, "-pubkey", "-noout"],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         check=True, capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@requires_tool(NODE and CHROMIUM and os.path.isdir(PLAYWRIGHT),
                     "needs node, chromium and tests/e2e/hls/install.sh (playwright-core)")
class ChromiumOverHttp3(EdgeTestCase):
    def setUp(self):
        super().setUp()
        self.start_cluster(peers=0)
        self.edge = self.start_edge()

    def browser_fetch(self, url, timeout=45):
        cmd = [NODE, os.path.join(E2E_H3, "fetch.mjs"), "--url", url,
               "--spki", spki_sha256_base64(self.cert), "--chromium", CHROMIUM,
               "--timeout", str(timeout)]
        if os.environ.get("SHOAL_H3_NETLOG"):  # debugging: keep Chromium's NetLog there
            cmd += ["--net-log", os.environ["SHOAL_H3_NETLOG"], "--verbose"]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=timeout + 15)
        except subprocess.TimeoutExpired:
            p.terminate()  # fetch.mjs closes the browser on SIGTERM
            try:
                out, err = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
        lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        self.assertTrue(lines, f"no summary from fetch.mjs: {out}\n{err}")
        return p.returncode, lines[-1]

    def test_chromium_fetches_a_blob_over_h3(self):
        size = 2 * MiB + 12345
        path = os.path.join(self.tmp, "blob")
        digest = make_file(path, size, seed=61)
        self.assertEqual(self.push(path), digest)
        blob_path = f"/blobs/{digest}"
        code, summary = self.browser_fetch(self.https(self.edge, blob_path))
        self.assertEqual(code, 0, summary)
        self.assertEqual(summary["status"], 200, summary)
        self.assertEqual(summary["nextHopProtocol"], "h3", summary)
        self.assertEqual(summary["bytes"], size, summary)
        self.assertEqual(summary["sha256"], digest, summary)
        # The edge saw it as HTTP/3 too.
        h3 = lambda: [l for l in self.access_log(self.edge, blob_path) if l.get("proto") == "h3"]
        log = wait_until(lambda: h3(), timeout=10)
        self.assertTrue(log, self.access_log(self.edge, blob_path))
        self.assertEqual(log[-1]["status"], 200, log)
        self.assertEqual(log[-1]["bytes_out"], size, log)


if __name__ == "__main__":
    unittest.main()
