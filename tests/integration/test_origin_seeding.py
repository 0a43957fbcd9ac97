"""The origin seeds every blob into the swarm (issue 3, item 2): with --tracker it
announces each committed blob as a BitTorrent v2 torrent (peer id "-SHO"), a real
BitTorrent client (libtorrent through Debian's python3-libtorrent, a separate
process) downloads the blob from it via `shoal tracker`, and after a restart the
origin seeds again without re-hashing."""

import hashlib
import os
import subprocess
import textwrap
import time
import unittest
import urllib.parse

from shoal_harness import requires_tool, http_request, make_bytes, sha256_digest, wait_until
from tracker_harness import TrackerTestCase, bdecode, bencode

SYSTEM_PYTHON = "/usr/bin/python3"

LEECHER = textwrap.dedent("""
    import sys, time, libtorrent as lt
    torrent, save, tracker = sys.argv[1], sys.argv[2], sys.argv[3]
    s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False,
                    "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                    "enable_outgoing_utp": False, "enable_incoming_utp": False,
                    "allow_multiple_connections_per_ip": True, "peer_fingerprint": "-LT2080-"})
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save
    atp.trackers = [tracker]
    h = s.add_torrent(atp)
    deadline = time.time() + 60
    while not h.status().is_seeding:
        if time.time() > deadline:
            sys.exit("timed out at %.3f" % h.status().progress)
        time.sleep(0.1)
    print("done")
""")


def has_python_libtorrent():
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", "import libtorrent"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def announced_hash(metainfo):
    """A v2 torrent announces the first 20 bytes of SHA-256 of its info dict."""
    torrent = bdecode(metainfo)
    return hashlib.sha256(bencode(torrent[b"info"])).digest()[:20]


