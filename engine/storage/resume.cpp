#include "storage/resume.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "base/sys_error.hpp"
#include "bencode/decode.hpp"
#include "bencode/encode.hpp"

namespace sta::storage {
namespace fs = std::filesystem;

namespace {

std::string pack_bits(const std::vector<bool>& bits) {
  std::string out((bits.size() + 7) / 8, '\0');
  for (std::size_t i = 0; i < bits.size(); ++i) {
    if (bits[i]) out[i / 8] = static_cast<char>(out[i / 8] | (0x80 >> (i % 8)));
  }
  return out;
}

std::vector<bool> unpack_bits(std::string_view bytes, std::size_t count) {
  std::vector<bool> bits(count);
  for (std::size_t i = 0; i < count; ++i)
    bits[i] = (static_cast<unsigned char>(bytes[i / 8]) & (0x80 >> (i % 8))) != 0;
  return bits;
}

std::optional<file_stamp> decode_stamp(const bencode::node& v) {
  if (!v.is_list() || v.child_count() != 2) return std::nullopt;
  auto it = v.begin();
  const auto size = *it;
  const auto mtime = *++it;
  if (!size.is_int() || !mtime.is_int()) return std::nullopt;
  return file_stamp{size.int_value(), mtime.int_value()};
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::string encode_resume(const resume_data& r) {
  std::string out;
  bencode::writer w(out);
  w.begin_dict();
  w.string("file-format").string("sta resume 1");
  w.string("files").begin_list();
  for (const auto& f : r.files) w.begin_list().integer(f.size).integer(f.mtime_ns).end();
  w.end();
  // Keys in bencode's sorted order.
  if (!r.in_parts.empty()) w.string("in-parts").string(pack_bits(r.in_parts));
  w.string("info-hash").string(r.info_hash.raw());
  if (!r.in_parts.empty()) w.string("parts").begin_list().integer(r.parts.size).integer(r.parts.mtime_ns).end();
  w.string("pieces").integer(static_cast<std::int64_t>(r.verified.size()));
  w.string("verified").string(pack_bits(r.verified));
  w.end();
  return out;
}

detailed_result<resume_data> decode_resume(std::string_view bytes) {
  auto doc = bencode::decode(bytes);
  if (!doc) return detailed_error{doc.error(), "resume"};
  const auto root = doc->root();
  auto format = root.find("file-format");
  if (!format || !format->is_string() || format->string_value() != "sta resume 1") {
    return fail(errc::bad_value, "resume.file-format");
  }
  resume_data r;
  auto hash = root.find("info-hash");
  if (!hash || !hash->is_string() || hash->string_value().size() != 20) {
    return fail(errc::bad_value, "resume.info-hash");
  }
  r.info_hash = sha1_digest::from_raw(hash->string_value());
  auto pieces = root.find("pieces");
  auto verified = root.find("verified");
  if (!pieces || !pieces->is_int() || pieces->int_value() < 0 || !verified || !verified->is_string() ||
      static_cast<std::uint64_t>(verified->string_value().size()) != (static_cast<std::uint64_t>(pieces->int_value()) + 7) / 8) {
    return fail(errc::bad_value, "resume.verified");
  }
  r.verified = unpack_bits(verified->string_value(), static_cast<std::size_t>(pieces->int_value()));
  auto files = root.find("files");
  if (!files || !files->is_list()) return fail(errc::bad_value, "resume.files");
  for (auto f : *files) {
    auto stamp = decode_stamp(f);
    if (!stamp) return fail(errc::bad_value, "resume.files");
    r.files.push_back(*stamp);
  }
  if (auto in_parts = root.find("in-parts")) {
    auto parts = root.find("parts");
    auto stamp = parts ? decode_stamp(*parts) : std::nullopt;
    if (!in_parts->is_string() || in_parts->string_value().size() != (r.files.size() + 7) / 8 || !stamp)
      return fail(errc::bad_value, "resume.in-parts");
    r.in_parts = unpack_bits(in_parts->string_value(), r.files.size());
    r.parts = *stamp;
  }
  return r;
}

file_stamp stamp_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  return {st.st_size, static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::vector<file_stamp> stamp_files(const meta::metainfo& m, const std::string& save_dir) {
  std::vector<file_stamp> out(m.files.size());
  for (std::size_t i = 0; i < m.files.size(); ++i) out[i] = stamp_file(save_dir + "/" + m.relative_path(i));
  return out;
}

std::string resume_path(const std::string& save_dir, const sha1_digest& info_hash) {
  return save_dir + "/.sta/" + info_hash.hex() + ".resume";
}

std::string parts_path(const std::string& save_dir, const sha1_digest& info_hash) {
  return save_dir + "/.sta/" + info_hash.hex() + ".parts";
}

detailed_result<void> save_resume(const std::string& path, const resume_data& r) {
  const fs::path target(path);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) return detailed_error{sys_error(ec.value()), target.parent_path().string()};
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return detailed_error{sys_error(errno), tmp};
  const std::string bytes = encode_resume(r);
  const bool ok = write_all(fd, bytes) && ::fsync(fd) == 0;
  const int e = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return detailed_error{sys_error(e), tmp};
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return detailed_error{sys_error(errno), path};
  const int dir = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {};
}

std::optional<resume_data> load_matching_resume(const std::string& path, const meta::metainfo& m,
                                                const std::string& save_dir) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto r = decode_resume(bytes);
  if (!r || r->info_hash != m.info_hash || static_cast<std::int64_t>(r->verified.size()) != m.piece_count() ||
      r->files != stamp_files(m, save_dir)) {
    return std::nullopt;
  }
  if (!r->in_parts.empty() && r->parts != stamp_file(parts_path(save_dir, m.info_hash))) return std::nullopt;
  return std::move(*r);
}

}  // namespace sta::storage
