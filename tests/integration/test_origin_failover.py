"""Clients with several origins (issue 18, item 7): `--origin URL,URL` (and
SHOAL_ORIGIN) on push, pull, get, the peer agent and the tracker. They try the
origins in order and move on from one that refuses connections or answers 5xx; a
push cut off in the middle continues through the next origin, in the same session
when that origin knows it (here: two TCP proxies in front of one origin, as a ring
shares sessions), else from the first byte. The origins here are independent single
processes: no ring is needed to test the clients."""

import http.server
import os
import socket
import threading
import time
import unittest

from peer_harness import Peer, PeerTestCase, get_to_file
from shoal_harness import (HOST, MiB, ShoalTestCase, blob_path, file_digest, make_file, run_cli,
                           start_cli, unused_port, wait_until)


def dead_url():
    return f"http://{HOST}:{unused_port()}"


class TcpProxy:
    """Forwards every connection to 127.0.0.1:target; kill() cuts them all, the
    origin's side first (so the origin has closed its end of an upload before the
    client hears of it), as when the path to an origin dies."""

    def __init__(self, target):
        self.target = target
        self.listener = socket.create_server((HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        self.pairs = []
        self.lock = threading.Lock()
        self.dead = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((HOST, self.target))
            with self.lock:
                if self.dead:
                    client.close()
                    upstream.close()
                    return
                self.pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(256 * 1024)
                if not data:
                    break
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def kill(self):
        with self.lock:
            self.dead = True
            pairs = list(self.pairs)
        self.listener.close()
        for _, upstream in pairs:
            _close(upstream)
        time.sleep(0.3)
        for client, _ in pairs:
            _close(client)


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class Failing(http.server.BaseHTTPRequestHandler):
    """An origin in trouble: 503 to everything."""

    def _fail(self):
        body = b'{"error":"UNAVAILABLE","message":"disk on fire"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = _fail

    def log_message(self, *args):
        pass


class CliFailover(ShoalTestCase):
    def setUp(self):
        super().setUp()
        self.origin = self.start_origin()
        self.src = os.path.join(self.tmp, "artifact.bin")
        self.digest = make_file(self.src, 3 * MiB + 7, seed=180)

    def failing_origin(self):
        server = http.server.ThreadingHTTPServer((HOST, 0), Failing)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return f"http://{HOST}:{server.server_address[1]}"

    def push(self, origins, *extra, env=None):
        args = ["push", self.src] + (["--origin", origins] if origins else []) + list(extra)
        return run_cli(args, env=env, home=self.home)

    def assertPushed(self, r):
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), self.digest)
        self.assertEqual(file_digest(blob_path(self.origin.data_dir, self.digest)), self.digest)

    def test_push_skips_an_origin_that_refuses_connections(self):
        dead = dead_url()
        r = self.push(f"{dead},{self.origin.url}")
        self.assertPushed(r)
        line = self.assertOneLine(r.stderr)
        self.assertIn(f"origin {dead} failed (", line)
        self.assertIn(f"continuing through {self.origin.url}", line)

    def test_quiet_push_fails_over_silently(self):
        r = self.push(f"{dead_url()},{self.origin.url}", "--quiet")
        self.assertPushed(r)
        self.assertEqual(r.stderr, "")

    def test_push_takes_the_list_from_the_environment(self):
        r = self.push(None, "--quiet", env={"SHOAL_ORIGIN": f"{dead_url()}, {self.origin.url}"})
        self.assertPushed(r)

    def test_push_skips_an_origin_answering_5xx(self):
        sick = self.failing_origin()
        r = self.push(f"{sick},{self.origin.url}")
        self.assertPushed(r)
        self.assertIn("503", r.stderr)

    def test_push_fails_with_one_line_when_every_origin_is_down(self):
        r = self.push(f"{dead_url()},{dead_url()}", "--quiet")
        self.assertNotEqual(r.returncode, 0)
        line = self.assertOneLine(r.stderr)
        self.assertIn("all 2 origins failed", line)

    def test_a_4xx_is_an_answer_not_a_reason_to_fail_over(self):
        token = os.path.join(self.tmp, "token")
        with open(token, "w") as f:
            f.write("failover-token\n")
        other = self.start_origin("--token-file", token, data_dir=self.mkdir("other"))
        r = self.push(f"{other.url},{self.origin.url}", "--quiet")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("401", self.assertOneLine(r.stderr))
        self.assertFalse(os.path.exists(blob_path(self.origin.data_dir, self.digest)))

    def test_pull_and_get_skip_a_dead_origin(self):
        r = self.push(self.origin.url, "--tag", "fo-1", "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr)
        origins = f"{dead_url()},{self.origin.url}"
        for ref in (self.digest, "fo-1"):
            out = os.path.join(self.tmp, f"pulled-{ref}")
            r = run_cli(["pull", ref, "-o", out, "--origin", origins, "--quiet"], home=self.home)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(file_digest(out), self.digest)
        out = os.path.join(self.tmp, "got")
        r = run_cli(["get", f"/blobs/{self.digest}", "--origin", origins, "-o", out],
                    home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(file_digest(out), self.digest)
        self.assertIn("continuing through", r.stderr)
        r = run_cli(["get", f"/blobs/{self.digest}", "-o", out + "2"], home=self.home,
                    env={"SHOAL_ORIGIN": f"{self.failing_origin()},{self.origin.url}"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(file_digest(out + "2"), self.digest)

    def test_pull_does_not_fail_over_on_a_404(self):
        other = self.start_origin(data_dir=self.mkdir("other"))
        out = os.path.join(self.tmp, "x")
        self.assertEqual(self.push(self.origin.url, "--quiet").returncode, 0)
        r = run_cli(["pull", self.digest, "-o", out, "--origin", f"{other.url},{self.origin.url}"],
                    home=self.home)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("404", self.assertOneLine(r.stderr))

    def test_get_with_origin_takes_a_path_not_a_url(self):
        r = run_cli(["get", f"{self.origin.url}/health", "--origin", self.origin.url],
                    home=self.home)
        self.assertEqual(r.returncode, 2)
        self.assertIn("PATH", self.assertOneLine(r.stderr))


class PushContinuesElsewhere(ShoalTestCase):
    """The origin (or the way to it) dies in the middle of a push: the same
    `shoal push` process finishes through the next origin."""

    SIZE = 48 * MiB

    def start_push(self, origins, state):
        src = os.path.join(self.tmp, "big.bin")
        digest = make_file(src, self.SIZE, seed=181)
        p = start_cli(["push", src, "--origin", origins, "--chunk-size", "4MiB", "--state-dir",
                       state, "--limit-rate", "16000000"], home=self.home)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        return p, digest

    def received(self, origin):
        return origin.metrics().sum("shoal_http_received_bytes_total")

    def test_resumes_the_same_session_through_another_origin(self):
        origin = self.start_origin()
        first, second = TcpProxy(origin.port), TcpProxy(origin.port)
        p, digest = self.start_push(f"{first.url},{second.url}", self.mkdir("state"))
        self.assertTrue(wait_until(lambda: self.received(origin) > 8 * MiB, 20),
                        "the push did not get going")
        first.kill()
        out, err = p.communicate(timeout=120)
        err = err.decode()
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out.decode().strip(), digest)
        self.assertIn(f"origin {first.url} failed (", err)
        self.assertIn(f"continuing through {second.url}", err)
        self.assertEqual(file_digest(blob_path(origin.data_dir, digest)), digest)
        total = self.received(origin)
        self.assertLess(total, self.SIZE + 8 * MiB,
                        f"the origin received {total} bytes of a {self.SIZE}-byte blob: the push "
                        "started over instead of resuming the session")
        self.assertEqual(origin.metrics().sum("shoal_origin_upload_sessions"), 0)

    def test_starts_over_on_an_origin_that_does_not_know_the_session(self):
        a = self.start_origin(data_dir=self.mkdir("a"))
        b = self.start_origin(data_dir=self.mkdir("b"))
        state = self.mkdir("state")
        p, digest = self.start_push(f"{a.url},{b.url}", state)
        self.assertTrue(wait_until(lambda: self.received(a) > 8 * MiB, 20),
                        "the push did not get going")
        a.kill()
        a.expected_exit = True
        out, err = p.communicate(timeout=120)
        err = err.decode()
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out.decode().strip(), digest)
        self.assertIn(f"continuing through {b.url}", err)
        self.assertEqual(file_digest(blob_path(b.data_dir, digest)), digest)
        self.assertEqual(os.listdir(os.path.join(state, "uploads")), [],
                         "the state file outlived the push")


class AgentAndTrackerFailover(PeerTestCase):
    def test_agent_and_tracker_with_a_dead_origin_first_serve_a_blob(self):
        origin_port = unused_port()
        origins = f"{dead_url()},http://{HOST}:{origin_port}"
        self.tracker = self.start_tracker("--peer-ttl", "60s", "--announce-interval", "5s",
                                          "--origin", origins)
        tracker_url = f"http://{HOST}:{self.tracker.port}"
        self.origin = self.start_origin("--tracker", tracker_url, port=origin_port)
        peer = Peer(self.mkdir("peer"), args=["--origin", origins, "--tracker", tracker_url],
                    cwd=self.mkdir("cwd"))
        self._origins.append(peer)
        self.addCleanup(self._finish_origin, peer)
        peer.start()

        src = os.path.join(self.tmp, "blob")
        digest = make_file(src, 6 * MiB, seed=182)
        self.assertEqual(self.push_file(src, "--tag", "fo-agent"), digest)
        self.wait_seeded()
        out = os.path.join(self.tmp, "out")
        status, hdrs, n = get_to_file(peer.port, f"/blobs/{digest}", out)
        self.assertEqual(status, 200)
        self.assertEqual(file_digest(out), digest)
        r = peer.request("GET", "/tags/fo-agent")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body.decode().strip(), digest)
        warned = [l for l in self.tracker.log_lines if l.get("msg") == "origin failed, trying the next"]
        self.assertTrue(warned, "the tracker never tried the dead origin first")


if __name__ == "__main__":
    unittest.main()
