#include "bencode/decode.hpp"

#include <limits>

namespace sta::bencode {

type node::kind() const { return doc_->tokens_[index_].kind; }

std::int64_t node::int_value() const { return doc_->tokens_[index_].value; }

std::string_view node::string_value() const {
  const auto& t = doc_->tokens_[index_];
  const auto payload = static_cast<std::size_t>(t.value);
  return doc_->input_.substr(payload, t.end - payload);
}

std::string_view node::raw() const {
  const auto& t = doc_->tokens_[index_];
  return doc_->input_.substr(t.start, t.end - t.start);
}

node::iterator node::begin() const {
  const auto& t = doc_->tokens_[index_];
  if (t.kind != type::list && t.kind != type::dict) return end();
  return iterator(doc_, index_ + 1);
}

node::iterator node::end() const { return iterator(doc_, doc_->tokens_[index_].next); }

std::size_t node::child_count() const {
  std::size_t n = 0;
  for (auto it = begin(); it != end(); ++it) ++n;
  return n;
}

node::iterator& node::iterator::operator++() {
  index_ = doc_->tokens_[index_].next;
  return *this;
}

std::optional<node> node::find(std::string_view key) const {
  if (!is_dict()) return std::nullopt;
  for (auto [k, v] : items()) {
    if (k == key) return v;
  }
  return std::nullopt;
}

node::dict_range node::items() const {
  if (!is_dict()) return dict_range(end(), end());
  return dict_range(begin(), end());
}

node::dict_range::iterator::value_type node::dict_range::iterator::operator*() const {
  auto key = *it_;
  auto value_it = it_;
  ++value_it;
  return {key.string_value(), *value_it};
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Parses the digits of a non-negative decimal in [pos, stop) without leading
// zeros. Returns false on an empty run, a leading zero or overflow past max.
bool parse_digits(std::string_view in, std::size_t pos, std::size_t stop, std::uint64_t max,
                  std::uint64_t& out) {
  if (pos == stop) return false;
  if (in[pos] == '0' && stop - pos > 1) return false;
  std::uint64_t v = 0;
  for (std::size_t i = pos; i < stop; ++i) {
    if (!is_digit(in[i])) return false;
    const auto d = static_cast<std::uint64_t>(in[i] - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

struct open_container {
  std::uint32_t token;
  bool is_dict;
  bool expect_key;  // dicts alternate key, value
};

}  // namespace

result<document> decode_one(std::string_view in, const limits& lim, std::size_t& used) {
  if (in.size() > lim.max_size || in.size() >= std::numeric_limits<std::uint32_t>::max()) {
    return make_error_code(errc::too_large);
  }
  document doc;
  doc.input_ = in;
  std::vector<open_container> stack;
  std::size_t pos = 0;
  const std::size_t n = in.size();

  auto push = [&](type kind, std::size_t start, std::size_t end, std::int64_t value) -> bool {
    if (doc.tokens_.size() >= lim.max_tokens) return false;
    const auto idx = static_cast<std::uint32_t>(doc.tokens_.size());
    doc.tokens_.push_back({kind, static_cast<std::uint32_t>(start),
                           static_cast<std::uint32_t>(end), idx + 1, value});
    return true;
  };

  do {
    if (pos >= n) return make_error_code(errc::truncated);
    const char c = in[pos];

    if (c == 'e') {
      if (stack.empty()) return make_error_code(errc::bad_syntax);
      const auto top = stack.back();
      if (top.is_dict && !top.expect_key) return make_error_code(errc::bad_syntax);
      auto& t = doc.tokens_[top.token];
      t.end = static_cast<std::uint32_t>(pos + 1);
      t.next = static_cast<std::uint32_t>(doc.tokens_.size());
      stack.pop_back();
      ++pos;
    } else {
      // Every value starts a slot in its parent; dicts alternate key, value.
      if (!stack.empty() && stack.back().is_dict) {
        if (stack.back().expect_key && !is_digit(c)) {
          return make_error_code(errc::bad_syntax);  // dict keys are strings
        }
        stack.back().expect_key = !stack.back().expect_key;
      }
      if (c == 'i') {
        const auto stop = in.find('e', pos + 1);
        if (stop == std::string_view::npos) {
          // Distinguish "ran out of input" from junk inside the integer.
          for (std::size_t i = pos + 1; i < n; ++i) {
            if (!is_digit(in[i]) && !(i == pos + 1 && in[i] == '-')) {
              return make_error_code(errc::bad_integer);
            }
          }
          return make_error_code(errc::truncated);
        }
        const bool negative = stop > pos + 1 && in[pos + 1] == '-';
        const std::size_t digits = pos + 1 + (negative ? 1 : 0);
        std::uint64_t magnitude = 0;
        const std::uint64_t max = negative
            ? static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1
            : static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        if (!parse_digits(in, digits, stop, max, magnitude) || (negative && magnitude == 0)) {
          return make_error_code(errc::bad_integer);
        }
        const std::int64_t v = negative ? static_cast<std::int64_t>(0 - magnitude)
                                        : static_cast<std::int64_t>(magnitude);
        if (!push(type::integer, pos, stop + 1, v)) return make_error_code(errc::too_many_tokens);
        pos = stop + 1;
      } else if (is_digit(c)) {
        std::size_t colon = pos;
        while (colon < n && is_digit(in[colon])) ++colon;
        if (colon == n) return make_error_code(errc::truncated);
        if (in[colon] != ':') return make_error_code(errc::bad_string_length);
        std::uint64_t len = 0;
        if (!parse_digits(in, pos, colon, n, len)) {
          // Too many digits for the input is "longer than what's left".
          if (colon - pos > 1 && in[pos] == '0') return make_error_code(errc::bad_string_length);
          return make_error_code(errc::truncated);
        }
        if (len > n - colon - 1) return make_error_code(errc::truncated);
        if (!push(type::string, pos, colon + 1 + len, static_cast<std::int64_t>(colon + 1))) {
          return make_error_code(errc::too_many_tokens);
        }
        pos = colon + 1 + len;
      } else if (c == 'l' || c == 'd') {
        if (stack.size() >= lim.max_depth) return make_error_code(errc::too_deep);
        const auto idx = static_cast<std::uint32_t>(doc.tokens_.size());
        if (!push(c == 'l' ? type::list : type::dict, pos, pos, 0)) {
          return make_error_code(errc::too_many_tokens);
        }
        stack.push_back({idx, c == 'd', true});
        ++pos;
      } else {
        return make_error_code(errc::bad_syntax);
      }
    }
  } while (!stack.empty());

  used = pos;
  return doc;
}

result<document> decode(std::string_view in, const limits& lim) {
  std::size_t used = 0;
  auto doc = decode_one(in, lim, used);
  if (doc && used != in.size()) return make_error_code(errc::trailing_data);
  return doc;
}

result<prefix> decode_prefix(std::string_view in, const limits& lim) {
  std::size_t used = 0;
  auto doc = decode_one(in, lim, used);
  if (!doc) return doc.error();
  return prefix{std::move(*doc), used};
}

}  // namespace sta::bencode
