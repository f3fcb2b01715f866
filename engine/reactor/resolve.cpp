#include "reactor/resolve.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/eventfd.h>

#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "base/unique_fd.hpp"
#include "reactor/ops.hpp"

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

// Shared by the coroutine and the resolver thread; whoever is last frees it.
struct pending {
  unique_fd wake{::eventfd(0, EFD_CLOEXEC)};
  std::mutex mutex;
  std::optional<answer> out;
};

}  // namespace

task<result<endpoint, std::string>> resolve(reactor& r, std::string host, std::uint16_t port,
                                             std::chrono::nanoseconds timeout) {
  std::array<std::uint8_t, 16> raw{};
  if (::inet_pton(AF_INET, host.c_str(), raw.data()) == 1) co_return *endpoint::from_ip(std::span(raw).first(4), port);
  if (::inet_pton(AF_INET6, host.c_str(), raw.data()) == 1) co_return *endpoint::from_ip(raw, port);

  auto p = std::make_shared<pending>();
  if (!p->wake) co_return failed("cannot resolve " + host + ": no eventfd");
  std::thread([p, host, port] {
    answer a = lookup(host, port);
    {
      std::lock_guard lock(p->mutex);
      p->out = std::move(a);
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(p->wake.get(), &one, sizeof one);
  }).detach();

  std::uint64_t count = 0;
  auto n = co_await io::read(r, p->wake.get(), std::as_writable_bytes(std::span(&count, 1)), 0).deadline(timeout);
  if (!n) co_return failed("cannot resolve " + host + ": " + n.error().message());
  std::lock_guard lock(p->mutex);
  co_return std::move(*p->out);
}

}  // namespace sta::io
