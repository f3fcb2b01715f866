// A node that has only a magnet link, against scripted peers on loopback:
// it shows that it fetches, asks a peer that offers the metadata, drops a
// peer whose metadata fails the hash, completes from an honest one, keeps
// the .torrent and goes on to download. The edge cases of the assembly
// itself are in tests/engine/peer/metadata_assembly_test.cpp.
#include <gtest/gtest.h>

#include "reactor/socket.hpp"
#include "session/node.hpp"
#include "session/torrent_list.hpp"
#include "storage/memory_storage.hpp"
#include "support/eventually.hpp"
#include "support/raw_peer.hpp"
#include "support/temp_dir.hpp"
#include "support/torrent.hpp"
#include "wire/ut_metadata.hpp"

namespace sta {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using test::raw_peer;
namespace um = wire::ut_metadata;

constexpr std::uint8_t kOurMetadataId = 7;


// A scripted peer the node connected to: handshakes, then our extended
// handshake offering `size` bytes of metadata. Returns the node's
// ut_metadata id (0: it sent none).
std::uint8_t greet(raw_peer& p, const sha1_digest& info_hash, std::int64_t size) {
  auto theirs = p.read_handshake();
  if (!theirs || !theirs->extended() || theirs->info_hash != info_hash) return 0;
  auto ours = raw_peer::handshake_for(info_hash, "-XX0001-metadata-pee");
  ours.set_extended();
  if (!p.send_handshake(ours)) return 0;
  std::uint8_t id = 0;
  while (id == 0) {
    auto f = p.read_frame();
    if (!f) return 0;
    if (f->type != wire::msg_type::extended || f->body.empty() || f->body[0] != std::byte{0}) continue;
    auto h = wire::decode_ext_handshake(std::span(f->body).subspan(1));
    if (!h) return 0;
    for (const auto& [name, value] : h->m)
      if (name == "ut_metadata") id = value;
    if (h->metadata_size) return 0;  // it has none to offer
  }
  wire::ext_handshake mine;
  mine.m = {{"ut_metadata", kOurMetadataId}};
  mine.metadata_size = static_cast<std::uint32_t>(size);
  std::vector<std::byte> out;
  wire::encode_extended(out, 0, wire::encode_ext_handshake(mine));
  return p.send(out) ? id : 0;
}

// Answers each metadata request from `info` until `pieces` were sent.
bool answer(raw_peer& p, std::uint8_t their_id, const std::string& info, std::size_t pieces) {
  for (std::size_t sent = 0; sent < pieces;) {
    auto f = p.read_frame();
    if (!f) return false;
    if (f->type != wire::msg_type::extended || f->body.empty() || f->body[0] != std::byte{kOurMetadataId}) continue;
    auto m = um::decode(std::span(f->body).subspan(1));
    if (!m || m->type != um::kind::request) return false;
    const auto size = static_cast<std::int64_t>(info.size());
    const auto data = std::as_bytes(std::span(info)).subspan(m->piece * um::kPieceSize, um::piece_size(size, m->piece));
    std::vector<std::byte> out;
    wire::encode_extended(out, their_id, um::encode_data(m->piece, size, data));
    if (!p.send(out)) return false;
    ++sent;
  }
  return true;
}

TEST(Magnet, MetadataThatFailsItsHashIsDroppedAndAnHonestPeerCompletesIt) {
  // 2,561 pieces of 4 KiB: 51 KB of hashes, four metadata pieces, the last short.
  const std::string data = test::random_bytes(10 * 1024 * 1024 + 11, 61);
  const meta::metainfo m = test::torrent_of("magnet.bin", data, 4 * 1024);
  ASSERT_GT(m.info_bytes.size(), 3 * um::kPieceSize);
  const auto liar_listener = io::listen_tcp(*parse_endpoint("127.0.0.240:0"));
  const auto honest_listener = io::listen_tcp(*parse_endpoint("127.0.0.243:0"));
  ASSERT_TRUE(liar_listener && honest_listener);
  const auto liar_at = *io::local_endpoint(liar_listener->get());
  const auto honest_at = *io::local_endpoint(honest_listener->get());

  node_options no;
  no.threads = 2;
  no.listen = {*parse_endpoint("127.0.0.239:0")};
  auto n = std::move(*node::start(std::move(no)));
  test::temp_dir dir;
  auto disk = std::make_shared<storage::memory_disk>(m.total_size);
  torrent_options o;
  o.save_dir = dir.path().string();
  o.use_trackers = false;
  o.storage = storage::memory_factory(disk);
  meta::magnet mg;
  mg.info_hash = m.info_hash;
  mg.display_name = "shown before the metadata";
  mg.peers = {liar_at.to_string()};
  const auto id = n->add_magnet(mg, o);
  ASSERT_TRUE(id);

  // The liar offers the right size, then sends bytes that fail the hash.
  raw_peer liar(liar_listener->get(), 10s);
  ASSERT_TRUE(liar.connected());
  const std::uint8_t liar_id = greet(liar, m.info_hash, static_cast<std::int64_t>(m.info_bytes.size()));
  ASSERT_NE(liar_id, 0);
  ASSERT_TRUE(eventually([&] { return n->stats(*id)->metadata_peers == 1; }));
  auto st = *n->stats(*id);
  EXPECT_EQ(st.state, swarm::torrent_state::fetching_metadata);
  EXPECT_FALSE(st.has_metadata);
  EXPECT_EQ(st.name, "shown before the metadata");
  EXPECT_EQ(st.metadata_size, static_cast<std::int64_t>(m.info_bytes.size()));
  EXPECT_TRUE(n->files(*id).empty());
  EXPECT_FALSE(n->torrent_file(*id));
  EXPECT_FALSE(n->set_selection(*id, {true}));
  std::string forged = m.info_bytes;
  forged[100] ^= 1;
  ASSERT_TRUE(answer(liar, liar_id, forged, um::piece_count(static_cast<std::int64_t>(forged.size()))));
  EXPECT_TRUE(liar.closed_by_peer());
  EXPECT_FALSE(n->stats(*id)->has_metadata);

  // The same info-hash twice is refused; removed while it fetches, it may
  // be added again, now with an honest peer first.
  ASSERT_FALSE(n->add_magnet(mg, o));
  ASSERT_TRUE(n->remove(*id, false));
  n->wait_removed(*id);
  mg.peers = {honest_at.to_string(), liar_at.to_string()};
  const auto again = n->add_magnet(mg, o);
  ASSERT_TRUE(again);
  raw_peer honest(honest_listener->get(), 10s);
  ASSERT_TRUE(honest.connected());
  const std::uint8_t honest_id = greet(honest, m.info_hash, static_cast<std::int64_t>(m.info_bytes.size()));
  ASSERT_NE(honest_id, 0);
  ASSERT_TRUE(answer(honest, honest_id, m.info_bytes, um::piece_count(static_cast<std::int64_t>(m.info_bytes.size()))));
  ASSERT_TRUE(eventually([&] { return n->stats(*again)->has_metadata; }));
  EXPECT_EQ(n->stats(*again)->name, "magnet.bin");
  const auto file = n->torrent_file(*again);
  ASSERT_TRUE(file);
  EXPECT_EQ(meta::parse(*file)->info_hash, m.info_hash);
  // Kept in the state directory: the same magnet starts from it next time.
  ASSERT_TRUE(eventually([&] { return load_fetched_torrent(o.save_dir, "", m.info_hash).has_value(); }));
  EXPECT_EQ(meta::parse(*load_fetched_torrent(o.save_dir, "", m.info_hash))->info_hash, m.info_hash);
  ASSERT_TRUE(eventually([&] { return n->stats(*again)->state == swarm::torrent_state::live; }));
  EXPECT_EQ(n->files(*again).size(), 1u);
  n->stop();
}

}  // namespace
}  // namespace sta
