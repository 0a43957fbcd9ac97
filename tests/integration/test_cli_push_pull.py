"""The real CLI against the real origin: `shoal push` (chunked resumable upload, tags,
resume after SIGKILL, tokens) and `shoal pull` (by digest or tag, verified, never
leaving a file behind on failure)."""

import http.server
import os
import re
import signal
import subprocess
import threading
import time
import unittest

from shoal_harness import (MiB, ShoalTestCase, blob_path, file_digest, list_files, make_file,
                           require_tool, run_cli, sha256_digest, start_cli, unused_port)

TOKEN = "cli-token-abcdef"


class CliTestCase(ShoalTestCase):
    def push(self, path, *extra, origin=None, env=None, timeout=120):
        args = ["push", path] + list(extra)
        if origin is not None:
            args += ["--origin", origin.url]
        return run_cli(args, env=env, home=self.home, timeout=timeout)

    def pull(self, ref, out, *extra, origin=None, url=None, env=None, timeout=120):
        args = ["pull", ref, "-o", out] + list(extra)
        if origin is not None:
            args += ["--origin", origin.url]
        if url is not None:
            args += ["--origin", url]
        return run_cli(args, env=env, home=self.home, timeout=timeout)

    def assertSuccess(self, r):
        self.assertEqual(r.returncode, 0, f"exit {r.returncode}; stdout={r.stdout!r} stderr={r.stderr!r}")

    def assertCleanFailure(self, r, out=None, outdir=None, before=None):
        self.assertNotEqual(r.returncode, 0, f"succeeded: stdout={r.stdout!r} stderr={r.stderr!r}")
        self.assertOneLine(r.stderr, f"(stderr of a failed command; stdout={r.stdout!r})")
        if out is not None and before is None:
            self.assertFalse(os.path.exists(out), f"{out} exists after a failed pull")
        if outdir is not None:
            left = list_files(outdir)
            if before is not None:
                left = sorted(set(left) - set(before))
            self.assertEqual(left, [], f"files left in {outdir} after a failed pull")


