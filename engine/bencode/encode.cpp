#include "bencode/encode.hpp"

#include <charconv>

namespace sta::bencode {

writer& writer::integer(std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out_.push_back('i');
  out_.append(buf, end);
  out_.push_back('e');
  return *this;
}

writer& writer::string(std::string_view s) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, s.size());
  out_.append(buf, end);
  out_.push_back(':');
  out_.append(s);
  return *this;
}

void encode(const value& v, std::string& out) {
  writer w(out);
  if (auto* i = std::get_if<std::int64_t>(&v.v)) {
    w.integer(*i);
  } else if (auto* s = std::get_if<std::string>(&v.v)) {
    w.string(*s);
  } else if (auto* l = std::get_if<value::list>(&v.v)) {
    w.begin_list();
    for (const auto& e : *l) encode(e, out);
    w.end();
  } else {
    w.begin_dict();
    for (const auto& [k, e] : std::get<value::dict>(v.v)) {
      w.string(k);
      encode(e, out);
    }
    w.end();
  }
}

std::string encode(const value& v) {
  std::string out;
  encode(v, out);
  return out;
}

value to_value(node n) {
  switch (n.kind()) {
    case type::integer: return value(n.int_value());
    case type::string: return value(n.string_value());
    case type::list: {
      value::list l;
      for (auto e : n) l.push_back(to_value(e));
      return value(std::move(l));
    }
    case type::dict: {
      value::dict d;
      for (auto [k, e] : n.items()) d.emplace(std::string(k), to_value(e));
      return value(std::move(d));
    }
  }
  return {};
}

}  // namespace sta::bencode
