"""HLS with real players and real time (issue 6): hls.js in headless Chromium plays
the edge's VOD stream from a page on another origin and moves to a lower level when
the network is throttled; `shoal hls live` keeps a sliding-window playlist that obeys
RFC 8216's live rules across many updates and ends with ENDLIST."""

import json
import os
import subprocess
import sys
import threading
import time
import unittest

from hls_harness import CHROMIUM, E2E, NODE, HlsTestCase, e2e_ready, make_video
from shoal_harness import requires_tool, run_cli

sys.path.insert(0, E2E)
import live_rules  # noqa: E402  (tests/e2e/hls)


@requires_tool(e2e_ready() and CHROMIUM, "needs chromium and tests/e2e/hls/install.sh")
class HlsJsInChromium(HlsTestCase):
    def play(self, *args, timeout=120):
        r = subprocess.run([NODE, os.path.join(E2E, "play.mjs"), "--page-origin-port", "0",
                            "--src", self.url("/hls/demo/master.m3u8"), *args],
                           capture_output=True, text=True, timeout=timeout)
        lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
        self.assertTrue(lines, r.stdout + r.stderr)
        return r.returncode, lines[-1]

    def test_plays_and_switches_down_when_throttled(self):
        source = make_video(os.path.join(self.tmp, "source.mp4"), seconds=30, size="1280x720")
        self.publish(source, "demo", "--ladder", "720p:3000k/64k,360p:700k/64k,180p:150k/48k",
                     "--segment-seconds", "2")
        code, summary = self.play("--timeout", "60")
        self.assertEqual(code, 0, summary)
        self.assertTrue(summary["started"])
        self.assertEqual(summary["fatalErrors"], [])
        self.assertEqual(len(summary["levels"]), 3)
        code, summary = self.play("--throttle-after", "2", "--throttle-kbps", "300",
                                  "--timeout", "90")
        self.assertEqual(code, 0, summary)
        self.assertTrue(summary["switchedDown"], summary)
        self.assertEqual(summary["fatalErrors"], [])
        # The segments came from the edge's cache, filled through the swarm.
        self.assertGreater(self.edge.metrics().sum("shoal_edge_fills_total"), 0)


class HlsLive(HlsTestCase):
    def test_sliding_window_across_updates(self):
        env_args = ["hls", "live", "testsrc", "--name", "live", "--origin", self.origin.url,
                    "--duration", "40", "--segment-seconds", "2", "--window", "4",
                    "--ladder", "240p:300k/48k,144p:120k/32k", "--quiet"]
        result = {}
        publisher = threading.Thread(
            target=lambda: result.update(r=run_cli(env_args, home=self.home, timeout=180)))
        publisher.start()
        url = self.url("/hls/live/240p/index.m3u8")
        snapshots = []
        deadline = time.monotonic() + 90
        start = time.monotonic()
        while time.monotonic() < deadline:
            r = None
            try:
                from shoal_harness import http_request
                r = http_request(self.edge.port, "GET", "/hls/live/240p/index.m3u8")
            except Exception:  # the package may not exist yet
                pass
            if r is not None and r.status == 200:
                text = r.text()
                snapshots.append((time.monotonic() - start, text))
                if "#EXT-X-ENDLIST" in text:
                    break
            time.sleep(0.25)
        publisher.join(timeout=120)
        self.assertEqual(result["r"].returncode, 0, result["r"].stderr)
        self.assertTrue(snapshots and "#EXT-X-ENDLIST" in snapshots[-1][1], "no ENDLIST")
        self.assertEqual(live_rules.check_live_sequence(snapshots), [])
        distinct = {text for _, text in snapshots}
        self.assertGreaterEqual(len(distinct), 10, "fewer than ten playlist updates")
        # Segments dropped from the window are still fetchable.
        first = snapshots[0][1].splitlines()
        dropped = [l for l in first if l.endswith(".m4s")][0]
        last = snapshots[-1][1]
        self.assertNotIn(dropped, last)
        from shoal_harness import http_request
        r = http_request(self.edge.port, "GET", f"/hls/live/240p/{dropped}")
        self.assertEqual(r.status, 200)
        r = http_request(self.edge.port, "GET", "/hls/live/240p/index.m3u8")
        self.assertEqual(r.header("Cache-Control"), "public, max-age=10")  # ended: VOD-like


if __name__ == "__main__":
    unittest.main()
