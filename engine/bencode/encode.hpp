// Bencode encoding: a streaming writer for hot paths (tracker responses) and
// an owning value tree for building documents (torrent creation, tests).
// Pure; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bencode/decode.hpp"

namespace sta::bencode {

// Appends bencode to a string. The caller writes dict keys in sorted order.
class writer {
 public:
  explicit writer(std::string& out) : out_(out) {}
  writer& integer(std::int64_t v);
  writer& string(std::string_view s);
  writer& begin_list() { out_.push_back('l'); return *this; }
  writer& begin_dict() { out_.push_back('d'); return *this; }
  writer& end() { out_.push_back('e'); return *this; }
  // Pre-encoded bencode, copied as is.
  writer& raw(std::string_view encoded) { out_.append(encoded); return *this; }

 private:
  std::string& out_;
};

// An owning bencode value. Dicts are std::map, so encoding sorts keys as
// BEP 3 requires.
struct value {
  using list = std::vector<value>;
  using dict = std::map<std::string, value, std::less<>>;
  std::variant<std::int64_t, std::string, list, dict> v;

  value() : v(std::int64_t{0}) {}
  value(std::int64_t i) : v(i) {}
  value(int i) : v(std::int64_t{i}) {}
  value(std::string s) : v(std::move(s)) {}
  value(std::string_view s) : v(std::string(s)) {}
  value(const char* s) : v(std::string(s)) {}
  value(list l) : v(std::move(l)) {}
  value(dict d) : v(std::move(d)) {}

  friend bool operator==(const value&, const value&) = default;
};

void encode(const value& v, std::string& out);
std::string encode(const value& v);

// Deep copy of a decoded node. Duplicate dict keys keep the first.
value to_value(node n);

}  // namespace sta::bencode
