// Hostile peers against an in-process node: hand-written peers (raw_peer)
// that trickle, flood, lie or never read, each on its own 127.0.0.x, and
// the bounded, specific answer each gets. The node keeps its data on the
// memory backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "session/session.hpp"
#include "storage/memory_storage.hpp"
#include "support/eventually.hpp"
#include "support/raw_peer.hpp"
#include "support/temp_dir.hpp"
#include "support/torrent.hpp"

namespace sta {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using test::answer_with_garbage;
using test::liar_hello;
using test::raw_peer;
using test::answer_all;
using test::block_frame;
using test::next_request;
using test::request_of;

struct hostile_node {
  std::string data;
  meta::metainfo m;
  std::shared_ptr<storage::memory_disk> disk;
  std::unique_ptr<session> s;

  endpoint address() const { return s->listening().front(); }
};

// A seeder (full disk) or a downloader (empty) on 127.0.0.`host`.
hostile_node start_node(torrent_mode mode, int host, std::size_t size, std::int64_t piece_length,
                const std::function<void(session_options&)>& tweak = {}) {
  hostile_node n;
  n.data = test::random_bytes(size, static_cast<unsigned>(host));
  n.m = test::torrent_of("data.bin", n.data, piece_length);
  n.disk = mode == torrent_mode::seed ? std::make_shared<storage::memory_disk>(n.data)
                                      : std::make_shared<storage::memory_disk>(n.m.total_size);
  session_options o;
  o.save_dir = "/nonexistent";
  o.mode = mode;
  o.threads = 2;
  o.listen = {*parse_endpoint("127.0.0." + std::to_string(host) + ":0")};
  o.use_trackers = false;
  o.storage = storage::memory_factory(n.disk);
  if (tweak) tweak(o);
  auto s = session::start(n.m, std::move(o));
  if (!s) throw std::runtime_error(s.error().message());
  n.s = std::move(*s);
  return n;
}

std::vector<std::byte> frame(wire::msg_type type, std::initializer_list<std::uint32_t> ints = {}) {
  std::vector<std::byte> f;
  if (type == wire::msg_type::request) {
    auto it = ints.begin();
    wire::encode_block_ref(f, type, it[0], it[1], it[2]);
  } else if (ints.size() == 0) {
    wire::encode_simple(f, type);
  } else {
    wire::encode_piece_index(f, type, *ints.begin());
  }
  return f;
}

// Sends our handshake; whether the node answers with its own.
bool greeted(raw_peer& p, const hostile_node& n, const std::string& id) {
  return p.send_handshake(raw_peer::handshake_for(n.m.info_hash, id)) && p.read_handshake().has_value();
}

TEST(Hostile, HandshakeHasOneDeadlineFromAccept) {
  auto n = start_node(torrent_mode::seed, 101, 64 * 1024, 16 * 1024,
                      [](session_options& o) { o.limits.peer.handshake_timeout = 500ms; });
  raw_peer p("127.0.0.102", n.address());
  ASSERT_TRUE(p.connected());
  // One byte every 40 ms: each read sees progress, but the whole handshake
  // takes 2.7 s, far past the deadline.
  const auto bytes = wire::encode_handshake(raw_peer::handshake_for(n.m.info_hash, "-XX0001-slowloris000"));
  for (std::byte b : bytes) {
    if (!p.send(std::span(&b, 1))) break;
    std::this_thread::sleep_for(40ms);
  }
  EXPECT_FALSE(p.read_handshake());
  EXPECT_EQ(n.s->stats().peers, 0u);
}

TEST(Hostile, ConnectionsFromOneAddressAreCapped) {
  auto n = start_node(torrent_mode::seed, 103, 64 * 1024, 16 * 1024,
                      [](session_options& o) { o.limits.max_per_host = 2; });
  std::vector<std::unique_ptr<raw_peer>> kept;
  for (int i = 0; i < 2; ++i) {
    kept.push_back(std::make_unique<raw_peer>("127.0.0.104", n.address()));
    ASSERT_TRUE(greeted(*kept.back(), n, "-XX0001-from104-" + std::to_string(i))) << i;
  }
  raw_peer third("127.0.0.104", n.address());
  EXPECT_FALSE(greeted(third, n, "-XX0001-from104-third"));
  raw_peer elsewhere("127.0.0.105", n.address());
  EXPECT_TRUE(greeted(elsewhere, n, "-XX0001-from105-0000"));
}

TEST(Hostile, SecondConnectionWithTheSamePeerIdIsRefused) {
  auto n = start_node(torrent_mode::seed, 106, 64 * 1024, 16 * 1024);
  raw_peer first("127.0.0.107", n.address());
  ASSERT_TRUE(greeted(first, n, "-XX0001-samepeeridXX"));
  raw_peer again("127.0.0.108", n.address());
  EXPECT_FALSE(greeted(again, n, "-XX0001-samepeeridXX"));
  raw_peer other("127.0.0.109", n.address());
  EXPECT_TRUE(greeted(other, n, "-XX0001-otherpeerid0"));
}

TEST(Hostile, ARequestReadsOnlyTheBlocksItNeeds) {
  auto n = start_node(torrent_mode::seed, 110, 4 * 1024 * 1024, 1024 * 1024);
  raw_peer p("127.0.0.111", n.address());
  ASSERT_TRUE(greeted(p, n, "-XX0001-oneblock0000"));
  ASSERT_TRUE(p.send(frame(wire::msg_type::interested)));
  ASSERT_TRUE(p.wait_for(wire::msg_type::unchoke));
  ASSERT_TRUE(p.send(frame(wire::msg_type::request, {1, 16384, 16384})));
  auto f = p.read_frame();
  while (f && f->type != wire::msg_type::piece) f = p.read_frame();
  ASSERT_TRUE(f);
  ASSERT_EQ(f->body.size(), 8u + 16384);
  EXPECT_EQ(std::memcmp(f->body.data() + 8, n.data.data() + 1024 * 1024 + 16384, 16384), 0);
  EXPECT_EQ(n.disk->bytes_read(), 16384);  // not the whole 1 MiB piece
}

TEST(Hostile, PeerThatSendsAndNeverReadsIsDropped) {
  auto n = start_node(torrent_mode::seed, 112, 64 * 1024, 16 * 1024);
  raw_peer p("127.0.0.113", n.address(), 10s, 4096);
  ASSERT_TRUE(p.send_handshake(raw_peer::handshake_for(n.m.info_hash, "-XX0001-neverreads00")));
  // Requests while choked: each earns a reject the peer never reads.
  std::vector<std::byte> flood;
  for (int i = 0; i < 1'000'000; ++i) wire::encode_block_ref(flood, wire::msg_type::request, 0, 0, 16384);
  p.send(flood);  // fails part-way once the node gives up on us
  EXPECT_TRUE(p.closed_by_peer());
  EXPECT_TRUE(eventually([&] { return n.s->stats().peers == 0; }));
}

// A liar that reconnects after every bad piece keeps its strikes: its host
// is banned at the limit and refused at accept from then on.
TEST(Hostile, StrikesFollowTheHostAcrossConnectionsAndABannedHostIsRefusedAtAccept) {
  auto n = start_node(torrent_mode::download, 114, 8 * 16 * 1024, 16 * 1024);
  const std::string liar = "127.0.0.115";
  for (int round = 0; round < 3; ++round) {
    raw_peer p(liar, n.address());
    ASSERT_TRUE(greeted(p, n, "-XX0001-liar-round-" + std::to_string(round))) << round;
    liar_hello(p, 8);
    ASSERT_TRUE(answer_with_garbage(p)) << round;
    ASSERT_TRUE(eventually([&] { return n.s->stats().hash_failures == round + 1; })) << round;
  }
  ASSERT_TRUE(eventually([&] { return n.s->stats().banned_hosts == 1; }));
  raw_peer fourth(liar, n.address());
  EXPECT_FALSE(greeted(fourth, n, "-XX0001-liar-round-3"));
  raw_peer honest("127.0.0.116", n.address());
  EXPECT_TRUE(greeted(honest, n, "-XX0001-honest000000"));
}

// A liar that reaches the limit within one connection is closed at its
// next step (a message, or the second's tick), even if it then sits there.
TEST(Hostile, ReachingTheStrikeLimitClosesTheConnection) {
  auto n = start_node(torrent_mode::download, 117, 8 * 16 * 1024, 16 * 1024);
  raw_peer p("127.0.0.118", n.address());
  ASSERT_TRUE(greeted(p, n, "-XX0001-liar-stays00"));
  liar_hello(p, 8);
  for (int answered = 0; answered < 3; ++answered) ASSERT_TRUE(answer_with_garbage(p)) << answered;
  EXPECT_TRUE(p.closed_by_peer());
  EXPECT_EQ(n.s->stats().banned_hosts, 1u);
}

// A peer that answers each piece's first block last, after all the others,
// and once sends a bad block: a piece is hashed as its blocks land, so here
// the piece's whole run waits for its first block and is hashed in one go
// (on another reactor); the failed piece starts a fresh hash on its next try.
TEST(Hostile, PiecesWhoseFirstBlockComesLastVerifyAndAFailedOneIsHashedAfresh) {
  constexpr std::uint32_t kPiece = 256 * 1024, kBlocks = kPiece / 16384, kPieces = 8;  // liar_hello: whole bytes
  auto n = start_node(torrent_mode::download, 119, kPieces * kPiece, kPiece);
  raw_peer p("127.0.0.120", n.address());
  ASSERT_TRUE(greeted(p, n, "-XX0001-lastfirst000"));
  liar_hello(p, kPieces);
  const auto answer = [&](std::uint32_t piece, std::uint32_t offset, bool bad) {
    const auto header = wire::encode_piece_header(piece, offset, 16384);
    std::vector<std::byte> f(header.begin(), header.end());
    const auto* data = reinterpret_cast<const std::byte*>(n.data.data()) + std::size_t{piece} * kPiece + offset;
    f.insert(f.end(), data, data + 16384);
    if (bad) f.back() ^= std::byte{1};
    return p.send(f);
  };
  std::vector<std::uint32_t> answered(kPieces, 0);  // of the piece's current try, its first block aside
  std::vector<bool> first_asked(kPieces, false), try_is_bad(kPieces, false);
  bool bad_sent = false;
  for (std::uint32_t good_tries = 0; good_tries < kPieces;) {
    auto f = p.read_frame();
    ASSERT_TRUE(f);
    if (f->type != wire::msg_type::request) continue;
    const auto word = [&](std::size_t at) {
      return std::to_integer<std::uint32_t>(f->body[at]) << 24 | std::to_integer<std::uint32_t>(f->body[at + 1]) << 16 |
             std::to_integer<std::uint32_t>(f->body[at + 2]) << 8 | std::to_integer<std::uint32_t>(f->body[at + 3]);
    };
    const std::uint32_t piece = word(0), offset = word(4);
    ASSERT_LT(piece, kPieces);
    if (offset == 0) {
      first_asked[piece] = true;
    } else {
      // Piece 1's block 5, the first time: one flipped bit.
      const bool bad = piece == 1 && offset == 5 * 16384 && !bad_sent;
      bad_sent = bad_sent || bad;
      try_is_bad[piece] = try_is_bad[piece] || bad;
      ASSERT_TRUE(answer(piece, offset, bad));
      ++answered[piece];
    }
    if (first_asked[piece] && answered[piece] == kBlocks - 1) {
      ASSERT_TRUE(answer(piece, 0, false));
      if (!try_is_bad[piece]) ++good_tries;
      first_asked[piece] = try_is_bad[piece] = false;
      answered[piece] = 0;
    }
  }
  ASSERT_TRUE(eventually([&] { return n.s->stats().complete; }));
  EXPECT_TRUE(n.disk->contents() == n.data);
  EXPECT_EQ(n.s->stats().hash_failures, 1);
  EXPECT_EQ(n.s->stats().verified_pieces, kPieces);
}

// Blocks are received straight into their pieces when they come as asked
// for. A peer that answers in swapped pairs, puts other messages and an
// unasked block between them and sends it all in pieces of odd sizes
// (cutting headers and payloads anywhere) still gives a byte-exact copy.
TEST(Hostile, BlocksCutAnywhereOutOfOrderAndAmongOtherMessagesLandByteExact) {
  constexpr std::uint32_t kPiece = 256 * 1024, kPieces = 8, kTotal = kPieces * kPiece / 16384;
  auto n = start_node(torrent_mode::download, 131, kPieces * kPiece, kPiece);
  raw_peer p("127.0.0.132", n.address());
  ASSERT_TRUE(greeted(p, n, "-XX0001-cutanywhere0"));
  liar_hello(p, kPieces);
  constexpr std::size_t kCuts[] = {1, 5, 12, 13, 14, 100, 16397, 3000, 7, 16384, 26};
  std::size_t cut = 0;
  const auto send_cut = [&](const std::vector<std::byte>& stream) {
    for (std::size_t at = 0; at < stream.size();) {
      const std::size_t len = std::min(kCuts[cut++ % std::size(kCuts)], stream.size() - at);
      if (!p.send(std::span(stream).subspan(at, len))) return false;
      at += len;
    }
    return true;
  };
  std::vector<request_of> pending;
  for (std::uint32_t answered = 0; answered < kTotal;) {
    const auto r = next_request(p);
    ASSERT_TRUE(r);
    pending.push_back(*r);
    // In swapped pairs, until the last 16 (answered one by one, as the node
    // may then have only one request out).
    if (answered < kTotal - 16 && pending.size() < 2) continue;
    std::vector<std::byte> stream;
    for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
      const auto b = block_frame(n.data, kPiece, *it);
      stream.insert(stream.end(), b.begin(), b.end());
      if (++answered % 3 == 0) wire::encode_keep_alive(stream);
      if (answered % 5 == 0) wire::encode_piece_index(stream, wire::msg_type::have, 0);
      if (answered % 17 == 0) {
        const auto unasked = block_frame(n.data, kPiece, {kPieces - 1, kPiece - 16384});
        stream.insert(stream.end(), unasked.begin(), unasked.end());
      }
    }
    pending.clear();
    ASSERT_TRUE(send_cut(stream));
  }
  ASSERT_TRUE(eventually([&] { return n.s->stats().complete; }));
  EXPECT_TRUE(n.disk->contents() == n.data);
  EXPECT_EQ(n.s->stats().hash_failures, 0);
}

