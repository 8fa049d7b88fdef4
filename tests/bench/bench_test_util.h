#pragma once
// The fixture that the runner tests (fake server) and the end-to-end tests (`hedgehog server`)
// share: a scratch folder per test, runner options for short runs whose printed output goes to
// a temporary file, and lookups into the results. Each test sets options_.server_argv.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "bench/inputs.h"
#include "bench/runner.h"

namespace hh::testing {

class RunnerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("hh_" + std::string(info->test_suite_name()) + "_" + std::to_string(getpid()) + "_" +
            info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    out_ = std::tmpfile();
    options_.min_runs = 3;
    options_.min_seconds = 0;
    options_.out = out_;
  }
  void TearDown() override {
    std::fclose(out_);
    std::filesystem::remove_all(dir_);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // Writes `text` to `name` inside the scratch folder (making its parent folders); its path.
  std::string write(const std::string& name, const std::string& text) {
    const std::filesystem::path p = dir_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  // Runs the benchmarks of `spec_text`, written to b.spec in the scratch folder.
  bench::Results run(const std::string& spec_text) {
    return bench::run_benchmarks({bench::read_spec_file(write("b.spec", spec_text))}, options_);
  }
  // What the runner printed so far.
  std::string printed() {
    std::fflush(out_);
    std::rewind(out_);
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, out_)) > 0) text.append(buf, n);
    return text;
  }
  // The dataset `name` of the first program whose name ends with `program`.
  static const bench::DatasetResult& dataset(const bench::Results& r, const std::string& program,
                                             const std::string& name) {
    for (const auto& p : r) {
      if (!p.name.ends_with(program)) continue;
      for (const auto& d : p.datasets) {
        if (d.name == name) return d;
      }
    }
    throw std::runtime_error("no dataset " + program + " " + name);
  }

  std::filesystem::path dir_;  // this test's scratch folder, removed afterwards
  std::FILE* out_ = nullptr;
  bench::RunnerOptions options_;
};

}  // namespace hh::testing
