#include "storage/memory_storage.hpp"

#include <cstring>

#include "base/sha1.hpp"

namespace sta::storage {

class memory_storage final : public storage {
 public:
  memory_storage(const meta::metainfo& m, std::shared_ptr<memory_disk> disk) : geo_(m.total_size, m.piece_length), disk_(std::move(disk)) {}

  io::task<detailed_result<void>> read(io::reactor&, piece_index p, std::uint32_t offset,
                                       std::span<std::byte> out) override {
    memory_disk& d = *disk_;
    if (d.bad_piece_.load() == std::int64_t{p.value()})
      co_return detailed_error{make_error_code(static_cast<std::errc>(d.bad_piece_error_.load())), "memory"};
    if (const int e = memory_disk::next(d.reads_, d.read_fault_))
      co_return detailed_error{make_error_code(static_cast<std::errc>(e)), "memory"};
    std::memcpy(out.data(), d.bytes_.data() + geo_.offset_of(p) + offset, out.size());
    d.bytes_read_.fetch_add(static_cast<std::int64_t>(out.size()));
    co_return detailed_result<void>{};
  }

  io::task<detailed_result<void>> write(io::reactor&, piece_index p, std::span<const std::byte> data) override {
    memory_disk& d = *disk_;
    if (const int e = memory_disk::next(d.writes_, d.write_fault_))
      co_return detailed_error{make_error_code(static_cast<std::errc>(e)), "memory"};
    std::memcpy(d.bytes_.data() + geo_.offset_of(p), data.data(), data.size());
    d.written_[p.value()].store(true, std::memory_order_release);
    co_return detailed_result<void>{};
  }

  detailed_result<void> flush() override { return {}; }

  detailed_result<void> save_resume(const bitfield& verified) override {
    std::lock_guard lock(disk_->resume_mutex_);
    disk_->resume_ = verified;
    return {};
  }

  static detailed_result<opened> open(const std::shared_ptr<memory_disk>& disk, const open_params& p) {
    const meta::metainfo& m = *p.meta;
    if (disk->size() != m.total_size) return fail(errc::file_wrong_size, "memory");
    const piece_geometry geo(m.total_size, m.piece_length);
    if (!disk->written_) {
      disk->written_.reset(new std::atomic<bool>[geo.piece_count()]);
      for (std::uint32_t i = 0; i < geo.piece_count(); ++i) disk->written_[i].store(disk->full_);
    }
    bitfield have(geo.piece_count());
    if (auto saved = disk->resume(); saved && saved->size() == have.size()) {
      have = *saved;
    } else {
      for (piece_index i : geo.pieces()) {
        if (!disk->written_[i.value()].load()) continue;
        const auto bytes =
            std::span(disk->bytes_).subspan(static_cast<std::size_t>(geo.offset_of(i)), geo.piece_size(i));
        if (sha1(bytes) == m.piece_hash(i.value())) have.set(i.value());
      }
    }
    if (p.intent == open_intent::seed && !have.all())
      return fail(errc::data_not_verified, "memory (" + std::to_string(have.size() - have.count()) + " of " +
                                               std::to_string(have.size()) + " pieces bad)");
    return opened{std::make_unique<memory_storage>(m, disk), std::move(have)};
  }

 private:
  piece_geometry geo_;
  std::shared_ptr<memory_disk> disk_;
};

memory_disk::memory_disk(std::int64_t size) : bytes_(static_cast<std::size_t>(size)) {}

memory_disk::memory_disk(std::string_view contents) : bytes_(contents.size()), full_(true) {
  std::memcpy(bytes_.data(), contents.data(), contents.size());
}

std::string memory_disk::contents() const { return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()}; }

void memory_disk::fail_write(unsigned nth, std::errc e, bool from_then_on) {
  write_fault_.error.store(static_cast<int>(e));
  write_fault_.on.store(from_then_on);
  write_fault_.at.store(nth == 0 ? 0 : writes_.load() + nth);
}

void memory_disk::fail_read(unsigned nth, std::errc e, bool from_then_on) {
  read_fault_.error.store(static_cast<int>(e));
  read_fault_.on.store(from_then_on);
  read_fault_.at.store(nth == 0 ? 0 : reads_.load() + nth);
}

void memory_disk::fail_reads_of(std::uint32_t piece, std::errc e) {
  bad_piece_error_.store(static_cast<int>(e));
  bad_piece_.store(piece);
}

std::optional<bitfield> memory_disk::resume() const {
  std::lock_guard lock(resume_mutex_);
  return resume_;
}

int memory_disk::next(std::atomic<unsigned>& count, const fault& f) {
  const unsigned n = count.fetch_add(1) + 1;
  const unsigned at = f.at.load();
  if (at == 0) return 0;
  return (n == at || (f.on.load() && n > at)) ? f.error.load() : 0;
}

factory memory_factory(std::shared_ptr<memory_disk> disk) {
  return [disk](const open_params& p) { return memory_storage::open(disk, p); };
}

}  // namespace sta::storage
