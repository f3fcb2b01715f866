// Decodes arbitrary bytes; whatever decodes must re-encode to a document
// that decodes to the same value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bencode/decode.hpp"
#include "bencode/encode.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto doc = sta::bencode::decode(input);
  if (!doc) return 0;
  if (doc->root().raw() != input) std::abort();
  const auto value = sta::bencode::to_value(doc->root());
  const std::string again = sta::bencode::encode(value);
  auto doc2 = sta::bencode::decode(again);
  if (!doc2 || !(sta::bencode::to_value(doc2->root()) == value)) std::abort();
  return 0;
}