// A block whose header came is reserved for the connection it comes on; if
// that peer goes away halfway through it, the block is given up and comes
// from the next peer (it would never be asked for again otherwise).
TEST(Hostile, ABlockWhosePeerLeavesHalfwayComesFromTheNextPeer) {
  constexpr std::uint32_t kPiece = 256 * 1024, kPieces = 8, kTotal = kPieces * kPiece / 16384;
  auto n = start_node(torrent_mode::download, 133, kPieces * kPiece, kPiece);
  {
    raw_peer p("127.0.0.134", n.address());
    ASSERT_TRUE(greeted(p, n, "-XX0001-leaveshalfwa"));
    liar_hello(p, kPieces);
    const auto r = next_request(p);
    ASSERT_TRUE(r);
    auto half = block_frame(n.data, kPiece, *r);
    half.resize(13 + 8000);
    ASSERT_TRUE(p.send(half));
  }
  raw_peer q("127.0.0.135", n.address());
  ASSERT_TRUE(greeted(q, n, "-XX0001-nextpeer0000"));
  liar_hello(q, kPieces);
  ASSERT_TRUE(answer_all(q, n.data, kPiece, kTotal));
  ASSERT_TRUE(eventually([&] { return n.s->stats().complete; }));
  EXPECT_TRUE(n.disk->contents() == n.data);
  EXPECT_EQ(n.s->stats().hash_failures, 0);
}

