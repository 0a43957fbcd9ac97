#!/usr/bin/env python3
"""Checks a sequence of snapshots of one *live* HLS media playlist against the rules
a live server must keep (RFC 8216 sections 4.3.3, 6.2.1 and 6.2.2).

    from live_rules import check_live_sequence, poll_playlist
    snapshots = poll_playlist(url, seconds=20, interval=0.5)   # [(t, text), ...]
    assert check_live_sequence(snapshots) == []

check_live_sequence(snapshots) takes (time_seconds, playlist_text) pairs in polling
order and returns the violated rules as strings (empty list = all good). Each string
starts with a rule id, e.g. "media-sequence-decreased: ...":

  unparseable            the text is not a media playlist (no #EXTM3U / no TARGETDURATION)
  playlist-type          EXT-X-PLAYLIST-TYPE present in a live playlist
  extinf-over-target     an EXTINF rounded to the nearest integer exceeds TARGETDURATION
  target-duration-changed  EXT-X-TARGETDURATION differs between snapshots
  media-sequence-decreased
  media-sequence-mismatch  segments removed from the front, but MEDIA-SEQUENCE did not
                         rise by exactly the number removed (matched by segment URI)
  segment-changed        a segment (by media sequence number) changed URI or duration
                         once listed: only appending at the end is allowed
  uri-reused             one URI listed under two media sequence numbers
  segments-removed-from-end  the playlist's last segment number went down
  window-too-short       sum of EXTINF < 3 x TARGETDURATION while the stream already had
                         that much (not checked once EXT-X-ENDLIST is present)
  stale                  no new segment for longer than
                         freshness_factor x TARGETDURATION + poll slack (the wait for
                         the very first segment of an empty playlist is not judged)
  endlist-removed        EXT-X-ENDLIST disappeared after it had appeared
  segments-after-endlist a segment was added after EXT-X-ENDLIST appeared

Run `python3 live_rules.py` for the self-test (exit 0 when it passes), or
`python3 live_rules.py URL [--seconds S] [--interval I]` to poll a playlist and check it
(prints one JSON line {url, snapshots, violations}; exit 1 on any violation).
Python 3 standard library only.
"""

import json
import sys
import time
import urllib.request

__all__ = ["parse_media_playlist", "check_live_sequence", "poll_playlist"]


def _attr_int(line, default=None):
    try:
        return int(line.split(":", 1)[1].strip())
    except (IndexError, ValueError):
        return default


def parse_media_playlist(text):
    """Minimal media playlist parser: returns a dict with target_duration (int or None),
    media_sequence (int), playlist_type (str or None), endlist (bool),
    segments [(uri, duration)], and error (str or None)."""
    pl = {"target_duration": None, "media_sequence": 0, "playlist_type": None,
          "endlist": False, "segments": [], "error": None}
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").split("\n")]
    lines = [ln for ln in lines if ln]
    if not lines or lines[0] != "#EXTM3U":
        pl["error"] = "the first line is not #EXTM3U"
        return pl
    duration = None
    for ln in lines[1:]:
        if ln.startswith("#EXT-X-TARGETDURATION:"):
            pl["target_duration"] = _attr_int(ln)
        elif ln.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            pl["media_sequence"] = _attr_int(ln, 0)
        elif ln.startswith("#EXT-X-PLAYLIST-TYPE:"):
            pl["playlist_type"] = ln.split(":", 1)[1].strip()
        elif ln == "#EXT-X-ENDLIST":
            pl["endlist"] = True
        elif ln.startswith("#EXTINF:"):
            try:
                duration = float(ln[len("#EXTINF:"):].split(",", 1)[0])
            except ValueError:
                pl["error"] = "bad EXTINF: %s" % ln
                duration = 0.0
        elif ln.startswith("#EXT-X-STREAM-INF"):
            pl["error"] = "a master playlist, not a media playlist"
        elif ln.startswith("#"):
            continue
        else:
            if duration is None:
                pl["error"] = pl["error"] or "URI %r has no EXTINF" % ln
                duration = 0.0
            pl["segments"].append((ln, duration))
            duration = None
    if pl["target_duration"] is None and not pl["error"]:
        pl["error"] = "no EXT-X-TARGETDURATION"
    return pl


