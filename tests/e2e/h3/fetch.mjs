#!/usr/bin/env node
// Fetches one URL over HTTP/3 in a real (headless) Chromium and reports which protocol
// the browser used and what it received.
//
//   node fetch.mjs --url URL --spki BASE64 [--chromium PATH] [--timeout S]
//                  [--net-log FILE] [--verbose]
//
// --url URL       https://localhost:PORT/... (e.g. a blob on the edge). The browser is
//                 forced onto QUIC for localhost:PORT (--origin-to-force-quic-on), so it
//                 never needs Alt-Svc; localhost is mapped to 127.0.0.1.
// --spki BASE64   base64 of the SHA-256 of the server certificate's DER
//                 SubjectPublicKeyInfo: Chromium accepts that (self-signed) certificate,
//                 over QUIC as well as TCP, only through
//                 --ignore-certificate-errors-spki-list.
// --chromium PATH browser binary (default $CHROMIUM or /usr/bin/chromium).
// --timeout S     overall limit in seconds, browser start included (default 45).
// --net-log FILE  also write Chromium's NetLog there (--log-net-log), for debugging.
// --verbose       progress, page console lines and failed requests on stderr.
//
// How: open a page on the URL's origin (its /health, so the page is same-origin and the
// fetch needs no CORS), fetch() the URL from the page with cache: 'no-store', hash the
// body in the page with crypto.subtle, and read the resource timing entry of that URL
// for nextHopProtocol ("h3" means HTTP/3 over QUIC).
//
// Prints one JSON line on stdout:
//   {ok, nextHopProtocol, sha256: "sha256:<hex>", bytes, status, error,
//    navigationProtocol, browserVersion, elapsedSeconds}
// ok means the fetch completed with a 2xx status (the caller judges the protocol and
// the digest). Exit status: 0 if ok, 1 otherwise, 2 on bad usage. The browser is closed
// and its user-data-dir removed on every path, SIGTERM, SIGINT and SIGHUP included.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// playwright-core is installed once, for the HLS tools (tests/e2e/hls/install.sh);
// resolve it from there rather than installing it a second time.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const requireFromHls = createRequire(path.join(HERE, '..', 'hls', 'package.json'));

const USAGE = 'usage: node fetch.mjs --url URL --spki BASE64 [--chromium PATH] [--timeout S] '
  + '[--net-log FILE] [--verbose]';