// A peer that stops halfway through a block until its requests time out:
// the block is given up (the node cancels it), and what the peer sends of
// it afterwards (garbage here) is dropped, neither written into the piece
// nor read as messages; the peer's later answers complete the download.
TEST(Hostile, TheLateRestOfABlockGivenUpWhileArrivingIsDropped) {
  constexpr std::uint32_t kPiece = 256 * 1024, kPieces = 8, kTotal = kPieces * kPiece / 16384;
  auto n = start_node(torrent_mode::download, 136, kPieces * kPiece, kPiece,
                      [](session_options& o) { o.limits.peer.request_timeout = 1000ms; });
  raw_peer p("127.0.0.137", n.address());
  ASSERT_TRUE(greeted(p, n, "-XX0001-stallhalfwa0"));
  liar_hello(p, kPieces);
  const auto first = next_request(p);
  ASSERT_TRUE(first);
  auto block = block_frame(n.data, kPiece, *first);
  ASSERT_TRUE(p.send(std::span(block).first(13 + 8000)));
  ASSERT_TRUE(p.wait_for(wire::msg_type::cancel));
  const std::vector<std::byte> garbage(block.size() - 13 - 8000, std::byte{0xaa});
  ASSERT_TRUE(p.send(garbage));
  ASSERT_TRUE(answer_all(p, n.data, kPiece, kTotal));
  ASSERT_TRUE(eventually([&] { return n.s->stats().complete; }));
  EXPECT_TRUE(n.disk->contents() == n.data);
  EXPECT_EQ(n.s->stats().hash_failures, 0);
}

