"""HLS video (issue 6): `shoal hls publish` turns a video into an fMP4 ladder on the
origin, the edge serves playlists made from the package manifest and segments from its
cache; checked with ffprobe/ffmpeg, hls-parser in strict mode, and HTTP details (CORS,
filters, caching headers, stability, idempotent publishing, directory ingest)."""

import hashlib
import json
import os
import re
import subprocess
import unittest

from hls_harness import FFMPEG, FFPROBE, HlsTestCase, e2e_ready, make_video
from shoal_harness import requires_tool, http_request

LADDER = "360p:900k/64k,240p:400k/64k,144p:150k/48k"


class HlsVod(HlsTestCase):
    def setUp(self):
        super().setUp()
        self.source = make_video(os.path.join(self.tmp, "source.mp4"), seconds=12)
        self.digest = self.publish(self.source, "demo", "--ladder", LADDER, "--segment-seconds", "2")

    def get(self, path, headers=None):
        return http_request(self.edge.port, "GET", path, headers=headers)

    def package(self):
        r = http_request(self.origin.port, "GET", f"/blobs/{self.digest}")
        self.assertEqual(r.status, 200)
        return r.json()

    def test_package_is_tagged_and_lists_the_ladder(self):
        r = http_request(self.origin.port, "GET", "/tags/hls/demo")
        self.assertEqual(r.text().strip(), self.digest)
        p = self.package()
        self.assertEqual([x["name"] for x in p["renditions"]], ["360p", "240p", "144p"])
        for rendition in p["renditions"]:
            self.assertTrue(rendition["init"]["digest"].startswith("sha256:"))
            durations = [s["duration"] for s in rendition["segments"]]
            self.assertAlmostEqual(sum(durations), 12, delta=0.5)
            self.assertTrue(all(d <= p["target_duration"] + 0.5 for d in durations))
            self.assertGreaterEqual(rendition["bandwidth"], rendition["average_bandwidth"])
        # Keyframes are aligned: every rendition cuts its segments at the same times.
        cuts = [[s["duration"] for s in r["segments"]] for r in p["renditions"]]
        self.assertTrue(all(c == cuts[0] for c in cuts), cuts)

    def test_master_playlist_from_the_edge(self):
        r = self.get("/hls/demo/master.m3u8")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "application/vnd.apple.mpegurl")
        text = r.text()
        self.assertIn("#EXT-X-INDEPENDENT-SEGMENTS", text)
        infs = re.findall(r"#EXT-X-STREAM-INF:(.*)\n(.*)\n", text)
        self.assertEqual([uri for _, uri in infs],
                         ["360p/index.m3u8", "240p/index.m3u8", "144p/index.m3u8"])
        p = self.package()
        for (attrs, _), rendition in zip(infs, p["renditions"]):
            self.assertIn(f"BANDWIDTH={rendition['bandwidth']},", attrs)
            self.assertIn(f"AVERAGE-BANDWIDTH={rendition['average_bandwidth']}", attrs)
            self.assertIn(f"RESOLUTION={rendition['width']}x{rendition['height']}", attrs)
            self.assertRegex(attrs, r'CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"')
            self.assertIn("FRAME-RATE=30.000", attrs)
        # Byte for byte the same on every request (and so on every edge).
        self.assertEqual(self.get("/hls/demo/master.m3u8").body, r.body)

    def test_media_playlists_and_segments(self):
        p = self.package()
        for rendition in p["renditions"]:
            r = self.get(f"/hls/demo/{rendition['name']}/index.m3u8")
            self.assertEqual(r.status, 200)
            text = r.text()
            self.assertIn("#EXT-X-PLAYLIST-TYPE:VOD", text)
            self.assertTrue(text.endswith("#EXT-X-ENDLIST\n"))
            self.assertIn(f"#EXT-X-TARGETDURATION:{p['target_duration']}\n", text)
            self.assertIn("#EXT-X-MEDIA-SEQUENCE:0\n", text)
            init = rendition["init"]["digest"].split(":")[1]
            self.assertIn(f'#EXT-X-MAP:URI="{init}.mp4"', text)
            for seg in rendition["segments"]:
                hexd = seg["digest"].split(":")[1]
                self.assertIn(f"{hexd}.m4s\n", text)
            seg = rendition["segments"][0]
            r = self.get(f"/hls/demo/{rendition['name']}/{seg['digest'].split(':')[1]}.m4s")
            self.assertEqual((r.status, r.header("Content-Type")), (200, "video/mp4"))
            self.assertEqual("sha256:" + hashlib.sha256(r.body).hexdigest(), seg["digest"])
            self.assertEqual(r.header("X-Cache"), "MISS")
            r = self.get(f"/hls/demo/{rendition['name']}/{seg['digest'].split(':')[1]}.m4s")
            self.assertEqual(r.header("X-Cache"), "HIT")
            self.assertIn("immutable", r.header("Cache-Control"))

    def test_ffprobe_lists_variants_and_ffmpeg_decodes_each(self):
        url = self.url("/hls/demo/master.m3u8")
        r = subprocess.run([FFPROBE, "-v", "error", "-show_programs", "-of", "json", url],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        programs = json.loads(r.stdout)["programs"]
        rates = sorted(int(p["tags"]["variant_bitrate"]) for p in programs)
        want = sorted(x["bandwidth"] for x in self.package()["renditions"])
        self.assertEqual(rates, want)
        for rendition in self.package()["renditions"]:
            url = self.url(f"/hls/demo/{rendition['name']}/index.m3u8")
            r = subprocess.run([FFMPEG, "-v", "error", "-xerror", "-i", url, "-f", "null", "-"],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr.strip(), "")

    @requires_tool(e2e_ready(), "tests/e2e/hls/install.sh has not run")
    def test_strict_parser_accepts_every_playlist(self):
        lines = self.validate(self.url("/hls/demo/master.m3u8"),
                              self.url("/hls/demo/master.m3u8?max_height=240"))
        self.assertEqual(len(lines), 2 + 3 + 2)
        self.assertTrue(all(l["ok"] for l in lines), lines)

    def test_filters_drop_variants(self):
        text = self.get("/hls/demo/master.m3u8?max_height=240").text()
        self.assertNotIn("360p/index.m3u8", text)
        self.assertIn("240p/index.m3u8", text)
        low = self.package()["renditions"][2]["bandwidth"]
        text = self.get(f"/hls/demo/master.m3u8?max_bandwidth={low}").text()
        self.assertEqual(re.findall(r"\n(\w+)/index.m3u8", text), ["144p"])
        r = self.get("/hls/demo/master.m3u8?max_height=tall")
        self.assertEqual(r.status, 400)

    def test_cors_and_preflight(self):
        r = self.get("/hls/demo/master.m3u8", headers={"Origin": "http://player.example"})
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "*")
        r = http_request(self.edge.port, "OPTIONS", "/hls/demo/360p/index.m3u8",
                         headers={"Origin": "http://player.example",
                                  "Access-Control-Request-Method": "GET",
                                  "Access-Control-Request-Headers": "range"})
        self.assertEqual(r.status, 204)
        self.assertEqual(r.header("Access-Control-Allow-Headers"), "range")
        self.assertIn("GET", r.header("Access-Control-Allow-Methods"))
        # Errors carry CORS too, so a web player can read why.
        r = self.get("/hls/nope/master.m3u8", headers={"Origin": "http://player.example"})
        self.assertEqual((r.status, r.json()["error"]), (404, "PACKAGE_UNKNOWN"))
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "*")

    def test_errors(self):
        self.assertEqual(self.get("/hls/demo/1080p/index.m3u8").json()["error"], "RENDITION_UNKNOWN")
        self.assertEqual(self.get("/hls/demo/360p/notasegment.m4s").status, 404)
        self.assertEqual(self.get("/hls/demo/360p/" + "0" * 64 + ".m4s").status, 404)
        self.assertEqual(self.get("/hls/demo/a/b/c").status, 404)
        r = http_request(self.edge.port, "POST", "/hls/demo/master.m3u8", body=b"")
        self.assertEqual(r.status, 405)

    def test_publishing_again_stores_nothing(self):
        before = self.origin.metrics().value("shoal_store_blobs")
        r = self.hls("publish", self.source, "--name", "demo", "--ladder", LADDER,
                     "--segment-seconds", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip().splitlines()[-1], self.digest)
        self.assertEqual(self.origin.metrics().value("shoal_store_blobs"), before)

    def test_an_hls_directory_is_ingested(self):
        out = os.path.join(self.tmp, "packaged")
        os.makedirs(out)
        subprocess.run([FFMPEG, "-v", "error", "-i", self.source, "-c", "copy", "-f", "hls",
                        "-hls_time", "4", "-hls_playlist_type", "vod", "-hls_segment_type",
                        "mpegts", "-hls_segment_filename", os.path.join(out, "s%03d.ts"),
                        os.path.join(out, "index.m3u8")], check=True, timeout=120)
        digest = self.publish(out, "packaged")
        again = self.publish(out, "packaged")
        self.assertEqual(again, digest)
        text = self.get("/hls/packaged/master.m3u8").text()
        name = re.findall(r"\n([\w-]+)/index.m3u8", text)[0]
        media = self.get(f"/hls/packaged/{name}/index.m3u8").text()
        self.assertIn("#EXT-X-VERSION:3", media)
        self.assertNotIn("EXT-X-MAP", media)
        seg = re.findall(r"\n([0-9a-f]{64}\.ts)\n", media)[0]
        r = self.get(f"/hls/packaged/{name}/{seg}")
        self.assertEqual((r.status, r.header("Content-Type")), (200, "video/mp2t"))
        url = self.url(f"/hls/packaged/{name}/index.m3u8")
        r = subprocess.run([FFMPEG, "-v", "error", "-xerror", "-i", url, "-f", "null", "-"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)


class HlsPublishErrors(HlsTestCase):
    def test_bad_inputs_fail_with_one_line(self):
        garbage = os.path.join(self.tmp, "garbage.mp4")
        with open(garbage, "wb") as f:
            f.write(b"\x00not a video" * 100)
        for args in (["publish", garbage, "--name", "x"],
                     ["publish", os.path.join(self.tmp, "missing.mp4"), "--name", "x"],
                     ["publish", garbage, "--name", "bad name"],
                     ["publish", garbage]):
            r = self.hls(*args)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertTrue(r.stderr.strip(), args)
        self.assertEqual(self.origin.metrics().value("shoal_store_blobs", 0), 0)


if __name__ == "__main__":
    unittest.main()
