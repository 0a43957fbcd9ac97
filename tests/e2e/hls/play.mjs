#!/usr/bin/env node
// Plays an HLS stream with hls.js in a real (headless) Chromium, from a page whose
// origin differs from the stream's, so the stream server must answer CORS.
//
//   node play.mjs --page-origin-port P --src URL
//                 [--throttle-after SECONDS [--throttle-kbps K]]
//                 [--timeout SECONDS] [--play-seconds S] [--max-buffer SECONDS]
//                 [--chromium PATH] [--verbose]
//
// --page-origin-port P  port of the page's own tiny HTTP server on 127.0.0.1 (the page
//                       and hls.min.js are served from http://127.0.0.1:P/); 0 picks a
//                       free port (the summary's pageOrigin tells which).
// --src URL             master or media playlist URL (another origin, e.g. another port).
// --throttle-after S    once playback has started and S seconds passed, throttle the
//                       page's network over CDP (Network.emulateNetworkConditions:
//                       downloadThroughput K*1024/8 bytes/s, latency 50 ms). hls.js is
//                       started on the highest-bitrate level, so the goal becomes: a
//                       LEVEL_SWITCHED (the *playing* level changed) to a lower bitrate than
//                       the highest seen, after throttling began.
// --throttle-kbps K     throttled download rate in kbit/s (default 300).
// --timeout S           overall limit in seconds, browser start included (default 60).
// --play-seconds S      goal without throttling: the video played S seconds, measured as
//                       currentTime minus currentTime at the first 'playing' event, so a
//                       live stream that starts at its live edge is judged alike (default 3).
// --max-buffer S        hls.js maxBufferLength = maxMaxBufferLength (default 6; small, so
//                       that fragments are still being fetched when the throttle starts
//                       and a downswitch reaches the playhead soon after).
// --chromium PATH       browser binary (default $CHROMIUM or /usr/bin/chromium).
// --verbose             page events and console lines on stderr as they happen.
//
// Prints one JSON line on stdout:
//   {ok, goal, started, maxCurrentTime, playedSeconds, levels:[{index,width,height,bitrate}],
//    switches:[{t, level, height, bitrate}], switchedDown, throttledAt, switchDownAfter,
//    abrDownAfter (throttle -> hls.js chose a lower level; switchDownAfter is -> it played),
//    fatalErrors:[...], errors:[...], corsBlocked, fragsLoaded, fragsByLevel, timedOut,
//    elapsedSeconds, ...}
// t values are seconds since the page started. errors holds hls.js ERROR events, console
// errors of the page (a CORS rejection shows up here as "... blocked by CORS policy ..."),
// uncaught page exceptions and failed requests (aborted ones are only counted).
// Exit status: 0 if the goal was met, 1 otherwise (fatal error, timeout, no start, ...),
// 2 on bad usage. The browser and the page server are closed on every path, SIGTERM,
// SIGINT and SIGHUP included.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const USAGE = 'usage: node play.mjs --page-origin-port P --src URL [--throttle-after SECONDS [--throttle-kbps K]] '
  + '[--timeout SECONDS] [--play-seconds S] [--max-buffer SECONDS] [--chromium PATH] [--verbose]';

