"""Helpers for the HLS tests: a test video made with ffmpeg, `shoal hls publish|live`,
and the node tools under tests/e2e/hls (hls-parser's strict validation, hls.js in
Chromium)."""

import json
import os
import shutil
import subprocess

from edge_harness import EdgeTestCase
from shoal_harness import HOST, missing_tool, run_cli

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.normpath(os.path.join(HERE, "..", "e2e", "hls"))
FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
NODE = shutil.which("node")
CHROMIUM = shutil.which("chromium")


def make_video(path, seconds=12, size="640x360", rate=30):
    """A test pattern with a tone: H.264 + AAC in MP4, quick to make and to transcode."""
    subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={size}:rate={rate}", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-b:a", "64k", path], check=True, timeout=120)
    return path


def e2e_ready():
    return NODE and os.path.isdir(os.path.join(E2E, "node_modules"))


class HlsTestCase(EdgeTestCase):
    def setUp(self):
        super().setUp()
        if not (FFMPEG and FFPROBE):
            missing_tool("ffmpeg/ffprobe (Debian package ffmpeg)")
        self.start_cluster(peers=1)
        self.edge = self.start_edge(peer=self.peers[0], tls=False)

    def hls(self, *args, timeout=150):  # inside ctest's 180 s for the module
        r = run_cli(["hls", *args, "--origin", self.origin.url], home=self.home, timeout=timeout)
        return r

    def publish(self, source, name, *extra):
        r = self.hls("publish", source, "--name", name, "--quiet", *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip().splitlines()[-1]

    def url(self, path):
        return f"http://{HOST}:{self.edge.port}{path}"

    def validate(self, *urls, follow=True):
        """hls-parser in strict mode on each playlist; its JSON line per playlist."""
        args = [NODE, os.path.join(E2E, "validate.mjs")] + (["--follow"] if follow else [])
        r = subprocess.run(args + list(urls), capture_output=True, text=True, timeout=120)
        lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return lines
