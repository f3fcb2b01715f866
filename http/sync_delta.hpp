// sync_delta: what the dashboard's delta endpoint (/api/v1/sync) keeps of
// each object it sent, and what it sends next time: per field, a hash of
// its name and one of its value (about half a KiB for a torrent object that
// itself takes several), and from two of those the fields that came or
// changed (with their values) and those that went (as null). Plain data;
// one thread at a time (the web server's).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>

namespace sta::http {

// Sorted by name hash.
using field_digest = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

class sync_fields {
 public:
  field_digest digest(const boost::json::object& o);
  // What changed from `was` to `now` (whose digest is `now_digest`): fields
  // added or changed with their value in `now`, fields gone as null.
  boost::json::object changes(const field_digest& was, const field_digest& now_digest,
                              const boost::json::object& now) const;

 private:
  std::map<std::uint64_t, std::string> names_;  // every field name seen, by its hash
};

}  // namespace sta::http
