// An existing directory opened as a storage::root_dir, for the storage tests.
#pragma once

#include <filesystem>

#include "storage/root_dir.hpp"

namespace sta::test {

inline storage::root_dir root_at(const std::filesystem::path& p) {
  return std::move(storage::root_dir::open(p.string(), false).value());
}

}  // namespace sta::test