// A peer that answers none of our requests but keeps sending blocks we
// did not ask for: those are no answer, so the requests still time out and
// go to other peers (before, each such block restarted their timeout).
TEST(Hostile, BlocksNobodyAskedForDoNotKeepOurRequestsWaiting) {
  constexpr std::uint32_t kPiece = 256 * 1024, kPieces = 8;
  auto n = start_node(torrent_mode::download, 143, kPieces * kPiece, kPiece,
                      [](session_options& o) { o.limits.peer.request_timeout = 1000ms; });
  // Reads wait at most 300 ms, so an unasked block goes out at least that often.
  raw_peer p("127.0.0.144", n.address(), 300ms);
  ASSERT_TRUE(greeted(p, n, "-XX0001-neveranswer0"));
  liar_hello(p, kPieces);
  std::vector<request_of> asked;
  bool cancelled = false;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!cancelled && std::chrono::steady_clock::now() < until) {
    // The first block no request has named yet.
    request_of unasked{0, 0};
    for (std::uint32_t b = 0; b < kPieces * kPiece / 16384; ++b) {
      unasked = {b * 16384 / kPiece, b * 16384 % kPiece};
      if (std::none_of(asked.begin(), asked.end(),
                       [&](const request_of& r) { return r.piece == unasked.piece && r.offset == unasked.offset; }))
        break;
    }
    ASSERT_TRUE(p.send(block_frame(n.data, kPiece, unasked)));
    while (auto f = p.read_frame()) {
      if (const auto r = test::parse_request(*f)) asked.push_back(*r);
      if (f->type == wire::msg_type::cancel) cancelled = true;
    }
  }
  EXPECT_TRUE(cancelled);
  EXPECT_FALSE(asked.empty());
}

