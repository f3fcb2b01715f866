// sta-bench hash: `sta create`'s hashing rate on every core against one core
// of OpenSSL's EVP SHA-1 in the same process and the same run, so the ratio
// is stable on a noisy machine even when absolute figures are not. Two
// single-core baselines, since they differ by a third: one cache-hot 1 MiB
// block hashed again and again (`openssl speed -evp sha1`), and the same
// file read from the page cache in 1 MiB reads and hashed (`openssl dgst`),
// which pays for memory bandwidth and a copy as `create` does.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "base/sha1.hpp"
#include "base/units.hpp"
#include "commands.hpp"
#include "storage/create.hpp"

namespace sta::bench {
namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

struct hash_args {
  std::string size = "1GiB";
  std::string dir;
  unsigned threads = 0;
  unsigned rounds = 5;
  bool json = false;
};

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// Single-core EVP SHA-1 over 1 MiB buffers for about a second, like
// `openssl speed -evp sha1 -bytes 1048576`.
double single_core_sha1_rate() {
  std::string block(1 << 20, '\0');
  std::mt19937 rng(1);
  for (auto& c : block) c = static_cast<char>(rng());
  std::int64_t bytes = 0;
  const auto start = clock_type::now();
  while (seconds_since(start) < 1.0) {
    for (int i = 0; i < 16; ++i) {
      auto d = sha1(block);
      block[0] = static_cast<char>(d.bytes[0]);
      bytes += static_cast<std::int64_t>(block.size());
    }
  }
  return static_cast<double>(bytes) / seconds_since(start);
}

// Single-core EVP SHA-1 of `file`, read from the page cache in 1 MiB
// reads, like `openssl dgst -sha1 FILE`.
double single_core_file_sha1_rate(const fs::path& file) {
  std::vector<char> buf(1 << 20);
  std::ifstream in(file, std::ios::binary);
  sha1_hasher h;
  std::int64_t bytes = 0;
  const auto start = clock_type::now();
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
    h.update(std::string_view(buf.data(), static_cast<std::size_t>(in.gcount())));
    bytes += in.gcount();
  }
  const double secs = seconds_since(start);
  (void)h.finish();
  return static_cast<double>(bytes) / secs;
}

int run_hash(const hash_args& args) {
  const auto size = parse_size(args.size);
  if (!size || *size <= 0) {
    std::cerr << "sta-bench: --size: not a size: " << args.size << '\n';
    return 2;
  }
  std::string tmpl = ((args.dir.empty() ? fs::temp_directory_path() : fs::path(args.dir)) / "sta-bench-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) {
    std::cerr << "sta-bench: cannot make a directory in " << tmpl << '\n';
    return 1;
  }
  const fs::path dir = tmpl;
  struct cleanup {
    fs::path p;
    ~cleanup() { std::error_code ec; fs::remove_all(p, ec); }
  } guard{dir};

  const fs::path file = dir / "data.bin";
  {
    std::ofstream out(file, std::ios::binary);
    std::string block(4 << 20, '\0');
    std::mt19937_64 rng(42);
    for (std::int64_t left = *size; left > 0;) {
      for (std::size_t i = 0; i < block.size(); i += 8) {
        const auto v = rng();
        std::memcpy(block.data() + i, &v, 8);
      }
      const auto n = std::min<std::int64_t>(left, static_cast<std::int64_t>(block.size()));
      out.write(block.data(), n);
      left -= n;
    }
    if (!out) {
      std::cerr << "sta-bench: cannot write " << file << '\n';
      return 1;
    }
  }

  storage::create_options opts;
  opts.path = file.string();
  opts.threads = args.threads;
  // One untimed pass brings the file into the page cache, as for a file
  // that was just written or downloaded.
  if (auto warm = storage::create_torrent(opts); !warm) {
    std::cerr << "sta-bench: " << warm.error().message() << '\n';
    return 1;
  }
  // Alternate the two measurements so that a noisy neighbour hits both
  // alike, and compare medians.
  std::vector<double> sha1_rates;
  std::vector<double> file_sha1_rates;
  std::vector<double> create_rates;
  for (unsigned round = 0; round < args.rounds; ++round) {
    sha1_rates.push_back(single_core_sha1_rate());
    file_sha1_rates.push_back(single_core_file_sha1_rate(file));
    const auto start = clock_type::now();
    auto torrent = storage::create_torrent(opts);
    const double secs = seconds_since(start);
    if (!torrent) {
      std::cerr << "sta-bench: " << torrent.error().message() << '\n';
      return 1;
    }
    create_rates.push_back(static_cast<double>(*size) / secs);
  }
  const double sha1_rate = median(sha1_rates);
  const double file_sha1_rate = median(file_sha1_rates);
  const double create_rate = median(create_rates);
  const unsigned threads = args.threads ? args.threads : std::max(1u, std::thread::hardware_concurrency());
  if (args.json) {
    boost::json::object o{{"bytes", *size},
                          {"threads", threads},
                          {"rounds", args.rounds},
                          {"create_bytes_per_sec", create_rate},
                          {"sha1_single_core_bytes_per_sec", sha1_rate},
                          {"ratio", create_rate / sha1_rate},
                          {"file_sha1_single_core_bytes_per_sec", file_sha1_rate},
                          {"ratio_to_file_sha1", create_rate / file_sha1_rate}};
    std::cout << boost::json::serialize(o) << '\n';
  } else {
    std::cout << "sta create of " << format_size(static_cast<double>(*size)) << " with " << threads
              << " threads: " << format_size(create_rate) << "/s (median of " << args.rounds << ")\n"
              << "single-core EVP SHA-1 of a cache-hot 1 MiB block (openssl speed): " << format_size(sha1_rate)
              << "/s, ratio " << create_rate / sha1_rate << "x\n"
              << "single-core EVP SHA-1 of the file from the page cache (openssl dgst): "
              << format_size(file_sha1_rate) << "/s, ratio " << create_rate / file_sha1_rate << "x\n";
  }
  return 0;
}

}  // namespace

command add_hash(CLI::App& app) {
  auto args = std::make_shared<hash_args>();
  auto* sub = app.add_subcommand("hash", "Hash rate of `sta create` vs one core of SHA-1");
  sub->add_option("--size", args->size, "Size of the generated file (default 1GiB)");
  sub->add_option("--dir", args->dir, "Where to put the file (default $TMPDIR)");
  sub->add_option("--threads", args->threads, "Hashing threads (default: one per core)");
  sub->add_option("--rounds", args->rounds, "Alternating rounds; medians are compared (default 5)")
      ->check(CLI::Range(1u, 100u));
  sub->add_flag("--json", args->json, "Print one JSON object");
  return {sub, [args] { return run_hash(*args); }};
}

}  // namespace sta::bench
