"""Redis for the tracker's Redis-store tests: redis-server (master or replica) and
redis-sentinel processes on unused loopback ports, each in its own directory under the
test's temporary directory, with persistence off (--save '' --appendonly no), killed in
cleanup; plus a minimal RESP client (standard library only) to set up and inspect them."""

import os
import socket
import subprocess
import time

from shoal_harness import HOST, require_tool, unused_port, wait_until


class RedisError(Exception):
    """An error reply (-ERR ...)."""


def _encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class _Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError(f"bad RESP line {line!r}")


def redis_command(port, *args, timeout=5.0):
    """One command on a fresh connection; returns the reply (bytes for bulk strings,
    str for status), raises RedisError for an error reply and OSError when nothing
    answers."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(_encode(args))
        r = _Reader(s).reply()
    if isinstance(r, RedisError):
        raise r
    return r


def redis_answers(port):
    try:
        return redis_command(port, "PING", timeout=1.0) == "PONG"
    except (OSError, RedisError, ValueError):
        return False


class RedisProcess:
    """redis-server (or, with sentinel_of, redis-sentinel) on 127.0.0.1:port."""

    def __init__(self, workdir, port=None, replica_of=None, sentinel_of=None, sentinel_opts=None):
        self.port = port or unused_port()
        self.workdir = workdir
        self.replica_of = replica_of
        self.sentinel_of = sentinel_of      # (master name, master port, quorum)
        self.sentinel_opts = sentinel_opts or {}
        self.proc = None
        os.makedirs(workdir, exist_ok=True)

    @property
    def addr(self):
        return f"{HOST}:{self.port}"

    def command(self, *args, timeout=5.0):
        return redis_command(self.port, *args, timeout=timeout)

    def start(self, timeout=10.0):
        log = os.path.join(self.workdir, "log.txt")
        if self.sentinel_of:
            name, master_port, quorum = self.sentinel_of
            conf = os.path.join(self.workdir, "sentinel.conf")
            lines = [f"port {self.port}", f"bind {HOST}", "daemonize no", f"dir {self.workdir}",
                     f"logfile {log}", f"sentinel monitor {name} {HOST} {master_port} {quorum}"]
            for key, value in self.sentinel_opts.items():
                lines.append(f"sentinel {key} {name} {value}")
            with open(conf, "w") as f:
                f.write("\n".join(lines) + "\n")
            cmd = [require_tool("redis-sentinel", "redis-sentinel"), conf]
        else:
            cmd = [require_tool("redis-server", "redis-server"), "--port", str(self.port),
                   "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", self.workdir,
                   "--daemonize", "no", "--logfile", log, "--protected-mode", "no"]
            if self.replica_of is not None:
                cmd += ["--replicaof", HOST, str(self.replica_of)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.workdir)
        if not wait_until(lambda: self.proc.poll() is not None or redis_answers(self.port),
                          timeout=timeout) or self.proc.poll() is not None:
            self.kill()
            raise AssertionError(f"{cmd[0]} did not answer on port {self.port}:\n{self.log_tail()}")
        return self

    def kill(self):
        """SIGKILL: a crash, not a shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=4000):
        try:
            with open(os.path.join(self.workdir, "log.txt"), errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return "(no log)"


class RedisMixin:
    """For a ShoalTestCase: start_redis() and start_sentinel_group(), killed in cleanup."""

    def start_redis(self, name="redis", port=None, replica_of=None):
        r = RedisProcess(self.mkdir(name), port=port, replica_of=replica_of)
        self.addCleanup(r.kill)
        return r.start()

    def start_sentinel_group(self, master_name="shoal", replicas=1, sentinels=3, quorum=2,
                             down_after_ms=500, failover_timeout_ms=3000):
        """A master, its replicas and the Sentinels watching it, all up and aware of one
        another (so that a failover can start at once). Returns (master, [replicas],
        [sentinels])."""
        master = self.start_redis("master")
        reps = [self.start_redis(f"replica{i}", replica_of=master.port) for i in range(replicas)]
        for r in reps:
            self.assertTrue(wait_until(lambda r=r: b"master_link_status:up" in
                                       r.command("INFO", "replication"), timeout=15),
                            f"replica never synced:\n{r.log_tail()}")
        opts = {"down-after-milliseconds": down_after_ms, "failover-timeout": failover_timeout_ms,
                "parallel-syncs": 1}
        sents = []
        for i in range(sentinels):
            s = RedisProcess(self.mkdir(f"sentinel{i}"),
                             sentinel_of=(master_name, master.port, quorum), sentinel_opts=opts)
            self.addCleanup(s.kill)
            sents.append(s.start())

        def aware():
            for s in sents:
                if len(s.command("SENTINEL", "sentinels", master_name)) != sentinels - 1:
                    return False
                if len(s.command("SENTINEL", "replicas", master_name)) != replicas:
                    return False
            return True
        self.assertTrue(wait_until(aware, timeout=20, interval=0.2),
                        "the Sentinels never found one another and the replicas:\n" +
                        "\n".join(s.log_tail(1500) for s in sents))
        return master, reps, sents

    @staticmethod
    def master_port_by(sentinel, master_name="shoal"):
        try:
            addr = sentinel.command("SENTINEL", "get-master-addr-by-name", master_name, timeout=1)
        except (OSError, RedisError):
            return None
        return int(addr[1]) if addr else None


def silent_server():
    """A listening socket that accepts connections (the kernel does) but never answers:
    a Redis that hangs. Returns (socket, port); close the socket when done."""
    s = socket.socket()
    s.bind((HOST, 0))
    s.listen(64)
    return s, s.getsockname()[1]


def elapsed(fn):
    """(fn(), seconds it took)."""
    t = time.monotonic()
    v = fn()
    return v, time.monotonic() - t