class PushPull(CliTestCase):
    def setUp(self):
        super().setUp()
        self.origin = self.start_origin()
        self.src = os.path.join(self.tmp, "artifact.bin")
        self.digest = make_file(self.src, 5 * MiB + 12345, seed=70)
        self.out = self.mkdir("out")

    def test_push_prints_digest_and_pull_back(self):
        r = self.push(self.src, origin=self.origin)
        self.assertSuccess(r)
        self.assertEqual(r.stdout.splitlines(), [self.digest], "stdout must be the digest only")
        stored = os.path.join(self.origin.data_dir, "blobs", "sha256", self.digest[7:9], self.digest[7:])
        self.assertTrue(os.path.isfile(stored))
        self.assertEqual(file_digest(stored), self.digest)
        dst = os.path.join(self.out, "copy.bin")
        r = self.pull(self.digest, dst, origin=self.origin)
        self.assertSuccess(r)
        self.assertEqual(os.path.getsize(dst), os.path.getsize(self.src))
        self.assertEqual(file_digest(dst), self.digest)
        self.assertEqual(list_files(self.out), ["copy.bin"], "temporary files left next to the output")

    def test_push_sends_the_file_without_copying_it(self):
        # Over plain HTTP the body goes out with sendfile(2), and the CLI copies no byte
        # of it through a buffer of its own (it used to read, copy and send each one).
        strace = require_tool("strace")
        log = os.path.join(self.tmp, "strace.log")
        calls = "trace=sendfile,write,writev,sendto,sendmsg"
        # LeakSanitizer cannot run under ptrace.
        asan = os.environ.get("ASAN_OPTIONS", "")
        r = run_cli(["push", self.src, "--origin", self.origin.url], home=self.home,
                    wrap=[strace, "-f", "-qq", "-e", calls, "-o", log],
                    env={"ASAN_OPTIONS": f"{asan}:detect_leaks=0".lstrip(":")})
        self.assertSuccess(r)
        self.assertEqual(r.stdout.split(), [self.digest])
        sent = {}
        with open(log) as f:
            for line in f:
                m = re.search(r"(?:\b(\w+)\(|<\.\.\. (\w+) resumed>).*\)\s+=\s+(\d+)", line)
                if m:
                    call = m.group(1) or m.group(2)
                    sent[call] = sent.get(call, 0) + int(m.group(3))
        self.assertGreaterEqual(sent.get("sendfile", 0), os.path.getsize(self.src), sent)
        self.assertLess(sum(n for c, n in sent.items() if c != "sendfile"), 64 * 1024, sent)
        self.assertEqual(file_digest(blob_path(self.origin.data_dir, self.digest)), self.digest)

    def test_pull_replaces_existing_file(self):
        self.assertSuccess(self.push(self.src, origin=self.origin))
        dst = os.path.join(self.out, "exists.bin")
        with open(dst, "wb") as f:
            f.write(b"old content")
        self.assertSuccess(self.pull(self.digest, dst, origin=self.origin))
        self.assertEqual(file_digest(dst), self.digest)

    def test_push_with_invalid_tag(self):
        r = self.push(self.src, "--tag", "../evil", origin=self.origin)
        self.assertCleanFailure(r)
        self.assertEqual(list_files(os.path.join(self.origin.data_dir, "tags")), [])

    def test_quiet_prints_only_digest(self):
        r = self.push(self.src, "--quiet", origin=self.origin)
        self.assertSuccess(r)
        self.assertEqual(r.stdout, self.digest + "\n")
        self.assertEqual(r.stderr, "", "--quiet push wrote to stderr")
        dst = os.path.join(self.out, "q.bin")
        r = self.pull(self.digest, dst, "--quiet", origin=self.origin)
        self.assertSuccess(r)
        self.assertEqual(r.stderr, "", "--quiet pull wrote to stderr")
        self.assertEqual(file_digest(dst), self.digest)

    def test_push_twice_is_fine(self):
        self.assertSuccess(self.push(self.src, origin=self.origin))
        r = self.push(self.src, origin=self.origin)
        self.assertSuccess(r)
        self.assertEqual(r.stdout.strip(), self.digest)

    def test_push_with_tag_and_pull_by_tag(self):
        for tag in ("release-42", "team/app:v1"):
            with self.subTest(tag=tag):
                r = self.push(self.src, "--tag", tag, origin=self.origin)
                self.assertSuccess(r)
                self.assertEqual(r.stdout.strip(), self.digest)
                resp = self.origin.request("GET", f"/tags/{tag}")
                self.assertEqual(resp.status, 200, resp)
                self.assertEqual(resp.text().strip(), self.digest)
                dst = os.path.join(self.out, tag.replace("/", "_").replace(":", "_"))
                r = self.pull(tag, dst, origin=self.origin)
                self.assertSuccess(r)
                self.assertEqual(file_digest(dst), self.digest)

    def test_origin_from_environment(self):
        env = {"SHOAL_ORIGIN": self.origin.url}
        r = self.push(self.src, env=env)
        self.assertSuccess(r)
        self.assertEqual(r.stdout.strip(), self.digest)
        dst = os.path.join(self.out, "env.bin")
        self.assertSuccess(self.pull(self.digest, dst, env=env))
        self.assertEqual(file_digest(dst), self.digest)

    def test_small_chunks_and_odd_sizes(self):
        for size in (0, 1, MiB - 1, MiB, MiB + 1):
            with self.subTest(size=size):
                src = os.path.join(self.tmp, f"f{size}")
                digest = make_file(src, size, seed=size)
                r = self.push(src, "--chunk-size", "256KiB", origin=self.origin)
                self.assertSuccess(r)
                self.assertEqual(r.stdout.strip(), digest)
                dst = os.path.join(self.out, f"g{size}")
                self.assertSuccess(self.pull(digest, dst, origin=self.origin))
                self.assertEqual(file_digest(dst), digest)
                self.assertEqual(os.path.getsize(dst), size)

    def test_pull_unknown_digest_and_tag(self):
        for ref in ("sha256:" + "ee" * 32, "no-such-tag", "team/none:v9"):
            with self.subTest(ref=ref):
                dst = os.path.join(self.out, "missing.bin")
                r = self.pull(ref, dst, origin=self.origin)
                self.assertCleanFailure(r, out=dst, outdir=self.out)

    def test_pull_bad_reference(self):
        for ref in ("sha256:XYZ", "../../etc/passwd", ""):
            with self.subTest(ref=ref):
                dst = os.path.join(self.out, "bad.bin")
                r = self.pull(ref, dst, origin=self.origin)
                self.assertCleanFailure(r, out=dst, outdir=self.out)

    def test_pull_into_missing_directory(self):
        self.assertSuccess(self.push(self.src, origin=self.origin))
        dst = os.path.join(self.tmp, "does", "not", "exist", "x.bin")
        r = self.pull(self.digest, dst, origin=self.origin)
        self.assertCleanFailure(r, out=dst)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "does")))
        with self.subTest("parent is a file"):
            dst = os.path.join(self.src, "x.bin")
            r = self.pull(self.digest, dst, origin=self.origin)
            self.assertCleanFailure(r)
            self.assertEqual(file_digest(self.src), self.digest)

    def test_pull_into_read_only_directory(self):
        self.assertSuccess(self.push(self.src, origin=self.origin))
        ro = self.mkdir("ro")
        if os.geteuid() == 0:
            mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro],
                                     capture_output=True)
            if mounted.returncode != 0:
                self.skipTest(f"cannot mount a read-only tmpfs: {mounted.stderr!r}")
            self.addCleanup(subprocess.run, ["umount", "-l", ro], capture_output=True)
        else:
            os.chmod(ro, 0o555)
            self.addCleanup(os.chmod, ro, 0o755)
        dst = os.path.join(ro, "x.bin")
        r = self.pull(self.digest, dst, origin=self.origin)
        self.assertCleanFailure(r, out=dst, outdir=ro)

    def test_unreachable_origin(self):
        url = f"http://127.0.0.1:{unused_port()}"
        dst = os.path.join(self.out, "x.bin")
        r = self.pull(self.digest, dst, url=url)
        self.assertCleanFailure(r, out=dst, outdir=self.out)
        r = run_cli(["push", self.src, "--origin", url], home=self.home, timeout=120)
        self.assertCleanFailure(r)

    def test_push_missing_file(self):
        r = self.push(os.path.join(self.tmp, "nope.bin"), origin=self.origin)
        self.assertCleanFailure(r)
        self.assertIn("nope.bin", r.stderr)


