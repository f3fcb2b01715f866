#include "peer/metadata_peer.hpp"

#include "base/error.hpp"
#include "base/version.hpp"
#include "wire/ut_pex.hpp"

namespace sta::peer {

namespace um = wire::ut_metadata;

namespace {

// A peer that has not sent its extended handshake this long after ours
// has nothing to offer.
constexpr auto kHandshakeWait = std::chrono::seconds(20);

}  // namespace

metadata_peer::metadata_peer(metadata_assembly& assembly, metadata_assembly::source id) : a_(assembly), id_(id) {}

metadata_peer::~metadata_peer() { a_.gone(id_); }

result<void> metadata_peer::start(const wire::handshake& theirs, std::uint16_t listen_port, clock::time_point now) {
  if (!theirs.extended()) return make_error_code(errc::no_metadata);
  last_recv_ = last_send_ = started_ = now;
  wire::ext_handshake ext;
  ext.m = extension_table::advertised({extension::metadata, extension::pex});
  ext.v = kClientName;
  ext.p = listen_port;
  wire::encode_extended(frames_, 0, wire::encode_ext_handshake(ext));
  return {};
}

result<void> metadata_peer::on_message(const wire::message& m, clock::time_point now) {
  last_recv_ = now;
  if (m.type != wire::msg_type::extended) return {};
  return on_extended(m, now);
}

result<void> metadata_peer::on_extended(const wire::message& m, clock::time_point now) {
  std::vector<std::byte> scratch;
  const auto payload = wire::contiguous_payload(m, scratch);
  if (m.ext_id == 0) {
    auto h = wire::decode_ext_handshake(payload);
    if (!h) return make_error_code(errc::no_metadata);
    extensions_.learn(h->m);
    handshaken_ = true;
    const auto size = h->metadata_size ? std::optional<std::int64_t>(*h->metadata_size) : std::nullopt;
    offers_ = extensions_.peer_id(extension::metadata) != 0 && a_.offer(id_, size);
    if (!offers_) return make_error_code(errc::no_metadata);
    return {};
  }
  const auto ours = extension_table::from_our_id(m.ext_id);
  if (ours == extension::pex) {
    auto pex = wire::ut_pex::decode(payload);
    if (!pex) return {};
    for (const auto& p : pex->added)
      if (learnt_.size() < kMaxLearnt) learnt_.push_back(p.addr);
    return {};
  }
  if (ours != extension::metadata) return {};
  auto msg = um::decode(payload);
  if (!msg) return make_error_code(errc::bad_message);
  switch (msg->type) {
    case um::kind::request: {
      // We have nothing to give yet.
      const std::uint8_t id = extensions_.peer_id(extension::metadata);
      if (id != 0) wire::encode_extended(frames_, id, um::encode_reject(msg->piece));
      return {};
    }
    case um::kind::reject: a_.on_reject(id_, msg->piece, now); return {};
    case um::kind::data:
      if (a_.on_data(id_, *msg) == metadata_assembly::verdict::distrust) return make_error_code(errc::protocol_violation);
      return {};
  }
  return {};
}

result<void> metadata_peer::update(clock::time_point now) {
  if (now - last_recv_ > kIdleTimeout) return make_error_code(std::errc::timed_out);
  if (!handshaken_ && now - started_ > kHandshakeWait) return make_error_code(errc::no_metadata);
  if (a_.distrusted(id_)) return make_error_code(errc::protocol_violation);
  const std::uint8_t id = extensions_.peer_id(extension::metadata);
  if (offers_ && id != 0) {
    while (auto p = a_.next_request(id_, now)) wire::encode_extended(frames_, id, um::encode_request(*p));
  }
  if (frames_.empty() && now - last_send_ > kKeepAlive) wire::encode_keep_alive(frames_);
  if (!frames_.empty()) last_send_ = now;
  return {};
}

void metadata_peer::take_frames(std::vector<std::byte>& out) {
  if (frames_.empty()) return;
  out.insert(out.end(), frames_.begin(), frames_.end());
  frames_.clear();
}

}  // namespace sta::peer
