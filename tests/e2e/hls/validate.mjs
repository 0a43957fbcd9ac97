#!/usr/bin/env node
// Validates HLS playlists fetched over HTTP with hls-parser in strict mode.
//
//   node validate.mjs [--follow] [--timeout SECONDS] [--require-content-type] URL [URL...]
//
// Prints one JSON line per playlist checked:
//   {url, ok, type: "master"|"media", error?, status?, contentType?,
//    variants?, renditions?,                                    (master)
//    segments?, mediaSequence?, targetDuration?, endlist?,      (media)
//    playlistType?, from?}
// --follow: for a master playlist, also fetch and validate every variant's media
//   playlist and every EXT-X-MEDIA rendition that has a URI (relative URIs are
//   resolved against the master's final URL); those lines carry "from": masterUrl.
// --require-content-type: fail a playlist whose Content-Type is not
//   application/vnd.apple.mpegurl or audio/mpegurl (RFC 8216 section 4).
// --timeout: per-request timeout in seconds (default 10).
// Exit status: 0 if every playlist passed, 1 if any failed, 2 on bad usage.
import HLS from 'hls-parser';

const USAGE = 'usage: node validate.mjs [--follow] [--timeout SECONDS] [--require-content-type] URL [URL...]';
const PLAYLIST_TYPES = new Set(['application/vnd.apple.mpegurl', 'audio/mpegurl', 'application/x-mpegurl']);

function parseArgs(argv) {
  const opts = { follow: false, timeout: 10, requireContentType: false, urls: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--follow') opts.follow = true;
    else if (a === '--require-content-type') opts.requireContentType = true;
    else if (a === '--timeout') {
      opts.timeout = Number(argv[++i]);
      if (!(opts.timeout > 0)) throw new Error('--timeout needs a positive number of seconds');
    } else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else opts.urls.push(a);
  }
  if (opts.urls.length === 0) throw new Error('no URL given');
  return opts;
}

// Fetches and parses one playlist. Returns {result, playlist?, finalUrl?}.
async function check(url, opts, from) {
  const result = { url, ok: false };
  if (from) result.from = from;
  let text;
  let finalUrl = url;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeout * 1000), redirect: 'follow' });
    finalUrl = res.url || url;
    result.status = res.status;
    const ct = res.headers.get('content-type');
    if (ct) result.contentType = ct;
    text = await res.text();
    if (!res.ok) {
      result.error = `HTTP ${res.status}`;
      return { result };
    }
    if (opts.requireContentType) {
      const mime = (ct || '').split(';')[0].trim().toLowerCase();
      if (!PLAYLIST_TYPES.has(mime)) {
        result.error = `Content-Type ${JSON.stringify(ct)} is not an HLS playlist type`;
        return { result };
      }
    }
  } catch (e) {
    result.error = `fetch failed: ${e.cause ? `${e.message} (${e.cause.code || e.cause.message || e.cause})` : e.message}`;
    return { result };
  }

  let playlist;
  try {
    playlist = HLS.parse(text);
  } catch (e) {
    result.error = `parse: ${e.message}`;
    return { result };
  }

  if (playlist.isMasterPlaylist) {
    result.type = 'master';
    result.variants = playlist.variants.length;
    const renditions = new Set();
    for (const v of playlist.variants) {
      for (const r of [...v.audio, ...v.video, ...v.subtitles, ...v.closedCaptions]) {
        if (r.uri) renditions.add(r.uri);
      }
    }
    result.renditions = renditions.size;
    if (playlist.variants.length === 0) {
      result.error = 'master playlist has no EXT-X-STREAM-INF variants';
      return { result };
    }
  } else {
    result.type = 'media';
    result.segments = playlist.segments.length;
    result.mediaSequence = playlist.mediaSequenceBase ?? 0;
    result.targetDuration = playlist.targetDuration;
    result.endlist = Boolean(playlist.endlist);
    if (playlist.playlistType) result.playlistType = playlist.playlistType;
  }
  result.ok = true;
  return { result, playlist, finalUrl };
}

function childUris(master, baseUrl) {
  const seen = new Set();
  const out = [];
  const add = (uri) => {
    let abs;
    try {
      abs = new URL(uri, baseUrl).href;
    } catch {
      abs = uri; // reported as a fetch failure below
    }
    if (!seen.has(abs)) {
      seen.add(abs);
      out.push(abs);
    }
  };
  for (const v of master.variants) {
    add(v.uri);
    for (const r of [...v.audio, ...v.video, ...v.subtitles]) if (r.uri) add(r.uri);
  }
  return out;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`validate.mjs: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  HLS.setOptions({ strictMode: true, silent: true });

  let failed = false;
  const emit = (r) => {
    if (!r.ok) failed = true;
    process.stdout.write(JSON.stringify(r) + '\n');
  };
  for (const url of opts.urls) {
    const { result, playlist, finalUrl } = await check(url, opts);
    emit(result);
    if (opts.follow && playlist && playlist.isMasterPlaylist) {
      for (const child of childUris(playlist, finalUrl)) {
        const sub = await check(child, opts, url);
        if (sub.result.ok && sub.result.type !== 'media') {
          sub.result.ok = false;
          sub.result.error = 'variant URI points at a master playlist, not a media playlist';
        }
        emit(sub.result);
      }
    }
  }
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(`validate.mjs: ${e.stack || e}`);
  process.exit(1);
});
