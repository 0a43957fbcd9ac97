"""Helpers for the edge's integration tests: a `shoal edge` process, a test
certificate, and curl/nghttp wrappers that report what the real clients saw."""

import hashlib
import os
import re
import subprocess
import time

from peer_harness import PeerTestCase
from shoal_harness import HOST, SHOAL_BIN, Origin, http_request, run_cli, wait_until


class Edge(Origin):
    """A `shoal edge` on 127.0.0.1:0; same lifecycle and log parsing as Origin."""

    def command(self):
        return [SHOAL_BIN, "edge", "--listen", f"{HOST}:{self.listen_port}", "--data",
                self.data_dir] + self.args

    def start(self):
        super().start()
        if "--plain-listen" in self.args:
            wait_until(lambda: self.plain_url() is not None, timeout=10)
        return self

    def plain_url(self):
        for line in self.log_lines:
            if line.get("msg") == "plain listener":
                return line["url"]
        return None

    @property
    def http_port(self):
        """The port that speaks plain HTTP/1.1: the plain listener next to HTTPS."""
        url = self.plain_url()
        return int(url.rsplit(":", 1)[1]) if url else self.port

    def request(self, method, path, body=None, headers=None, timeout=30.0, chunked=False):
        return http_request(self.http_port, method, path, body=body, headers=headers,
                            timeout=timeout, chunked=chunked)


def make_cert(directory):
    """A self-signed P-256 certificate for localhost and 127.0.0.1 (openssl CLI)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


class CurlResult:
    def __init__(self, proc, body_path, header_path):
        self.returncode = proc.returncode
        self.stderr = proc.stderr
        parts = proc.stdout.strip().split()
        self.status = int(parts[0]) if parts else 0
        self.http_version = parts[1] if len(parts) > 1 else ""
        with open(body_path, "rb") as f:
            self.body = f.read()
        self.headers = {}
        with open(header_path, "rb") as f:
            for raw in f.read().decode("latin-1").splitlines():
                if ":" in raw and not raw.startswith("HTTP/"):
                    k, _, v = raw.partition(":")
                    self.headers[k.strip().lower()] = v.strip()

    def header(self, name):
        return self.headers.get(name.lower())

    def digest(self):
        return "sha256:" + hashlib.sha256(self.body).hexdigest()


def curl(url, out_dir, *args, version="--http1.1", cacert=None, timeout=120):
    """curl URL; returns status, negotiated HTTP version, headers and body."""
    body = os.path.join(out_dir, f"body-{time.monotonic_ns()}")
    hdrs = body + ".headers"
    cmd = ["curl", "-sS", version, "-o", body, "-D", hdrs, "-w", "%{http_code} %{http_version}",
           "--max-time", str(timeout)]
    if cacert:
        cmd += ["--cacert", cacert]
    cmd += list(args) + [url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 10)
    for p in (body, hdrs):
        if not os.path.exists(p):
            open(p, "wb").close()
    result = CurlResult(proc, body, hdrs)
    os.unlink(body)
    os.unlink(hdrs)
    return result


class EdgeTestCase(PeerTestCase):
    """A cluster (tracker, origin, peers) plus edges in front of it."""

    def start_edge(self, *args, name="edge", peer=None, tls=True, data_dir=None, origin_url=None):
        if data_dir is None:
            data_dir = self.mkdir(name)
        full = ["--origin", origin_url or self.origin.url]
        if peer is not None:
            full += ["--peer", peer.url]
        if tls:
            if not hasattr(self, "cert"):
                self.cert, self.key = make_cert(self.mkdir("tls"))
            full += ["--tls-cert", self.cert, "--tls-key", self.key,
                     "--plain-listen", f"{HOST}:0"]
        e = Edge(data_dir, args=full + list(args), cwd=self.mkdir("cwd"))
        self._origins.append(e)
        self.addCleanup(self._finish_origin, e)
        e.start()
        return e

    def restart_edge(self, edge):
        edge.stop()
        edge.expected_exit = True
        e = Edge(edge.data_dir, args=edge.args, cwd=edge.cwd)
        self._origins.append(e)
        self.addCleanup(self._finish_origin, e)
        e.start()
        return e

    def https(self, edge, path):
        return f"https://localhost:{edge.port}{path}"

    def curl(self, url, *args, version="--http1.1"):
        return curl(url, self.mkdir("curl"), *args, version=version,
                    cacert=getattr(self, "cert", None))

    def edge_metric(self, edge, name, **labels):
        return edge.metrics().sum(name, **labels)

    def access_log(self, edge, path):
        return [l for l in edge.log_lines if l.get("msg") == "request" and l.get("path") == path]

    def push(self, path):
        r = run_cli(["push", path, "--origin", self.origin.url, "--quiet"], home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()


DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
