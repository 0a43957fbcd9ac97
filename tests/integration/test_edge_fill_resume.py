"""An edge fill that the peer agent breaks off midway goes on from the origin with a
Range request, and checks the origin's 206 against its Content-Range (the shared
http::parse_content_range): the first byte where it stopped and the whole size."""

import hashlib
import http.client
import http.server
import threading
import unittest
from types import SimpleNamespace

from edge_harness import EdgeTestCase
from shoal_harness import HOST, wait_until

BODY = bytes(range(256)) * 1024  # 256 KiB
DIGEST = "sha256:" + hashlib.sha256(BODY).hexdigest()
HALF = len(BODY) // 2


class BreakingPeer(http.server.BaseHTTPRequestHandler):
    """Announces the whole blob, sends half of it, and hangs up."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY[:HALF])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


def resuming_origin(total, ranges_seen):
    """An origin answering `Range: bytes=N-` with 206 and a Content-Range that claims
    `total` bytes in all (the true size, or a wrong one)."""

    class Origin(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            rng = self.headers.get("Range")
            ranges_seen.append(rng)
            if not rng or not rng.startswith("bytes=") or not rng.endswith("-"):
                self.send_response(200)
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()
                self.wfile.write(BODY)
                return
            first = int(rng[len("bytes="):-1])
            part = BODY[first:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {first}-{len(BODY) - 1}/{total}")
            self.send_header("Content-Length", str(len(part)))
            self.end_headers()
            self.wfile.write(part)

        def log_message(self, *args):
            pass

    return Origin


class EdgeFillResume(EdgeTestCase):
    def serve(self, handler):
        server = http.server.ThreadingHTTPServer((HOST, 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return f"http://{HOST}:{server.server_address[1]}"

    def start_edge_between(self, total):
        ranges_seen = []
        peer = SimpleNamespace(url=self.serve(BreakingPeer))
        origin = self.serve(resuming_origin(total, ranges_seen))
        return self.start_edge(peer=peer, origin_url=origin), ranges_seen

    def get(self, edge):
        conn = http.client.HTTPConnection(HOST, edge.http_port, timeout=30)
        self.addCleanup(conn.close)
        conn.request("GET", f"/blobs/{DIGEST}")
        resp = conn.getresponse()
        try:
            return resp.status, resp.read()
        except http.client.IncompleteRead as e:
            return resp.status, e.partial

    def test_the_origin_resumes_where_the_peer_stopped(self):
        edge, ranges_seen = self.start_edge_between(total=len(BODY))
        status, body = self.get(edge)
        self.assertEqual(status, 200)
        self.assertEqual(hashlib.sha256(body).hexdigest(), DIGEST.split(":")[1])
        self.assertEqual(ranges_seen, [f"bytes={HALF}-"])
        self.assertEqual(edge.metrics().sum("shoal_edge_fills_total", source="origin"), 1)

    def test_a_206_claiming_another_size_fails_the_fill(self):
        edge, ranges_seen = self.start_edge_between(total=len(BODY) + 1)
        status, body = self.get(edge)
        if status == 200:
            self.assertLess(len(body), len(BODY))
        else:
            self.assertEqual(status, 502)
        self.assertEqual(ranges_seen, [f"bytes={HALF}-"])
        wait_until(lambda: edge.metrics().value("shoal_edge_fills_in_flight") == 0, timeout=10)
        m = edge.metrics()
        self.assertEqual(m.sum("shoal_edge_fills_total", outcome="failed"), 1)
        self.assertEqual(m.value("shoal_edge_cache_objects", tier="disk"), 0)


if __name__ == "__main__":
    unittest.main()