class Progress(CliTestCase):
    """On a terminal the CLI shows progress; --quiet (or a pipe, tested above) hides it."""

    def run_on_pty(self, args):
        import pty
        import select as sel
        master, slave = pty.openpty()
        env = dict(os.environ, HOME=self.home, TERM="xterm", COLUMNS="100")
        for k in ("SHOAL_ORIGIN", "SHOAL_TOKEN"):
            env.pop(k, None)
        from shoal_harness import SHOAL_BIN
        p = subprocess.Popen([SHOAL_BIN] + args, stdin=subprocess.DEVNULL, stdout=slave,
                             stderr=slave, env=env)
        os.close(slave)
        out = b""
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                r, _, _ = sel.select([master], [], [], 0.5)
                if r:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out += chunk
                elif p.poll() is not None:
                    break
            p.wait(30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            os.close(master)
        return p.returncode, out.decode("utf-8", "replace")

    def test_progress_on_terminal_only_without_quiet(self):
        origin = self.start_origin()
        src = os.path.join(self.tmp, "p.bin")
        digest = make_file(src, 6 * MiB, seed=74)
        rc, out = self.run_on_pty(["push", src, "--origin", origin.url, "--limit-rate", "4000000",
                                   "--chunk-size", "1MiB"])
        self.assertEqual(rc, 0, out)
        self.assertIn(digest, out)
        self.assertGreater(len(out.replace(digest, "").strip()), 0,
                           f"no progress shown on a terminal: {out!r}")
        rc, out = self.run_on_pty(["push", src, "--origin", origin.url, "--quiet"])
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.strip(), digest, "--quiet on a terminal printed more than the digest")
        dst = os.path.join(self.tmp, "back.bin")
        rc, out = self.run_on_pty(["pull", digest, "-o", dst, "--origin", origin.url, "--quiet"])
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.strip(), "", "--quiet pull on a terminal printed something")
        self.assertEqual(file_digest(dst), digest)


