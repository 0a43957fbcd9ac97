"""Shared helpers for Shoal's integration tests (Python 3 standard library only).

The tests start the real `shoal` binary (env SHOAL_BIN, default build/shoal) on
ephemeral loopback ports in fresh temporary directories and talk to it with
http.client, raw sockets and the real CLI. Every process a test starts is killed
and every temporary directory removed by cleanups registered with addCleanup, so
they run even when the test (or setUp) fails.
"""

import hashlib
import http.client
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import weakref

HERE = os.path.dirname(os.path.abspath(__file__))
SHOAL_BIN = os.environ.get(
    "SHOAL_BIN", os.path.normpath(os.path.join(HERE, "..", "..", "build", "shoal")))

HOST = "127.0.0.1"
MiB = 1 << 20
GiB = 1 << 30

# Markers of a sanitizer report in a process's stderr: a server that prints one
# has a memory or undefined-behaviour bug even if it kept answering.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ThreadSanitizer", "AddressSanitizer:DEADLYSIGNAL")

# Environment variables of the CLI that a test must set explicitly or not at all.
_SHOAL_ENV = ("SHOAL_ORIGIN", "SHOAL_TOKEN", "SHOAL_PEER", "SHOAL_EDGE", "SHOAL_TRACKER")


def require_binary(testcase=None):
    if not os.path.isfile(SHOAL_BIN) or not os.access(SHOAL_BIN, os.X_OK):
        raise unittest.SkipTest(f"shoal binary not found at {SHOAL_BIN} (set SHOAL_BIN)")


# --------------------------------------------------------------------------------------
# Tests that need a third-party tool
#
# scripts/install-deps.sh installs every tool the tests use, so in CI (the CI runner sets
# CI=true) a missing tool means a broken install: the test fails there instead of
# skipping. Everywhere else it skips and says what to install. Skips for other reasons
# (not root, no tmpfs, not enough disk) are not about tools and stay plain skips.

IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing_tool(what):
    """Skips the running test because `what` is not installed; fails it under CI=true."""
    hint = f"{what} is not installed (scripts/install-deps.sh installs it)"
    if IN_CI:
        raise AssertionError(f"CI=true and {hint}: the CI image is broken")
    raise unittest.SkipTest(hint)


def require_tool(name, package=None):
    """The path of the command `name`; skips the test (fails it under CI=true) when it is
    not on PATH. `package` is the Debian package that provides it, when named otherwise."""
    path = shutil.which(name)
    if path is None:
        missing_tool(f"{name} (Debian package {package})" if package else name)
    return path


def requires_tool(available, what):
    """Decorator for a test class or method: unittest.skipUnless(available, ...) for a
    missing tool, except that the test fails under CI=true (see missing_tool)."""
    def decorate(obj):
        if available:
            return obj
        if isinstance(obj, type):
            def setUp(self):
                missing_tool(what)
            obj.setUp = setUp
            return obj

        def test(*args, **kwargs):
            missing_tool(what)
        test.__name__, test.__qualname__, test.__doc__ = obj.__name__, obj.__qualname__, obj.__doc__
        return test
    return decorate


# --------------------------------------------------------------------------------------
# Digests and test content


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                break
            h.update(b)
    return "sha256:" + h.hexdigest()


def make_bytes(size, seed=0):
    """Deterministic pseudo-random bytes (in memory; for bodies up to a few MiB)."""
    return random.Random(seed).randbytes(size)


