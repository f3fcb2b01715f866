#include "http/dashboard_page.hpp"

namespace sta::http {
namespace {

constexpr std::string_view kSharedStyle = R"css(
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
  code { font-size: .85rem; }
  button { font: inherit; font-size: .8rem; padding: .1rem .45rem; margin-right: .2rem; cursor: pointer;
           appearance: none; border: 1px solid #bbb; border-radius: 3px; background: #f4f4f4; color: #222; }
  button:disabled { color: #aaa; cursor: default; }
  a { color: #147; cursor: pointer; }
  #status { color: #888; font-size: .8rem; margin-top: .8rem; }
)css";

constexpr std::string_view kSharedScript = R"js(
"use strict";
const units = ["B", "KiB", "MiB", "GiB", "TiB"];
function size(n) { let i = 0; while (n >= 1024 && i < units.length - 1) { n /= 1024; ++i; } return (i ? n.toFixed(1) : n) + " " + units[i]; }
function rate(n) { return size(n) + "/s"; }
function count(n) { return Number(n).toLocaleString("en-US"); }
// Sets an element's text only when it changed (no layout work otherwise).
function text(el, v) { if (el.textContent !== v) el.textContent = v; }
// Replaces a table body's rows: cells(item) gives [text, class] pairs.
function fill(tbody, items, cells) {
  const el = typeof tbody === "string" ? document.getElementById(tbody) : tbody;
  el.replaceChildren(...items.map(item => { const tr = document.createElement("tr");
    for (const [v, cls] of cells(item)) { const td = document.createElement("td"); td.textContent = v; if (cls) td.className = cls; tr.append(td); }
    return tr; }));
  return el;
}
// A graph of the last `span` seconds: points are [t, v1, v2, ...], one
// line per value in `colors`; the largest value is written in the corner.
function drawGraph(canvas, points, colors, label, span = 300) {
  const g = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  g.clearRect(0, 0, w, h);
  canvas.dataset.points = points.length;
  if (points.length < 2) return;
  const max = Math.max(1, ...points.map(p => Math.max(...p.slice(1))));
  const t0 = points[points.length - 1][0] - span;
  colors.forEach((color, k) => {
    g.strokeStyle = color; g.lineWidth = 1.5; g.beginPath();
    points.forEach((p, i) => { const x = (p[0] - t0) / span * w, y = h - 4 - p[k + 1] / max * (h - 14);
      i ? g.lineTo(x, y) : g.moveTo(x, y); });
    g.stroke();
  });
  g.fillStyle = "#666"; g.font = "11px system-ui"; g.fillText(label(max), 4, 11);
}
)js";

}  // namespace

std::string dashboard_page(std::string_view title, std::string_view style, std::string_view body,
                           std::string_view script) {
  std::string page;
  page.reserve(kSharedStyle.size() + kSharedScript.size() + style.size() + body.size() + script.size() + 512);
  page += "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  page += title;
  page += "</title>\n<style>";
  page += kSharedStyle;
  page += style;
  page += "</style>\n</head>\n<body>\n";
  page += body;
  page += "\n<script>";
  page += kSharedScript;
  page += script;
  page += "</script>\n</body>\n</html>\n";
  return page;
}

}  // namespace sta::http
