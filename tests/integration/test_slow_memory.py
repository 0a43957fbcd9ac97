"""Memory stays flat: pushing and pulling a 4 GiB blob through the CLI grows the
origin's resident set by less than 64 MiB over its post-start baseline."""

import os
import threading
import time
import unittest

from shoal_harness import (GiB, MiB, ShoalTestCase, blob_path, file_digest, log, make_file,
                           read_vm_rss, start_cli)

# 4 GiB and a bit: sizes and offsets past 2^32 catch 32-bit truncation too.
SIZE = 4 * GiB + 4096 + 17
LIMIT = 64 * MiB


class Sampler:
    """Samples VmRSS of a set of pids every `interval` seconds on a thread."""

    def __init__(self, interval=0.1):
        self.interval = interval
        self.peaks = {}
        self.extra = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, name, pid):
        with self._lock:
            self.extra[name] = pid

    def unwatch(self, name):
        with self._lock:
            self.extra.pop(name, None)

    def _run(self):
        while not self._stop.is_set():
            with self._lock:
                items = list(self.extra.items())
            for name, pid in items:
                rss = read_vm_rss(pid)
                if rss is not None and rss > self.peaks.get(name, 0):
                    self.peaks[name] = rss
            self._stop.wait(self.interval)

    def start(self):
        self.thread.start()

    def stop(self):
        self._stop.set()
        self.thread.join(5)


class MemoryBound(ShoalTestCase):
    def test_push_pull_4gib_rss_flat(self):
        need = 3 * SIZE + GiB
        st = os.statvfs(self.tmp)
        free = st.f_bavail * st.f_frsize
        if free < need:
            self.skipTest(f"needs {need >> 30} GiB free under {self.tmp}, have {free >> 30} GiB")
        origin = self.start_origin()
        time.sleep(0.5)
        baseline = origin.vm_rss()
        self.assertIsNotNone(baseline)

        src = os.path.join(self.tmp, "big.bin")
        t0 = time.monotonic()
        digest = make_file(src, SIZE, seed=99)
        log(f"\n[memory] generated {SIZE >> 30} GiB in {time.monotonic() - t0:.1f}s; "
            f"origin baseline RSS {baseline / MiB:.1f} MiB")

        sampler = Sampler()
        sampler.watch("origin", origin.pid)
        sampler.start()
        self.addCleanup(sampler.stop)

        def run_watched(name, args, timeout):
            p = start_cli(args, home=self.home)
            sampler.watch(name, p.pid)
            try:
                out, err = p.communicate(timeout=timeout)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                sampler.unwatch(name)
            return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")

        t0 = time.monotonic()
        rc, out, err = run_watched("push", ["push", src, "--origin", origin.url, "--quiet"], 250)
        push_s = time.monotonic() - t0
        self.assertEqual(rc, 0, f"push failed: {err}")
        self.assertEqual(out.strip(), digest)
        self.assertEqual(os.path.getsize(blob_path(origin.data_dir, digest)), SIZE)
        os.unlink(src)
        log(f"[memory] push {SIZE / MiB / push_s:.0f} MiB/s; origin peak so far "
            f"{sampler.peaks.get('origin', 0) / MiB:.1f} MiB")

        dst = os.path.join(self.tmp, "back.bin")
        t0 = time.monotonic()
        rc, out, err = run_watched("pull", ["pull", digest, "-o", dst, "--origin", origin.url,
                                            "--quiet"], 250)
        pull_s = time.monotonic() - t0
        self.assertEqual(rc, 0, f"pull failed: {err}")
        sampler.stop()
        origin.check_alive()
        peak = sampler.peaks.get("origin", 0)
        log(f"[memory] pull {SIZE / MiB / pull_s:.0f} MiB/s; origin RSS baseline "
            f"{baseline / MiB:.1f} MiB, peak {peak / MiB:.1f} MiB, growth {(peak - baseline) / MiB:.1f} MiB; "
            f"CLI peaks push {sampler.peaks.get('push', 0) / MiB:.1f} MiB, "
            f"pull {sampler.peaks.get('pull', 0) / MiB:.1f} MiB")
        self.assertEqual(os.path.getsize(dst), SIZE)
        self.assertEqual(file_digest(dst), digest)
        # Ranges beyond 4 GiB.
        with open(dst, "rb") as f:
            for a, b in ((GiB * 4 - 10, GiB * 4 + 10), (SIZE - 100, SIZE - 1), (3 * GiB, 3 * GiB + 99)):
                with self.subTest(range=(a, b)):
                    f.seek(a)
                    want = f.read(b - a + 1)
                    r = origin.request("GET", f"/blobs/{digest}", headers={"Range": f"bytes={a}-{b}"})
                    self.assertEqual(r.status, 206, r)
                    self.assertEqual(r.header("Content-Range"), f"bytes {a}-{b}/{SIZE}", r)
                    self.assertEqual(r.body, want)
        r = origin.request("HEAD", f"/blobs/{digest}")
        self.assertEqual(r.header("Content-Length"), str(SIZE), r)
        os.unlink(dst)
        self.assertLess(peak - baseline, LIMIT,
                        f"origin RSS grew by {(peak - baseline) / MiB:.1f} MiB "
                        f"(baseline {baseline / MiB:.1f}, peak {peak / MiB:.1f})")
        # The CLI streams too: it must not hold the artifact in memory.
        for name in ("push", "pull"):
            self.assertLess(sampler.peaks.get(name, 0), 256 * MiB, f"{name} CLI RSS peak")


if __name__ == "__main__":
    unittest.main()