def make_file(path, size, seed=0):
    """Writes `size` deterministic pseudo-random bytes to `path` quickly and returns
    their digest ("sha256:<hex>"). One random 1 MiB block is repeated with a block
    counter stamped into it, so no two blocks are equal and nothing is all zeros;
    memory use stays at one block whatever the size."""
    block = bytearray(random.Random(seed).randbytes(MiB))
    h = hashlib.sha256()
    with open(path, "wb") as f:
        i = 0
        remaining = size
        while remaining > 0:
            block[0:8] = i.to_bytes(8, "little")
            block[MiB // 2:MiB // 2 + 8] = (i ^ 0x5A5A5A5A).to_bytes(8, "little")
            n = min(remaining, MiB)
            view = memoryview(block)[:n]
            f.write(view)
            h.update(view)
            remaining -= n
            i += 1
    return "sha256:" + h.hexdigest()


def blob_path(data_dir, digest):
    hexpart = digest.split(":", 1)[1]
    return os.path.join(data_dir, "blobs", "sha256", hexpart[:2], hexpart)


def list_files(root):
    """All regular files and symlinks under root, as paths relative to root."""
    out = []
    if not os.path.isdir(root):
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            out.append(os.path.relpath(os.path.join(dirpath, name), root))
        for name in dirnames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                out.append(os.path.relpath(p, root))
    return sorted(out)


def artifacts_dir(*parts):
    """Where a test keeps what a person may want to see after the run (screenshots):
    $SHOAL_ARTIFACTS, else test-artifacts/ beside the shoal binary (in the build tree).
    Created if missing; kept after the test."""
    root = os.environ.get("SHOAL_ARTIFACTS") or os.path.join(
        os.path.dirname(os.path.abspath(SHOAL_BIN)), "test-artifacts")
    path = os.path.join(root, *parts)
    os.makedirs(path, exist_ok=True)
    return path


def wait_until(predicate, timeout=5.0, interval=0.05):
    """Polls predicate() until it is truthy; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def unused_port():
    """A loopback port that was free a moment ago, for 'nothing listens here' or for a
    server whose port must be known before it starts. Drawn below the kernel's ephemeral
    range: a port the kernel hands out for port 0 (any other test's server or client) can
    be taken between this call and the server's bind, and CI saw exactly that."""
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(min(10000, low // 2), low)
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def reserve_ports(n):
    """n distinct loopback ports, each held by a bound (not listening) socket: close a
    socket just before its server starts, and until then nothing else on the host (another
    server's port 0 included) takes the port. Returns the sockets; their ports are
    s.getsockname()[1]."""
    held = []
    try:
        for _ in range(n):
            s = socket.socket()
            held.append(s)
            s.bind((HOST, 0))
    except OSError:
        for s in held:
            s.close()
        raise
    return held


# --------------------------------------------------------------------------------------
# HTTP


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers      # list of (name, value) as received
        self.body = body

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        body = self.body[:300]
        return f"<Response {self.status} {self.reason} headers={self.headers} body={body!r}>"


class ConnectionClosed(AssertionError):
    pass


def http_request(port, method, path, body=None, headers=None, timeout=30.0, host=HOST,
                 chunked=False):
    """One request on a fresh connection. `body` may be bytes, or an iterable of bytes
    sent with chunked encoding when chunked=True. Stops sending the body as soon as the
    server answers (a server may reject a body early), so early answers are seen rather
    than a broken pipe. Raises ConnectionClosed when no response arrives."""
    user = dict(headers or {})
    lower = {k.lower() for k in user}
    hdrs = []
    if "host" not in lower:
        hdrs.append(("Host", f"{host}:{port}"))
    if chunked:
        hdrs.append(("Transfer-Encoding", "chunked"))

        def framed():
            for c in body or ():
                if c:
                    yield b"%x\r\n" % len(c) + bytes(c) + b"\r\n"
            yield b"0\r\n\r\n"
        chunks = framed()
    elif body is not None:
        body = bytes(body)
        if "content-length" not in lower:
            hdrs.append(("Content-Length", str(len(body))))
        chunks = chunks_of(body) if body else []
    else:
        if method in ("PUT", "POST", "PATCH") and "content-length" not in lower:
            hdrs.append(("Content-Length", "0"))
        chunks = []
    hdrs += list(user.items())
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs) + "\r\n"
    resp, sent = stream_request(port, head.encode("latin-1"), chunks, timeout=timeout, method=method)
    if resp is None:
        raise ConnectionClosed(f"{method} {path}: connection closed without a response "
                               f"(after {sent} body bytes)")
    resp.body_sent = sent
    return resp


class RawResponseError(AssertionError):
    pass


def _recv_until(sock, buf, marker, limit=1 << 20):
    while marker not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return buf, False
        buf += chunk
        if len(buf) > limit:
            raise RawResponseError("response head too large")
    return buf, True


# Bytes read past the end of one response (pipelining), kept per socket for the next call.
_LEFTOVER = weakref.WeakKeyDictionary()


def read_response(sock, method="GET", timeout=10.0):
    """Reads one HTTP/1.1 response from a socket. Returns a Response, or None when
    the peer closed (or reset) the connection without sending a status line."""
    sock.settimeout(timeout)
    buf = _LEFTOVER.pop(sock, b"")
    try:
        buf, ok = _recv_until(sock, buf, b"\r\n\r\n")
    except (ConnectionResetError, BrokenPipeError):
        ok = False
    if not ok:
        if not buf:
            return None
        raise RawResponseError(f"truncated response head: {buf[:200]!r}")
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("iso-8859-1").split("\r\n")
    m = re.match(r"HTTP/(\d\.\d) (\d{3})(?: (.*))?$", lines[0])
    if not m:
        raise RawResponseError(f"bad status line: {lines[0]!r}")
    status = int(m.group(2))
    reason = m.group(3) or ""
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    resp = Response(status, reason, headers, b"")
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        if rest:
            _LEFTOVER[sock] = rest
        return resp
    te = (resp.header("Transfer-Encoding") or "").lower()
    cl = resp.header("Content-Length")
    try:
        if "chunked" in te:
            body = b""
            data = rest
            while True:
                while b"\r\n" not in data:
                    c = sock.recv(65536)
                    if not c:
                        raise RawResponseError("truncated chunked body")
                    data += c
                size_line, data = data.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(data) < size + 2:
                    c = sock.recv(65536)
                    if not c:
                        raise RawResponseError("truncated chunk")
                    data += c
                body += data[:size]
                data = data[size + 2:]
                if size == 0:
                    break
            resp.body = body
            if data:
                _LEFTOVER[sock] = data
        elif cl is not None:
            n = int(cl)
            data = rest
            while len(data) < n:
                c = sock.recv(min(1 << 20, n - len(data)))
                if not c:
                    raise RawResponseError(f"truncated body: {len(data)} of {n}")
                data += c
            resp.body = data[:n]
            if len(data) > n:
                _LEFTOVER[sock] = data[n:]
        else:
            data = rest
            while True:
                c = sock.recv(65536)
                if not c:
                    break
                data += c
            resp.body = data
    except (ConnectionResetError, socket.timeout) as e:
        raise RawResponseError(f"error reading body: {e!r}")
    return resp


def raw_request(port, data, method="GET", timeout=10.0):
    """Sends raw bytes on a fresh connection and reads one response (None when the
    server closed without answering)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            return read_response(s, method=method, timeout=timeout)
        except (ConnectionResetError, socket.timeout):
            return None


def stream_request(port, head, body_chunks, timeout=30.0, method="PUT"):
    """Sends a request head, then body chunks, stopping as soon as the server starts
    answering (a server may reject a body early: 413, 507) or resets the connection.
    Returns (Response or None, body bytes sent)."""
    sent = 0
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(head)
        answered = False
        try:
            for chunk in body_chunks:
                view = memoryview(chunk)
                while len(view):
                    r, w, _ = select.select([s], [s], [], timeout)
                    if r:
                        answered = True
                        break
                    if not w:
                        raise RawResponseError("timed out sending body")
                    n = s.send(view[:256 * 1024])
                    sent += n
                    view = view[n:]
                if answered:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            return read_response(s, method=method, timeout=timeout), sent
        except (ConnectionResetError, socket.timeout):
            return None, sent


def chunks_of(data, size=256 * 1024):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def file_chunks(path, size=MiB):
    with open(path, "rb") as f:
        while True:
            b = f.read(size)
            if not b:
                return
            yield b


# --------------------------------------------------------------------------------------
# Prometheus text format


_METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


class Metrics:
    """Parsed Prometheus text exposition: a list of (name, labels dict, value)."""

    def __init__(self, text):
        self.text = text
        self.samples = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = _METRIC_LINE.match(line)
            if not m:
                continue
            name, labeltext, value = m.group(1), m.group(3) or "", m.group(4)
            labels = {}
            pos = 0
            while pos < len(labeltext):
                lm = _LABEL.match(labeltext, pos)
                if not lm:
                    break
                labels[lm.group(1)] = (lm.group(2).replace('\\"', '"').replace("\\n", "\n")
                                       .replace("\\\\", "\\"))
                pos = lm.end()
            try:
                v = float(value)
            except ValueError:
                continue
            self.samples.append((name, labels, v))

    def has(self, name):
        return any(n == name for n, _, _ in self.samples)

    def select(self, name, **labels):
        return [(l, v) for n, l, v in self.samples
                if n == name and all(l.get(k) == str(want) for k, want in labels.items())]

    def sum(self, name, **labels):
        return sum(v for _, v in self.select(name, **labels))

    def value(self, name, default=None, **labels):
        s = self.select(name, **labels)
        return s[0][1] if s else default


# --------------------------------------------------------------------------------------
# The origin process


class OriginError(AssertionError):
    pass


class Origin:
    """A `shoal origin` process on 127.0.0.1:0 with a given data directory."""

    def __init__(self, data_dir, args=(), cwd=None, start_timeout=30.0, env=None, port=0):
        self.listen_port = port
        self.data_dir = data_dir
        self.args = list(args)
        self.cwd = cwd
        self.start_timeout = start_timeout
        self.env = env
        self.proc = None
        self.port = None
        self.addr = None
        self.url = None
        self.log_lines = []      # parsed JSON objects
        self.raw_stdout = []     # every stdout line as text
        self.stderr_chunks = []
        self._listening = threading.Event()
        self._threads = []
        self.stopped = False

    # -- lifecycle --

    def command(self):
        """The server's command line; other components override it."""
        return [SHOAL_BIN, "origin", "--listen", f"{HOST}:{self.listen_port}", "--data",
                self.data_dir] + self.args

    def start(self):
        cmd = self.command()
        env = dict(os.environ)
        for k in _SHOAL_ENV:
            env.pop(k, None)
        if self.env:
            env.update(self.env)
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, cwd=self.cwd, env=env)
        t1 = threading.Thread(target=self._read_stdout, daemon=True)
        t2 = threading.Thread(target=self._read_stderr, daemon=True)
        t1.start()
        t2.start()
        self._threads = [t1, t2]
        if not self._listening.wait(self.start_timeout) or self.port is None:
            rc = self.proc.poll()
            self.kill()
            raise OriginError(
                f"{cmd[1]} did not log a 'listening' line within {self.start_timeout}s "
                f"(exit status {rc}); command: {' '.join(cmd)}\n"
                f"stdout:\n{self.stdout_text()[-4000:]}\nstderr:\n{self.stderr_text()[-4000:]}")
        return self

    def _read_stdout(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.raw_stdout.append(line)
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if not isinstance(obj, dict):
                continue
            self.log_lines.append(obj)
            if obj.get("msg") == "listening" and self.port is None:
                addr = str(obj.get("addr", ""))
                host, _, port = addr.rpartition(":")
                try:
                    self.port = int(port)
                except ValueError:
                    continue
                self.addr = addr
                self.url = obj.get("url") or f"http://{HOST}:{self.port}"
                if not str(self.url).startswith("http"):
                    self.url = f"http://{HOST}:{self.port}"
                self._listening.set()
        self._listening.set()  # EOF: the process exited

    def _read_stderr(self):
        while True:
            b = self.proc.stderr.read1(65536) if hasattr(self.proc.stderr, "read1") else \
                self.proc.stderr.read(4096)
            if not b:
                break
            self.stderr_chunks.append(b)

    def stdout_text(self):
        return "\n".join(self.raw_stdout)

    def stderr_text(self):
        return b"".join(self.stderr_chunks).decode("utf-8", "replace")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def check_alive(self):
        if not self.alive():
            raise OriginError(f"origin exited unexpectedly with status {self.proc.returncode}\n"
                              f"stderr:\n{self.stderr_text()[-6000:]}")

    def sanitizer_report(self):
        text = self.stderr_text()
        for m in SANITIZER_MARKERS:
            if m in text:
                return text
        return None

    def kill(self):
        """SIGKILL, wait, join readers."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self._join()
        self.stopped = True

    def stop(self, timeout=15.0):
        """SIGTERM (graceful), SIGKILL after `timeout`. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._join()
        self.stopped = True
        return self.proc.returncode

    def _join(self):
        for t in self._threads:
            t.join(5)
        for f in (self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except Exception:
                pass

    # -- HTTP --

    def request(self, method, path, body=None, headers=None, timeout=30.0, chunked=False):
        return http_request(self.port, method, path, body=body, headers=headers,
                            timeout=timeout, chunked=chunked)

    def raw(self, data, method="GET", timeout=10.0):
        return raw_request(self.port, data, method=method, timeout=timeout)

    def metrics(self, headers=None):
        r = self.request("GET", "/metrics", headers=headers)
        if r.status != 200:
            raise OriginError(f"GET /metrics answered {r.status}: {r.body[:300]!r}")
        return Metrics(r.text())

    def healthy(self, headers=None):
        try:
            r = self.request("GET", "/health", headers=headers, timeout=10)
        except (OSError, http.client.HTTPException, AssertionError):
            return False
        return r.status == 200

    def vm_rss(self):
        """Resident set size of the origin process in bytes (Linux)."""
        return read_vm_rss(self.pid)


def read_vm_rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


# --------------------------------------------------------------------------------------
# A ring of origins


class Ring:
    """The origins of one ring on loopback, made by ShoalTestCase.start_ring. Every member
    is told every member's URL, so all ports are chosen before the first one starts. A
    member keeps its port and data directory (<tmp>/origin-1, ...) across stop() and
    start(), as a real node keeps its address and its disk. ring[i] is member i's Origin
    (the latest one started), ring.urls[i] its URL."""

    def __init__(self, testcase, n, args):
        self._test = testcase
        self._held = reserve_ports(n)
        self.ports = [s.getsockname()[1] for s in self._held]
        self.urls = [f"http://{HOST}:{p}" for p in self.ports]
        self.data_dirs = [os.path.join(testcase.tmp, f"origin-{i + 1}") for i in range(n)]
        self.args = ["--origins", self.origins_flag()] + list(args)
        self.members = [None] * n

    def origins_flag(self):
        """Every member's URL, comma-separated: the value of --origin for clients."""
        return ",".join(self.urls)

    def __len__(self):
        return len(self.members)

    def __getitem__(self, i):
        return self.members[i]

    def __iter__(self):
        return iter(self.members)

    def start(self, i, extra_args=()):
        """Starts member i (again) on its port and data directory; returns its Origin."""
        self._release(i)
        o = self._test.start_origin("--self", self.urls[i], *self.args, *extra_args,
                                    data_dir=self.data_dirs[i], port=self.ports[i])
        self.members[i] = o
        return o

    def stop(self, i, graceful=True):
        """Stops member i: SIGTERM, or SIGKILL when graceful=False (a crash)."""
        o = self.members[i]
        o.expected_exit = True
        if graceful:
            o.stop()
        else:
            o.kill()

    def restart(self, i, graceful=True, wipe=False, extra_args=()):
        """Stops member i and starts it again; wipe=True empties its data directory in
        between (a replaced disk)."""
        self.stop(i, graceful=graceful)
        if wipe:
            self.wipe(i)
        return self.start(i, extra_args=extra_args)

    def wipe(self, i):
        """Empties member i's data directory; the member must be stopped."""
        if self.members[i] is not None and self.members[i].alive():
            raise OriginError(f"wipe of origin {i + 1} while it runs")
        shutil.rmtree(self.data_dirs[i], ignore_errors=True)
        os.makedirs(self.data_dirs[i])

    def live(self):
        return [o for o in self.members if o is not None and o.alive()]

    def all_up(self):
        """Whether every live member sees every member up (GET /cluster). Members that
        started before the others first saw them down, so tests wait for this."""
        for o in self.live():
            r = o.request("GET", "/cluster")
            if r.status != 200 or not all(m["up"] for m in r.json()["members"]):
                return False
        return True

    def index_of(self, url):
        return self.urls.index(url)

    def _release(self, i):
        if self._held[i] is not None:
            self._held[i].close()
            self._held[i] = None

    def close(self):
        for i in range(len(self._held)):
            self._release(i)


# --------------------------------------------------------------------------------------
# CLI


def run_cli(args, env=None, timeout=120.0, cwd=None, home=None, wrap=()):
    """Runs `shoal ARGS...` (under the command `wrap`, e.g. strace, when given); returns
    CompletedProcess with text stdout/stderr.
    SHOAL_* variables from the caller's environment are dropped unless given in env;
    HOME and XDG dirs point at `home` when given, so the CLI's state stays in the test's
    temporary directory."""
    full_env = dict(os.environ)
    for k in _SHOAL_ENV:
        full_env.pop(k, None)
    if home:
        full_env["HOME"] = home
        full_env["XDG_STATE_HOME"] = os.path.join(home, ".local", "state")
        full_env["XDG_CACHE_HOME"] = os.path.join(home, ".cache")
        full_env["XDG_CONFIG_HOME"] = os.path.join(home, ".config")
    if env:
        full_env.update(env)
    return subprocess.run(list(wrap) + [SHOAL_BIN] + [str(a) for a in args], env=full_env, cwd=cwd,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="replace", timeout=timeout)


def run_origin_expect_exit(args, timeout=10.0, cwd=None):
    """Runs `shoal origin ARGS...` expecting it to refuse to start. Returns the
    CompletedProcess, or raises AssertionError if it is still running after `timeout`
    (it is killed then)."""
    try:
        return subprocess.run([SHOAL_BIN, "origin"] + [str(a) for a in args], capture_output=True,
                              text=True, errors="replace", timeout=timeout,
                              stdin=subprocess.DEVNULL, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"`shoal origin {' '.join(map(str, args))}` did not exit within "
                             f"{timeout}s; stdout: {e.stdout!r} stderr: {e.stderr!r}")


def start_cli(args, env=None, cwd=None, home=None):
    """Starts `shoal ARGS...` in the background (stdout/stderr to pipes)."""
    full_env = dict(os.environ)
    for k in _SHOAL_ENV:
        full_env.pop(k, None)
    if home:
        full_env["HOME"] = home
        full_env["XDG_STATE_HOME"] = os.path.join(home, ".local", "state")
        full_env["XDG_CACHE_HOME"] = os.path.join(home, ".cache")
        full_env["XDG_CONFIG_HOME"] = os.path.join(home, ".config")
    if env:
        full_env.update(env)
    return subprocess.Popen([SHOAL_BIN] + [str(a) for a in args], env=full_env, cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


# --------------------------------------------------------------------------------------
# Base test case


class ShoalTestCase(unittest.TestCase):
    """Gives each test a fresh temporary directory (self.tmp) and helpers to start
    origins in it. Cleanups always kill processes and remove the directory."""

    maxDiff = 4000

    def setUp(self):
        require_binary()
        self.tmp = tempfile.mkdtemp(prefix=f"shoal-it-{self._testMethodName[:40]}-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.home = self.mkdir("home")
        self._origins = []

    def mkdir(self, *parts):
        p = os.path.join(self.tmp, *parts)
        os.makedirs(p, exist_ok=True)
        return p

    def start_origin(self, *args, data_dir=None, cwd=None, env=None, port=0):
        """Starts an origin with --data data_dir (default: <tmp>/data) on 127.0.0.1:port
        (0: ephemeral). Registers a cleanup that stops it and fails the test if it
        crashed or a sanitizer spoke."""
        if data_dir is None:
            data_dir = os.path.join(self.tmp, "data")
        os.makedirs(data_dir, exist_ok=True)
        if cwd is None:
            cwd = self.mkdir("cwd")
        o = Origin(data_dir, args=args, cwd=cwd, env=env, port=port)
        self._origins.append(o)
        self.addCleanup(self._finish_origin, o)
        o.start()
        return o

    def restart_origin(self, origin, graceful=True, extra_args=None):
        """Stops (SIGTERM, or SIGKILL when graceful=False) and starts a new origin on
        the same data directory and flags."""
        if graceful:
            origin.stop()
        else:
            origin.kill()
        origin.expected_exit = True
        args = origin.args if extra_args is None else extra_args
        return self.start_origin(*args, data_dir=origin.data_dir, cwd=origin.cwd,
                                 env=origin.env)

    def start_ring(self, n, *args, start=True, replicas=None, write_quorum=None,
                   health_interval="200ms", health_fails=None, health_passes=None,
                   repair_after=None, repair_rate=None, tracker=None):
        """A Ring of n origins on 127.0.0.1, started one after another (start=False: none
        yet; call ring.start(i)). Keyword options become the origins' flags (None: the
        origin's default); the health checks run every 200ms by default so that a test
        sees a member go down within a second. `args` are passed to every member."""
        options = {"replicas": replicas, "write_quorum": write_quorum,
                   "health_interval": health_interval, "health_fails": health_fails,
                   "health_passes": health_passes, "repair_after": repair_after,
                   "repair_rate": repair_rate, "tracker": tracker}
        flags = []
        for key, value in options.items():
            if value is not None:
                flags += ["--" + key.replace("_", "-"), str(value)]
        ring = Ring(self, n, flags + list(args))
        self.addCleanup(ring.close)
        if start:
            for i in range(n):
                ring.start(i)
        return ring

    def _finish_origin(self, o):
        crashed = None
        if o.proc is not None and not o.stopped and o.proc.poll() is not None:
            crashed = o.proc.returncode
        if not o.stopped:
            o.stop()
        report = o.sanitizer_report()
        if crashed is not None and not getattr(o, "expected_exit", False):
            raise OriginError(f"origin (pid {o.pid}) died during the test with status {crashed}"
                              f"\nstderr:\n{o.stderr_text()[-6000:]}")
        if report:
            # Boost's type names make one frame kilobytes long: keep the head (what went
            # wrong, where) and the tail (where it was freed, which thread).
            if len(report) > 30000:
                report = report[:15000] + "\n[...]\n" + report[-15000:]
            raise OriginError(f"origin (pid {o.pid}) printed a sanitizer report:\n{report}")

    # -- assertions --

    def assertError(self, resp, status, code=None, msg=None):
        """resp has `status` and a JSON error body {"error": code, "message": str}."""
        ctx = f"{msg + ': ' if msg else ''}{resp!r}"
        if isinstance(status, (tuple, list, set)):
            self.assertIn(resp.status, status, ctx)
        else:
            self.assertEqual(resp.status, status, ctx)
        ctype = resp.header("Content-Type") or ""
        self.assertTrue(ctype.startswith("application/json"),
                        f"error Content-Type is {ctype!r}, want application/json; {ctx}")
        try:
            body = resp.json()
        except ValueError:
            self.fail(f"error body is not JSON; {ctx}")
        self.assertIsInstance(body, dict, ctx)
        self.assertIn("error", body, ctx)
        self.assertIsInstance(body.get("message"), str, ctx)
        self.assertTrue(body["message"], f"empty error message; {ctx}")
        if code is not None:
            if isinstance(code, (tuple, list, set)):
                self.assertIn(body["error"], code, ctx)
            else:
                self.assertEqual(body["error"], code, ctx)
        return body

    def assertHealthy(self, origin, msg=None):
        origin.check_alive()
        self.assertTrue(origin.healthy(), f"origin no longer answers /health {msg or ''}")

    def assertNoBlobs(self, origin, msg=None):
        files = list_files(os.path.join(origin.data_dir, "blobs"))
        self.assertEqual(files, [], f"files under blobs/ {msg or ''}")

    def assertTmpEmpty(self, origin, timeout=5.0, msg=None):
        tmpdir = os.path.join(origin.data_dir, "tmp")
        left = wait_until(lambda: list_files(tmpdir) == [], timeout=timeout)
        self.assertTrue(left, f"tmp/ not cleaned {msg or ''}: {list_files(tmpdir)}")

    def assertReadsBackWhole(self, origins, acked):
        """Every acknowledged blob (acked: digest -> bytes) reads back whole through each
        of the origins, whichever of them holds it."""
        for o in origins:
            for d, data in acked.items():
                r = o.request("GET", f"/blobs/{d}")
                self.assertEqual(r.status, 200, f"{d} through {o.url}: {r.body[:200]}")
                self.assertEqual(len(r.body), len(data), f"{d} through {o.url}")
                self.assertEqual(sha256_digest(r.body), d, f"{d} through {o.url}")

    def assertOneLine(self, text, msg=None):
        lines = [l for l in text.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, f"want exactly one line, got {text!r} {msg or ''}")
        return lines[0]


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def url_path(location):
    """Path of a Location header, absolute URL or not."""
    return urllib.parse.urlsplit(location).path if "://" in location else location.split("?")[0]
