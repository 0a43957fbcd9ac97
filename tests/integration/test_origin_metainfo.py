"""GET /blobs/<digest>/metainfo: a BitTorrent v2 metainfo made from the stored blob,
bound to its digest (the file is named by the digest hex), stable across requests and
restarts, removed with the blob."""

import hashlib
import os
import unittest

from shoal_harness import ShoalTestCase, list_files, make_bytes, sha256_digest

KiB = 1024
MiB = 1024 * KiB


def bdecode(data, i=0):
    """A strict-enough bencode decoder for checking what the origin serves."""
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c == b"l":
        i += 1
        out = []
        while data[i:i + 1] != b"e":
            v, i = bdecode(data, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1
        out = {}
        while data[i:i + 1] != b"e":
            k, i = bdecode(data, i)
            v, i = bdecode(data, i)
            out[k] = v
        return out, i + 1
    colon = data.index(b":", i)
    n = int(data[i:colon])
    return data[colon + 1:colon + 1 + n], colon + 1 + n


class Metainfo(ShoalTestCase):
    def setUp(self):
        super().setUp()
        self.origin = self.start_origin()

    def put(self, data):
        digest = sha256_digest(data)
        r = self.origin.request("PUT", f"/blobs/{digest}", body=data)
        self.assertIn(r.status, (200, 201), r)
        return digest

    def test_v2_metainfo_bound_to_the_digest(self):
        data = make_bytes(3 * MiB + 5, seed=7)
        digest = self.put(data)
        r = self.origin.request("GET", f"/blobs/{digest}/metainfo")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/x-bittorrent")
        torrent, end = bdecode(r.body)
        self.assertEqual(end, len(r.body), "trailing bytes after the metainfo")
        info = torrent[b"info"]
        hexname = digest.split(":", 1)[1].encode()
        self.assertEqual(info[b"meta version"], 2)
        self.assertEqual(info[b"name"], hexname)
        self.assertEqual(info[b"piece length"], 256 * KiB)  # the table's size for < 512 MiB
        entry = info[b"file tree"][hexname][b""]
        self.assertEqual(entry[b"length"], len(data))
        # The pieces root is the BEP 52 Merkle root: check it against the bytes.
        self.assertEqual(entry[b"pieces root"], merkle_root(data), "pieces root does not match")
        # Stable: the same bytes on a second request and after a restart.
        self.assertEqual(self.origin.request("GET", f"/blobs/{digest}/metainfo").body, r.body)
        self.origin = self.restart_origin(self.origin, graceful=True)
        self.assertEqual(self.origin.request("GET", f"/blobs/{digest}/metainfo").body, r.body)

    def test_errors(self):
        r = self.origin.request("GET", "/blobs/sha256:" + "1" * 64 + "/metainfo")
        self.assertError(r, 404, "BLOB_UNKNOWN")
        r = self.origin.request("GET", "/blobs/sha256:ABC/metainfo")
        self.assertError(r, 400, "DIGEST_INVALID")
        empty = self.put(b"")
        r = self.origin.request("GET", f"/blobs/{empty}/metainfo")
        self.assertEqual(r.status, 404, r)
        digest = self.put(b"x" * 1000)
        r = self.origin.request("PUT", f"/blobs/{digest}/metainfo", body=b"d4:infodee")
        self.assertError(r, 405, "METHOD_NOT_ALLOWED")

    def test_deleted_with_the_blob(self):
        digest = self.put(make_bytes(100 * KiB, seed=3))
        self.assertEqual(self.origin.request("GET", f"/blobs/{digest}/metainfo").status, 200)
        meta_dir = os.path.join(self.origin.data_dir, "metainfo")
        self.assertEqual(len(list_files(meta_dir)), 1)
        self.assertEqual(self.origin.request("DELETE", f"/blobs/{digest}").status, 204)
        self.assertEqual(list_files(meta_dir), [])


def merkle_root(data):
    """BEP 52: SHA-256 of 16 KiB blocks, padded with zero hashes to a power of two."""
    leaves = [hashlib.sha256(data[i:i + 16 * KiB]).digest() for i in range(0, len(data), 16 * KiB)]
    width = 1
    while width < len(leaves):
        width *= 2
    leaves += [b"\0" * 32] * (width - len(leaves))
    while len(leaves) > 1:
        leaves = [hashlib.sha256(leaves[i] + leaves[i + 1]).digest() for i in range(0, len(leaves), 2)]
    return leaves[0]


if __name__ == "__main__":
    unittest.main()