// A peer that takes our requests and never answers nor times out (the
// timeout is an hour here): in endgame its blocks go to another peer. A
// connection receiving in place reserves the blocks it guesses only for a
// receive that does not wait, so the silent peer's requests do not look
// received while it keeps us waiting (they did: the download never ended).
TEST(Hostile, ASilentPeersRequestsGoToAnotherPeerInEndgame) {
  constexpr std::uint32_t kPiece = 256 * 1024, kPieces = 8, kTotal = kPieces * kPiece / 16384;
  auto n = start_node(torrent_mode::download, 145, kPieces * kPiece, kPiece,
                      [](session_options& o) { o.limits.peer.request_timeout = 3600s; });
  raw_peer silent("127.0.0.146", n.address());
  ASSERT_TRUE(greeted(silent, n, "-XX0001-silentpeer00"));
  liar_hello(silent, kPieces);
  ASSERT_TRUE(next_request(silent));
  raw_peer q("127.0.0.147", n.address());
  ASSERT_TRUE(greeted(q, n, "-XX0001-answersall00"));
  liar_hello(q, kPieces);
  ASSERT_TRUE(answer_all(q, n.data, kPiece, kTotal));
  ASSERT_TRUE(eventually([&] { return n.s->stats().complete; }));
  EXPECT_TRUE(n.disk->contents() == n.data);
}

}  // namespace
}  // namespace sta
