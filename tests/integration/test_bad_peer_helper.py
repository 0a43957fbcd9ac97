"""The test helper bad_peer.BadPeer works: it announces through `shoal tracker` as a
complete seeder of an origin-made v2 torrent, and a real BitTorrent client (libtorrent
through Debian's python3-libtorrent, a separate process) that talks to it sees corrupt
pieces, bans it, and still completes the download correctly from the origin."""

import json
import os
import subprocess
import textwrap
import unittest
import urllib.parse

from bad_peer import BadPeer, info_span
from shoal_harness import requires_tool, http_request, make_bytes, sha256_digest, wait_until
from tracker_harness import TrackerTestCase, bdecode, bencode

SYSTEM_PYTHON = "/usr/bin/python3"

# Talks to the bad peer alone first, so corrupt data is certain to arrive (an origin on
# loopback would otherwise serve the whole blob before the bad peer is reached), then
# adds the tracker, which hands out the bad peer and the origin, and completes.
LEECHER = textwrap.dedent("""
    import json, sys, time, libtorrent as lt
    torrent, save, tracker, bad_port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False,
                    "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                    "enable_outgoing_utp": False, "enable_incoming_utp": False,
                    "allow_multiple_connections_per_ip": True, "peer_fingerprint": "-LT2080-",
                    "alert_mask": lt.alert.category_t.all_categories})
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save
    h = s.add_torrent(atp)
    h.connect_peer(("127.0.0.1", bad_port))
    seen = {"hash_failed": [], "banned": [], "blocked": [], "bad_peer_disconnects": []}
    def poll():
        for a in s.pop_alerts():
            if isinstance(a, lt.hash_failed_alert):
                seen["hash_failed"].append(int(a.piece_index))
            elif isinstance(a, lt.peer_ban_alert):
                seen["banned"].append(a.ip[1])
            elif isinstance(a, lt.peer_blocked_alert):
                seen["blocked"].append(a.ip[1])
            elif isinstance(a, lt.peer_disconnected_alert) and a.ip[1] == bad_port:
                seen["bad_peer_disconnects"].append(a.error.message())
    deadline = time.time() + 15
    while not seen["hash_failed"] and time.time() < deadline:
        poll()
        time.sleep(0.05)
    h.add_tracker({"url": tracker})
    h.force_reannounce()
    deadline = time.time() + 30
    while not h.status().is_seeding:
        if time.time() > deadline:
            sys.exit("timed out at %.3f; seen %r" % (h.status().progress, seen))
        poll()
        time.sleep(0.05)
    poll()
    print(json.dumps(seen))
""")


def has_python_libtorrent():
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", "import libtorrent"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@requires_tool(has_python_libtorrent(), "python3-libtorrent (Debian) not installed")
class BadPeerHelper(TrackerTestCase):
    def setUp(self):
        super().setUp()
        self.tracker = self.start_tracker()
        self.announce = f"http://127.0.0.1:{self.tracker.port}/announce"
        self.origin = self.start_origin("--tracker", f"http://127.0.0.1:{self.tracker.port}")

    def scrape_complete(self, info_hash):
        path = "/scrape?info_hash=" + urllib.parse.quote_from_bytes(info_hash)
        r = http_request(self.tracker.port, "GET", path)
        return bdecode(r.body).get(b"files", {}).get(info_hash, {}).get(b"complete", 0)

    def test_corrupt_peer_is_detected_banned_and_download_completes(self):
        data = make_bytes(8 * 1024 * 1024 + 4321, seed=21)
        digest = sha256_digest(data)
        r = self.origin.request("PUT", f"/blobs/{digest}", body=data)
        self.assertEqual(r.status, 201, r)
        r = self.origin.request("GET", f"/blobs/{digest}/metainfo")
        self.assertEqual(r.status, 200, r)
        metainfo = r.body

        bad = BadPeer(self.announce, metainfo)
        self.addCleanup(bad.stop)
        self.assertEqual(bad.num_pieces, -(-len(data) // bad.piece_length))
        self.assertEqual(bad.total_length, len(data))
        self.assertEqual(bad.announce_errors, [])
        # The origin and the bad peer are both complete peers of the swarm.
        self.assertTrue(wait_until(lambda: self.scrape_complete(bad.info_hash) >= 2, timeout=20),
                        "the origin and the bad peer are not both announced as complete")

        work = self.mkdir("leecher")
        torrent = os.path.join(work, "blob.torrent")
        # The leecher must reach the bad peer before any tracker: the origin's metainfo
        # names the tracker (announce, announce-list), so the torrent file goes without.
        bare = bdecode(metainfo)
        for key in (b"announce", b"announce-list"):
            bare.pop(key, None)
        bare = bencode(bare)
        self.assertEqual(info_span(bare), info_span(metainfo), "the info dict changed")
        with open(torrent, "wb") as f:
            f.write(bare)
        r = subprocess.run([SYSTEM_PYTHON, "-c", LEECHER, torrent, work, self.announce,
                            str(bad.port)], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        seen = json.loads(r.stdout.strip().splitlines()[-1])

        with open(os.path.join(work, digest.split(":", 1)[1]), "rb") as f:
            self.assertEqual(sha256_digest(f.read()), digest, "the download is corrupt")
        self.assertGreaterEqual(bad.blocks_served, 1)
        self.assertGreaterEqual(bad.bytes_served, bad.blocks_served)
        self.assertTrue(any(p.startswith(b"-LT2080-") for p in bad.peer_ids), bad.peer_ids)
        self.assertTrue(seen["hash_failed"], seen)
        self.assertIn(bad.port, seen["banned"], seen)
        self.assertIn("too many corrupt pieces", seen["bad_peer_disconnects"], seen)
        self.assertTrue(wait_until(lambda: bad.disconnects >= 1, timeout=5))


if __name__ == "__main__":
    unittest.main()
