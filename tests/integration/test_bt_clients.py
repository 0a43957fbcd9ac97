"""Standard BitTorrent clients download a Shoal blob from its .torrent alone (issue 20,
item 2): the origin's metainfo carries `announce` and `announce-list` (two trackers, one
tier), so qBittorrent-nox (libtorrent 2.0.8, announces the v2 hash of the hybrid
torrent) and rtorrent (libtorrent 0.13, the v1 hash) find the origin's seeder through a
Shoal tracker with no tracker or peer added by hand. Each client runs on loopback only,
with DHT, local discovery, PEX, UPnP and NAT-PMP off, and is stopped at the end."""

import hashlib
import json
import os
import pty
import signal
import subprocess
import threading
import time
import unittest
import uuid

from peer_harness import PeerTestCase
from shoal_harness import HOST, MiB, file_digest, http_request, make_file, require_tool, \
    unused_port, wait_until
from tracker_harness import bdecode, bencode

DOWNLOAD_TIMEOUT = 90


class Client:
    """A third-party process: stopped with SIGTERM, then SIGKILL; output kept for errors."""

    def __init__(self, args, cwd, use_pty=False, env=None):
        self.output = []
        env = dict(os.environ, **(env or {}))
        if use_pty:  # rtorrent draws its curses screen and wants a terminal
            master, slave = pty.openpty()
            self.proc = subprocess.Popen(args, cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
                                         env=dict(env, TERM="xterm"), start_new_session=True)
            os.close(slave)
            self._fd = master
        else:
            self.proc = subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         env=env, start_new_session=True)
            self._fd = self.proc.stdout.fileno()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self):
        while True:
            try:
                b = os.read(self._fd, 65536)
            except OSError:
                return
            if not b:
                return
            self.output.append(b)

    def text(self):
        return b"".join(self.output)[-4000:].decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stdout is None:
            os.close(self._fd)
        else:
            self.proc.stdout.close()


class StandardClients(PeerTestCase):
    def setUp(self):
        super().setUp()
        origin_port = unused_port()
        relay = ("--peer-ttl", "60s", "--announce-interval", "5s",
                 "--origin", f"http://{HOST}:{origin_port}")
        self.t1 = self.start_tracker(*relay)
        self.t2 = self.start_tracker(*relay)
        self.tracker = self.t1
        self.announce = [f"http://{HOST}:{t.port}/announce" for t in (self.t1, self.t2)]
        self.origin = self.start_origin("--tracker", ",".join(self.announce), port=origin_port)

    def torrent(self, size, seed):
        """Pushes a blob; returns (digest, path of its .torrent from the origin, metainfo)."""
        path = os.path.join(self.tmp, "blob")
        digest = make_file(path, size, seed=seed)
        self.assertEqual(self.push_file(path), digest)
        self.wait_seeded(1)
        r = self.origin.request("GET", f"/blobs/{digest}/metainfo")
        self.assertEqual(r.status, 200, r)
        meta = bdecode(r.body)
        self.assertEqual(meta[b"announce-list"], [[a.encode() for a in self.announce]])
        torrent = os.path.join(self.tmp, "blob.torrent")
        with open(torrent, "wb") as f:
            f.write(r.body)
        return digest, torrent, meta

    def start_client(self, args, **kw):
        c = Client(args, cwd=self.mkdir("cwd"), **kw)
        self.addCleanup(c.stop)
        return c

    def assert_downloaded(self, client, path, digest):
        def complete():
            self.assertIsNone(client.proc.poll(), f"the client exited:\n{client.text()}")
            return os.path.exists(path) and os.path.getsize(path) > 0 and \
                file_digest(path) == digest
        started = time.monotonic()
        self.assertTrue(wait_until(complete, DOWNLOAD_TIMEOUT, 0.5),
                        f"no verified copy at {path} after {DOWNLOAD_TIMEOUT} s:\n{client.text()}")
        return time.monotonic() - started

    def assert_came_from_the_origin(self, size):
        self.assertTrue(wait_until(lambda: self.origin.metrics().value(
            "shoal_origin_bt_uploaded_bytes", 0) >= size, 10), self.origin.metrics().text)

    def test_qbittorrent_nox_downloads_a_blob_from_its_torrent_alone(self):
        qbt = require_tool("qbittorrent-nox")
        size = 6 * MiB + 123
        digest, torrent, meta = self.torrent(size, seed=11)
        save = self.mkdir("qbt-save")
        profile = self.mkdir("qbt-profile")
        bt_port, web_port = unused_port(), unused_port()
        # qBittorrent's own protocol default (uTP first, then TCP) stays: Shoal speaks TCP
        # only, so this costs about 4 s (docs/OPERATIONS.md), but nothing is set by hand.
        write_qbittorrent_config(profile, bt_port, web_port, save)
        client = self.start_client([qbt, f"--profile={profile}"])
        api = QbtApi(web_port)
        self.assertTrue(wait_until(api.up, 20), client.text())
        prefs = api.get_json("/api/v2/app/preferences")
        for key in ("dht", "lsd", "pex", "upnp"):
            self.assertIs(prefs[key], False, key)
        self.assertEqual(prefs["current_interface_address"], HOST)
        self.assertEqual(prefs["web_ui_address"], HOST)
        with open(torrent, "rb") as f:
            status = api.add_torrent(f.read(), save)
        self.assertEqual(status, 200)
        took = self.assert_downloaded(client, os.path.join(save, digest.split(":", 1)[1]), digest)
        info, = api.get_json("/api/v2/torrents/info")
        # The client's torrent is the origin's: same v1 and v2 info-hashes.
        raw_info = bencode(meta[b"info"])
        self.assertEqual(info["infohash_v1"], hashlib.sha1(raw_info).hexdigest())
        self.assertEqual(info["infohash_v2"], hashlib.sha256(raw_info).hexdigest())
        trackers = api.get_json("/api/v2/torrents/trackers?hash=" + info["hash"])
        urls = {t["url"] for t in trackers}
        self.assertTrue(set(self.announce) <= urls, trackers)
        self.assertTrue(any(t["status"] == 2 for t in trackers if t["url"] in self.announce),
                        f"no tracker marked working: {trackers}")
        self.assert_came_from_the_origin(size)
        print(f"\n  qbittorrent-nox: {size / MiB:.1f} MiB in {took:.2f} s", flush=True)

    def test_rtorrent_downloads_a_blob_from_its_torrent_alone(self):
        rtorrent = require_tool("rtorrent")
        size = 6 * MiB + 123
        digest, torrent, _ = self.torrent(size, seed=12)
        save = self.mkdir("rt-save")
        session = self.mkdir("rt-session")
        rc = os.path.join(self.tmp, "rtorrent.rc")
        done = os.path.join(self.tmp, "rt-done")
        with open(rc, "w") as f:
            f.write(rtorrent_config(save, session, unused_port(), done))
        client = self.start_client([rtorrent, "-n", "-o", f"import={rc}", torrent],
                                   use_pty=True, env={"HOME": self.home})
        took = self.assert_downloaded(client, os.path.join(save, digest.split(":", 1)[1]), digest)
        # rtorrent's own verdict (its hash check passed), not only the bytes on disk.
        self.assertTrue(wait_until(lambda: os.path.exists(done), 10), client.text())
        self.assert_came_from_the_origin(size)
        print(f"\n  rtorrent: {size / MiB:.1f} MiB in {took:.2f} s", flush=True)


