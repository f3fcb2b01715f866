#include "tracker/dashboard.hpp"

#include "http/dashboard_page.hpp"

namespace sta::tracker {
namespace {

constexpr std::string_view kBody = R"html(<h1>sta tracker</h1>
<div class="row">
  <div class="card"><div class="value" id="swarms">–</div><div class="label">swarms</div></div>
  <div class="card"><div class="value" id="seeders">–</div><div class="label">seeders</div></div>
  <div class="card"><div class="value" id="leechers">–</div><div class="label">leechers</div></div>
  <div class="card"><div class="value" id="completed">–</div><div class="label">completed downloads</div></div>
  <div class="card"><div class="value" id="rate">–</div><div class="label">announces / s</div></div>
  <canvas id="graph" width="520" height="90" data-points="0" title="announces per second, last 5 minutes"></canvas>
</div>
<table>
  <thead><tr><th>info-hash</th><th class="num">seeders</th><th class="num">leechers</th>
  <th class="num">completed</th><th class="num">last activity</th></tr></thead>
  <tbody id="swarm-rows"></tbody>
</table>
<div id="status">connecting…</div>)html";

constexpr std::string_view kScript = R"js(
const history = [];  // [unix s, announces/s], seen by this page
function cell(value, numeric) {
  const td = document.createElement("td");
  if (numeric) td.className = "num";
  td.textContent = value;
  return td;
}
async function refresh() {
  try {
    const response = await fetch("/api/stats", {cache: "no-store"});
    const s = await response.json();
    for (const key of ["swarms", "seeders", "leechers", "completed"]) text(document.getElementById(key), count(s[key]));
    text(document.getElementById("rate"), s.announces_per_sec.toFixed(0));
    history.push([Date.now() / 1000, s.announces_per_sec]);
    while (history.length > 300) history.shift();
    drawGraph(document.getElementById("graph"), history, ["#37b"], n => n.toFixed(0) + " /s");
    document.getElementById("swarm-rows").replaceChildren(...s.torrents.map(t => {
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
    text(document.getElementById("status"),
         "updated " + new Date().toLocaleTimeString() + " · " + s.announces + " announces since start");
  } catch (e) {
    text(document.getElementById("status"), "cannot reach the tracker: " + e);
  }
}
refresh();
setInterval(refresh, 1000);
)js";

}  // namespace

std::string_view dashboard_html() {
  static const std::string page = http::dashboard_page("sta tracker", "", kBody, kScript);
  return page;
}

}  // namespace sta::tracker
