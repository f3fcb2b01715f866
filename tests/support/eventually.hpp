// Polls a condition that another thread makes true (a node's state) until
// it holds; the 30 s bound turns a hang into a failure, never a pass.
#pragma once

#include <chrono>
#include <thread>

namespace sta::test {

template <class F>
bool eventually(F done) {
  using namespace std::chrono_literals;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace sta::test
