#pragma once
// The fixture that the download and resolve tests share: a scratch folder and a local
// imitation of the Hub (fake_hub.h), with options_ pointing the client at it (the cache inside
// the scratch folder, no progress bar, short timeouts). Each test suite adds its repositories.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "hub/download.h"
#include "hub/fake_hub.h"

namespace hh::testing {

// The bytes of the file at `path` ("" when it cannot be read).
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class HubFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/hh_hub_test_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    options_.endpoint = hub_.endpoint();
    options_.cache_dir = (dir_ / "hub").string();
    options_.progress = false;
    options_.connect_timeout_s = 5;
    options_.stall_timeout_s = 5;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::filesystem::path dir_;  // this test's scratch folder, removed afterwards
  FakeHub hub_;
  HubOptions options_;
};

}  // namespace hh::testing
