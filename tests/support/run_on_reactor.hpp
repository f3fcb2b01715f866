// Runs a coroutine as the only task of a fresh reactor on the test's
// thread, then stops the reactor: tests of awaitables need no threads.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

#include "reactor/reactor.hpp"

namespace sta::test {

inline std::unique_ptr<io::reactor> make_reactor() {
  auto r = io::reactor::create();
  if (!r) throw std::runtime_error(r.error());
  return std::move(*r);
}

// `body(reactor&)` returns an io::task<void>.
template <class Body>
void run_on_reactor(Body body) {
  auto r = make_reactor();
  struct driver {
    static io::task<void> run(io::reactor& r, Body body) {
      co_await body(r);
      r.stop();
    }
  };
  r->spawn(driver::run(*r, std::move(body)));
  r->run();
  EXPECT_EQ(r->live_tasks(), 0u);
}

}  // namespace sta::test
