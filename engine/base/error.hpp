// sta::errc: the errors sta's own code reports, with an error_category so they
// travel in a plain error_code. Each value's comment is the message users see.
// Any thread.
#pragma once

#include <string>
#include <type_traits>

#include "base/result.hpp"

namespace sta {

enum class errc {
  ok = 0,
  // bencode
  truncated,           // input ends in the middle of a value
  bad_syntax,          // not valid bencode
  bad_integer,         // integer with leading zeros, "-0", no digits or out of range
  bad_string_length,   // string length with leading zeros or past the end of input
  too_deep,            // nesting deeper than the limit
  too_many_tokens,     // more values than the limit
  too_large,           // input larger than the limit
  trailing_data,       // bytes after the top-level value
  // metainfo and magnet
  missing_field,       // a required field is absent
  wrong_type,          // a field has the wrong bencode type
  bad_value,           // a field has a value out of its allowed range
  bad_pieces,          // 'pieces' is not a multiple of 20 bytes
  piece_count_mismatch,// the number of hashes does not match the total length
  bad_path,            // a path element that is empty, '.', '..', has '/' or NUL
  size_overflow,       // sizes whose sum overflows
  bad_magnet,          // not a magnet URI sta understands
  bad_info_hash,       // an info-hash that is not 40 hex or 32 base32 characters
  // files
  file_missing,        // a file of the torrent does not exist
  file_wrong_size,     // a file of the torrent has the wrong size
  file_larger,         // an existing file is larger than the torrent's and holds none of its pieces
  reserved_name,       // the torrent's name is sta's own state directory (.sta)
  too_many_files,      // the torrent has more files than this process may keep open
  data_not_verified,   // the data to seed does not verify
  // peer wire
  bad_handshake,       // the peer's handshake is not BitTorrent's
  message_too_large,   // a peer message longer than the limit
  bad_message,         // a peer message with the wrong length or content
  protocol_violation,  // a peer broke the protocol (request outside the torrent, ...)
  wrong_torrent,       // the peer is not in this torrent
  peer_banned,         // the peer sent data that failed its hash too often
  too_many_peers,      // a connection limit was reached
  peer_not_reading,    // the peer does not read what is sent to it
  duplicate_peer,      // a connection to the same peer id is open already
  handshake_timeout,   // the handshake did not complete in time
  no_metadata,         // the peer cannot send the torrent's metadata (no ut_metadata, or no size)
  // node
  unknown_torrent,     // no torrent with this id or info-hash in the node
  already_added,       // the node has a torrent with this info-hash already
  bad_state,           // the torrent's state does not allow this (paused, checking...)
  // tracker client
  tracker_failure,     // the tracker answered with a failure reason
  bad_tracker_response,// the tracker's answer is not a valid announce response
};

const boost::system::error_category& sta_category() noexcept;

inline error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), sta_category()};
}

// An error with the name of what it is about: the field, file or parameter.
// Parsers of user-facing input return this so the CLI can say which field is
// wrong ("sta: info.pieces: ...").
struct detailed_error {
  error_code code;
  std::string subject;

  std::string message() const {
    return subject.empty() ? code.message() : subject + ": " + code.message();
  }
};

template <class T>
using detailed_result = result<T, detailed_error>;

inline detailed_error fail(errc e, std::string subject) {
  return {make_error_code(e), std::move(subject)};
}

// Called by boost::system::result::value() when it holds a detailed_error.
[[noreturn]] void throw_exception_from_error(const detailed_error& e,
                                             const boost::source_location& loc);

}  // namespace sta

template <>
struct boost::system::is_error_code_enum<sta::errc> : std::true_type {};
