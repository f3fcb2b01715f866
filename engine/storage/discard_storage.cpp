#include "storage/discard_storage.hpp"

#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "base/sha1.hpp"
#include "meta/build.hpp"

namespace sta::storage {
namespace {

std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class discard_storage final : public storage {
 public:
  explicit discard_storage(const meta::metainfo& m) : geo_(m.total_size, m.piece_length) {}

  io::task<detailed_result<void>> read(io::reactor&, piece_index p, std::uint32_t offset,
                                       std::span<std::byte> out) override {
    generate(geo_.offset_of(p) + offset, out);
    co_return detailed_result<void>{};
  }
  io::task<detailed_result<void>> write(io::reactor&, piece_index, std::span<const std::byte>) override {
    co_return detailed_result<void>{};
  }
  detailed_result<void> flush() override { return {}; }
  detailed_result<void> save_resume(const bitfield&) override { return {}; }

 private:
  piece_geometry geo_;
};

}  // namespace

void generate(std::int64_t offset, std::span<std::byte> out) {
  // Word w of the stream is mix(w); a range may start inside a word.
  std::size_t done = 0;
  auto word = static_cast<std::uint64_t>(offset) / 8;
  std::size_t skip = static_cast<std::size_t>(offset % 8);
  while (done < out.size()) {
    const std::uint64_t v = mix(word++);
    const std::size_t n = std::min<std::size_t>(8 - skip, out.size() - done);
    std::memcpy(out.data() + done, reinterpret_cast<const std::byte*>(&v) + skip, n);
    done += n;
    skip = 0;
  }
}

meta::metainfo generated_torrent(const std::string& name, std::int64_t size, std::int64_t piece_length) {
  const piece_geometry geo(size, piece_length);
  std::string hashes(std::size_t{geo.piece_count()} * 20, '\0');
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::jthread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::vector<std::byte> buf(geo.piece_length());
      for (piece_index p : geo.pieces()) {
        if (p.value() % threads != t) continue;
        const auto bytes = std::span(buf).first(geo.piece_size(p));
        generate(geo.offset_of(p), bytes);
        std::memcpy(hashes.data() + std::size_t{p.value()} * 20, sha1(bytes).raw().data(), 20);
      }
    });
  }
  workers.clear();
  meta::torrent_spec spec;
  spec.name = name;
  spec.piece_length = piece_length;
  spec.files = {{{}, size}};
  spec.piece_hashes = std::move(hashes);
  auto m = meta::parse(meta::build_torrent(spec));
  if (!m) throw std::logic_error("generated torrent: " + m.error().message());
  return std::move(*m);
}

factory discard_factory() {
  return [](const open_params& p) -> detailed_result<opened> {
    const meta::metainfo& m = *p.meta;
    return opened{std::make_unique<discard_storage>(m),
                  bitfield(static_cast<std::size_t>(m.piece_count()), p.intent == open_intent::seed)};
  };
}

}  // namespace sta::storage
