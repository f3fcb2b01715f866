// The tracker's live dashboard: one self-contained HTML page (no external
// assets, built on http/dashboard_page) whose script polls /api/stats every
// second and draws the announce rate of the last minutes.
#pragma once

#include <string_view>

namespace sta::tracker {

std::string_view dashboard_html();

}  // namespace sta::tracker
