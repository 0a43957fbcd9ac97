"""HTTP/3 on the edge against independent clients: Debian's ngtcp2 example client
(gtlsclient, ngtcp2 0.12 + nghttp3) fetches blobs over QUIC, under packet loss, after
a Retry, across an address change and with a resumed session; Alt-Svc on HTTP/1.1 and
HTTP/2; raw datagrams that are not QUIC, an unknown version and unknown connection
IDs get what RFC 9000 says, and the edge keeps serving."""

import hashlib
import os
import re
import shutil
import socket
import subprocess
import time
import unittest

from edge_harness import EdgeTestCase
from shoal_harness import SHOAL_BIN, MiB, make_file, requires_tool, wait_until

GTLSCLIENT = shutil.which("gtlsclient")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


@requires_tool(GTLSCLIENT, "gtlsclient (Debian package ngtcp2-client)")
class Http3(EdgeTestCase):
    def setUp(self):
        super().setUp()
        self.start_cluster(peers=0)
        self.edge = self.start_edge()

    def blob(self, size, seed):
        path = os.path.join(self.tmp, f"blob-{seed}")
        make_file(path, size, seed=seed)
        return self.push(path)

    def gtls(self, digest, *args, timeout=120, expect_ok=True):
        """gtlsclient fetches /blobs/<digest>; returns (process, path of the download)."""
        out = self.mkdir(f"dl-{len(os.listdir(self.tmp))}")
        url = f"https://127.0.0.1:{self.edge.port}/blobs/{digest}"
        cmd = [GTLSCLIENT, "--exit-on-all-streams-close", f"--download={out}", "--timeout=30s",
               *args, "127.0.0.1", str(self.edge.port), url]
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
        path = os.path.join(out, digest)
        if expect_ok:
            self.assertEqual(p.returncode, 0, p.stderr[-500:])
            self.assertTrue(os.path.exists(path), p.stderr[-500:])
            self.assertEqual(sha256_file(path), digest)
        return p, path

    def h3_requests(self, digest):
        return [l for l in self.access_log(self.edge, f"/blobs/{digest}") if l.get("proto") == "h3"]

    def test_gtlsclient_fetches_a_blob_over_h3(self):
        d = self.blob(3 * MiB, 1)
        self.gtls(d, "-q")
        self.gtls(d, "-q")  # a hit, on a second connection
        log = wait_until(lambda: len(self.h3_requests(d)) >= 2 and self.h3_requests(d), timeout=10)
        # Written when each handler has finished: the MISS's may come second.
        by_cache = {l["cache"]: l for l in log}
        self.assertEqual(sorted(by_cache), ["HIT", "MISS"])
        self.assertEqual(by_cache["HIT"]["bytes_out"], 3 * MiB)
        m = self.edge.metrics()
        self.assertGreaterEqual(m.sum("shoal_http_requests_total", protocol="h3"), 2)

    def test_alt_svc_points_at_the_udp_port(self):
        d = self.blob(1024, 2)
        want = f'h3=":{self.edge.port}"; ma=86400'
        for version in ("--http1.1", "--http2"):
            r = self.curl(self.https(self.edge, f"/blobs/{d}"), version=version)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("alt-svc"), want, version)
        # Errors carry it too: a client learns HTTP/3 from whatever it gets first.
        r = self.curl(self.https(self.edge, "/blobs/sha256:" + "ab" * 32), version="--http2")
        self.assertEqual((r.status, r.header("alt-svc")), (404, want))
        # The plain listener cannot promise HTTP/3 on its own port: no Alt-Svc there.
        self.assertIsNone(self.edge.request("GET", f"/blobs/{d}").header("alt-svc"))

    def test_http3_can_be_turned_off(self):
        edge = self.start_edge("--http3=false", name="noh3")
        d = self.blob(1024, 3)
        r = self.curl(self.https(edge, f"/blobs/{d}"), version="--http2")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("alt-svc"))
        # Nothing answers QUIC on the port: a packet with an unknown version would get a
        # Version Negotiation from a listening edge; here it gets silence or an ICMP
        # port-unreachable (ConnectionRefusedError on a connected socket).
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("127.0.0.1", edge.port))
            dcid, scid = os.urandom(8), os.urandom(8)
            pkt = bytes([0xC0]) + b"\x1a\x2a\x3a\x4a" + bytes([8]) + dcid + bytes([8]) + scid
            s.settimeout(1)
            try:
                s.send(pkt + b"\x00" * (1200 - len(pkt)))
                answer = s.recv(2048)
            except (socket.timeout, ConnectionRefusedError):
                answer = None
            self.assertIsNone(answer, "a datagram came back from an edge with HTTP/3 off")
        # And a real HTTP/3 client gets no response. gtlsclient exits 0 even when the
        # handshake times out, so look at what it printed and downloaded.
        out = self.mkdir("dl-off")
        p = subprocess.run([GTLSCLIENT, "--no-quic-dump", "--exit-on-all-streams-close",
                            f"--download={out}", "--handshake-timeout=2s", "--timeout=5s",
                            "127.0.0.1", str(edge.port), f"https://127.0.0.1:{edge.port}/blobs/{d}"],
                           capture_output=True, timeout=30)
        printed = p.stdout + p.stderr
        self.assertFalse(b":status" in printed, b"gtlsclient got a response: " + printed[-500:])
        self.assertIn(b"HANDSHAKE_TIMEOUT", printed, printed[-500:])
        self.assertFalse(os.path.exists(os.path.join(out, d)))
        self.assertEqual([l for l in self.access_log(edge, f"/blobs/{d}") if l.get("proto") == "h3"], [])
        self.assertEqual(edge.metrics().sum("shoal_http_requests_total", protocol="h3"), 0)

    def test_64mib_under_loss(self):
        d = self.blob(64 * MiB, 4)
        self.curl(self.https(self.edge, f"/blobs/{d}"))  # warm the cache: measure QUIC, not the fill
        # gtlsclient drops that share of the datagrams it receives and sends at random,
        # so the edge must detect the losses and send again under congestion control:
        # with the 16 KiB datagrams a client on this host gets, and with the 1452-byte
        # ones of an Internet path.
        self.gtls(d, "-q", "--rx-loss=0.01", "--tx-loss=0.01", timeout=150)
        self.edge = self.start_edge("--h3-max-udp-payload=1452", name="small-datagrams")
        self.curl(self.https(self.edge, f"/blobs/{d}"))
        for loss in ("0.01", "0.05"):
            self.gtls(d, "-q", f"--rx-loss={loss}", f"--tx-loss={loss}", timeout=150)

    def test_datagram_size_follows_the_path(self):
        d = self.blob(4 * MiB, 12)
        self.curl(self.https(self.edge, f"/blobs/{d}"))

        def datagrams_for_one_fetch(edge):
            before = edge.metrics().value("shoal_http3_datagrams_sent_total") or 0
            self.gtls(d, "-q")
            return edge.metrics().value("shoal_http3_datagrams_sent_total") - before

        # A client on this host: the loopback MTU is known, 16 KiB datagrams from the
        # start (about 260 for 4 MiB), where discovery stops at 1452 bytes (about 2900).
        self.assertLess(datagrams_for_one_fetch(self.edge), 600)
        # An operator's size wins; 1452 is what discovery reaches on an Internet path.
        small = self.start_edge("--h3-max-udp-payload=1452", name="fixed-1452")
        self.curl(self.https(small, f"/blobs/{d}"))
        self.edge = small
        self.assertGreater(datagrams_for_one_fetch(small), 4 * MiB // 1452)
        for bad in ("1000", "70000", "big"):
            p = subprocess.run([SHOAL_BIN, "edge", "--origin", self.origin.url, "--data",
                                self.mkdir(f"bad-payload-{bad}"), f"--h3-max-udp-payload={bad}"],
                               capture_output=True, text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0, bad)
            self.assertIn("h3_max_udp_payload", p.stderr)

    def test_every_congestion_control_recovers_from_loss(self):
        d = self.blob(8 * MiB, 11)
        for algo in ("cubic", "reno"):  # bbr2, the default, in test_64mib_under_loss
            self.edge = self.start_edge(f"--h3-congestion-control={algo}", name=algo)
            self.gtls(d, "-q", "--rx-loss=0.01", "--tx-loss=0.01")
        p = subprocess.run([SHOAL_BIN, "edge", "--origin", self.origin.url, "--data",
                            self.mkdir("bad-cc"), "--h3-congestion-control=vegas"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("h3_congestion_control", p.stderr)

    def test_retry_validates_the_address(self):
        edge = self.start_edge("--h3-retry=true", name="retry")
        self.edge = edge
        d = self.blob(256 * 1024, 5)
        p, _ = self.gtls(d, "--no-http-dump")
        self.assertIn(b"type=Retry", p.stdout + p.stderr, "the edge sent no Retry")

    def test_connection_survives_an_address_change(self):
        d = self.blob(48 * MiB, 6)
        self.curl(self.https(self.edge, f"/blobs/{d}"))
        # The client moves to a new local port mid-transfer: its packets from there carry
        # a connection ID the edge issued, which leads to the same connection; the edge
        # validates the new path and the transfer goes on over it.
        p, _ = self.gtls(d, "--no-quic-dump", "--no-http-dump", "--change-local-addr=50ms")
        ports = set(re.findall(rb"Sent packet: local=\[127.0.0.1\]:(\d+)", p.stdout + p.stderr))
        self.assertGreaterEqual(len(ports), 2, "the client never changed its address")

    def test_session_resumption_and_0rtt(self):
        d = self.blob(64 * 1024, 7)
        sess, tp = os.path.join(self.tmp, "session"), os.path.join(self.tmp, "tp")
        self.gtls(d, "-q", f"--session-file={sess}", f"--tp-file={tp}")
        self.assertGreater(os.path.getsize(sess), 0, "no session ticket was sent")
        p, _ = self.gtls(d, "--no-http-dump", f"--session-file={sess}", f"--tp-file={tp}")
        # TLS 1.3 resumption: the ServerHello carries the pre_shared_key extension (41).
        out = p.stdout + p.stderr
        self.assertIsNotNone(re.search(rb"00 29 00 02 00 00", out),
                             "the ServerHello chose no pre-shared key")
        # 0-RTT: the request went out before the handshake, and the edge took it.
        self.assertIsNotNone(re.search(rb"frm tx \d+ 0RTT STREAM\(0x0b\) id=0x0 ", out),
                             "the client sent no request as 0-RTT")
        self.assertNotIn(b"Early data was rejected", out)
        # A request that is not safe to repeat is refused from 0-RTT, where it could be
        # a replay: 425 Too Early, and the client may send it again after the handshake.
        p, _ = self.gtls(d, "--no-quic-dump", "-m", "POST", f"--session-file={sess}",
                         f"--tp-file={tp}", expect_ok=False)
        self.assertIn(b"[:status: 425]", p.stdout + p.stderr)

    def test_garbage_versions_and_unknown_connections(self):
        d = self.blob(64 * 1024, 8)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        addr = ("127.0.0.1", self.edge.port)
        # Not QUIC at all: dropped without an answer.
        s.sendto(b"\x00" * 3, addr)
        s.settimeout(0.5)
        self.assertRaises(socket.timeout, s.recvfrom, 2048)
        s.settimeout(2)
        # A long header with a version we do not speak: Version Negotiation offering v1.
        dcid, scid = os.urandom(8), os.urandom(8)
        pkt = bytes([0xC0]) + b"\x1a\x2a\x3a\x4a" + bytes([8]) + dcid + bytes([8]) + scid
        s.sendto(pkt + b"\x00" * (1200 - len(pkt)), addr)
        vn, _ = s.recvfrom(2048)
        self.assertEqual(vn[1:5], b"\x00\x00\x00\x00", "not a Version Negotiation packet")
        self.assertEqual(vn[6:14], scid)  # echoes the client's IDs, swapped
        self.assertIn(b"\x00\x00\x00\x01", vn[5 + 1 + 8 + 1 + 8:])
        # A short header for a connection the edge does not know: a stateless reset,
        # smaller than what arrived.
        short = bytes([0x40]) + os.urandom(18) + os.urandom(80)
        s.sendto(short, addr)
        reset, _ = s.recvfrom(2048)
        self.assertLess(len(reset), len(short))
        self.assertEqual(reset[0] & 0xC0, 0x40)
        s.close()
        self.gtls(d, "-q")  # none of it harmed the listener

    def test_connections_per_client_are_limited(self):
        edge = self.start_edge("--max-connections-per-client=1", name="one")
        self.edge = edge
        d = self.blob(64 * 1024, 10)
        out = self.mkdir("dl-held")
        url = f"https://127.0.0.1:{edge.port}/blobs/{d}"
        # The first client holds its connection for 3 s before it asks.
        first = subprocess.Popen([GTLSCLIENT, "-q", "--exit-on-all-streams-close", "--delay-stream=3s",
                                  f"--download={out}", "127.0.0.1", str(edge.port), url])
        try:
            time.sleep(1)
            p, path = self.gtls(d, "--no-http-dump", expect_ok=False, timeout=30)
            self.assertIn(b"CONNECTION_REFUSED", p.stdout + p.stderr)
            self.assertFalse(os.path.exists(path))
        finally:
            first.wait(timeout=60)
        self.assertEqual(sha256_file(os.path.join(out, d)), d)
        # Its slot is free again once its closing period (three PTOs) is over.
        def fetched():
            p, path = self.gtls(d, "-q", expect_ok=False, timeout=30)
            return os.path.exists(path) and sha256_file(path) == d
        self.assertTrue(wait_until(fetched, timeout=10), "the slot never came back")

    def test_many_requests_on_one_connection_past_the_stream_limit(self):
        edge = self.start_edge("--h2-max-concurrent-streams=4", name="few")
        self.edge = edge
        d = self.blob(256 * 1024, 9)
        # 32 requests through a limit of 4 open streams: the client waits for credit.
        # The client allows the server 100 streams of its own (as browsers do), which
        # once made the edge confuse the two limits and abort on the first stream freed.
        p, path = self.gtls(d, "-q", "-n", "32", "--max-streams-bidi=100")
        log = wait_until(lambda: len(self.h3_requests(d)) >= 32 and self.h3_requests(d), timeout=10)
        self.assertEqual({l["status"] for l in log}, {200})

    def test_one_datagram_and_no_timer_per_small_request(self):
        # A small cached response goes out with the ACK of its request in one datagram,
        # and answering it arms no timer to fire. The edge once sent the ACK alone when
        # the client's window update and request came in one read, and re-armed its
        # timer for ngtcp2's pacing slot after every packet: two sends and a wake-up
        # per request.
        d = self.blob(1024, 10)
        url = self.https(self.edge, f"/blobs/{d}")
        get = [SHOAL_BIN, "get", url, "--http3", "--cacert", self.cert]
        subprocess.run(get + ["--quiet"], check=True, capture_output=True, timeout=60)  # fill
        n = 200
        keys = ("shoal_http3_send_calls_total", "shoal_http3_datagrams_sent_total",
                "shoal_http3_timer_wakeups_total", "shoal_http3_datagrams_received_total")

        def round_of_requests():
            before = self.edge.metrics()
            p = subprocess.run(get + ["--parallel", "1", "--requests", str(n), "--json"],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            after = self.edge.metrics()
            return {k: after.value(k) - before.value(k) for k in keys}

        # Each request one send, some two when its datagrams come in two reads or its
        # handler finishes after the read batch's flush (before: 2 sends and 1.3
        # wake-ups a request, every time). A loaded machine (CI runs tests side by
        # side) can push a whole round near 2, so the best of three rounds is judged:
        # the old code could not pass any of them.
        rounds = []
        for _ in range(3):
            rounds.append(round_of_requests())
            if rounds[-1]["shoal_http3_send_calls_total"] < n * 1.6:
                break
        delta = min(rounds, key=lambda d: d["shoal_http3_send_calls_total"])
        self.assertLess(delta["shoal_http3_send_calls_total"], n * 1.6, rounds)
        self.assertGreaterEqual(delta["shoal_http3_datagrams_sent_total"], n, delta)
        self.assertGreaterEqual(delta["shoal_http3_datagrams_received_total"], n, delta)
        self.assertLess(delta["shoal_http3_timer_wakeups_total"], n * 0.6, delta)
        # The client closed its connection: the edge lets it go after draining.
        wait_until(lambda: self.edge.metrics().value("shoal_http3_connections") == 0, timeout=10)


if __name__ == "__main__":
    unittest.main()
