// Node ids of the Mainline DHT: XOR distance (BEP 5) and the ids tied to an
// address (BEP 42), whose first 21 bits are a CRC32-C of the masked address
// and whose last byte is the random number mixed into it, so a host cannot
// choose where in the id space it sits. Pure; any thread.
#pragma once

#include <cstdint>
#include <random>

#include "base/endpoint.hpp"
#include "dht/krpc.hpp"

namespace sta::dht {

// Number of leading bits a and b share: 0 .. 160.
int shared_prefix(const node_id& a, const node_id& b);
// True when a is closer to target than b in XOR distance.
bool closer(const node_id& target, const node_id& a, const node_id& b);

// A uniformly random id that shares exactly `bits` leading bits with `near`
// (bits < 160), or all 160 bits when bits == 160.
node_id random_id_near(const node_id& near, int bits, std::mt19937_64& rng);

// Addresses BEP 42 exempts: loopback, private and link-local ranges, where
// many hosts share an address space and the rule would say nothing.
bool is_local(const endpoint& e);

// BEP 42: an id for this address; r is the random number 0..255 whose low
// three bits go into the CRC and which becomes the last byte.
node_id secure_id(const endpoint& address, std::uint8_t r, std::mt19937_64& rng);
// BEP 42: whether id is one that address may use (always true for local ones).
bool id_matches(const node_id& id, const endpoint& address);

}  // namespace sta::dht
