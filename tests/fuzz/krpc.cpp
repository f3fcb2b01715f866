// libFuzzer target: the KRPC decoder on arbitrary bytes (what it decodes must
// re-encode and decode to the same message, within the caps), and a DHT node
// fed the same bytes as a datagram: it must neither crash nor answer what
// did not decode.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "dht/krpc.hpp"
#include "dht/node.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace krpc = sta::dht::krpc;
  const auto packet = std::as_bytes(std::span(data, size));
  auto m = krpc::decode(packet);
  if (m) {
    if (m->nodes.size() > 2 * krpc::kMaxNodes || m->values.size() > krpc::kMaxValues) std::abort();
    const auto text = krpc::encode(*m);
    auto again = krpc::decode(std::as_bytes(std::span(text.data(), text.size())));
    if (!again || again->type != m->type || again->transaction != m->transaction || again->id != m->id ||
        again->nodes != m->nodes || again->values != m->values || again->token != m->token)
      std::abort();
  }
  const sta::dht::clock::time_point now{};
  sta::dht::node n({}, sta::dht::node_id{}, 1, now);
  n.receive(*sta::parse_endpoint("10.0.0.1:6881"), packet, now);
  const auto out = n.take_packets();
  if (!m && !out.empty()) std::abort();
  return 0;
}
