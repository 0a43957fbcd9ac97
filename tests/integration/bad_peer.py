"""A misbehaving BitTorrent peer, for integration tests only (standard library only).

BadPeer pretends to be a complete seeder of one BitTorrent v2 (BEP 52) torrent: it
announces itself to a tracker with left=0, accepts incoming peer connections,
advertises every piece and unchokes whoever is interested, but answers each block
request with wrong bytes (mode="corrupt") or not at all (mode="silent"). Tests use it
to prove that a downloader detects corrupt pieces by hashing, bans the peer and still
completes from honest peers. It never connects out and must never ship in Shoal.

    with BadPeer(announce_url, metainfo_bytes) as bad:
        ...  # a leecher downloads through the tracker
        assert bad.wait_served(1, timeout=10)
"""

import hashlib
import http.client
import os
import socket
import struct
import threading
import urllib.parse
import urllib.request

from tracker_harness import bdecode

PSTR = b"BitTorrent protocol"
CHOKE, UNCHOKE, INTERESTED, NOT_INTERESTED, HAVE, BITFIELD, REQUEST, PIECE, CANCEL = range(9)
HASH_REQUEST, HASHES, HASH_REJECT = 21, 22, 23
MAX_BLOCK = 128 * 1024        # larger requests are answered with this many bytes at most
MAX_MESSAGE = 1 << 20         # a peer sending more in one message is dropped
ANNOUNCE_EVERY = 2.0          # seconds


def _value_end(buf, i):
    """Index just past the bencoded value starting at buf[i]."""
    c = buf[i:i + 1]
    if c == b"i":
        return buf.index(b"e", i) + 1
    if c in (b"l", b"d"):
        i += 1
        while buf[i:i + 1] != b"e":
            i = _value_end(buf, i)
        return i + 1
    colon = buf.index(b":", i)
    return colon + 1 + int(buf[i:colon])


def info_span(metainfo):
    """The exact bytes of the top-level "info" value, as they appear in the file."""
    if metainfo[:1] != b"d":
        raise ValueError("metainfo is not a dictionary")
    i = 1
    while metainfo[i:i + 1] != b"e":
        key_end = _value_end(metainfo, i)
        key = metainfo[metainfo.index(b":", i) + 1:key_end]
        end = _value_end(metainfo, key_end)
        if key == b"info":
            return metainfo[key_end:end]
        i = end
    raise ValueError("metainfo has no info dictionary")


def _file_lengths(tree):
    """Lengths of the files in a v2 "file tree", in tree order."""
    for name, node in sorted(tree.items()):
        if name == b"":
            yield node[b"length"]
        else:
            yield from _file_lengths(node)