function parseArgs(argv) {
  const o = {
    port: null, src: null, throttleAfter: null, throttleKbps: 300, timeout: 60, playSeconds: 3,
    maxBuffer: 6, chromium: process.env.CHROMIUM || '/usr/bin/chromium', verbose: false,
  };
  const num = (name, v, min) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min) throw new Error(`${name} needs a number >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--page-origin-port': o.port = num(a, argv[++i], 0); break;
      case '--src': o.src = argv[++i]; break;
      case '--throttle-after': o.throttleAfter = num(a, argv[++i], 0); break;
      case '--throttle-kbps': o.throttleKbps = num(a, argv[++i], 1); break;
      case '--timeout': o.timeout = num(a, argv[++i], 1); break;
      case '--play-seconds': o.playSeconds = num(a, argv[++i], 0); break;
      case '--max-buffer': o.maxBuffer = num(a, argv[++i], 1); break;
      case '--chromium': o.chromium = argv[++i]; break;
      case '--verbose': o.verbose = true; break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (o.port === null || o.port > 65535 || !Number.isInteger(o.port)) throw new Error('--page-origin-port is required (0..65535; 0 = any free port)');
  if (!o.src) throw new Error('--src is required');
  new URL(o.src); // throws on a malformed URL
  return o;
}

function hlsDistPath() {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('hls.js/package.json')), 'dist', 'hls.min.js');
}

function pageHtml(cfg) {
  // JSON in a <script>: escape '<' so a URL cannot close the tag.
  const cfgJson = JSON.stringify(cfg).replace(/</g, '\\u003c');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>shoal hls e2e</title><link rel="icon" href="data:,"></head>
<body>
<video id="v" muted playsinline width="1280" height="720"></video>
<script src="/hls.min.js"></script>
<script>
(function () {
  var CFG = ${cfgJson};
  var t0 = performance.now();
  function now() { return Math.round(performance.now() - t0) / 1000; }
  var events = window.__events = [];
  var st = window.__state = { started: false, startCurrentTime: null, currentTime: 0, maxCurrentTime: 0 };
  window.__now = now;
  function rec(type, data) {
    var e = { t: now(), type: type };
    if (data) for (var k in data) e[k] = data[k];
    events.push(e);
  }
  window.__rec = rec;
  var video = document.getElementById('v');
  video.muted = true;
  var lastTu = -1;
  video.addEventListener('playing', function () {
    if (!st.started) { st.started = true; st.startCurrentTime = video.currentTime; }
    rec('playing', { currentTime: video.currentTime });
  });
  video.addEventListener('waiting', function () { rec('waiting', { currentTime: video.currentTime }); });
  video.addEventListener('timeupdate', function () {
    var ct = video.currentTime;
    st.currentTime = ct;
    if (ct > st.maxCurrentTime) st.maxCurrentTime = ct;
    if (now() - lastTu >= 0.5) { lastTu = now(); rec('timeupdate', { currentTime: ct }); }
  });
  video.addEventListener('error', function () {
    var err = video.error || {};
    rec('error', { errorType: 'mediaElementError', details: 'code ' + err.code + ': ' + (err.message || ''), fatal: true });
  });
  if (typeof Hls === 'undefined') {
    rec('error', { errorType: 'setup', details: 'hls.js did not load', fatal: true });
    return;
  }
  if (!Hls.isSupported()) {
    rec('error', { errorType: 'setup', details: 'Hls.isSupported() is false (no MediaSource)', fatal: true });
    return;
  }
  var hls = window.__hls = new Hls({
    autoStartLoad: false,          // started by hand after picking the highest level
    capLevelToPlayerSize: false,
    testBandwidth: false,
    abrEwmaDefaultEstimate: 100e6, // assume a fast link: begin, and stay, high
    maxBufferLength: CFG.maxBuffer,
    maxMaxBufferLength: CFG.maxBuffer, // hls.js would otherwise buffer up to 2x when bitrates are low
    enableWorker: true
  });
  function levelInfo(i) {
    var l = hls.levels && hls.levels[i];
    return l ? { level: i, width: l.width, height: l.height, bitrate: l.bitrate } : { level: i };
  }
  hls.on(Hls.Events.MANIFEST_PARSED, function (ev, data) {
    var levels = data.levels.map(function (l, i) { return { index: i, width: l.width, height: l.height, bitrate: l.bitrate }; });
    var top = 0;
    for (var i = 1; i < data.levels.length; i++) if (data.levels[i].bitrate > data.levels[top].bitrate) top = i;
    rec('manifestParsed', { levels: levels, startLevel: top });
    hls.startLevel = top;
    hls.startLoad(-1);
    var p = video.play();
    if (p && p.catch) p.catch(function (e) { rec('error', { errorType: 'play', details: String(e && e.name) + ': ' + String(e && e.message), fatal: false }); });
  });
  hls.on(Hls.Events.LEVEL_SWITCHING, function (ev, data) { rec('levelSwitching', levelInfo(data.level)); });
  hls.on(Hls.Events.LEVEL_SWITCHED, function (ev, data) { rec('levelSwitched', levelInfo(data.level)); });
  hls.on(Hls.Events.FRAG_LOADED, function (ev, data) {
    var f = data.frag || {}, s = f.stats || (data.part && data.part.stats) || {};
    var ms = s.loading ? Math.round(s.loading.end - s.loading.start) : null;
    rec('fragLoaded', { level: f.level, sn: f.sn, bytes: s.total || s.loaded || null, ms: ms });
  });
  hls.on(Hls.Events.FRAG_LOAD_EMERGENCY_ABORTED, function (ev, data) {
    rec('fragLoadEmergencyAborted', { level: data.frag && data.frag.level, sn: data.frag && data.frag.sn });
  });
  hls.on(Hls.Events.ERROR, function (ev, data) {
    var url = data.url || (data.frag && data.frag.url) || (data.context && data.context.url) || undefined;
    var code = data.response && data.response.code;
    var reason = data.reason || (data.error && data.error.message) || undefined;
    rec('error', { errorType: data.type, details: data.details, fatal: !!data.fatal, url: url, code: code, reason: reason });
  });
  hls.loadSource(CFG.src);
  hls.attachMedia(video);
})();
</script>
</body></html>
`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`play.mjs: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  const wallStart = Date.now();
  const log = (...a) => { if (opts.verbose) console.error('[play]', ...a); };
  const goal = opts.throttleAfter === null ? 'play' : 'downswitch';

  const summary = {
    ok: false, goal, src: opts.src, pageOrigin: `http://127.0.0.1:${opts.port}`,
    started: false, timeToStart: null, maxCurrentTime: 0, playedSeconds: 0,
    levels: [], switches: [], switchedDown: false,
    throttledAt: null, throttleKbps: opts.throttleAfter === null ? null : opts.throttleKbps, switchDownAfter: null, abrDownAfter: null,
    fatalErrors: [], errors: [], corsBlocked: false,
    fragsLoaded: 0, fragsByLevel: {}, emergencyAborts: 0, abortedRequests: 0,
    timedOut: false, reason: null, elapsedSeconds: 0,
  };

  let server = null;
  let browser = null;
  let finishing = null;
  const finish = (code, extra) => {
    if (finishing) return finishing;
    finishing = (async () => {
      if (extra) Object.assign(summary, extra);
      summary.elapsedSeconds = Math.round((Date.now() - wallStart) / 100) / 10;
      if (browser) {
        await Promise.race([browser.close().catch(() => {}), sleep(5000)]);
      }
      if (server) {
        server.closeAllConnections?.();
        await new Promise((r) => server.close(() => r()));
      }
      process.stdout.write(JSON.stringify(summary) + '\n');
      // playwright's own 'exit' handler SIGKILLs a browser that is still alive.
      process.exit(code);
    })();
    return finishing;
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(sig, () => { log(`got ${sig}`); finish(1, { aborted: sig, reason: `got ${sig}` }); });
  }
  process.on('unhandledRejection', (e) => {
    summary.errors.push({ source: 'play.mjs', text: `unhandled rejection: ${e && e.message ? e.message : e}` });
    finish(1, { reason: 'exception: unhandled rejection' });
  });
  const hardDeadline = setTimeout(() => finish(1, { timedOut: true, reason: 'timeout' }), opts.timeout * 1000);

  try {
    // 1. The page's own origin.
    const html = pageHtml({ src: opts.src, maxBuffer: opts.maxBuffer });
    const hlsJs = fs.readFileSync(hlsDistPath());
    server = http.createServer((req, res) => {
      const p = new URL(req.url, 'http://x').pathname;
      if (p === '/' || p === '/index.html') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(html);
      } else if (p === '/hls.min.js') {
        res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(hlsJs);
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not found\n');
      }
    });
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
    });
    summary.pageOrigin = `http://127.0.0.1:${server.address().port}`;
    if (new URL(opts.src).origin === summary.pageOrigin) summary.warning = 'stream and page share an origin: CORS is not exercised';
    log(`page server on ${summary.pageOrigin}`);

    // 2. The browser. (Checked first: playwright leaves its temp dirs behind when the
    // executable is missing.)
    try {
      fs.accessSync(opts.chromium, fs.constants.X_OK);
    } catch {
      throw new Error(`browser ${opts.chromium} not found or not executable (apt-get install chromium)`);
    }
    browser = await chromium.launch({
      executablePath: opts.chromium,
      headless: true,
      args: ['--autoplay-policy=no-user-gesture-required', '--no-sandbox', '--disable-dev-shm-usage', '--mute-audio'],
      handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
      timeout: Math.min(30000, opts.timeout * 1000),
    });
    summary.browserVersion = browser.version();
    const page = await browser.newPage();
    page.on('console', (msg) => {
      const text = msg.text();
      log(`console.${msg.type()}: ${text}`);
      if (msg.type() === 'error') {
        summary.errors.push({ source: 'console', text });
        if (/CORS policy|Access-Control-Allow-Origin/i.test(text)) summary.corsBlocked = true;
      }
    });
    page.on('pageerror', (err) => {
      log(`pageerror: ${err.message}`);
      summary.errors.push({ source: 'pageerror', text: String(err.message || err) });
    });
    page.on('requestfailed', (req) => {
      const text = req.failure()?.errorText || 'failed';
      if (/ERR_ABORTED/.test(text)) { summary.abortedRequests++; return; }
      log(`requestfailed: ${req.url()} ${text}`);
      summary.errors.push({ source: 'requestfailed', url: req.url(), text });
    });
    await page.goto(`${summary.pageOrigin}/`, { waitUntil: 'load', timeout: 15000 });

    // 3. Follow the page's events until the goal is met or something fatal happens.
    let seen = 0;
    let startedAt = null;      // page time of the first 'playing'
    let maxBitrateSeen = -1;
    let goalMet = false;
    for (;;) {
      const { events, state, now } = await page.evaluate((n) => ({
        events: (window.__events || []).slice(n), state: window.__state || {}, now: window.__now ? window.__now() : 0,
      }), seen);
      seen += events.length;
      for (const e of events) {
        if (opts.verbose && e.type !== 'timeupdate') log(JSON.stringify(e));
        switch (e.type) {
          case 'manifestParsed':
            summary.levels = e.levels;
            summary.startLevel = e.startLevel;
            break;
          case 'playing':
            if (startedAt === null) { startedAt = e.t; summary.timeToStart = e.t; }
            summary.started = true;
            break;
          case 'levelSwitched': {
            const sw = { t: e.t, level: e.level, height: e.height, bitrate: e.bitrate };
            summary.switches.push(sw);
            const br = e.bitrate ?? -1;
            if (summary.throttledAt !== null && e.t >= summary.throttledAt && br < maxBitrateSeen && !summary.switchedDown) {
              summary.switchedDown = true;
              summary.switchDownAfter = Math.round((e.t - summary.throttledAt) * 1000) / 1000;
            }
            if (br > maxBitrateSeen) maxBitrateSeen = br;
            break;
          }
          case 'levelSwitching':
            if (summary.throttledAt !== null && e.t >= summary.throttledAt && summary.abrDownAfter === null
                && (e.bitrate ?? -1) < maxBitrateSeen) {
              summary.abrDownAfter = Math.round((e.t - summary.throttledAt) * 1000) / 1000;
            }
            break;
          case 'fragLoaded':
            summary.fragsLoaded++;
            summary.fragsByLevel[e.level] = (summary.fragsByLevel[e.level] || 0) + 1;
            break;
          case 'fragLoadEmergencyAborted':
            summary.emergencyAborts++;
            break;
          case 'error': {
            const err = { t: e.t, type: e.errorType, details: e.details, fatal: e.fatal };
            for (const k of ['url', 'code', 'reason']) if (e[k] !== undefined && e[k] !== null) err[k] = e[k];
            summary.errors.push(err);
            if (e.fatal) summary.fatalErrors.push(err);
            break;
          }
          default:
            break;
        }
      }
      summary.maxCurrentTime = Math.round((state.maxCurrentTime || 0) * 1000) / 1000;
      if (state.started && state.startCurrentTime !== null) {
        summary.playedSeconds = Math.round(Math.max(0, (state.currentTime || 0) - state.startCurrentTime) * 1000) / 1000;
      }

      if (summary.fatalErrors.length) {
        const f = summary.fatalErrors[0];
        summary.reason = `fatal error: ${f.type}/${f.details}`;
        break;
      }
      // A CORS rejection never heals on retry; hls.js would retry for ~30 s first.
      if (summary.corsBlocked) { summary.reason = 'request blocked by CORS policy'; break; }
      if (goal === 'play' && summary.started && summary.playedSeconds >= opts.playSeconds) { goalMet = true; break; }
      if (goal === 'downswitch') {
        if (summary.switchedDown) { goalMet = true; break; }
        if (summary.throttledAt === null && startedAt !== null && now - startedAt >= opts.throttleAfter) {
          const cdp = await page.context().newCDPSession(page);
          await cdp.send('Network.enable');
          await cdp.send('Network.emulateNetworkConditions', {
            offline: false,
            latency: 50,
            downloadThroughput: (opts.throttleKbps * 1024) / 8,
            uploadThroughput: -1,
          });
          summary.throttledAt = await page.evaluate(() => { window.__rec('throttle', {}); return window.__now(); });
          log(`throttled to ${opts.throttleKbps} kbit/s at t=${summary.throttledAt}`);
        }
      }
      await sleep(200);
    }
    clearTimeout(hardDeadline);
    summary.ok = goalMet;
    if (!goalMet && !summary.reason) {
      summary.reason = goal === 'downswitch' && summary.levels.length < 2
        ? 'fewer than two levels: no downswitch possible' : 'goal not met';
    }
    await finish(goalMet ? 0 : 1);
  } catch (e) {
    clearTimeout(hardDeadline);
    if (finishing) return; // a signal or the deadline is already closing everything
    const text = String(e && e.message ? e.message : e);
    summary.errors.push({ source: 'play.mjs', text });
    await finish(1, { reason: `exception: ${text.split('\n')[0]}` });
  }
}

main();