class Seeding(TrackerTestCase):
    def setUp(self):
        super().setUp()
        self.tracker = self.start_tracker()
        self.announce = f"http://127.0.0.1:{self.tracker.port}/announce"
        self.origin = self.start_origin("--tracker", f"http://127.0.0.1:{self.tracker.port}")

    def scrape_complete(self, info_hash):
        path = "/scrape?info_hash=" + urllib.parse.quote_from_bytes(info_hash)
        r = http_request(self.tracker.port, "GET", path)
        files = bdecode(r.body).get(b"files", {})
        return files.get(info_hash, {}).get(b"complete", 0)

    def push(self, data):
        digest = sha256_digest(data)
        r = self.origin.request("PUT", f"/blobs/{digest}", body=data)
        self.assertEqual(r.status, 201, r)
        r = self.origin.request("GET", f"/blobs/{digest}/metainfo")
        self.assertEqual(r.status, 200, r)
        return digest, r.body

    def test_committed_blob_is_announced_as_a_seed(self):
        digest, metainfo = self.push(make_bytes(3 * 1024 * 1024, seed=11))
        ih = announced_hash(metainfo)
        self.assertTrue(wait_until(lambda: self.scrape_complete(ih) >= 1, timeout=20),
                        "the origin never announced the blob as complete")
        m = self.origin.metrics()
        self.assertEqual(m.value("shoal_origin_seeding_torrents"), 1)
        # After a restart the blob is seeded again (metainfo kept, no re-hash needed).
        self.origin = self.restart_origin(self.origin, graceful=True)
        self.assertTrue(wait_until(
            lambda: self.origin.metrics().value("shoal_origin_seeding_torrents") == 1, timeout=20))

    @requires_tool(has_python_libtorrent(), "python3-libtorrent (Debian) not installed")
    def test_a_bittorrent_client_downloads_from_the_origin(self):
        data = make_bytes(5 * 1024 * 1024 + 123, seed=12)
        digest, metainfo = self.push(data)
        ih = announced_hash(metainfo)
        self.assertTrue(wait_until(lambda: self.scrape_complete(ih) >= 1, timeout=20))
        work = self.mkdir("leecher")
        torrent = os.path.join(work, "blob.torrent")
        with open(torrent, "wb") as f:
            f.write(metainfo)
        r = subprocess.run([SYSTEM_PYTHON, "-c", LEECHER, torrent, work, self.announce],
                           capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        with open(os.path.join(work, digest.split(":", 1)[1]), "rb") as f:
            self.assertEqual(sha256_digest(f.read()), digest)
        self.assertTrue(wait_until(
            lambda: (self.origin.metrics().value("shoal_origin_bt_uploaded_bytes") or 0) >= len(data),
            timeout=10), "the origin's upload counter did not see the transfer")
        # Every piece has left the origin, and the swarm endpoint says so.
        pieces = -(-len(data) // bdecode(metainfo)[b"info"][b"piece length"])
        swarm = lambda: http_request(self.origin.port, "GET", f"/blobs/{digest}/swarm").json()
        self.assertTrue(wait_until(lambda: swarm()["pieces_sent"] == pieces, timeout=10), swarm())
        self.assertEqual(swarm()["pieces"], pieces)
        self.assertGreaterEqual(swarm()["uploaded_bytes"], len(data))

    def test_swarm_status_of_a_blob_nobody_has_fetched(self):
        digest, metainfo = self.push(make_bytes(3 * 1024 * 1024, seed=13))
        piece_length = bdecode(metainfo)[b"info"][b"piece length"]
        self.assertTrue(wait_until(lambda: self.origin.request(
            "GET", f"/blobs/{digest}/swarm").status == 200, timeout=20))
        s = self.origin.request("GET", f"/blobs/{digest}/swarm").json()
        self.assertEqual(s, {"digest": digest, "pieces": -(-3 * 1024 * 1024 // piece_length),
                             "pieces_sent": 0, "peers": 0, "complete_peers": 0,
                             "uploaded_bytes": 0})
        unknown = "sha256:" + "ab" * 32
        r = self.origin.request("GET", f"/blobs/{unknown}/swarm")
        self.assertEqual((r.status, r.json()["error"]), (404, "BLOB_UNKNOWN"))
        r = self.origin.request("GET", "/blobs/sha256:nothex/swarm")
        self.assertEqual((r.status, r.json()["error"]), (400, "DIGEST_INVALID"))
        r = self.origin.request("POST", f"/blobs/{digest}/swarm")
        self.assertEqual((r.status, r.header("Allow")), (405, "GET"))

    def test_the_handout_gives_each_piece_once_and_again_only_when_needed(self):
        piece = 256 * 1024
        data = make_bytes(3 * piece + 1000, seed=15)  # four pieces, the last short
        digest, _ = self.push(data)
        path = f"/blobs/{digest}/handout"
        nothing, everything = {"Shoal-Held": "00"}, {"Shoal-Held": "f0"}
        for i in range(4):
            r = self.origin.request("GET", path, headers=nothing)
            self.assertEqual((r.status, r.header("Shoal-Piece")), (200, str(i)), r)
            self.assertEqual(r.body, data[i * piece:(i + 1) * piece])
            self.assertEqual(r.header("Cache-Control"), "no-store")
        # Every piece has left once, just now: a second copy only after its holder had
        # time to announce it.
        r = self.origin.request("GET", path, headers=nothing)
        self.assertEqual(r.status, 204, r)
        self.assertGreater(int(r.header("Shoal-Retry-After-Ms")), 0)
        # An agent that holds or sees everything is done.
        r = self.origin.request("GET", path, headers=everything)
        self.assertEqual((r.status, r.header("Shoal-Retry-After-Ms")), (204, None), r)
        # That agent reported every piece: they are in the swarm and spread by themselves.
        # Only an agent in its endgame (it lists what it holds) gets one again, 2 s after
        # the piece left.
        r = self.origin.request("GET", path, headers={"Shoal-Held": "e0"})
        self.assertEqual(r.status, 204, r)
        time.sleep(2.1)
        r = self.origin.request("GET", path, headers={"Shoal-Held": "e0", "Shoal-Endgame": "1"})
        self.assertEqual((r.status, r.header("Shoal-Piece")), (200, "3"), r)
        self.assertEqual(r.body, data[3 * piece:])
        # An agent that sees piece 0 at a peer but has waited for it several times as
        # long as pieces take lists it in Shoal-Overdue: it goes again at once (it left
        # over 0.5 s ago), and not again for another half second.
        late = {"Shoal-Held": "f0", "Shoal-Overdue": "80"}
        r = self.origin.request("GET", path, headers=late)
        self.assertEqual((r.status, r.header("Shoal-Piece")), (200, "0"), r)
        self.assertEqual(r.body, data[:piece])
        r = self.origin.request("GET", path, headers=late)
        self.assertEqual(r.status, 204, r)
        self.assertGreater(int(r.header("Shoal-Retry-After-Ms")), 0)
        m = self.origin.metrics()
        self.assertEqual(m.value("shoal_origin_handout_pieces_total", reason="first"), 4)
        self.assertEqual(m.value("shoal_origin_handout_pieces_total", reason="unseen"), 0)
        self.assertEqual(m.value("shoal_origin_handout_pieces_total", reason="endgame"), 1)
        self.assertEqual(m.value("shoal_origin_handout_pieces_total", reason="stuck"), 0)
        self.assertEqual(m.value("shoal_origin_handout_pieces_total", reason="overdue"), 1)
        self.assertEqual(m.value("shoal_origin_handout_bytes_total"), len(data) + 1000 + piece)
        swarm = self.origin.request("GET", f"/blobs/{digest}/swarm").json()
        self.assertEqual((swarm["pieces_sent"], swarm["uploaded_bytes"]), (4, 0), swarm)
        # Bad input: a clear error, and nothing handed out.
        for held in (None, "0", "zz", "0f", "f000"):
            r = self.origin.request("GET", path, headers={"Shoal-Held": held} if held else {})
            self.assertEqual((r.status, r.json()["error"]), (400, "HELD_INVALID"), (held, r))
        for bad in ({"Shoal-Agent": "xyz"}, {"Shoal-Agent": "1" * 17}):
            r = self.origin.request("GET", path, headers={**nothing, **bad})
            self.assertEqual((r.status, r.json()["error"]), (400, "AGENT_INVALID"), (bad, r))
        r = self.origin.request("GET", path, headers={**nothing, "Shoal-Endgame": "yes"})
        self.assertEqual((r.status, r.json()["error"]), (400, "ENDGAME_INVALID"), r)
        for bad in ("zz", "0f", "f000"):
            r = self.origin.request("GET", path, headers={**nothing, "Shoal-Overdue": bad})
            self.assertEqual((r.status, r.json()["error"]), (400, "OVERDUE_INVALID"), (bad, r))
        r = self.origin.request("GET", f"/blobs/sha256:{'ab' * 32}/handout", headers=nothing)
        self.assertEqual((r.status, r.json()["error"]), (404, "BLOB_UNKNOWN"))
        r = self.origin.request("POST", path, headers=nothing)
        self.assertEqual((r.status, r.header("Allow")), (405, "GET"))
        self.assertEqual(self.origin.metrics().sum("shoal_origin_handout_pieces_total"), 6)

    def test_piece_size_sets_the_metainfo_pieces(self):
        self.origin = self.start_origin("--tracker", f"http://127.0.0.1:{self.tracker.port}",
                                        "--piece-size", "1MiB")
        _, metainfo = self.push(make_bytes(3 * 1024 * 1024, seed=14))
        self.assertEqual(bdecode(metainfo)[b"info"][b"piece length"], 1024 * 1024)


if __name__ == "__main__":
    unittest.main()
