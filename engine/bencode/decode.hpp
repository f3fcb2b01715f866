// Zero-copy bencode decoder (BEP 3). decode() validates the whole input once
// and builds a flat token array; node is a cheap view into it whose strings
// and raw() spans point into the caller's buffer, which must outlive the
// document. Limits bound depth, token count and input size, so hostile input
// costs at most O(input) time and O(max_tokens) memory. A document is
// immutable after decode and may be read from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.hpp"

namespace sta::bencode {

enum class type : std::uint8_t { integer, string, list, dict };

struct limits {
  std::size_t max_depth = 100;
  std::size_t max_tokens = 4'000'000;
  std::size_t max_size = 64u << 20;
};

class document;

class node {
 public:
  node() = default;

  type kind() const;
  bool is_int() const { return kind() == type::integer; }
  bool is_string() const { return kind() == type::string; }
  bool is_list() const { return kind() == type::list; }
  bool is_dict() const { return kind() == type::dict; }

  // Precondition: the node has that type.
  std::int64_t int_value() const;
  std::string_view string_value() const;

  // The exact bytes of this value as they appear in the input.
  std::string_view raw() const;

  // Lists: the elements; dicts: keys and values alternating.
  class iterator;
  iterator begin() const;
  iterator end() const;
  // Number of children (for a dict, twice the number of entries). O(n).
  std::size_t child_count() const;

  // Dicts: the value of the first entry with this key.
  std::optional<node> find(std::string_view key) const;

  // Dicts: every key with its value, in input order.
  class dict_range;
  dict_range items() const;

 private:
  friend class document;
  node(const document* doc, std::uint32_t index) : doc_(doc), index_(index) {}
  const document* doc_ = nullptr;
  std::uint32_t index_ = 0;
};

class node::iterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = node;
  using difference_type = std::ptrdiff_t;

  iterator() = default;
  node operator*() const { return node(doc_, index_); }
  iterator& operator++();
  iterator operator++(int) { auto old = *this; ++*this; return old; }
  friend bool operator==(const iterator& a, const iterator& b) { return a.index_ == b.index_; }

 private:
  friend class node;
  iterator(const document* doc, std::uint32_t index) : doc_(doc), index_(index) {}
  const document* doc_ = nullptr;
  std::uint32_t index_ = 0;
};

class node::dict_range {
 public:
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::pair<std::string_view, node>;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(node::iterator it) : it_(it) {}
    value_type operator*() const;
    iterator& operator++() { ++it_; ++it_; return *this; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.it_ == b.it_; }
   private:
    node::iterator it_;
  };
  iterator begin() const { return iterator(first_); }
  iterator end() const { return iterator(last_); }

 private:
  friend class node;
  dict_range(node::iterator f, node::iterator l) : first_(f), last_(l) {}
  node::iterator first_, last_;
};

class document {
 public:
  node root() const { return node(this, 0); }

 private:
  friend class node;
  friend class node::iterator;
  friend result<document> decode_one(std::string_view input, const limits& lim, std::size_t& used);

  struct token {
    type kind;
    std::uint32_t start;  // first byte of the value in the input
    std::uint32_t end;    // one past its last byte
    std::uint32_t next;   // index of the token after this value's subtree
    std::int64_t value;   // integer value, or offset of a string's payload
  };

  std::string_view input_;
  std::vector<token> tokens_;
};

// Decodes exactly one value that spans the whole input.
result<document> decode(std::string_view input, const limits& lim = {});

// Decodes the one value the input starts with; what follows it is the
// caller's (BEP 9 'data' messages carry raw bytes after their dict).
struct prefix {
  document doc;
  std::size_t used = 0;  // bytes of the value
};
result<prefix> decode_prefix(std::string_view input, const limits& lim = {});

inline result<document> decode(std::span<const std::byte> input, const limits& lim = {}) {
  return decode(std::string_view(reinterpret_cast<const char*>(input.data()), input.size()), lim);
}

}  // namespace sta::bencode
