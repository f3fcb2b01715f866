// dashboard_page: what the node's and the tracker's dashboards share, so
// they look and behave alike and neither carries a copy of the other: the
// page's head and stylesheet (cards of totals, tables, graphs, buttons) and
// the script helpers (sizes and rates in IEC units, in-place text updates,
// table filling, a time-series graph drawn on a canvas). A page is one
// self-contained HTML document: no external assets, works offline.
#pragma once

#include <string>
#include <string_view>

namespace sta::http {

// A whole page: `style` is CSS added to the shared stylesheet, `body` the
// markup, `script` the page's own code, run after the shared helpers.
std::string dashboard_page(std::string_view title, std::string_view style, std::string_view body,
                           std::string_view script);

}  // namespace sta::http
