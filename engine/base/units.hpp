// Human sizes on the command line: "16384", "256k", "1MiB", "1.5G", "800KB".
// k/K/KiB/KB and friends all mean powers of 1024, as in every BitTorrent
// client's settings. Pure; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sta {

std::optional<std::int64_t> parse_size(std::string_view text);

// "1.5 MiB", "512 B": for status lines and reports.
std::string format_size(double bytes);

}  // namespace sta
