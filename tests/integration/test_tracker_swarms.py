"""The tracker knows which pieces each peer holds (issue 20 item 3): agents send their
bitfield as shoal_have in every announce, GET /swarms/<digest> shows each live peer's
pieces, a malformed shoal_have gets a bencoded failure reason, and the page at
/ui/swarms/<digest> draws the swarm in headless Chromium (screenshot kept in the
artifacts directory)."""

import json
import os
import shutil
import subprocess
import threading

from peer_harness import PeerTestCase, get_to_file
from shoal_harness import (HOST, MiB, artifacts_dir, file_digest, make_file, requires_tool,
                           wait_until)
from tracker_harness import announce_path, bdecode, peer_id

HERE = os.path.dirname(os.path.abspath(__file__))
SCREENSHOT_JS = os.path.normpath(os.path.join(HERE, "..", "e2e", "swarm_ui", "screenshot.mjs"))
PLAYWRIGHT = os.path.normpath(os.path.join(HERE, "..", "e2e", "hls", "node_modules", "playwright-core"))
NODE = shutil.which("node")
CHROMIUM = shutil.which(os.environ.get("CHROMIUM") or "chromium")
PIECE = 256 * 1024


class SwarmView(PeerTestCase):
    def pushed(self, size, seed):
        path = os.path.join(self.tmp, f"blob-{seed}")
        digest = make_file(path, size, seed=seed)
        self.assertEqual(self.push_file(path), digest)
        self.wait_seeded()
        return digest

    def swarm(self, digest):
        r = self.tracker.request("GET", f"/swarms/{digest}")
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(r.header("Content-Type"), "application/json")
        return json.loads(r.body)

    def pull(self, peer, digest):
        out = os.path.join(self.tmp, f"out-{peer.port}")
        status, _, _ = get_to_file(peer.port, f"/blobs/{digest}", out)
        self.assertEqual(status, 200)
        self.assertEqual(file_digest(out), digest)

    def test_after_a_pull_every_peer_holds_every_piece(self):
        peers = self.start_cluster(2)
        size = 4 * MiB + 1000  # 17 pieces: the last byte of the bitfield has spare bits
        digest = self.pushed(size, seed=11)
        for p in peers:
            self.pull(p, digest)
        pieces = -(-size // PIECE)
        full = "ff" * (pieces // 8) + ("%02x" % ((0xff << (8 - pieces % 8)) & 0xff) if pieces % 8 else "")

        def settled():
            s = self.swarm(digest)
            done = [p for p in s["peers"] if p["progress"] == 1]
            return s if len(done) == 3 else None
        s = wait_until(settled, timeout=30, interval=0.5)
        self.assertTrue(s, self.swarm(digest))
        self.assertEqual(s["digest"], digest)
        self.assertEqual(s["pieces"], pieces)
        self.assertRegex(s["info_hash"], "^[0-9a-f]{40}$")
        self.assertEqual(len(s["peers"]), 3, s)
        ports = sorted(int(p["address"].rsplit(":", 1)[1]) for p in s["peers"] if not p["origin"])
        self.assertEqual(ports, sorted(p.bt_port() for p in peers))
        self.assertEqual(sum(p["origin"] for p in s["peers"]), 1, s)
        for p in s["peers"]:
            self.assertTrue(p["complete"], p)
            self.assertEqual(p["have"], full, p)
            self.assertEqual(p["progress"], 1, p)
            self.assertTrue(p["address"].startswith(f"{HOST}:"), p)
            self.assertRegex(p["peer_id"], "^[0-9a-f]{40}$")
        self.assertEqual(sorted(bytes.fromhex(p["peer_id"])[:4] for p in s["peers"]),
                         [b"-SHO", b"-SHP", b"-SHP"])

    def test_a_half_done_agent_shows_its_progress(self):
        # 32 MiB at 2 MiB/s: about 16 s; the agent rewrites its announce URL with its
        # bitfield at each 5 s announce, so the tracker sees it part-way.
        peer, = self.start_cluster(1, peer_args=["--download-rate", "2MiB"])
        digest = self.pushed(32 * MiB, seed=12)
        conn_out = os.path.join(self.tmp, "out")
        t = threading.Thread(target=get_to_file, args=(peer.port, f"/blobs/{digest}", conn_out),
                             daemon=True)
        t.start()

        def partial():
            for p in self.swarm(digest)["peers"]:
                if not p["origin"] and p["progress"] is not None and 0 < p["progress"] < 1:
                    return p
            return None
        p = wait_until(partial, timeout=20, interval=0.25)
        self.assertTrue(p, self.swarm(digest))
        self.assertFalse(p["complete"])
        held = sum(bin(b).count("1") for b in bytes.fromhex(p["have"]))
        self.assertAlmostEqual(p["progress"], held / 128)
        t.join(90)
        self.assertFalse(t.is_alive())
        self.assertEqual(file_digest(conn_out), digest)

    def test_malformed_bitfields_get_a_failure_reason(self):
        self.start_cluster(0)
        digest = self.pushed(1 * MiB, seed=13)  # 4 pieces
        ih = bytes.fromhex(self.swarm(digest)["info_hash"])  # the tracker now knows the count
        pid = peer_id("badhave")
        cases = {
            "zz": b"invalid shoal_have: not a hex digit",
            "f": b"invalid shoal_have: expected hex digits, two per byte of the bitfield",
            "ffff": b"invalid shoal_have: expected 2 hex digits for 4 pieces, got 4",
            "f8": b"invalid shoal_have: a bit is set past the last piece (4 pieces)",
        }
        for value, reason in cases.items():
            r = self.tracker.request("GET", announce_path(ih, pid, 7000, left=10, shoal_have=value))
            self.assertEqual(r.status, 200, value[:10])
            self.assertEqual(bdecode(r.body), {b"failure reason": reason}, value[:10])
        # The rejected announces left no peer behind; a good one is kept with its pieces.
        r = self.tracker.request("GET", announce_path(ih, pid, 7000, left=10, shoal_have="a0"))
        self.assertNotIn(b"failure reason", bdecode(r.body))
        mine = [p for p in self.swarm(digest)["peers"] if bytes.fromhex(p["peer_id"]) == pid]
        self.assertEqual(len(mine), 1)
        self.assertEqual((mine[0]["have"], mine[0]["progress"]), ("a0", 0.5))

    def test_unknown_and_malformed_digests(self):
        self.start_cluster(0)
        absent = "sha256:" + "0" * 64
        self.assertError(self.tracker.request("GET", f"/swarms/{absent}"), 404, "METAINFO_UNKNOWN")
        self.assertError(self.tracker.request("GET", "/swarms/sha256:abc"), 400, "DIGEST_INVALID")
        self.assertError(self.tracker.request("GET", "/ui/swarms/nope"), 400, "DIGEST_INVALID")

    @requires_tool(NODE and CHROMIUM and os.path.isdir(PLAYWRIGHT),
                   "needs node, chromium and tests/e2e/hls/install.sh (playwright-core)")
    def test_the_page_draws_the_swarm_in_chromium(self):
        peers = self.start_cluster(2)
        size = 6 * MiB
        digest = self.pushed(size, seed=14)
        for p in peers:
            self.pull(p, digest)
        wait_until(lambda: len(self.swarm(digest)["peers"]) == 3, timeout=30, interval=0.5)
        r = self.tracker.request("GET", f"/ui/swarms/{digest}")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/html"))
        self.assertNotIn(b"http://", r.body)  # nothing from elsewhere
        self.assertNotIn(b"https://", r.body)
        png = os.path.join(artifacts_dir("test_tracker_swarms"), "swarm-page.png")
        url = f"http://{HOST}:{self.tracker.port}/ui/swarms/{digest}"
        p = subprocess.run([NODE, SCREENSHOT_JS, "--url", url, "--out", png, "--peers", "3",
                            "--chromium", CHROMIUM, "--timeout", "60"],
                           capture_output=True, text=True, timeout=90)
        lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
        self.assertTrue(lines, p.stdout + p.stderr)
        out = lines[-1]
        self.assertEqual(p.returncode, 0, out)
        self.assertEqual((out["peers"], out["pieces"]), (3, size // PIECE), out)
        # One 12-pixel row per peer; 1024 // 24 = 42 pixels per piece.
        self.assertEqual(out["canvas"], {"width": 24 * 42, "height": 3 * 12}, out)
        self.assertEqual(out["bars"], 3, out)
        self.assertIn("3 peers × 24 pieces, 3 complete", out["summary"])
        self.assertGreater(os.path.getsize(png), 1000)
        print(f"\nscreenshot: {png}")