function parseArgs(argv) {
  const o = {
    url: null, spki: null, chromium: process.env.CHROMIUM || '/usr/bin/chromium', timeout: 45,
    netLog: null, verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--url': o.url = val(); break;
      case '--spki': o.spki = val(); break;
      case '--chromium': o.chromium = val(); break;
      case '--timeout': {
        const n = Number(val());
        if (!Number.isFinite(n) || n < 1) throw new Error('--timeout needs a number >= 1');
        o.timeout = n;
        break;
      }
      case '--net-log': o.netLog = path.resolve(val()); break;
      case '--verbose': o.verbose = true; break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!o.url) throw new Error('--url is required');
  if (!o.spki) throw new Error('--spki is required');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(o.spki)) throw new Error('--spki must be base64 of 32 bytes');
  const u = new URL(o.url); // throws on a malformed URL
  if (u.protocol !== 'https:') throw new Error('--url must be https://');
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`fetch.mjs: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  const wallStart = Date.now();
  const log = (...a) => { if (opts.verbose) console.error('[fetch]', ...a); };
  const url = new URL(opts.url);
  const port = url.port || '443';
  const hostPort = `${url.hostname}:${port}`;

  const summary = {
    ok: false, url: opts.url, nextHopProtocol: null, sha256: null, bytes: null, status: null,
    error: null, navigationProtocol: null, browserVersion: null, elapsedSeconds: 0,
  };

  let context = null;
  let userDataDir = null;
  let finishing = null;
  const finish = (code, error) => {
    if (finishing) return finishing;
    finishing = (async () => {
      if (error && !summary.error) summary.error = error;
      summary.elapsedSeconds = Math.round((Date.now() - wallStart) / 100) / 10;
      if (context) {
        await Promise.race([context.close().catch(() => {}), sleep(5000)]);
      }
      if (userDataDir) {
        try { fs.rmSync(userDataDir, { recursive: true, force: true }); } catch { /* best effort */ }
      }
      process.stdout.write(JSON.stringify(summary) + '\n');
      // playwright's own 'exit' handler SIGKILLs a browser that is still alive.
      process.exit(code);
    })();
    return finishing;
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(sig, () => { log(`got ${sig}`); finish(1, `got ${sig}`); });
  }
  process.on('unhandledRejection', (e) => {
    finish(1, `unhandled rejection: ${e && e.message ? e.message : e}`);
  });
  const hardDeadline = setTimeout(() => finish(1, `timeout after ${opts.timeout} s`), opts.timeout * 1000);

  try {
    let chromium;
    try {
      ({ chromium } = requireFromHls('playwright-core'));
    } catch (e) {
      throw new Error(`playwright-core not found under tests/e2e/hls/node_modules (run tests/e2e/hls/install.sh): ${e.message}`);
    }
    // Checked first: playwright leaves its temp dirs behind when the executable is missing.
    try {
      fs.accessSync(opts.chromium, fs.constants.X_OK);
    } catch {
      throw new Error(`browser ${opts.chromium} not found or not executable (apt-get install chromium)`);
    }
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-h3-chromium-'));
    const args = [
      '--no-sandbox',
      '--disable-dev-shm-usage',
      '--enable-quic',
      `--origin-to-force-quic-on=${hostPort}`,
      // Without it localhost may resolve to ::1, where the edge does not listen.
      `--host-resolver-rules=MAP ${url.hostname} 127.0.0.1`,
      `--ignore-certificate-errors-spki-list=${opts.spki}`,
    ];
    if (opts.netLog) args.push(`--log-net-log=${opts.netLog}`, '--net-log-capture-mode=Everything');
    log('chromium args:', args.join(' '));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: opts.chromium,
      headless: true,
      args,
      // No ignoreHTTPSErrors: the certificate must pass through the SPKI allow-list, the
      // one mechanism Chromium also applies to QUIC.
      handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
      timeout: Math.min(30000, opts.timeout * 1000),
    });
    summary.browserVersion = context.browser()?.version() ?? null;
    const page = context.pages()[0] || await context.newPage();
    page.on('console', (msg) => log(`console.${msg.type()}: ${msg.text()}`));
    page.on('pageerror', (err) => log(`pageerror: ${err.message}`));
    page.on('requestfailed', (req) => log(`requestfailed: ${req.url()} ${req.failure()?.errorText}`));

    // 1. A page of the same origin.
    const pageUrl = `${url.origin}/health`;
    log(`goto ${pageUrl}`);
    const resp = await page.goto(pageUrl, { waitUntil: 'load', timeout: Math.min(20000, opts.timeout * 1000) });
    log(`page status ${resp ? resp.status() : 'none'}`);
    summary.navigationProtocol = await page.evaluate(
      () => performance.getEntriesByType('navigation')[0]?.nextHopProtocol ?? null);

    // 2. The fetch, hashed in the page.
    const r = await page.evaluate(async (target) => {
      const out = { status: null, bytes: null, sha256: null, nextHopProtocol: null, error: null };
      try {
        const res = await fetch(target, { cache: 'no-store' });
        out.status = res.status;
        const buf = await res.arrayBuffer();
        out.bytes = buf.byteLength;
        const d = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
        out.sha256 = 'sha256:' + Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
      } catch (e) {
        out.error = `fetch failed: ${e && e.message ? e.message : e}`;
      }
      const abs = new URL(target, location.href).href;
      const entries = performance.getEntriesByType('resource').filter((e) => e.name === abs);
      if (entries.length) out.nextHopProtocol = entries[entries.length - 1].nextHopProtocol;
      return out;
    }, opts.url);
    Object.assign(summary, r);
    clearTimeout(hardDeadline);
    const ok = !r.error && r.status >= 200 && r.status < 300;
    summary.ok = ok;
    if (!ok && !summary.error) summary.error = `HTTP status ${r.status}`;
    await finish(ok ? 0 : 1);
  } catch (e) {
    clearTimeout(hardDeadline);
    if (finishing) return; // a signal or the deadline is already closing everything
    const text = String(e && e.message ? e.message : e);
    await finish(1, text.split('\n')[0]);
  }
}

main();
