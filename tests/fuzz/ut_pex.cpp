// libFuzzer target: the BEP 11 message decoder on arbitrary bytes; what it
// decodes must re-encode and decode to the same peers, within the cap.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "wire/ut_pex.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace pex = sta::wire::ut_pex;
  auto m = pex::decode(std::as_bytes(std::span(data, size)));
  if (!m) return 0;
  if (m->added.size() > pex::kMaxPerMessage || m->dropped.size() > pex::kMaxPerMessage) std::abort();
  auto again = pex::decode(pex::encode(*m));
  if (!again || again->added.size() != m->added.size() || again->dropped.size() != m->dropped.size()) std::abort();
  return 0;
}
