// An application/x-www-form-urlencoded query string ("a=1&b=%20x"), walked
// parameter by parameter with each value percent-decoded byte for byte
// ('+' is taken literally, as BitTorrent clients send it). Pure.
#pragma once

#include <string>
#include <string_view>

#include <boost/url/pct_string_view.hpp>

namespace sta {

// Calls f(key, decoded value) for each key=value (a key without '=' has an
// empty value); false on a bad escape or when f returns false.
template <class F>
bool for_each_param(std::string_view query, F&& f) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (param.empty()) continue;
    const auto eq = param.find('=');
    const std::string_view key = param.substr(0, eq);
    const std::string_view raw = eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
    auto decoded = boost::urls::make_pct_string_view(raw);
    if (!decoded) return false;
    if (!f(key, decoded->decode())) return false;
  }
  return true;
}

}  // namespace sta
