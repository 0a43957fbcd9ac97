#include "tracker/swarm_page.h"

namespace shoal::tracker {
namespace {

// Rows are peers, columns pieces; a blob with more pieces than the canvas is wide
// shares a column between neighbouring pieces, shaded by the fraction held. Peers that
// sent no bitfield (standard clients) draw as a hatched grey row.
constexpr std::string_view kPage = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Swarm @DIGEST@</title>
<style>
body{font:14px system-ui,sans-serif;margin:16px;background:#fafafa;color:#222}
h1{font-size:16px;word-break:break-all}
#map{border:1px solid #ccc;background:#fff;max-width:100%}
.peer{display:flex;align-items:center;gap:8px;margin:2px 0;font-family:monospace}
.bar{flex:0 0 240px;height:10px;background:#ddd;border-radius:3px;overflow:hidden}
.fill{height:100%;background:#2a7}
.origin .fill{background:#27a}
#error{color:#b00}
</style></head><body>
<h1>Swarm of @DIGEST@</h1>
<p id="summary" data-peers="0" data-pieces="0">waiting for the tracker…</p>
<p id="error"></p>
<canvas id="map" width="1024" height="16"></canvas>
<div id="peers"></div>
<script>
"use strict";
const url = "/swarms/@DIGEST@";
const summary = document.getElementById("summary");
const error = document.getElementById("error");
const canvas = document.getElementById("map");
const list = document.getElementById("peers");
const ROW = 12;

function bits(hex, pieces) {
  const out = new Uint8Array(pieces);
  for (let i = 0; i < pieces; i++) {
    const byte = parseInt(hex.substr((i >> 3) * 2, 2), 16);
    out[i] = (byte >> (7 - (i & 7))) & 1;
  }
  return out;
}

function drawMap(swarm) {
  const cols = Math.max(1, Math.min(swarm.pieces, 1024));
  const cell = Math.max(1, Math.floor(1024 / cols));  // pixels per column
  const gap = cell >= 4 ? 1 : 0;
  canvas.width = cols * cell;
  canvas.height = Math.max(1, swarm.peers.length) * ROW;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  swarm.peers.forEach((p, row) => {
    if (p.have === null) {
      ctx.fillStyle = "#ccc";
      for (let x = row % 2; x < cols; x += 2) {
        ctx.fillRect(x * cell, row * ROW, cell - gap, ROW - 1);
      }
      return;
    }
    const held = bits(p.have, swarm.pieces);
    for (let c = 0; c < cols; c++) {
      const from = Math.floor(c * swarm.pieces / cols);
      const to = Math.max(from + 1, Math.floor((c + 1) * swarm.pieces / cols));
      let n = 0;
      for (let i = from; i < to; i++) n += held[i];
      const f = n / (to - from);
      ctx.fillStyle = f === 0 ? "#eee" : `rgba(34,150,100,${0.25 + 0.75 * f})`;
      ctx.fillRect(c * cell, row * ROW, cell - gap, ROW - 1);
    }
  });
}

function drawBars(swarm) {
  list.replaceChildren(...swarm.peers.map((p) => {
    const row = document.createElement("div");
    row.className = "peer" + (p.origin ? " origin" : "");
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = ((p.progress ?? 0) * 100).toFixed(1) + "%";
    bar.append(fill);
    const label = document.createElement("span");
    const pct = p.progress === null ? "unknown" : (p.progress * 100).toFixed(1) + "%";
    const role = p.origin ? "origin" : p.complete ? "seeder" : "leecher";
    label.textContent = `${p.address} ${role} ${pct}`;
    row.append(bar, label);
    return row;
  }));
}

async function poll() {
  try {
    const r = await fetch(url, {cache: "no-store"});
    const swarm = await r.json();
    if (!r.ok) throw new Error(swarm.message || r.statusText);
    drawMap(swarm);
    drawBars(swarm);
    const done = swarm.peers.filter((p) => p.progress === 1).length;
    summary.dataset.peers = swarm.peers.length;
    summary.dataset.pieces = swarm.pieces;
    summary.textContent = `${swarm.peers.length} peers × ${swarm.pieces} pieces, ${done} complete`;
    error.textContent = "";
  } catch (e) {
    error.textContent = "cannot read the swarm: " + e.message;
  }
  setTimeout(poll, 1000);
}
poll();
</script></body></html>
)HTML";

}  // namespace

std::string swarm_page_html(std::string_view digest) {
  std::string page(kPage);
  static constexpr std::string_view kMark = "@DIGEST@";
  for (size_t at = page.find(kMark); at != std::string::npos; at = page.find(kMark, at)) {
    page.replace(at, kMark.size(), digest);
    at += digest.size();
  }
  return page;
}

}  // namespace shoal::tracker
