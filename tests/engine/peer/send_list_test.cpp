#include "peer/send_list.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace sta::peer {
namespace {

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

// What the iovecs left in `list` hold, joined.
std::string rest(send_list& list) {
  std::string out;
  for (const iovec& v : list.iovecs()) out.append(static_cast<const char*>(v.iov_base), v.iov_len);
  return out;
}

std::shared_ptr<const std::byte[]> block_of(const std::string& s) {
  auto b = std::make_shared<std::byte[]>(s.size());
  std::memcpy(b.get(), s.data(), s.size());
  return b;
}

TEST(SendList, OwnBytesAndHeldBlocksGoOutInOrderAndHeldOnesAreNotCopied) {
  send_list list;
  list.own().push_back(std::byte{'<'});
  list.own_appended();
  const auto block = block_of("0123456789");
  list.append_held(std::span(block.get(), 4), block);      // "0123"
  list.append_held(std::span(block.get() + 4, 6), block);  // "456789", next to it in memory: one iovec
  list.append_own(bytes_of("hdr"));
  list.append_held(std::span(block.get() + 2, 3), block);  // "234"
  list.own().push_back(std::byte{'>'});
  list.own_appended();

  EXPECT_EQ(list.size(), 1u + 10 + 3 + 3 + 1);
  const auto iov = list.iovecs();
  ASSERT_EQ(iov.size(), 5u);
  EXPECT_EQ(iov[1].iov_base, block.get());  // the block itself, not a copy
  EXPECT_EQ(iov[1].iov_len, 10u);
  EXPECT_EQ(rest(list), "<0123456789hdr234>");
  // One holder for the five parts that share the block: it lives while the list does.
  EXPECT_EQ(block.use_count(), 2);
  list.clear();
  EXPECT_EQ(block.use_count(), 1);
  EXPECT_TRUE(list.empty());
  EXPECT_TRUE(list.iovecs().empty());
}

TEST(SendList, ShortSendsResumeInsideAPartAndAcrossParts) {
  send_list list;
  const auto block = block_of("abcdef");
  list.append_own(bytes_of("12"));
  list.append_held(std::span(block.get(), 6), block);
  list.append_own(bytes_of("xyz"));
  list.sent(1);
  EXPECT_EQ(rest(list), "2abcdefxyz");
  list.sent(4);  // "2abc"
  EXPECT_EQ(list.size(), 6u);
  EXPECT_EQ(rest(list), "defxyz");
  list.sent(3);  // exactly to the end of the block
  EXPECT_EQ(list.iovecs().size(), 1u);
  EXPECT_EQ(rest(list), "xyz");
  list.sent(3);
  EXPECT_TRUE(list.empty());
  EXPECT_TRUE(list.iovecs().empty());
}

TEST(SendList, OwnBytesStayRightWhenTheVectorGrowsAndIovecsAreCapped) {
  send_list list;
  const auto block = block_of("B");
  std::string want;
  for (int i = 0; i < 3000; ++i) {
    list.append_own(bytes_of("h" + std::to_string(i)));  // own_ reallocates many times
    list.append_held(std::span(block.get(), 1), block);
    want += "h" + std::to_string(i) + "B";
  }
  EXPECT_EQ(list.iovecs(1024).size(), 1024u);
  std::string got;
  while (!list.empty()) {
    std::size_t n = 0;
    for (const iovec& v : list.iovecs(1024)) {
      got.append(static_cast<const char*>(v.iov_base), v.iov_len);
      n += v.iov_len;
    }
    list.sent(n);
  }
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace sta::peer