class Resume(CliTestCase):
    def test_resume_after_kill(self):
        origin = self.start_origin()
        src = os.path.join(self.tmp, "big.bin")
        size = 64 * MiB
        digest = make_file(src, size, seed=71)
        state = self.mkdir("state")
        args = ["push", src, "--origin", origin.url, "--chunk-size", "4MiB", "--state-dir", state,
                "--quiet"]
        p = start_cli(args + ["--limit-rate", "16000000"], home=self.home)
        try:
            time.sleep(1.5)
            still_running = p.poll() is None
            p.send_signal(signal.SIGKILL)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertTrue(still_running,
                        f"push finished within 1.5 s despite --limit-rate 16000000 "
                        f"(exit {p.returncode}, stderr {err!r}); cannot test resume")
        received_before = wait_until_stable(lambda: origin.metrics().sum("shoal_http_received_bytes_total"))
        self.assertGreater(received_before, 4 * MiB, "the killed push had sent almost nothing")
        self.assertLess(received_before, size, "the killed push had sent everything")
        self.assertEqual(origin.request("HEAD", f"/blobs/{digest}").status, 404)
        self.assertGreaterEqual(origin.metrics().sum("shoal_origin_upload_sessions"), 1,
                                "no upload session after the kill")
        r = run_cli(args, home=self.home, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), digest)
        total = origin.metrics().sum("shoal_http_received_bytes_total")
        self.assertLess(total, 1.5 * size,
                        f"origin received {total} bytes for a {size}-byte file "
                        f"({received_before} before the kill): the push restarted instead of resuming")
        self.assertGreaterEqual(total, size)
        dst = os.path.join(self.tmp, "back.bin")
        self.assertSuccess(self.pull(digest, dst, origin=origin))
        self.assertEqual(file_digest(dst), digest)
        self.assertEqual(origin.metrics().sum("shoal_origin_upload_sessions"), 0)

    def start_and_kill_push(self, origin, src, state, after=1.5):
        args = ["push", src, "--origin", origin.url, "--chunk-size", "4MiB", "--state-dir", state,
                "--quiet"]
        p = start_cli(args + ["--limit-rate", "16000000"], home=self.home)
        try:
            time.sleep(after)
            still_running = p.poll() is None
            p.send_signal(signal.SIGKILL)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertTrue(still_running, f"push finished before it could be killed: {err!r}")
        return args

    def test_resume_across_origin_restart(self):
        origin = self.start_origin()
        src = os.path.join(self.tmp, "big.bin")
        size = 64 * MiB
        digest = make_file(src, size, seed=75)
        state = self.mkdir("state")
        args = self.start_and_kill_push(origin, src, state)
        before = wait_until_stable(lambda: origin.metrics().sum("shoal_http_received_bytes_total"))
        self.assertGreater(before, 4 * MiB)
        port = origin.port
        origin.stop()
        origin2 = self.start_origin(data_dir=origin.data_dir, port=port)
        self.assertEqual(origin2.url, origin.url)
        r = run_cli(args, home=self.home, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), digest)
        after = origin2.metrics().sum("shoal_http_received_bytes_total")
        self.assertLess(after, size - before / 2,
                        f"after the restart the origin received {after} bytes of {size}; "
                        f"{before} had arrived before: the push did not resume")
        with open(src, "rb") as f:
            f.seek(-1, os.SEEK_END)
            last = f.read()
        self.assertEqual(origin2.request("GET", f"/blobs/{digest}", headers={"Range": "bytes=-1"}).body,
                         last)
        self.assertEqual(file_digest(blob_path(origin2.data_dir, digest)), digest)

    def test_stale_state_restarts_cleanly(self):
        """The remembered session no longer exists (new, empty origin at the same URL):
        the push must start over and succeed, not fail forever."""
        origin = self.start_origin()
        src = os.path.join(self.tmp, "big.bin")
        digest = make_file(src, 64 * MiB, seed=76)
        state = self.mkdir("state")
        args = self.start_and_kill_push(origin, src, state, after=1.0)
        port = origin.port
        origin.stop()
        origin2 = self.start_origin(data_dir=self.mkdir("fresh-data"), port=port)
        r = run_cli(args, home=self.home, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), digest)
        self.assertEqual(file_digest(blob_path(origin2.data_dir, digest)), digest)

    def test_limit_rate_is_roughly_honoured(self):
        origin = self.start_origin()
        src = os.path.join(self.tmp, "f.bin")
        digest = make_file(src, 4 * MiB, seed=72)
        t0 = time.monotonic()
        r = run_cli(["push", src, "--origin", origin.url, "--limit-rate", "2000000", "--chunk-size",
                     "1MiB"], home=self.home, timeout=60)
        elapsed = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), digest)
        self.assertGreater(elapsed, 1.2, f"4 MiB at 2 MB/s took only {elapsed:.2f}s")


def wait_until_stable(fn, interval=0.3, timeout=5.0):
    last = fn()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(interval)
        v = fn()
        if v == last:
            return v
        last = v
    return last


