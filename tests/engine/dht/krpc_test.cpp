#include "dht/krpc.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sta::dht::krpc {
namespace {

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }
endpoint ep(const char* text) { return *parse_endpoint(text); }
node_id id_of(char c) { return node_id::from_raw(std::string(20, c)); }

result<message> decode_text(const std::string& s) { return decode(bytes(s)); }

TEST(Krpc, DecodesTheExamplesOfBep5) {
  auto ping = decode_text("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe");
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->type, kind::query);
  EXPECT_EQ(ping->name, method::ping);
  EXPECT_EQ(ping->transaction, "aa");
  EXPECT_EQ(ping->id.raw(), "abcdefghij0123456789");

  auto pong = decode_text("d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re");
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->type, kind::response);
  EXPECT_EQ(pong->id.raw(), "mnopqrstuvwxyz123456");

  auto error = decode_text("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->type, kind::error);
  EXPECT_EQ(error->error_code, kGenericError);
  EXPECT_EQ(error->error_message, "A Generic Error Ocurred");

  auto find = decode_text("d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe");
  ASSERT_TRUE(find);
  EXPECT_EQ(find->name, method::find_node);
  EXPECT_EQ(find->target.raw(), "mnopqrstuvwxyz123456");

  auto announce = decode_text(
      "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:"
      "aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe");
  ASSERT_TRUE(announce);
  EXPECT_EQ(announce->name, method::announce_peer);
  EXPECT_TRUE(announce->implied_port);
  EXPECT_EQ(announce->port, 6881);
  EXPECT_EQ(announce->token, "aoeusnth");
  EXPECT_EQ(announce->target.raw(), "mnopqrstuvwxyz123456");
}

TEST(Krpc, EveryKindRoundTrips) {
  message q;
  q.type = kind::query;
  q.transaction = "xy";
  q.id = id_of('a');
  q.name = method::announce_peer;
  q.target = id_of('b');
  q.port = 51413;
  q.token = "tok";
  q.read_only = true;
  auto back = decode(bytes(encode(q)));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->name, method::announce_peer);
  EXPECT_EQ(back->port, 51413);
  EXPECT_FALSE(back->implied_port);
  EXPECT_EQ(back->token, "tok");
  EXPECT_TRUE(back->read_only);
  EXPECT_EQ(back->target, q.target);

  message r;
  r.type = kind::response;
  r.transaction = "xy";
  r.id = id_of('c');
  r.ip = ep("203.0.113.7:6881");
  r.token = "secret";
  r.nodes = {{id_of('d'), ep("198.51.100.1:1")}, {id_of('e'), ep("[2001:db8::2]:2")}};
  r.values = {ep("192.0.2.1:6881"), ep("[2001:db8::3]:6882")};
  back = decode(bytes(encode(r)));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->type, kind::response);
  EXPECT_EQ(back->id, r.id);
  EXPECT_EQ(back->ip, r.ip);
  EXPECT_EQ(back->token, "secret");
  EXPECT_EQ(back->nodes, r.nodes);
  EXPECT_EQ(back->values, r.values);

  message e;
  e.type = kind::error;
  e.transaction = "xy";
  e.error_code = kProtocolError;
  e.error_message = "bad token";
  back = decode(bytes(encode(e)));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->error_code, kProtocolError);
  EXPECT_EQ(back->error_message, "bad token");
}

TEST(Krpc, QueriesCarryWantAndOurVersion) {
  message q;
  q.transaction = "ab";
  q.id = id_of('a');
  q.name = method::get_peers;
  q.target = id_of('b');
  q.want = kWant4 | kWant6;
  const auto text = encode(q);
  EXPECT_NE(text.find("4:wantl2:n42:n6e"), std::string::npos);
  EXPECT_NE(text.find("1:v4:ST"), std::string::npos);
  auto back = decode(bytes(text));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->want, kWant4 | kWant6);
}

TEST(Krpc, UnknownMethodsDecodeSoTheyCanBeAnswered) {
  auto m = decode_text("d1:ad2:id20:abcdefghij0123456789e1:q3:put1:t2:aa1:y1:qe");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name, method::unknown);
}

TEST(Krpc, RefusesWhatTheNodeCannotUse) {
  const char* bad[] = {
      "le",                                                          // not a dict
      "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:y1:qe",           // no t
      "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t0:1:y1:qe",      // empty t
      "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t17:aaaaaaaaaaaaaaaaa1:y1:qe",  // long t
      "d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe",     // short id
      "d1:ade1:q4:ping1:t2:aa1:y1:qe",                               // no id
      "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:xe",    // unknown y
      "d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe",  // no target
      "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti1ee1:q13:announce_peer1:t2:aa1:y1:qe",  // no token
      "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234565:token1:x4:porti70000ee1:q13:announce_peer1:t2:aa1:y1:qe",  // port
      "d1:rd2:id20:mnopqrstuvwxyz1234565:nodes5:abcdee1:t2:aa1:y1:re",  // nodes not whole entries
      "d1:el4:texte1:t2:aa1:y1:ee",                                  // error without a code
      "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:q",     // truncated
  };
  for (const char* text : bad) EXPECT_FALSE(decode_text(text)) << text;
  EXPECT_FALSE(decode(bytes(std::string(kMaxPacket + 1, 'x'))));
}

TEST(Krpc, CapsNodesAndValuesAndSkipsPortZero) {
  std::string nodes;
  for (int i = 0; i < 40; ++i) nodes += std::string(20, static_cast<char>('A' + i % 26)) + std::string("\x0a\x00\x00\x01\x00", 5) + static_cast<char>(i);
  std::string values;
  for (int i = 0; i < 300; ++i) values += "6:" + std::string("\x0a\x00\x00\x02\x1a", 5) + static_cast<char>(i % 255 + 1);
  values += "3:abc";  // neither 6 nor 18 bytes: skipped
  const std::string text = "d1:rd2:id20:mnopqrstuvwxyz1234565:nodes" + std::to_string(nodes.size()) + ":" + nodes +
                           "6:valuesl" + values + "ee1:t2:aa1:y1:re";
  auto m = decode_text(text);
  ASSERT_TRUE(m);
  // Node 0 has port 0.
  EXPECT_EQ(m->nodes.size(), kMaxNodes);
  EXPECT_EQ(m->nodes[0].addr.port(), 1);
  EXPECT_EQ(m->values.size(), kMaxValues);
}

}  // namespace
}  // namespace sta::dht::krpc