class BadPeer:
    """A fake seeder of a v2 torrent that serves wrong bytes (see the module docstring).

    Attributes, read at any time: info_hash_v2 (32 bytes), info_hash (its first 20
    bytes, used in announces and handshakes), piece_length, total_length, num_pieces,
    port, peer_id; counters connections (accepted), blocks_served, bytes_served,
    disconnects (handshaken connections that ended before stop()), peer_ids (of every
    handshake, in order), received (message id -> count), announce_errors.

    Only plaintext handshakes are understood. libtorrent's default outgoing encryption
    policy tries an encrypted (MSE) handshake first; BadPeer drops it and libtorrent
    retries in plaintext about a second later."""

    def __init__(self, announce_url, metainfo_bytes, peer_id_prefix=b"-SHP010-", mode="corrupt",
                 host="127.0.0.1"):
        if mode not in ("corrupt", "silent"):
            raise ValueError(f"unknown mode {mode!r}")
        info_bytes = info_span(metainfo_bytes)
        info = bdecode(info_bytes)
        if info.get(b"meta version") != 2:
            raise ValueError("not a BitTorrent v2 torrent")
        self.announce_url = announce_url
        self.mode = mode
        self.info_hash_v2 = hashlib.sha256(info_bytes).digest()
        self.info_hash = self.info_hash_v2[:20]
        # A hybrid (v1+v2) torrent is also known by the SHA-1 of the same info dict;
        # libtorrent may greet a peer with either.
        self.info_hash_v1 = hashlib.sha1(info_bytes).digest() if b"pieces" in info else None
        self.piece_length = info[b"piece length"]
        lengths = list(_file_lengths(info[b"file tree"]))
        self.total_length = sum(lengths)
        # v2 aligns every file to a piece boundary.
        self.num_pieces = sum(-(-n // self.piece_length) for n in lengths)
        self.peer_id = (peer_id_prefix + os.urandom(20).hex().encode())[:20]

        self.connections = 0
        self.blocks_served = 0
        self.bytes_served = 0
        self.disconnects = 0
        self.peer_ids = []
        self.received = {}
        self.announce_errors = []
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._sockets = set()
        self._threads = []

        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.2)                       # so the accept loop sees stop()
        self.host = host
        self.port = self._listener.getsockname()[1]
        self._acceptor = self._start(self._accept_loop)
        self._announce("completed")
        self._start(self._announce_loop)

    # -- lifecycle ----------------------------------------------------------------------

    def _start(self, target, *args):
        t = threading.Thread(target=target, args=args, daemon=True)
        with self._cond:
            self._threads.append(t)
        t.start()
        return t

    def stop(self):
        """Announces event=stopped, closes the listener and every connection, joins threads."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._acceptor.join(5)                               # no new connections from here on
        self._listener.close()
        self._announce("stopped")
        with self._cond:
            socks = list(self._sockets)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self._cond:
            threads = list(self._threads)
        for t in threads:
            if t is not threading.current_thread():
                t.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def wait_served(self, n, timeout):
        """True once at least n blocks were served, False after `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: self.blocks_served >= n, timeout)

    # -- tracker ------------------------------------------------------------------------

    def _announce(self, event=None):
        q = {"info_hash": self.info_hash, "peer_id": self.peer_id, "port": self.port,
             "uploaded": 0, "downloaded": 0, "left": 0, "compact": 1}
        if event:
            q["event"] = event
        sep = "&" if "?" in self.announce_url else "?"
        url = self.announce_url + sep + urllib.parse.urlencode(q)
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = bdecode(r.read())
            if b"failure reason" in body:
                self.announce_errors.append(body[b"failure reason"].decode("utf-8", "replace"))
        except (OSError, ValueError, http.client.HTTPException) as e:
            self.announce_errors.append(repr(e))

    def _announce_loop(self):
        while not self._stopping.wait(ANNOUNCE_EVERY):
            self._announce()

    # -- peer wire ----------------------------------------------------------------------

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._cond:
                self.connections += 1
                self._sockets.add(sock)
            self._start(self._serve, sock)

    def _serve(self, sock):
        handshaken = []
        try:
            self._session(sock, handshaken)
        except (OSError, EOFError, ValueError, struct.error):
            pass
        finally:
            with self._cond:
                self._sockets.discard(sock)
                if handshaken and not self._stopping.is_set():
                    self.disconnects += 1
                self._cond.notify_all()
            sock.close()

    def _session(self, sock, handshaken):
        sock.settimeout(30)
        head = _recv_exact(sock, 68)
        greeted = head[28:48]
        if head[:20] != bytes([len(PSTR)]) + PSTR or greeted not in (self.info_hash, self.info_hash_v1):
            return                                           # encrypted, or another torrent
        handshaken.append(True)
        with self._cond:
            self.peer_ids.append(head[48:68])
        reserved = bytearray(8)
        reserved[7] |= 0x10                                  # BEP 52: supports v2
        sock.sendall(bytes([len(PSTR)]) + PSTR + reserved + greeted + self.peer_id)
        bits = bytearray((self.num_pieces + 7) // 8)
        for i in range(self.num_pieces):
            bits[i // 8] |= 0x80 >> (i % 8)
        _send(sock, BITFIELD, bits)
        sock.settimeout(None)                                # stop() wakes us by shutdown()
        while True:
            (length,) = struct.unpack(">I", _recv_exact(sock, 4))
            if length == 0:
                continue                                     # keep-alive
            if length > MAX_MESSAGE:
                return
            msg = _recv_exact(sock, length)
            mid, payload = msg[0], msg[1:]
            with self._cond:
                self.received[mid] = self.received.get(mid, 0) + 1
            if mid == INTERESTED:
                _send(sock, UNCHOKE)
            elif mid == REQUEST and self.mode == "corrupt":
                index, begin, n = struct.unpack(">III", payload[:12])
                n = min(n, MAX_BLOCK)
                _send(sock, PIECE, struct.pack(">II", index, begin) + b"\xab" * n)
                with self._cond:
                    self.blocks_served += 1
                    self.bytes_served += n
                    self._cond.notify_all()
            elif mid == HASH_REQUEST:
                _send(sock, HASH_REJECT, payload)
            # Anything else (choke, unchoke, not interested, have, cancel, extended,
            # unknown ids; requests in silent mode) needs no answer.


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return bytes(buf)


def _send(sock, mid, payload=b""):
    sock.sendall(struct.pack(">IB", len(payload) + 1, mid) + payload)
