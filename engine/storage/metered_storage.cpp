#include "storage/metered_storage.hpp"

#include <chrono>

namespace sta::storage {
namespace {

using clock = std::chrono::steady_clock;

class metered_storage final : public storage {
 public:
  metered_storage(std::unique_ptr<storage> inner, io_meter& process, std::shared_ptr<io_bytes> torrent)
      : inner_(std::move(inner)), process_(process), torrent_(std::move(torrent)) {}

  io::task<detailed_result<void>> read(io::reactor& r, piece_index p, std::uint32_t offset,
                                       std::span<std::byte> out) override {
    const auto start = clock::now();
    auto done = co_await inner_->read(r, p, offset, out);
    process_.read_latency.record(clock::now() - start);
    if (done) count(&io_bytes::read, static_cast<std::int64_t>(out.size()));
    co_return done;
  }

  io::task<detailed_result<void>> write(io::reactor& r, piece_index p, std::span<const std::byte> data) override {
    const auto start = clock::now();
    auto done = co_await inner_->write(r, p, data);
    process_.write_latency.record(clock::now() - start);
    if (done) count(&io_bytes::written, static_cast<std::int64_t>(data.size()));
    co_return done;
  }

  detailed_result<void> flush() override { return inner_->flush(); }
  detailed_result<void> save_resume(const bitfield& verified) override { return inner_->save_resume(verified); }

 private:
  void count(std::atomic<std::int64_t> io_bytes::*which, std::int64_t n) {
    (process_.bytes.*which).fetch_add(n, std::memory_order_relaxed);
    (torrent_.get()->*which).fetch_add(n, std::memory_order_relaxed);
  }

  std::unique_ptr<storage> inner_;
  io_meter& process_;
  std::shared_ptr<io_bytes> torrent_;
};

}  // namespace

std::unique_ptr<storage> metered(std::unique_ptr<storage> inner, io_meter& process, std::shared_ptr<io_bytes> torrent) {
  return std::make_unique<metered_storage>(std::move(inner), process, std::move(torrent));
}

}  // namespace sta::storage
