"""Helpers for the peer agent's integration tests: a `shoal peer` process and a
whole local cluster (tracker, seeding origin, N peer agents) on loopback."""

import http.client
import time

from shoal_harness import HOST, SHOAL_BIN, MiB, Origin, run_cli, unused_port
from tracker_harness import TrackerTestCase


class Peer(Origin):
    """A `shoal peer` on 127.0.0.1:0; same lifecycle and log parsing as Origin."""

    def command(self):
        return [SHOAL_BIN, "peer", "--listen", f"{HOST}:{self.listen_port}", "--data",
                self.data_dir] + self.args

    def bt_port(self):
        for line in self.log_lines:
            if line.get("msg") == "swarm":
                return int(line["bt_port"])
        return None


class PeerTestCase(TrackerTestCase):
    """setUp-free: tests call start_cluster() with the flags they need."""

    def start_cluster(self, peers=1, peer_args=(), origin_args=()):
        # Tracker and origin each need the other's URL: fix the origin's port first.
        origin_port = unused_port()
        self.tracker = self.start_tracker("--peer-ttl", "60s", "--announce-interval", "5s",
                                          "--origin", f"http://{HOST}:{origin_port}")
        tracker_url = f"http://{HOST}:{self.tracker.port}"
        self.origin = self.start_origin("--tracker", tracker_url, *origin_args, port=origin_port)
        self.peers = [self.start_peer(f"peer{i}", *peer_args) for i in range(peers)]
        return self.peers

    def start_peer(self, name, *args, data_dir=None, origin=None, tracker=None):
        """origin: the --origin value (default: the cluster's origin; a ring passes all);
        tracker: the --tracker value (default: the cluster's tracker; URL,URL,... for several)."""
        if data_dir is None:
            data_dir = self.mkdir(name)
        tracker = tracker or f"http://{HOST}:{self.tracker.port}"
        p = Peer(data_dir, args=["--origin", origin or self.origin.url,
                                 "--tracker", tracker] + list(args),
                 cwd=self.mkdir("cwd"))
        self._origins.append(p)
        self.addCleanup(self._finish_origin, p)
        p.start()
        return p

    def restart_peer(self, peer, *args):
        peer.stop()
        peer.expected_exit = True
        p = Peer(peer.data_dir, args=peer.args + list(args), cwd=peer.cwd)
        self._origins.append(p)
        self.addCleanup(self._finish_origin, p)
        p.start()
        return p

    def push_file(self, path, *extra):
        r = run_cli(["push", path, "--origin", self.origin.url, "--quiet", *extra], home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def wait_seeded(self, count=1, timeout=30):
        """Until the origin seeds `count` blobs (metainfo is made in the background)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.origin.metrics().value("shoal_origin_seeding_torrents", 0) >= count:
                return
            time.sleep(0.1)
        self.fail(f"origin did not start seeding {count} blob(s)")


def get_to_file(port, path, out_path, headers=None, timeout=120):
    """GET streamed to a file; returns (status, headers dict, bytes written)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    n = 0
    with open(out_path, "wb") as f:
        while True:
            b = resp.read(MiB)
            if not b:
                break
            f.write(b)
            n += len(b)
    hdrs = {k.lower(): v for k, v in resp.getheaders()}
    conn.close()
    if resp.status == 200 and "content-length" in hdrs and n != int(hdrs["content-length"]):
        raise ConnectionError(f"GET {path}: body cut short at {n} of {hdrs['content-length']} bytes")
    return resp.status, hdrs, n