def check_live_sequence(snapshots, freshness_factor=1.5, poll_slack=None,
                        window_factor=3.0, window_tolerance=0.05,
                        check_tail_staleness=True, max_per_rule=5):
    """Returns the violated rules (strings) of a polled live media playlist.

    snapshots: [(time_seconds, playlist_text), ...] in polling order.
    freshness_factor: a new segment must show within freshness_factor x TARGETDURATION
        (RFC 8216 6.2.2 and the edge's contract: 1.5).
    poll_slack: seconds added to that limit for the polling itself; None = the largest
        gap between consecutive snapshots (a change can be seen that late).
    window_factor, window_tolerance: the window must last >= window_factor x TD
        - window_tolerance seconds (EXTINF values are rounded by encoders).
    check_tail_staleness: also flag a playlist that stopped growing before the last
        snapshot (without EXT-X-ENDLIST) for longer than the freshness limit.
    max_per_rule: report at most this many violations of one rule, then a count
        (None = no limit).
    """
    violations = []
    counts = {}

    def bad(rule, msg, i=None):
        counts[rule] = counts.get(rule, 0) + 1
        if max_per_rule is None or counts[rule] <= max_per_rule:
            where = "" if i is None else " (snapshot %d, t=%.3f)" % (i, snapshots[i][0])
            violations.append("%s: %s%s" % (rule, msg, where))

    if not snapshots:
        return ["no-snapshots: nothing to check"]

    parsed = []
    for i, (t, text) in enumerate(snapshots):
        pl = parse_media_playlist(text)
        if pl["error"]:
            bad("unparseable", pl["error"], i)
            continue
        parsed.append((i, float(t), pl))
    if not parsed:
        return violations

    by_seq = {}     # media sequence number -> (uri, duration), as first listed
    by_uri = {}     # uri -> media sequence number
    first_td = parsed[0][2]["target_duration"]
    min_seq = None  # lowest media sequence number seen so far
    max_gap = max([b[1] - a[1] for a, b in zip(parsed, parsed[1:])] or [0.0])
    slack = max_gap if poll_slack is None else poll_slack

    prev = None
    last_change_t = parsed[0][1]     # when the last segment number last went up
    last_change_i = parsed[0][0]
    ended = False
    for i, t, pl in parsed:
        td = pl["target_duration"]
        seq = pl["media_sequence"]
        segs = pl["segments"]
        last = seq + len(segs) - 1  # media sequence number of the last segment
        min_seq = seq if min_seq is None else min(min_seq, seq)

        # Per-snapshot rules.
        if pl["playlist_type"] is not None:
            bad("playlist-type", "EXT-X-PLAYLIST-TYPE:%s in a live playlist" % pl["playlist_type"], i)
        if td != first_td:
            bad("target-duration-changed", "EXT-X-TARGETDURATION %s, was %s" % (td, first_td), i)
        for n, (uri, d) in enumerate(segs):
            if int(d + 0.5) > td:
                bad("extinf-over-target",
                    "EXTINF %.3f of %s rounds above TARGETDURATION %d" % (d, uri, td), i)
        for n, (uri, d) in enumerate(segs):
            num = seq + n
            if num in by_seq:
                ouri, od = by_seq[num]
                if (ouri, round(od, 6)) != (uri, round(d, 6)):
                    bad("segment-changed", "segment %d was %s (%.3f s), now %s (%.3f s)"
                        % (num, ouri, od, uri, d), i)
            else:
                by_seq[num] = (uri, d)
            if uri in by_uri and by_uri[uri] != num:
                bad("uri-reused", "%s listed as segment %d and as segment %d" % (uri, by_uri[uri], num), i)
            by_uri.setdefault(uri, num)
        if not pl["endlist"]:
            window = sum(d for _, d in segs)
            known = sum(d for num, (_, d) in by_seq.items() if num <= last)
            need = window_factor * td
            if window < need - window_tolerance and (known >= need - window_tolerance or seq > min_seq):
                bad("window-too-short", "window %.3f s < %.1f x TARGETDURATION (%d) with %d segments"
                    % (window, window_factor, td, len(segs)), i)

        # Rules between consecutive snapshots.
        if prev is not None:
            pi, pt, ppl = prev
            pseq, psegs = ppl["media_sequence"], ppl["segments"]
            plast = pseq + len(psegs) - 1
            if seq < pseq:
                bad("media-sequence-decreased", "EXT-X-MEDIA-SEQUENCE %d after %d" % (seq, pseq), i)
            else:
                k = seq - pseq
                puris = [u for u, _ in psegs]
                if segs and psegs:
                    head = segs[0][0]
                    if k < len(psegs):
                        if puris[k] != head:
                            actual = puris.index(head) if head in puris else None
                            what = ("%d were removed from the front" % actual if actual is not None
                                    else "the first segment %s was not listed before" % head)
                            bad("media-sequence-mismatch",
                                "EXT-X-MEDIA-SEQUENCE rose by %d (%d -> %d) but %s"
                                % (k, pseq, seq, what), i)
                    elif head in puris:
                        bad("media-sequence-mismatch",
                            "EXT-X-MEDIA-SEQUENCE rose by %d (%d -> %d) but only %d were removed"
                            % (k, pseq, seq, puris.index(head)), i)
            if last < plast:
                bad("segments-removed-from-end", "last segment number %d, was %d" % (last, plast), i)
            if ppl["endlist"]:
                if not pl["endlist"]:
                    bad("endlist-removed", "EXT-X-ENDLIST disappeared", i)
                if last > plast:
                    bad("segments-after-endlist", "%d segment(s) added after EXT-X-ENDLIST" % (last - plast), i)
            if last > plast and not ppl["endlist"]:
                gap = t - last_change_t
                limit = freshness_factor * td + slack
                if gap > limit + 1e-9 and psegs:  # the wait for a first segment is not judged
                    bad("stale", "no new segment for %.3f s (limit %.1f x %d + %.3f = %.3f s), since t=%.3f"
                        % (gap, freshness_factor, td, slack, limit, last_change_t), i)
                last_change_t, last_change_i = t, i
        if pl["endlist"]:
            ended = True
        prev = (i, t, pl)

    if check_tail_staleness and not ended and len(parsed) > 1:
        i, t, pl = parsed[-1]
        gap = t - last_change_t
        limit = freshness_factor * pl["target_duration"] + slack
        if gap > limit + 1e-9:
            bad("stale", "no new segment for the last %.3f s of polling (limit %.3f s), since t=%.3f"
                % (gap, limit, last_change_t), i)

    for rule, n in counts.items():
        if max_per_rule is not None and n > max_per_rule:
            violations.append("%s: ... and %d more" % (rule, n - max_per_rule))
    return violations


