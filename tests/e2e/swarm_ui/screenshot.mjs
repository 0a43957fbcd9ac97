#!/usr/bin/env node
// Opens the tracker's swarm page in headless Chromium, waits until it has drawn the
// expected swarm, and saves a screenshot.
//
//   node screenshot.mjs --url URL --out PNG [--peers N] [--chromium PATH] [--timeout S]
//
// Waits until #summary says data-peers >= N (default 1), then writes the PNG and prints
// one JSON line: {ok, peers, pieces, summary, canvas: {width, height}, bars, error}.
// Exit status 0 when the page drew the swarm, 1 otherwise. The browser is closed on
// every path. playwright-core comes from tests/e2e/hls (its install.sh).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const requireFromHls = createRequire(path.join(HERE, '..', 'hls', 'package.json'));

function parseArgs(argv) {
  const o = { url: null, out: null, peers: 1, chromium: process.env.CHROMIUM || '/usr/bin/chromium', timeout: 60 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--url': o.url = v; i++; break;
      case '--out': o.out = path.resolve(v); i++; break;
      case '--peers': o.peers = Number(v); i++; break;
      case '--chromium': o.chromium = v; i++; break;
      case '--timeout': o.timeout = Number(v); i++; break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!o.url || !o.out) throw new Error('usage: node screenshot.mjs --url URL --out PNG [--peers N]');
  return o;
}

async function main() {
  const summary = { ok: false, peers: null, pieces: null, summary: null, canvas: null, bars: null, error: null };
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.log(JSON.stringify({ ...summary, error: e.message }));
    process.exit(2);
  }
  let browser = null;
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-swarm-ui-'));
  const deadline = setTimeout(() => { summary.error = 'timeout'; finish(1); }, opts.timeout * 1000);
  async function finish(code) {
    clearTimeout(deadline);
    try { if (browser) await browser.close(); } catch { /* already gone */ }
    fs.rmSync(userDataDir, { recursive: true, force: true });
    console.log(JSON.stringify(summary));
    process.exit(code);
  }
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => { summary.error = sig; finish(1); });
  try {
    const { chromium } = requireFromHls('playwright-core');
    fs.accessSync(opts.chromium, fs.constants.X_OK);
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: opts.chromium, headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
      handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
      viewport: { width: 1100, height: 700 },
    });
    const page = browser.pages()[0] || await browser.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(err.message));
    // Anything but the tracker itself would break "self-contained": record it.
    const foreign = [];
    page.on('request', (req) => { if (!req.url().startsWith(new URL(opts.url).origin)) foreign.push(req.url()); });
    await page.goto(opts.url, { waitUntil: 'load' });
    await page.waitForFunction(
      (n) => Number(document.getElementById('summary')?.dataset.peers ?? 0) >= n,
      opts.peers, { timeout: (opts.timeout - 5) * 1000, polling: 200 });
    Object.assign(summary, await page.evaluate(() => {
      const s = document.getElementById('summary');
      const c = document.getElementById('map');
      return {
        peers: Number(s.dataset.peers), pieces: Number(s.dataset.pieces), summary: s.textContent,
        canvas: { width: c.width, height: c.height }, bars: document.querySelectorAll('#peers .peer').length,
      };
    }));
    await page.screenshot({ path: opts.out, fullPage: true });
    summary.foreign = foreign;
    summary.pageErrors = errors;
    summary.ok = errors.length === 0 && foreign.length === 0;
    if (!summary.ok) summary.error = 'page errors or foreign requests';
    await finish(summary.ok ? 0 : 1);
  } catch (e) {
    summary.error = String(e && e.message ? e.message : e).split('\n')[0];
    await finish(1);
  }
}

main();
