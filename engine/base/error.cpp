#include "base/error.hpp"

#include <stdexcept>

namespace sta {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "sta"; }

  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "success";
      case errc::truncated: return "input ends in the middle of a value";
      case errc::bad_syntax: return "not valid bencode";
      case errc::bad_integer: return "malformed or out-of-range integer";
      case errc::bad_string_length: return "malformed string length";
      case errc::too_deep: return "nested too deeply";
      case errc::too_many_tokens: return "too many values";
      case errc::too_large: return "input too large";
      case errc::trailing_data: return "unexpected data after the end";
      case errc::missing_field: return "missing required field";
      case errc::wrong_type: return "field has the wrong type";
      case errc::bad_value: return "value out of range";
      case errc::bad_pieces: return "length is not a multiple of 20";
      case errc::piece_count_mismatch: return "piece count does not match the total length";
      case errc::bad_path: return "unsafe or empty path element";
      case errc::size_overflow: return "sizes overflow";
      case errc::bad_magnet: return "not a BitTorrent magnet URI";
      case errc::bad_info_hash: return "info-hash must be 40 hex or 32 base32 characters";
      case errc::file_missing: return "file is missing";
      case errc::file_wrong_size: return "file has the wrong size";
      case errc::file_larger:
        return "file is larger than the torrent's and holds none of its pieces; --allow-truncate cuts it to size";
      case errc::reserved_name: return "the torrent's name is sta's state directory .sta";
      case errc::too_many_files: return "the torrent has more files than this process may keep open";
      case errc::data_not_verified: return "the data does not verify";
      case errc::bad_handshake: return "not a BitTorrent handshake";
      case errc::message_too_large: return "peer message too large";
      case errc::bad_message: return "malformed peer message";
      case errc::protocol_violation: return "peer broke the protocol";
      case errc::wrong_torrent: return "peer is in another torrent";
      case errc::peer_banned: return "peer banned after sending bad data";
      case errc::too_many_peers: return "connection limit reached";
      case errc::peer_not_reading: return "peer does not read what is sent to it";
      case errc::duplicate_peer: return "a connection to this peer is open already";
      case errc::handshake_timeout: return "handshake not completed in time";
      case errc::no_metadata: return "the peer cannot send the torrent's metadata";
      case errc::unknown_torrent: return "no such torrent";
      case errc::already_added: return "this torrent is in the node already";
      case errc::bad_state: return "not possible in the torrent's state";
      case errc::tracker_failure: return "tracker refused the announce";
      case errc::bad_tracker_response: return "malformed tracker response";
    }
    return "unknown sta error";
  }
};

}  // namespace

const boost::system::error_category& sta_category() noexcept {
  static const category instance;
  return instance;
}

void throw_exception_from_error(const detailed_error& e, const boost::source_location&) {
  throw std::runtime_error(e.message());
}

}  // namespace sta
