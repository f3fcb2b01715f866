#include "meta/magnet.hpp"

#include <boost/url/encoding_opts.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/grammar/lut_chars.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "base/hex.hpp"
#include "meta/metainfo.hpp"

namespace sta::meta {
namespace {

constexpr std::string_view kBtihPrefix = "urn:btih:";

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

detailed_result<magnet> parse_magnet(std::string_view uri) {
  // Real-world magnets carry characters RFC 3986 does not allow in a query
  // ('[' in x.pe, spaces), so split the query by hand and let Boost.URL
  // validate and decode each part.
  constexpr std::string_view kScheme = "magnet:?";
  if (!starts_with_nocase(uri, kScheme)) return fail(errc::bad_magnet, "magnet");
  std::string_view query = uri.substr(kScheme.size());
  boost::urls::encoding_opts opts;
  opts.space_as_plus = true;

  magnet out;
  bool have_hash = false;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = param.substr(0, eq);
    auto encoded = boost::urls::make_pct_string_view(param.substr(eq + 1));
    if (!encoded) return fail(errc::bad_magnet, "magnet." + std::string(key));
    const std::string value = encoded->decode(opts);

    if (key == "xt") {
      std::string_view xt = value;
      if (!starts_with_nocase(xt, kBtihPrefix)) continue;  // other hash types
      if (have_hash) return fail(errc::bad_magnet, "magnet.xt: more than one btih");
      xt.remove_prefix(kBtihPrefix.size());
      std::optional<std::string> raw;
      if (xt.size() == 40) raw = from_hex(xt);
      else if (xt.size() == 32) raw = from_base32(xt);
      if (!raw || raw->size() != 20) return fail(errc::bad_info_hash, "magnet.xt");
      out.info_hash = sha1_digest::from_raw(*raw);
      have_hash = true;
    } else if (key == "dn") {
      out.display_name = value;
    } else if (key == "tr") {
      if (!value.empty()) out.trackers.push_back(value);
    } else if (key == "x.pe") {
      if (!value.empty()) out.peers.push_back(value);
    }
  }
  if (!have_hash) return fail(errc::missing_field, "magnet.xt (urn:btih)");
  return out;
}

std::string make_magnet(const magnet& m) {
  // Everything but unreserved characters and ":/@" is percent-encoded; in
  // particular '+', which parse_magnet (like most clients) reads as a space.
  static constexpr auto kSafe = boost::urls::unreserved_chars + boost::urls::grammar::lut_chars(":/@");
  std::string out = "magnet:?xt=";
  out += kBtihPrefix;
  out += m.info_hash.hex();
  auto append = [&](std::string_view key, std::string_view value) {
    out += '&';
    out += key;
    out += '=';
    out += boost::urls::encode(value, kSafe);
  };
  if (!m.display_name.empty()) append("dn", m.display_name);
  for (const auto& t : m.trackers) append("tr", t);
  for (const auto& p : m.peers) append("x.pe", p);
  return out;
}

std::string make_magnet(const metainfo& m) {
  magnet out;
  out.info_hash = m.info_hash;
  out.display_name = m.name;
  for (const auto& tier : m.trackers) {
    for (const auto& url : tier) out.trackers.push_back(url);
  }
  return make_magnet(out);
}

}  // namespace sta::meta
