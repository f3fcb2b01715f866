#include "reactor/resolve.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <array>
#include <cstring>

#include "reactor/blocking.hpp"

namespace sta::io {
namespace {

using answer = result<endpoint, std::string>;

answer failed(std::string why) { return answer(boost::system::in_place_error, std::move(why)); }

answer lookup(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    return failed("cannot resolve " + host + ": " + ::gai_strerror(rc));
  endpoint ep;
  std::memcpy(&ep.storage, found->ai_addr, found->ai_addrlen);
  ep.length = found->ai_addrlen;
  ::freeaddrinfo(found);
  return ep;
}

}  // namespace

task<result<endpoint, std::string>> resolve(reactor& r, std::string host, std::uint16_t port,
                                             std::chrono::nanoseconds timeout) {
  std::array<std::uint8_t, 16> raw{};
  if (::inet_pton(AF_INET, host.c_str(), raw.data()) == 1) co_return *endpoint::from_ip(std::span(raw).first(4), port);
  if (::inet_pton(AF_INET6, host.c_str(), raw.data()) == 1) co_return *endpoint::from_ip(raw, port);

  // Named, not built inside the co_await (a GCC 12 coroutine trap).
  std::function<answer()> job = [host, port] { return lookup(host, port); };
  auto found = co_await blocking<endpoint>(r, std::move(job), timeout, "cannot resolve " + host);
  co_return found;
}

}  // namespace sta::io
