#include "http/node_dashboard.hpp"

#include "http/dashboard_page.hpp"

namespace sta::http {
namespace {

constexpr std::string_view kNodeStyle = R"css(
  td.name { white-space: normal; overflow-wrap: anywhere; }
  /* Fixed columns: a thousand rows are laid out without measuring every cell. */
  #torrent-table { table-layout: fixed; }
  #torrent-table td { overflow: hidden; text-overflow: ellipsis; }
  .bar { background: #eee; border-radius: 3px; width: 8rem; height: .7rem; display: inline-block; vertical-align: middle; }
  .bar > div { background: #3a7; height: 100%; border-radius: 3px; }
  .state-error { color: #b00; } .state-paused, .state-queued, .state-checking { color: #888; }
  #detail { display: none; }
  .legend span { display: inline-block; width: .8rem; height: .8rem; margin: 0 .2rem 0 .8rem; vertical-align: middle; }
)css";

constexpr std::string_view kNodeBody = R"html(<h1>sta node</h1>
<div class="row">
  <div class="card"><div class="value" id="n-torrents">–</div><div class="label">torrents</div></div>
  <div class="card"><div class="value" id="n-live">–</div><div class="label">live</div></div>
  <div class="card"><div class="value" id="n-down">–</div><div class="label">download</div></div>
  <div class="card"><div class="value" id="n-up">–</div><div class="label">upload</div></div>
  <div class="card"><div class="value" id="n-conns">–</div><div class="label">connections</div></div>
  <div class="card"><div class="value" id="n-dht">–</div><div class="label">DHT nodes</div></div>
  <canvas id="graph" width="520" height="90" data-points="0" title="download (green) and upload (blue), last 5 minutes"></canvas>
</div>
<div class="row">
  <label>Add a torrent: <input type="file" id="add-file" accept=".torrent,application/x-bittorrent"></label>
  <form id="add-magnet"><input type="text" id="magnet-text" placeholder="magnet:?xt=urn:btih:…" size="48"> <button>add magnet</button></form>
  <span id="add-result"></span>
</div>
<table id="torrent-table">
  <colgroup><col><col style="width:9rem"><col style="width:13rem"><col style="width:6.5rem"><col style="width:7rem">
  <col style="width:7rem"><col style="width:5rem"><col style="width:4rem"><col style="width:5rem"><col style="width:19rem"></colgroup>
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
  <label>up <input id="d-up" type="number" min="0" size="6"></label>
  <label>peers <input id="d-peers" type="number" min="1" max="65535" size="5"></label> <button id="d-limits">set</button>
  <span id="d-limits-result"></span></div>
  <canvas id="d-pieces" width="1040" height="40" data-pieces="0"></canvas>
  <div class="legend"><span style="background:#3a7"></span>have<span style="background:#fb3"></span>downloading<span
  style="background:#ddd"></span>missing<span style="background:#fff;border:1px solid #ccc"></span>not wanted</div>
  <h2>Peers</h2>
  <table><thead><tr><th>address</th><th>client</th><th>flags</th><th class="num">down</th><th class="num">up</th>
  <th class="num">has</th></tr></thead><tbody id="peers"></tbody></table>
  <h2>Files</h2>
  <table><thead><tr><th>download</th><th>path</th><th class="num">size</th><th class="num">progress</th></tr></thead>
  <tbody id="files"></tbody></table>
  <div class="row"><button id="d-select">apply the selection</button> <span id="d-select-result"></span></div>
  <h2>Trackers</h2>
  <table><thead><tr><th>tier</th><th>url</th><th>last announce</th><th class="num">peers</th><th class="num">next in</th></tr></thead>
  <tbody id="trackers"></tbody></table>
</div>
<div id="status">connecting…</div>)html";

constexpr std::string_view kNodeScript = R"js(
function eta(s) { if (s === undefined || s === null) return "–"; const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, x = s % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(x).padStart(2, "0"); }
function api(method, path, body) {
  return fetch(path, { method, body, headers: { "X-Sta-Request": "1" } }).then(async r => {
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((j.error || r.statusText) + (j.state ? " (" + j.state + ")" : ""));
    return j;
  });
}
const speeds = ["#3a7", "#37b"];  // download, upload
function speedGraph(canvas, points) { drawGraph(canvas, points, speeds, rate); }

const torrents = new Map();  // info-hash -> the latest full object
const rows = new Map();      // info-hash -> <tr>
let rid = 0, opened = null, filesOf = null;
const history = [];          // [t, down, up] of the node
const own = new Map();       // info-hash -> [[t, down, up]...] seen by this page

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
  const cells = {};
  for (const k of ["a", ".state", ".bar > div", ".progress", ".size", ".down", ".up", ".peers", ".ratio", ".eta", ".pause", ".resume"])
    cells[k] = tr.querySelector(k);
  tr.cells_ = cells;
  return tr;
}

function render(hash, fresh) {
  const t = torrents.get(hash);
  let tr = rows.get(hash);
  if (!tr) { tr = makeRow(hash); rows.set(hash, tr); fresh.push(tr); }
  const c = tr.cells_;
  text(c["a"], t.name);
  text(c[".state"], t.state + (t.error ? ": " + t.error : "")); c[".state"].className = "state state-" + t.state;
  c[".state"].title = t.error || "";
  const pct = t.state === "checking" ? (t.total ? t.checked / t.total : 0) : t.progress;
  const width = (pct * 100).toFixed(1) + "%";
  if (c[".bar > div"].style.width !== width) c[".bar > div"].style.width = width;
  text(c[".progress"], (pct * 100).toFixed(1) + "%");
  text(c[".size"], size(t.selected_total));
  text(c[".down"], rate(t.down_rate));
  text(c[".up"], rate(t.up_rate));
  text(c[".peers"], t.peers + " (" + t.seeds + ")");
  text(c[".ratio"], t.ratio.toFixed(2));
  text(c[".eta"], t.complete ? "done" : eta(t.eta));
  c[".pause"].disabled = !(t.state === "live" || t.state === "queued" || t.state === "checking");
  c[".resume"].disabled = !(t.state === "paused" || t.state === "error");
}

function say(e) { text(document.getElementById("status"), "error: " + e.message); }

function poll() {
  return fetch("/api/v1/sync?rid=" + rid).then(r => { if (!r.ok) throw new Error(r.statusText); return r.json(); }).then(s => {
    // A full update replaces every object; rows stay and are updated in
    // place, and those of torrents no longer there go.
    if (s.full_update)
      for (const hash of [...torrents.keys()])
        if (!(hash in s.torrents)) { torrents.delete(hash); rows.get(hash)?.remove(); rows.delete(hash); if (opened === hash) close(); }
    rid = s.rid;
    const fresh = [];
    for (const [hash, changes] of Object.entries(s.torrents)) {
      const t = Object.assign(s.full_update ? {} : torrents.get(hash) || {}, changes);
      for (const k of Object.keys(changes)) if (changes[k] === null) delete t[k];
      torrents.set(hash, t);
      render(hash, fresh);
    }
    // New rows go in at once: one layout for a thousand of them.
    if (fresh.length) document.getElementById("torrents").append(...fresh);
    for (const hash of s.torrents_removed) { torrents.delete(hash); const tr = rows.get(hash); if (tr) tr.remove(); rows.delete(hash);
      if (opened === hash) close(); }
    const n = s.node;
    text(document.getElementById("n-torrents"), String(n.torrents));
    text(document.getElementById("n-live"), String(n.live));
    text(document.getElementById("n-down"), rate(n.down_rate));
    text(document.getElementById("n-up"), rate(n.up_rate));
    text(document.getElementById("n-conns"), String(n.connections));
    text(document.getElementById("n-dht"), s.dht.enabled ? s.dht.nodes + " (" + s.dht.good_nodes + " good)" : "off");
    if (s.sample && (!history.length || history[history.length - 1][0] < s.sample[0])) history.push(s.sample);
    while (history.length > 300) history.shift();
    speedGraph(document.getElementById("graph"), history);
    // Each torrent's own graph: only the ones that move are recorded.
    const now = Date.now() / 1000;
    for (const [hash, t] of torrents) {
      let h = own.get(hash);
      if (!h && !t.down_rate && !t.up_rate && hash !== opened) continue;
      if (!h) own.set(hash, h = []);
      h.push([now, t.down_rate, t.up_rate]); while (h.length > 300) h.shift();
    }
    text(document.getElementById("status"), "updated " + new Date().toLocaleTimeString() + " · " + torrents.size + " torrents");
  }).catch(say);
}

function open(hash) {
  opened = hash; filesOf = null; document.getElementById("detail").style.display = "block";
  const t = torrents.get(hash);
  if (t) {
    document.getElementById("d-down").value = Math.round(t.download_limit / 1024);
    document.getElementById("d-up").value = Math.round(t.upload_limit / 1024);
    document.getElementById("d-peers").value = t.max_peers;
  }
  text(document.getElementById("d-select-result"), "");
  details();
}
document.getElementById("d-limits").onclick = () => {
  const body = JSON.stringify({ download_rate: 1024 * +document.getElementById("d-down").value,
                                upload_rate: 1024 * +document.getElementById("d-up").value,
                                max_peers: +document.getElementById("d-peers").value });
  api("POST", `/api/v1/torrents/${opened}/limits`, body).then(t => text(document.getElementById("d-limits-result"),
    "down " + (t.download_limit ? rate(t.download_limit) : "no limit") + ", up " + (t.upload_limit ? rate(t.upload_limit) : "no limit") +
    ", at most " + t.max_peers + " peers"))
    .catch(e => text(document.getElementById("d-limits-result"), "not set: " + e.message));
};
document.getElementById("d-select").onclick = () => {
  const selected = [...document.querySelectorAll("#files input:checked")].map(box => +box.dataset.index);
  api("POST", `/api/v1/torrents/${opened}/files`, JSON.stringify({ selected })).then(t => {
    text(document.getElementById("d-select-result"), "applied: " + size(t.selected_total) + " to download (checking again)");
    filesOf = null; poll(); details();
  }).catch(e => text(document.getElementById("d-select-result"), "not applied: " + e.message));
};
function close() { opened = null; document.getElementById("detail").style.display = "none"; }

// The files table: built once per torrent opened (its check boxes are the
// user's until applied), then only the progress column is updated.
function showFiles(hash, files) {
  const t = torrents.get(hash), seeding = t && t.mode === "seed";
  const body = document.getElementById("files");
  if (filesOf !== hash || body.rows.length !== files.length) {
    filesOf = hash;
    body.replaceChildren(...files.map(f => { const tr = document.createElement("tr");
      const box = document.createElement("input"); box.type = "checkbox"; box.checked = f.selected; box.dataset.index = f.index;
      box.disabled = seeding; box.title = seeding ? "a seeded torrent serves every file" : "";
      const td = document.createElement("td"); td.append(box); tr.append(td);
      for (const [v, cls] of [[f.path], [size(f.size), "num"], ["", "num progress"]]) {
        const c = document.createElement("td"); c.textContent = v; if (cls) c.className = cls; tr.append(c); }
      return tr; }));
    document.getElementById("d-select").disabled = seeding;
  }
  files.forEach((f, i) => text(body.rows[i].querySelector(".progress"), (f.size ? f.verified / f.size * 100 : 100).toFixed(1) + "%"));
}

function details() {
  if (!opened) return;
  const hash = opened, base = `/api/v1/torrents/${hash}`, t = torrents.get(hash);
  if (t) text(document.getElementById("d-name"), t.name);
  speedGraph(document.getElementById("d-graph"), own.get(hash) || []);
  fetch(base + "/peers").then(r => r.json()).then(peers => fill("peers", peers, p => [
    [p.address, "addr"], [p.client], [[p.seed ? "seed" : "", p.peer_choking ? "choked" : "unchoked",
      p.peer_interested ? "interested" : "", p.am_choking ? "choking" : "", p.snubbed ? "snubbed" : "", p.outgoing ? "out" : "in"]
      .filter(x => x).join(" ")], [rate(p.down_rate), "num"], [rate(p.up_rate), "num"], [(p.progress * 100).toFixed(0) + "%", "num"]]));
  fetch(base + "/files").then(r => r.json()).then(files => { if (opened === hash) showFiles(hash, files); });
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

function added(body) {
  const say = t => text(document.getElementById("add-result"), t);
  body.then(b => api("POST", "/api/v1/torrents", b)).then(t => { say("added " + t.name); poll(); })
    .catch(err => say("not added: " + err.message));
}
document.getElementById("add-file").onchange = e => {
  const f = e.target.files[0]; if (!f) return;
  added(f.arrayBuffer());
  e.target.value = "";
};
document.getElementById("add-magnet").onsubmit = e => {
  e.preventDefault();
  const input = document.getElementById("magnet-text");
  if (input.value.trim()) added(Promise.resolve(input.value.trim()));
  input.value = "";
};

fetch("/api/v1/node").then(r => r.json()).then(n => { for (const p of n.history) history.push(p); }).finally(() => {
  poll(); setInterval(poll, 1000); setInterval(details, 2000);
});
)js";

}  // namespace

std::string_view node_dashboard_html() {
  static const std::string page = dashboard_page("sta node", kNodeStyle, kNodeBody, kNodeScript);
  return page;
}

}  // namespace sta::http
