#include "http/node_dashboard.hpp"

namespace sta::http {

std::string_view node_dashboard_html() {
  static constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sta node</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; background: #fafafa; }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; } h2 { font-size: 1.1rem; margin: 1.2rem 0 .5rem; }
  .row { display: flex; gap: 1rem; flex-wrap: wrap; align-items: stretch; margin-bottom: 1rem; }
  .card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .6rem .9rem; min-width: 7.5rem; }
  .card .value { font-size: 1.4rem; font-weight: 600; font-variant-numeric: tabular-nums; }
  .card .label { color: #666; font-size: .8rem; }
  canvas { background: #fff; border: 1px solid #ddd; border-radius: 6px; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eee; white-space: nowrap; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.name { white-space: normal; max-width: 28rem; overflow-wrap: anywhere; }
  .bar { background: #eee; border-radius: 3px; width: 8rem; height: .7rem; display: inline-block; vertical-align: middle; }
  .bar > div { background: #3a7; height: 100%; border-radius: 3px; }
  .state-error { color: #b00; } .state-paused, .state-queued { color: #888; }
  button { font: inherit; font-size: .8rem; padding: .1rem .45rem; margin-right: .2rem; cursor: pointer; }
  a { color: #147; cursor: pointer; }
  #detail { display: none; } #status { color: #888; font-size: .8rem; margin-top: .8rem; }
  .legend span { display: inline-block; width: .8rem; height: .8rem; margin: 0 .2rem 0 .8rem; vertical-align: middle; }
</style>
</head>
<body>
<h1>sta node</h1>
<div class="row">
  <div class="card"><div class="value" id="n-torrents">–</div><div class="label">torrents</div></div>
  <div class="card"><div class="value" id="n-live">–</div><div class="label">live</div></div>
  <div class="card"><div class="value" id="n-down">–</div><div class="label">download</div></div>
  <div class="card"><div class="value" id="n-up">–</div><div class="label">upload</div></div>
  <div class="card"><div class="value" id="n-conns">–</div><div class="label">connections</div></div>
  <canvas id="graph" width="520" height="90" data-points="0" title="download (green) and upload (blue), last 5 minutes"></canvas>
</div>
<div class="row">
  <label>Add a torrent: <input type="file" id="add-file" accept=".torrent,application/x-bittorrent"></label>
  <span id="add-result"></span>
</div>
<table>
  <thead><tr><th>name</th><th>state</th><th>progress</th><th class="num">size</th><th class="num">down</th>
  <th class="num">up</th><th class="num">peers</th><th class="num">ratio</th><th class="num">ETA</th><th></th></tr></thead>
  <tbody id="torrents"></tbody>
</table>
<div id="detail">
  <h2 id="d-name"></h2>
  <div class="row">
    <canvas id="d-graph" width="520" height="90" data-points="0"></canvas>
    <div class="card"><div class="value" id="d-avail">–</div><div class="label">pieces with no peer</div></div>
  </div>
  <div class="row"><label>limits (KiB/s, 0: none): down <input id="d-down" type="number" min="0" size="6"></label>
  <label>up <input id="d-up" type="number" min="0" size="6"></label> <button id="d-limits">set</button>
  <span id="d-limits-result"></span></div>
  <canvas id="d-pieces" width="1040" height="40" data-pieces="0"></canvas>
  <div class="legend"><span style="background:#3a7"></span>have<span style="background:#fb3"></span>downloading<span
  style="background:#ddd"></span>missing<span style="background:#fff;border:1px solid #ccc"></span>not wanted</div>
  <h2>Peers</h2>
  <table><thead><tr><th>address</th><th>client</th><th>flags</th><th class="num">down</th><th class="num">up</th>
  <th class="num">has</th></tr></thead><tbody id="peers"></tbody></table>
  <h2>Files</h2>
  <table><thead><tr><th>path</th><th class="num">size</th><th>progress</th><th>selected</th></tr></thead>
  <tbody id="files"></tbody></table>
  <h2>Trackers</h2>
  <table><thead><tr><th>tier</th><th>url</th><th>last announce</th><th class="num">peers</th><th class="num">next in</th></tr></thead>
  <tbody id="trackers"></tbody></table>
</div>
<div id="status">connecting…</div>
<script>
"use strict";
const units = ["B", "KiB", "MiB", "GiB", "TiB"];
function size(n) { let i = 0; while (n >= 1024 && i < units.length - 1) { n /= 1024; ++i; } return (i ? n.toFixed(1) : n) + " " + units[i]; }
function rate(n) { return size(n) + "/s"; }
function eta(s) { if (s === undefined || s === null) return "–"; const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, x = s % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(x).padStart(2, "0"); }
function text(el, v) { if (el.textContent !== v) el.textContent = v; }
function api(method, path, body) {
  return fetch(path, { method, body, headers: { "X-Sta-Request": "1" } }).then(async r => {
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(j.error || r.statusText);
    return j;
  });
}

const torrents = new Map();  // info-hash -> the latest full object
const rows = new Map();      // info-hash -> <tr>
let rid = 0, opened = null;
const history = [];          // [t, down, up] of the node
const own = new Map();       // info-hash -> [[t, down, up]...] seen by this page

function drawGraph(canvas, points) {
  const g = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  g.clearRect(0, 0, w, h);
  canvas.dataset.points = points.length;
  if (points.length < 2) return;
  const max = Math.max(1, ...points.map(p => Math.max(p[1], p[2])));
  const t0 = points[points.length - 1][0] - 300;
  for (const [k, color] of [[1, "#3a7"], [2, "#37b"]]) {
    g.strokeStyle = color; g.lineWidth = 1.5; g.beginPath();
    points.forEach((p, i) => { const x = (p[0] - t0) / 300 * w, y = h - 4 - p[k] / max * (h - 14);
      i ? g.lineTo(x, y) : g.moveTo(x, y); });
    g.stroke();
  }
  g.fillStyle = "#666"; g.font = "11px system-ui"; g.fillText(rate(max), 4, 11);
}

function button(label, cls, fn) { const b = document.createElement("button"); b.textContent = label; b.className = cls; b.onclick = fn; return b; }

function makeRow(hash) {
  const tr = document.createElement("tr");
  tr.dataset.hash = hash;
  tr.innerHTML = '<td class="name"><a></a></td><td class="state"></td><td><span class="bar"><div></div></span> <span class="progress"></span></td>' +
    '<td class="num size"></td><td class="num down"></td><td class="num up"></td><td class="num peers"></td><td class="num ratio"></td><td class="num eta"></td><td class="actions"></td>';
  tr.querySelector("a").onclick = () => open(hash);
  const act = tr.querySelector(".actions");
  act.append(button("pause", "pause", () => api("POST", `/api/v1/torrents/${hash}/pause`).then(poll).catch(say)),
             button("resume", "resume", () => api("POST", `/api/v1/torrents/${hash}/resume`).then(poll).catch(say)),
             button("remove", "remove", () => { if (confirm("Remove this torrent? Its data stays.")) api("DELETE", `/api/v1/torrents/${hash}`).then(poll).catch(say); }),
             button("remove + data", "remove-data", () => { if (confirm("Remove this torrent AND delete its files?")) api("DELETE", `/api/v1/torrents/${hash}?with_data=1`).then(poll).catch(say); }));
  return tr;
}

function render(hash) {
  const t = torrents.get(hash);
  let tr = rows.get(hash);
  if (!tr) { tr = makeRow(hash); rows.set(hash, tr); document.getElementById("torrents").append(tr); }
  text(tr.querySelector("a"), t.name);
  const st = tr.querySelector(".state");
  text(st, t.state + (t.error ? ": " + t.error : "")); st.className = "state state-" + t.state;
  const pct = t.state === "checking" ? (t.total ? t.checked / t.total : 0) : t.progress;
  tr.querySelector(".bar > div").style.width = (pct * 100).toFixed(1) + "%";
  text(tr.querySelector(".progress"), (pct * 100).toFixed(1) + "%");
  text(tr.querySelector(".size"), size(t.selected_total));
  text(tr.querySelector(".down"), rate(t.down_rate));
  text(tr.querySelector(".up"), rate(t.up_rate));
  text(tr.querySelector(".peers"), t.peers + " (" + t.seeds + ")");
  text(tr.querySelector(".ratio"), t.ratio.toFixed(2));
  text(tr.querySelector(".eta"), t.complete ? "done" : eta(t.eta));
  tr.querySelector(".pause").disabled = !(t.state === "live" || t.state === "queued" || t.state === "checking");
  tr.querySelector(".resume").disabled = !(t.state === "paused" || t.state === "error");
}

function say(e) { text(document.getElementById("status"), "error: " + e.message); }

function poll() {
  return fetch("/api/v1/sync?rid=" + rid).then(r => { if (!r.ok) throw new Error(r.statusText); return r.json(); }).then(s => {
    if (s.full_update) { torrents.clear(); for (const tr of rows.values()) tr.remove(); rows.clear(); }
    rid = s.rid;
    for (const [hash, changes] of Object.entries(s.torrents)) {
      const t = Object.assign(torrents.get(hash) || {}, changes);
      for (const k of Object.keys(changes)) if (changes[k] === null) delete t[k];
      torrents.set(hash, t);
      render(hash);
    }
    for (const hash of s.torrents_removed) { torrents.delete(hash); const tr = rows.get(hash); if (tr) tr.remove(); rows.delete(hash);
      if (opened === hash) close(); }
    const n = s.node;
    text(document.getElementById("n-torrents"), String(n.torrents));
    text(document.getElementById("n-live"), String(n.live));
    text(document.getElementById("n-down"), rate(n.down_rate));
    text(document.getElementById("n-up"), rate(n.up_rate));
    text(document.getElementById("n-conns"), String(n.connections));
    if (s.sample && (!history.length || history[history.length - 1][0] < s.sample[0])) history.push(s.sample);
    while (history.length > 300) history.shift();
    drawGraph(document.getElementById("graph"), history);
    const now = Date.now() / 1000;
    for (const [hash, t] of torrents) {
      const h = own.get(hash) || []; h.push([now, t.down_rate, t.up_rate]); while (h.length > 300) h.shift(); own.set(hash, h);
    }
    text(document.getElementById("status"), "updated " + new Date().toLocaleTimeString() + " · " + torrents.size + " torrents");
  }).catch(say);
}

function open(hash) {
  opened = hash; document.getElementById("detail").style.display = "block";
  const t = torrents.get(hash);
  if (t) { document.getElementById("d-down").value = Math.round(t.download_limit / 1024); document.getElementById("d-up").value = Math.round(t.upload_limit / 1024); }
  details();
}
document.getElementById("d-limits").onclick = () => {
  const body = JSON.stringify({ download_rate: 1024 * +document.getElementById("d-down").value, upload_rate: 1024 * +document.getElementById("d-up").value });
  api("POST", `/api/v1/torrents/${opened}/limits`, body).then(t => text(document.getElementById("d-limits-result"),
    "down " + (t.download_limit ? rate(t.download_limit) : "no limit") + ", up " + (t.upload_limit ? rate(t.upload_limit) : "no limit")))
    .catch(e => text(document.getElementById("d-limits-result"), "not set: " + e.message));
};
function close() { opened = null; document.getElementById("detail").style.display = "none"; }

function fill(tbody, items, cells) {
  const el = document.getElementById(tbody);
  el.replaceChildren(...items.map(item => { const tr = document.createElement("tr");
    for (const [v, cls] of cells(item)) { const td = document.createElement("td"); td.textContent = v; if (cls) td.className = cls; tr.append(td); }
    return tr; }));
}

function details() {
  if (!opened) return;
  const hash = opened, base = `/api/v1/torrents/${hash}`, t = torrents.get(hash);
  if (t) text(document.getElementById("d-name"), t.name);
  drawGraph(document.getElementById("d-graph"), own.get(hash) || []);
  fetch(base + "/peers").then(r => r.json()).then(peers => fill("peers", peers, p => [
    [p.address, "addr"], [p.client], [[p.seed ? "seed" : "", p.peer_choking ? "choked" : "unchoked",
      p.peer_interested ? "interested" : "", p.am_choking ? "choking" : "", p.snubbed ? "snubbed" : "", p.outgoing ? "out" : "in"]
      .filter(x => x).join(" ")], [rate(p.down_rate), "num"], [rate(p.up_rate), "num"], [(p.progress * 100).toFixed(0) + "%", "num"]]));
  fetch(base + "/files").then(r => r.json()).then(files => fill("files", files, f => [
    [f.path], [size(f.size), "num"], [(f.size ? f.verified / f.size * 100 : 100).toFixed(1) + "%"], [f.selected ? "yes" : "no"]]));
  fetch(base + "/trackers").then(r => r.json()).then(list => fill("trackers", list, x => [
    [String(x.tier)], [x.url], [x.last || "–"], [String(x.peers), "num"], [x.next_announce_in === undefined ? "–" : eta(x.next_announce_in), "num"]]));
  fetch(base + "/pieces").then(r => r.json()).then(m => {
    const c = document.getElementById("d-pieces"), g = c.getContext("2d"), w = c.width, h = c.height;
    g.clearRect(0, 0, w, h); c.dataset.pieces = m.count;
    const colors = ["#ddd", "#fb3", "#3a7", "#fff"];
    let none = 0;
    for (let i = 0; i < m.count; ++i) {
      if (m.state[i] !== "2" && m.availability[i] === 0) ++none;
      g.fillStyle = colors[+m.state[i]];
      const x0 = Math.floor(i / m.count * w), x1 = Math.max(x0 + 1, Math.floor((i + 1) / m.count * w));
      g.fillRect(x0, 0, x1 - x0, h - 8);
      const a = Math.min(1, m.availability[i] / 5); g.fillStyle = `rgba(55,119,187,${a})`; g.fillRect(x0, h - 6, x1 - x0, 6);
    }
    text(document.getElementById("d-avail"), String(none));
  });
}

document.getElementById("add-file").onchange = e => {
  const f = e.target.files[0]; if (!f) return;
  f.arrayBuffer().then(buf => api("POST", "/api/v1/torrents", buf)).then(t => {
    text(document.getElementById("add-result"), "added " + t.name); poll(); }).catch(err => text(document.getElementById("add-result"), "not added: " + err.message));
  e.target.value = "";
};

fetch("/api/v1/node").then(r => r.json()).then(n => { for (const p of n.history) history.push(p); }).finally(() => {
  poll(); setInterval(poll, 1000); setInterval(details, 2000);
});
</script>
</body>
</html>
)html";
  return kPage;
}

}  // namespace sta::http
