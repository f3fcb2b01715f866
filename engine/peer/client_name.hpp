// client_name: what a peer id says about the client that made it, for
// display ("libtorrent 2.0.8", "Transmission 4.0.5"). Azureus-style ids
// ("-LT2080-...") of the common clients are named; others show their
// printable prefix. Pure.
#pragma once

#include <string>

#include "wire/codec.hpp"

namespace sta::peer {

std::string client_name(const wire::peer_id& id);

}  // namespace sta::peer