def write_qbittorrent_config(profile, bt_port, web_port, save):
    """qBittorrent 4.5's own configuration file: legal notice accepted, BitTorrent and the
    WebUI on loopback, every discovery mechanism and port mapping off, no queueing."""
    conf_dir = os.path.join(profile, "qBittorrent", "config")
    os.makedirs(conf_dir, exist_ok=True)
    lines = [
        "[LegalNotice]", "Accepted=true", "",
        "[BitTorrent]",
        "Session\\DHTEnabled=false", "Session\\LSDEnabled=false", "Session\\PeXEnabled=false",
        f"Session\\Port={bt_port}", "Session\\Interface=lo", "Session\\InterfaceName=lo",
        f"Session\\InterfaceAddress={HOST}", f"Session\\DefaultSavePath={save}",
        "Session\\TempPathEnabled=false", "Session\\QueueingSystemEnabled=false",
        "Session\\AddTorrentPaused=false", "",
        "[Network]", "PortForwardingEnabled=false", "",
        "[Preferences]",
        f"WebUI\\Address={HOST}", f"WebUI\\Port={web_port}", "WebUI\\LocalHostAuth=false",
        "WebUI\\CSRFProtection=false", "WebUI\\HostHeaderValidation=false",
        "WebUI\\UseUPnP=false", "Connection\\UPnP=false", "",
    ]
    with open(os.path.join(conf_dir, "qBittorrent.conf"), "w") as f:
        f.write("\n".join(lines))


class QbtApi:
    """qBittorrent's WebUI API (v2), unauthenticated from localhost by configuration."""

    def __init__(self, port):
        self.port = port

    def up(self):
        try:
            return http_request(self.port, "GET", "/api/v2/app/version", timeout=2).status == 200
        except OSError:
            return False

    def get_json(self, path):
        r = http_request(self.port, "GET", path)
        if r.status != 200:
            raise AssertionError(f"GET {path}: {r!r}")
        return json.loads(r.body)

    def add_torrent(self, torrent_bytes, savepath):
        boundary = uuid.uuid4().hex
        parts = [
            (f'--{boundary}\r\nContent-Disposition: form-data; name="torrents"; '
             f'filename="blob.torrent"\r\nContent-Type: application/x-bittorrent\r\n\r\n').encode()
            + torrent_bytes + b"\r\n",
            (f'--{boundary}\r\nContent-Disposition: form-data; name="savepath"\r\n\r\n'
             f'{savepath}\r\n').encode(),
            f"--{boundary}--\r\n".encode(),
        ]
        r = http_request(self.port, "POST", "/api/v2/torrents/add", body=b"".join(parts),
                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return r.status


def rtorrent_config(save, session, port, done_marker):
    """rtorrent 0.9.8 commands: loopback only (listen and the address sent to the tracker),
    no DHT, no PEX, no UDP trackers; touches `done_marker` when a download completes."""
    return "\n".join([
        f"directory.default.set = {save}",
        f"session.path.set = {session}",
        f"network.bind_address.set = {HOST}",
        f"network.local_address.set = {HOST}",
        f"network.port_range.set = {port}-{port}",
        "network.port_random.set = no",
        "dht.mode.set = disable",
        "protocol.pex.set = no",
        "trackers.use_udp.set = no",
        f'method.set_key = event.download.finished, shoal_done, "execute.nothrow=touch,{done_marker}"',
        "",
    ])


if __name__ == "__main__":
    unittest.main()