class Tokens(CliTestCase):
    def setUp(self):
        super().setUp()
        self.token_file = os.path.join(self.tmp, "token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")
        self.src = os.path.join(self.tmp, "a.bin")
        self.digest = make_file(self.src, 2 * MiB + 3, seed=73)

    def test_push_needs_token(self):
        origin = self.start_origin("--token-file", self.token_file)
        r = self.push(self.src, origin=origin)
        self.assertCleanFailure(r)
        r = self.push(self.src, origin=origin, env={"SHOAL_TOKEN": "wrong"})
        self.assertCleanFailure(r)
        self.assertNoBlobs(origin)
        r = self.push(self.src, "--tag", "tok/v1", origin=origin, env={"SHOAL_TOKEN": TOKEN})
        self.assertSuccess(r)
        self.assertEqual(r.stdout.strip(), self.digest)
        r = self.push(self.src, "--token-file", self.token_file, origin=origin)
        self.assertSuccess(r)
        # Reads are open.
        dst = os.path.join(self.tmp, "b.bin")
        self.assertSuccess(self.pull("tok/v1", dst, origin=origin))
        self.assertEqual(file_digest(dst), self.digest)

    def test_pull_with_auth_reads(self):
        origin = self.start_origin("--token-file", self.token_file, "--auth-reads")
        self.assertSuccess(self.push(self.src, "--tag", "t", origin=origin, env={"SHOAL_TOKEN": TOKEN}))
        outdir = self.mkdir("o")
        dst = os.path.join(outdir, "b.bin")
        r = self.pull(self.digest, dst, origin=origin)
        self.assertCleanFailure(r, out=dst, outdir=outdir)
        for ref in (self.digest, "t"):
            with self.subTest(ref=ref):
                r = self.pull(ref, dst, origin=origin, env={"SHOAL_TOKEN": TOKEN})
                self.assertSuccess(r)
                self.assertEqual(file_digest(dst), self.digest)
                os.unlink(dst)


class LyingServer:
    """A tiny HTTP server on 127.0.0.1:0 that serves wrong bytes for every blob."""

    def __init__(self, mode, claimed_digest, size=100_000):
        self.mode = mode
        self.claimed = claimed_digest
        self.size = size
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _blob(self, send_body):
                body = os.urandom(outer.size)
                length = outer.size
                if outer.mode == "truncated":
                    body = body[: outer.size // 2]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(length))
                self.send_header("Docker-Content-Digest", outer.claimed)
                self.send_header("ETag", f'"{outer.claimed}"')
                if outer.mode == "truncated":
                    self.send_header("Connection", "close")
                self.end_headers()
                if send_body:
                    self.wfile.write(body)
                    self.wfile.flush()
                if outer.mode == "truncated":
                    self.close_connection = True

            def do_HEAD(self):
                if self.path.startswith("/blobs/"):
                    self._blob(False)
                else:
                    self._other()

            def do_GET(self):
                if self.path.startswith("/blobs/"):
                    self._blob(True)
                else:
                    self._other()

            def _other(self):
                if self.path.startswith("/tags/"):
                    body = outer.claimed.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                else:
                    body = b'{"error":"NOT_FOUND","message":"no"}'
                    self.send_response(404)
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class LyingOrigin(CliTestCase):
    def test_pull_from_lying_server_leaves_no_file(self):
        claimed = sha256_digest(b"what the client asked for")
        for mode in ("wrong", "truncated"):
            server = LyingServer(mode, claimed)
            self.addCleanup(server.close)
            for ref in (claimed, "some/tag:v1"):
                with self.subTest(mode=mode, ref=ref):
                    outdir = self.mkdir(f"out-{mode}-{ref.replace('/', '_').replace(':', '_')}")
                    dst = os.path.join(outdir, "x.bin")
                    r = self.pull(ref, dst, url=server.url, timeout=60)
                    self.assertCleanFailure(r, out=dst, outdir=outdir)
            with self.subTest(mode=mode, case="existing file is left untouched"):
                outdir = self.mkdir(f"keep-{mode}")
                dst = os.path.join(outdir, "x.bin")
                with open(dst, "wb") as f:
                    f.write(b"previous content")
                r = self.pull(claimed, dst, url=server.url, timeout=60)
                self.assertCleanFailure(r, outdir=outdir, before=["x.bin"])
                with open(dst, "rb") as f:
                    self.assertEqual(f.read(), b"previous content")


if __name__ == "__main__":
    unittest.main()
