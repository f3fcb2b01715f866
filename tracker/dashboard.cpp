#include "tracker/dashboard.hpp"

namespace sta::tracker {

std::string_view dashboard_html() {
  static constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sta tracker</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; background: #fafafa; }
  h1 { font-size: 1.4rem; margin: 0 0 1rem; }
  .totals { display: flex; gap: 1rem; flex-wrap: wrap; margin-bottom: 1.5rem; }
  .card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .75rem 1rem; min-width: 9rem; }
  .card .value { font-size: 1.6rem; font-weight: 600; font-variant-numeric: tabular-nums; }
  .card .label { color: #666; font-size: .85rem; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #eee; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  code { font-size: .85rem; }
  #status { color: #888; font-size: .85rem; margin-top: 1rem; }
</style>
</head>
<body>
<h1>sta tracker</h1>
<div class="totals">
  <div class="card"><div class="value" id="swarms">–</div><div class="label">swarms</div></div>
  <div class="card"><div class="value" id="seeders">–</div><div class="label">seeders</div></div>
  <div class="card"><div class="value" id="leechers">–</div><div class="label">leechers</div></div>
  <div class="card"><div class="value" id="completed">–</div><div class="label">completed downloads</div></div>
  <div class="card"><div class="value" id="rate">–</div><div class="label">announces / s</div></div>
</div>
<table>
  <thead><tr><th>info-hash</th><th class="num">seeders</th><th class="num">leechers</th>
  <th class="num">completed</th><th class="num">last activity</th></tr></thead>
  <tbody id="swarm-rows"></tbody>
</table>
<div id="status">connecting…</div>
<script>
"use strict";
function cell(text, numeric) {
  const td = document.createElement("td");
  if (numeric) td.className = "num";
  td.textContent = text;
  return td;
}
async function refresh() {
  try {
    const response = await fetch("/api/stats", {cache: "no-store"});
    const s = await response.json();
    for (const key of ["swarms", "seeders", "leechers", "completed"]) {
      document.getElementById(key).textContent = s[key].toLocaleString("en-US");
    }
    document.getElementById("rate").textContent = s.announces_per_sec.toFixed(0);
    const rows = document.getElementById("swarm-rows");
    rows.replaceChildren(...s.torrents.map(t => {
      const tr = document.createElement("tr");
      tr.dataset.infoHash = t.info_hash;
      const hash = document.createElement("td");
      const code = document.createElement("code");
      code.textContent = t.info_hash;
      hash.appendChild(code);
      tr.append(hash, cell(t.seeders, true), cell(t.leechers, true), cell(t.completed, true),
                cell(t.last_activity_seconds_ago + " s ago", true));
      return tr;
    }));
    document.getElementById("status").textContent =
        "updated " + new Date().toLocaleTimeString() + " · " + s.announces + " announces since start";
  } catch (e) {
    document.getElementById("status").textContent = "cannot reach the tracker: " + e;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
)html";
  return kPage;
}

}  // namespace sta::tracker