def poll_playlist(url, seconds, interval=0.5, timeout=5.0, stop_on_endlist=True):
    """Fetches url every `interval` seconds for `seconds` seconds; returns
    [(t, text)] with t from time.monotonic() relative to the first request.
    HTTP and network errors propagate (urllib.error.URLError / HTTPError)."""
    snaps = []
    t0 = time.monotonic()
    deadline = t0 + seconds
    while True:
        now = time.monotonic()
        req = urllib.request.Request(url, headers={"Cache-Control": "no-cache"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text = resp.read().decode("utf-8", "replace")
        snaps.append((now - t0, text))
        if stop_on_endlist and "#EXT-X-ENDLIST" in text:
            break
        nxt = now + interval
        if nxt > deadline:
            break
        time.sleep(max(0.0, nxt - time.monotonic()))
    return snaps


# ---------------------------------------------------------------- self-test

def _playlist(seq, segs, td=2, endlist=False, ptype=None, extra=""):
    out = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:%d" % td,
           "#EXT-X-MEDIA-SEQUENCE:%d" % seq]
    if ptype:
        out.append("#EXT-X-PLAYLIST-TYPE:%s" % ptype)
    out.append('#EXT-X-MAP:URI="init.mp4"')
    out.append(extra) if extra else None
    for uri, d in segs:
        out.append("#EXTINF:%.6f," % d)
        out.append(uri)
    if endlist:
        out.append("#EXT-X-ENDLIST")
    return "\n".join(out) + "\n"


def _simulate(total=12, window=4, seg=2.0, poll=0.5, end=True, td=2, delay=0.0, mutate=None, tail=1.5):
    """A well-behaved live server: one segment every `seg` seconds, sliding window of
    `window` segments, polled every `poll` seconds. mutate(i, t, seq, segs, endlist)
    may return a replacement (seq, segs, endlist, extra_kwargs) to inject a fault."""
    snaps = []
    t = 0.0
    i = 0
    end_t = total * seg + tail
    while t <= end_t + 1e-9:
        produced = min(total, int((t - delay) // seg) + 1) if t >= delay else 0
        lo = max(0, produced - window)
        segs = [("seg%d.m4s" % n, seg) for n in range(lo, produced)]
        endlist = end and produced == total and t >= total * seg
        kw = {}
        if mutate:
            r = mutate(i, t, lo, segs, endlist)
            if r is not None:
                lo, segs, endlist, kw = r
        snaps.append((round(t, 3), _playlist(lo, segs, td=kw.pop("td", td), endlist=endlist, **kw)))
        t += poll
        i += 1
    return snaps


def _rules(violations):
    return sorted({v.split(":", 1)[0] for v in violations})


def _selftest():
    checks = 0

    def expect(name, snaps, rules, **kw):
        nonlocal checks
        got = check_live_sequence(snaps, **kw)
        assert _rules(got) == sorted(rules), "%s: expected %s, got %s" % (name, rules, got)
        checks += 1
        return got

    # Parser basics.
    p = parse_media_playlist(_playlist(5, [("a.m4s", 2.0), ("b.m4s", 1.5)], endlist=True))
    assert p["media_sequence"] == 5 and p["target_duration"] == 2 and p["endlist"]
    assert p["segments"] == [("a.m4s", 2.0), ("b.m4s", 1.5)] and p["error"] is None
    assert parse_media_playlist("#EXT-X-TARGETDURATION:2\n")["error"]
    assert parse_media_playlist("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n")["error"]
    assert parse_media_playlist("#EXTM3U\r\n#EXT-X-TARGETDURATION:4\r\n#EXTINF:4,\r\nx.ts\r\n")["segments"] == [("x.ts", 4.0)]
    checks += 1

    # Good sequences.
    expect("good sliding window with endlist", _simulate(), [])
    expect("good without endlist (observation stops mid-stream)", _simulate(end=False, total=8)[:20], [])
    expect("good, slow poller (2 segments appended between polls)", _simulate(poll=3.0), [])
    expect("good, window of 3 exact", _simulate(window=3), [])
    expect("good, stream shorter than 3 x TD", _simulate(total=2, window=4), [])
    expect("good, a single snapshot", _simulate()[:1], [])
    expect("good, segments of 1.9-2.4 s (EXTINF rounds to <= TD)",
           _simulate(mutate=lambda i, t, seq, segs, e: (seq, [(u, 1.9 + (int(u[3:-4]) % 2) * 0.5) for u, _ in segs], e, {})),
           [])

    # Bad sequences, one fault each.
    expect("playlist type", _simulate(mutate=lambda i, t, s, g, e: (s, g, e, {"ptype": "EVENT"})), ["playlist-type"])
    expect("media sequence decreases",
           _simulate(mutate=lambda i, t, s, g, e: (s - 1, g, e, {}) if t == 11 else None),
           ["media-sequence-decreased", "media-sequence-mismatch", "segment-changed", "uri-reused",
            "segments-removed-from-end"])

    def seq_off_by_one(i, t, s, g, e):  # removes one segment but bumps the sequence by 2 from t=10
        return (s + 1, g, e, {}) if t >= 10 else None
    got = expect("media sequence rises by 2 while 1 removed", _simulate(mutate=seq_off_by_one),
                 ["media-sequence-mismatch", "segment-changed", "uri-reused"])
    assert any("rose by" in v for v in got), got

    def seq_not_bumped(i, t, s, g, e):  # front segment dropped, sequence left alone
        return (0, g, e, {})
    expect("segments removed but sequence stays 0", _simulate(mutate=seq_not_bumped),
           ["media-sequence-mismatch", "segment-changed", "uri-reused"])

    def changes_uri(i, t, s, g, e):  # a listed segment is renamed later
        if t >= 9 and g:
            g = [(u + "?v=2" if u == "seg4.m4s" else u, d) for u, d in g]
            return (s, g, e, {})
        return None
    expect("listed segment changes", _simulate(mutate=changes_uri), ["segment-changed"])

    def changes_duration(i, t, s, g, e):
        if t >= 9:
            return (s, [(u, 1.5 if u == "seg4.m4s" else d) for u, d in g], e, {})
        return None
    expect("listed segment duration changes", _simulate(mutate=changes_duration), ["segment-changed"])

    def inserts_middle(i, t, s, g, e):  # from t=8 a segment is inserted before the last one
        if t >= 8 and len(g) >= 2:
            return (s, g[:-1] + [("extra.m4s", 2.0)] + g[-1:], e, {})
        return None
    expect("segment inserted in the middle", _simulate(mutate=inserts_middle), ["segment-changed", "uri-reused"])

    expect("window too short (2 x 2 s, TD 2)", _simulate(window=2), ["window-too-short"])
    expect("window too short is fine with a looser factor", _simulate(window=2), [], window_factor=2.0)

    expect("EXTINF above target duration",
           _simulate(mutate=lambda i, t, s, g, e: (s, [(u, 2.6 if u == "seg5.m4s" else d) for u, d in g], e, {})),
           ["extinf-over-target"])
    expect("target duration changes",
           _simulate(window=5, mutate=lambda i, t, s, g, e: (s, g, e, {"td": 3}) if t >= 11 else None),
           ["target-duration-changed"])

    def stalls(i, t, s, g, e):  # the playlist freezes between t=8 and t=13 (5 s > 1.5 x 2 + 0.5)
        if 8 <= t < 13:
            frozen = [("seg%d.m4s" % n, 2.0) for n in range(1, 5)]
            return (1, frozen, False, {})
        return None
    got = expect("stale playlist (no new segment for 5 s)", _simulate(mutate=stalls), ["stale"])
    assert "limit 1.5 x 2 + 0.500" in got[0], got
    expect("stale passes with a generous freshness factor", _simulate(mutate=stalls), [], freshness_factor=3.0)
    expect("late publisher: every segment 3.6 s late is fine (constant delay)", _simulate(delay=3.6), [])
    expect("tail staleness (stops growing, no endlist)",
           _simulate(end=False, total=5, tail=6.0), ["stale"])
    expect("tail staleness can be switched off",
           _simulate(end=False, total=5, tail=6.0), [], check_tail_staleness=False)

    def drops_endlist(i, t, s, g, e):
        if t >= 24.5:
            return (s, g, False, {})
        return None
    expect("endlist disappears", _simulate(mutate=drops_endlist), ["endlist-removed"], check_tail_staleness=False)

    def grows_after_end(i, t, s, g, e):
        if t >= 25:
            return (s, g + [("seg12.m4s", 2.0)], True, {})
        return None
    expect("segment added after endlist", _simulate(mutate=grows_after_end), ["segments-after-endlist"])

    def shrinks_end(i, t, s, g, e):
        if 9 <= t < 9.5:
            return (s, g[:-1], e, {})
        return None
    expect("last segment removed again", _simulate(mutate=shrinks_end), ["segments-removed-from-end"])

    expect("empty live playlist that never gets a segment",
           [(t * 0.5, _playlist(0, [])) for t in range(20)], ["stale"])
    expect("garbage snapshot", [(0.0, "<html>404</html>")] + _simulate()[1:], ["unparseable"])
    got = check_live_sequence(_simulate(mutate=lambda i, t, s, g, e: (s, g, e, {"ptype": "VOD"})), max_per_rule=2)
    assert len(got) == 3 and got[-1].startswith("playlist-type: ... and"), got
    assert check_live_sequence([]) == ["no-snapshots: nothing to check"]
    checks += 2
    return checks


def _main(argv):
    if not argv:
        n = _selftest()
        print("live_rules self-test: %d passed, 0 failed" % n)
        return 0
    import argparse
    ap = argparse.ArgumentParser(description="poll a live HLS media playlist and check it")
    ap.add_argument("url")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--freshness-factor", type=float, default=1.5)
    a = ap.parse_args(argv)
    snaps = poll_playlist(a.url, a.seconds, a.interval)
    v = check_live_sequence(snaps, freshness_factor=a.freshness_factor)
    print(json.dumps({"url": a.url, "snapshots": len(snaps), "violations": v}))
    return 1 if v else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
