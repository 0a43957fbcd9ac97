"""Helpers for the tracker's integration tests: a `shoal tracker` process, a small
bencode codec, raw announce/scrape requests and v1 .torrent writing (standard library
only). Kept apart from shoal_harness.py so the origin tests are untouched."""

import hashlib
import os
import urllib.parse

from shoal_harness import HOST, SHOAL_BIN, Origin, ShoalTestCase


class Tracker(Origin):
    """A `shoal tracker` on 127.0.0.1:0; same lifecycle and log parsing as Origin."""

    def command(self):
        return [SHOAL_BIN, "tracker", "--listen", f"{HOST}:{self.listen_port}"] + self.args


class TrackerTestCase(ShoalTestCase):
    def start_tracker(self, *args):
        t = Tracker(None, args=args, cwd=self.mkdir("cwd"))
        self._origins.append(t)
        self.addCleanup(self._finish_origin, t)  # stops it, fails on crash or sanitizer report
        t.start()
        return t


# -- bencode --------------------------------------------------------------------------

def bencode(v):
    if isinstance(v, bool):
        raise TypeError("bool")
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, (bytes, bytearray)):
        return b"%d:%s" % (len(v), bytes(v))
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(bencode(k) + bencode(x) for k, x in items) + b"e"
    raise TypeError(type(v))


def bdecode(data):
    def parse(i):
        c = data[i:i + 1]
        if c == b"i":
            e = data.index(b"e", i)
            return int(data[i + 1:e]), e + 1
        if c == b"l":
            out, i = [], i + 1
            while data[i:i + 1] != b"e":
                v, i = parse(i)
                out.append(v)
            return out, i + 1
        if c == b"d":
            out, i = {}, i + 1
            while data[i:i + 1] != b"e":
                k, i = parse(i)
                v, i = parse(i)
                out[k] = v
            return out, i + 1
        colon = data.index(b":", i)
        n = int(data[i:colon])
        return data[colon + 1:colon + 1 + n], colon + 1 + n
    v, end = parse(0)
    if end != len(data):
        raise ValueError("trailing data")
    return v


# -- requests -------------------------------------------------------------------------

def quote(b):
    return urllib.parse.quote_from_bytes(b, safe="")


def announce_path(info_hash, peer_id, port, left=0, **extra):
    q = f"info_hash={quote(info_hash)}&peer_id={quote(peer_id)}&port={port}&left={left}"
    q += "&uploaded=0&downloaded=0"
    for k, v in extra.items():
        q += f"&{k}={v}"
    return "/announce?" + q


def peer_id(tag, prefix=b"-SHP0100-"):
    return (prefix + tag.encode()).ljust(20, b".")[:20]


def compact_peers(blob, width=6):
    out = []
    for i in range(0, len(blob), width):
        chunk = blob[i:i + width]
        out.append((chunk[:-2], int.from_bytes(chunk[-2:], "big")))
    return out


# -- torrents -------------------------------------------------------------------------

def make_v1_torrent(path, announce, piece_length=256 * 1024):
    """A single-file v1 metainfo for `path`; returns (torrent bytes, info_hash)."""
    pieces = b""
    with open(path, "rb") as f:
        while True:
            b = f.read(piece_length)
            if not b:
                break
            pieces += hashlib.sha1(b).digest()
    info = {"name": os.path.basename(path), "length": os.path.getsize(path),
            "piece length": piece_length, "pieces": pieces}
    meta = {"announce": announce, "info": info}
    return bencode(meta), hashlib.sha1(bencode(info)).digest()
