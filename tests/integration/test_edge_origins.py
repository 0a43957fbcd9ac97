"""An edge given several origins (`--origin URL,URL,...`): fills and HLS lookups try
them in order, pass over one that is down, and skip it for a while afterwards
(passive marking), so only the first fill pays for the dead origin."""

import os
import subprocess
import unittest

from edge_harness import EdgeTestCase
from shoal_harness import HOST, SHOAL_BIN, make_file, sha256_digest, unused_port, wait_until


class EdgeWithSeveralOrigins(EdgeTestCase):
    def setUp(self):
        super().setUp()
        self.origin = self.start_origin()
        self.dead = f"http://{HOST}:{unused_port()}"
        self.edge = self.start_edge(tls=False, origin_url=f"{self.dead},{self.origin.url}")

    def pushed(self, size, seed):
        path = os.path.join(self.tmp, f"obj-{seed}")
        make_file(path, size, seed=seed)
        return self.push(path)

    def moves(self):
        return [l for l in self.edge.log_lines if l.get("msg") == "fill moves to the next source"]

    def test_a_blob_is_filled_from_the_live_origin_past_a_dead_one(self):
        d = self.pushed(700 * 1024, 1)
        r = self.edge.request("GET", f"/blobs/{d}")
        self.assertEqual((r.status, r.header("X-Cache")), (200, "MISS"), r)
        self.assertEqual(sha256_digest(r.body), d)
        r2 = self.edge.request("GET", f"/blobs/{d}")
        self.assertEqual((r2.status, r2.header("X-Cache")), (200, "HIT"))
        self.assertEqual(sha256_digest(r2.body), d)
        m = self.edge.metrics()
        self.assertEqual(m.sum("shoal_edge_fills_total", source="origin", outcome="ok"), 1)
        moved = wait_until(self.moves, timeout=5)
        self.assertEqual([(l["from"], l["to"]) for l in moved],
                         [(self.dead, f"origin {self.origin.url}")])

    def test_the_dead_origin_is_skipped_by_the_next_fills(self):
        first, second = self.pushed(64 * 1024, 2), self.pushed(64 * 1024, 3)
        for d in (first, second):
            r = self.edge.request("GET", f"/blobs/{d}")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(sha256_digest(r.body), d)
        # Only the first fill tried the dead origin: the second went to the live one first.
        wait_until(self.moves, timeout=5)
        self.assertEqual(len(self.moves()), 1, self.moves())

    def test_a_blob_no_origin_holds_is_404(self):
        r = self.edge.request("GET", "/blobs/sha256:" + "cd" * 32)
        self.assertError(r, 404)

    def test_hls_tag_lookups_pass_the_dead_origin_too(self):
        # The live origin's answer (no such tag) comes through, not the dead one's error.
        r = self.edge.request("GET", "/hls/nothing/master.m3u8")
        self.assertError(r, 404, "PACKAGE_UNKNOWN")


class EdgeOriginFlag(EdgeTestCase):
    def test_bad_origin_lists_are_refused_at_start_up(self):
        data = os.path.join(self.tmp, "never")
        for value in ["http://127.0.0.1:1,not a url", "dns:", "dns:name", "dns:name:0", ","]:
            with self.subTest(value=value):
                r = subprocess.run([SHOAL_BIN, "edge", "--listen", f"{HOST}:0", "--data", data,
                                    "--origin", value],
                                   capture_output=True, text=True, timeout=30)
                self.assertNotEqual(r.returncode, 0, r.stdout)
                lines = r.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertTrue(lines[0].startswith("shoal edge: "), r.stderr)
                self.assertIn("origin", lines[0])

    def test_a_dns_origin_list_fills_from_its_records(self):
        origin = self.start_origin()
        port = origin.url.rsplit(":", 1)[1]
        edge = self.start_edge(tls=False, origin_url=f"dns:localhost:{port}")
        path = os.path.join(self.tmp, "obj")
        make_file(path, 100 * 1024, seed=9)
        self.origin = origin
        d = self.push(path)
        r = edge.request("GET", f"/blobs/{d}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sha256_digest(r.body), d)


if __name__ == "__main__":
    unittest.main()
