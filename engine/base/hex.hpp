// Hex and base32 (RFC 4648) text for binary strings such as info-hashes.
// Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sta {

// Lowercase hex of every byte.
std::string to_hex(std::string_view bytes);
// Bytes from hex of either case; nullopt on odd length or a non-hex character.
std::optional<std::string> from_hex(std::string_view hex);
// Bytes from unpadded RFC 4648 base32 of either case; nullopt on a bad
// character or a length that does not decode to whole bytes.
std::optional<std::string> from_base32(std::string_view text);

}  // namespace sta
