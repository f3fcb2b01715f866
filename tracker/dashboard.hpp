// The tracker's live dashboard: one self-contained HTML page (no external
// assets) whose script polls /api/stats every second.
#pragma once

#include <string_view>

namespace sta::tracker {

std::string_view dashboard_html();

}  // namespace sta::tracker
