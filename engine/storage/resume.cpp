#include "storage/resume.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "base/sys_error.hpp"
#include "bencode/decode.hpp"
#include "bencode/encode.hpp"

namespace sta::storage {

namespace {

constexpr std::string_view kFormat = "sta resume 2";
constexpr std::size_t kMaxRecord = 256u << 20;  // 2^31 pieces' bits and a million files fit

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

void encode_stamp(bencode::writer& w, const file_stamp& f) {
  w.begin_list().integer(f.size).integer(f.mtime_ns).integer(f.ctime_ns).integer(f.inode).end();
}

std::optional<file_stamp> decode_stamp(const bencode::node& v) {
  if (!v.is_list() || v.child_count() != 4) return std::nullopt;
  std::int64_t n[4];
  int i = 0;
  for (auto item : v) {
    if (!item.is_int()) return std::nullopt;
    n[i++] = item.int_value();
  }
  return file_stamp{n[0], n[1], n[2], n[3]};
}

}  // namespace

file_stamp stamp_of(const struct stat& st) {
  if (!S_ISREG(st.st_mode)) return {};
  return {st.st_size, static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec,
          static_cast<std::int64_t>(st.st_ino)};
}

file_stamp stamp_of(const std::optional<struct stat>& st) { return st ? stamp_of(*st) : file_stamp{}; }

std::string encode_resume(const resume_data& r) {
  std::string out;
  bencode::writer w(out);
  w.begin_dict();
  w.string("file-format").string(kFormat);
  w.string("files").begin_list();
  for (const auto& f : r.files) encode_stamp(w, f);
  w.end();
  // Keys in bencode's sorted order.
  if (!r.in_parts.empty()) w.string("in-parts").string(pack_bits(r.in_parts));
  w.string("info-hash").string(r.info_hash.raw());
  if (!r.in_parts.empty()) {
    w.string("parts");
    encode_stamp(w, r.parts);
  }
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
  if (!format || !format->is_string() || format->string_value() != kFormat) {
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

std::vector<file_stamp> stamp_files(const meta::metainfo& m, const root_dir& root) {
  std::vector<file_stamp> out(m.files.size());
  for (std::size_t i = 0; i < m.files.size(); ++i) out[i] = stamp_of(root.stat(m.relative_path(i)));
  return out;
}

std::string resume_name(const sha1_digest& info_hash) { return info_hash.hex() + ".resume"; }
std::string parts_name(const sha1_digest& info_hash) { return info_hash.hex() + ".parts"; }
std::string fetched_name(const sha1_digest& info_hash) { return info_hash.hex() + ".fetched.torrent"; }

detailed_result<void> save_resume(const root_dir& root, const resume_data& r) {
  return write_state_file(root, resume_name(r.info_hash), encode_resume(r));
}

std::optional<resume_data> load_matching_resume(const root_dir& root, const meta::metainfo& m) {
  auto dir = root.state_dir(false);
  if (!dir) return std::nullopt;
  const auto bytes = read_state_file(dir->get(), resume_name(m.info_hash), kMaxRecord);
  if (!bytes) return std::nullopt;
  auto r = decode_resume(*bytes);
  if (!r || r->info_hash != m.info_hash || static_cast<std::int64_t>(r->verified.size()) != m.piece_count() ||
      r->files != stamp_files(m, root)) {
    return std::nullopt;
  }
  if (!r->in_parts.empty() && r->parts != stamp_of(stat_state_file(dir->get(), parts_name(m.info_hash))))
    return std::nullopt;
  return std::move(*r);
}

}  // namespace sta::storage
