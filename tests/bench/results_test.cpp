#include "bench/results.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "bench/compare.h"
#include "util/error.h"

namespace hh::bench {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("hh_results_test_" + std::to_string(getpid()) + name))
      .string();
}

DatasetResult ok_dataset(const std::string& name, std::vector<int64_t> runtimes) {
  DatasetResult d;
  d.name = name;
  d.runtimes = std::move(runtimes);
  d.bytes = {{"host", 1234}};
  d.stderr_text = "log line\n";
  return d;
}

TEST(Results, JsonRoundTrip) {
  Results results(1);
  results[0].name = "b.spec:gen";
  results[0].metadata = collect_metadata({"cpu", "f32", 2, "hedgehog server", "b.spec", "gen"});
  results[0].metadata["start_time"] = utc_timestamp();
  DatasetResult a = ok_dataset("data.in", {100, 110, 90});
  a.profiling = nlohmann::json::parse(R"({"memory": {}, "events": []})");
  a.wall_per_call_us = 120;
  DatasetResult failed;
  failed.name = "#1";
  failed.error = "server died";
  results[0].datasets = {a, failed};

  const std::string path = temp_path("round.json");
  write_results_file(path, results);
  // Futhark's shape: PROG -> datasets -> NAME -> runtimes / bytes / stderr, or an error string.
  std::ifstream in(path);
  const auto json = nlohmann::json::parse(in);
  EXPECT_EQ(json["b.spec:gen"]["datasets"]["data.in"]["runtimes"],
            nlohmann::json::parse("[100, 110, 90]"));
  EXPECT_EQ(json["b.spec:gen"]["datasets"]["data.in"]["bytes"]["host"], 1234);
  EXPECT_EQ(json["b.spec:gen"]["datasets"]["#1"], "server died");
  EXPECT_DOUBLE_EQ(json["b.spec:gen"]["datasets"]["data.in"]["statistics"]["mean_us"].get<double>(),
                   100);
  const auto& meta = json["b.spec:gen"]["metadata"];
  for (const char* key : {"host", "cpu", "gpu", "backend", "dtype", "threads", "hedgehog_version",
                          "hedgehog_commit", "start_time"}) {
    EXPECT_TRUE(meta.contains(key)) << key;
  }

  const Results back = read_results_file(path);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].name, "b.spec:gen");
  ASSERT_EQ(back[0].datasets.size(), 2u);
  EXPECT_EQ(back[0].datasets[0].runtimes, a.runtimes);
  EXPECT_EQ(back[0].datasets[0].bytes, a.bytes);
  EXPECT_EQ(back[0].datasets[0].stderr_text, a.stderr_text);
  EXPECT_TRUE(back[0].datasets[0].profiling.has_value());
  EXPECT_DOUBLE_EQ(back[0].datasets[0].wall_per_call_us, 120);
  EXPECT_EQ(back[0].datasets[1].error, std::optional<std::string>("server died"));
  EXPECT_EQ(back[0].metadata["dtype"], "f32");
  fs::remove(path);
}

TEST(Results, ReadsPlainFutharkResults) {
  const auto r = results_from_json(
      nlohmann::json::parse(R"({"prog.fut": {"datasets": {"#0": {"runtimes": [5, 6],
      "bytes": {"default": 10}, "stderr": ""}}}})"),
      "futhark.json");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].datasets[0].runtimes, (std::vector<int64_t>{5, 6}));
}

TEST(Results, BadFilesGiveClearErrors) {
  EXPECT_THROW(read_results_file("/nonexistent/r.json"), SystemError);
  const std::string path = temp_path("bad.json");
  std::ofstream(path) << R"({"p": {"datasets": {"d": {"runtimes": [1, 2)";
  try {
    read_results_file(path);
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated or corrupt"), std::string::npos) << e.what();
  }
  const struct {
    const char* json;
    const char* message;
  } cases[] = {
      {"[1]", "not a results file"},
      {R"({"p": 1})", "program \"p\": expected an object"},
      {R"({"p": {}})", "missing \"datasets\""},
      {R"({"p": {"datasets": {"d": {}}}})", "dataset \"d\": missing \"runtimes\""},
      {R"({"p": {"datasets": {"d": {"runtimes": ["x"]}}}})", "runtimes[0] is not a number"},
      {R"({"p": {"datasets": {"d": 5}}})", "expected an object or an error message"},
  };
  for (const auto& c : cases) {
    try {
      results_from_json(nlohmann::json::parse(c.json), "r.json");
      ADD_FAILURE() << c.json;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    }
  }
  fs::remove(path);
}

TEST(BenchCmp, SpeedupAndSignificance) {
  Results old_r(1), new_r(1);
  old_r[0].name = new_r[0].name = "b.spec:gen";
  std::vector<int64_t> slow, fast, same;
  for (int i = 0; i < 30; ++i) {
    slow.push_back(1000 + (i % 5));
    fast.push_back(500 + (i % 5));
    same.push_back(1000 + ((i + 2) % 5));
  }
  old_r[0].datasets = {ok_dataset("a", slow), ok_dataset("b", slow), ok_dataset("gone", slow)};
  DatasetResult failed;
  failed.name = "c";
  failed.error = "boom\nmore";
  old_r[0].datasets.push_back(ok_dataset("c", slow));
  new_r[0].datasets = {ok_dataset("a", fast), ok_dataset("b", same), failed,
                       ok_dataset("new", fast)};
  const auto cmp = compare_results(old_r, new_r);
  ASSERT_EQ(cmp.size(), 5u);
  EXPECT_EQ(cmp[0].dataset, "a");
  EXPECT_NEAR(cmp[0].speedup, 1002.0 / 502.0, 1e-9);
  EXPECT_TRUE(cmp[0].significant);
  EXPECT_EQ(cmp[1].dataset, "b");
  EXPECT_NEAR(cmp[1].speedup, 1, 1e-9);
  EXPECT_FALSE(cmp[1].significant);
  EXPECT_EQ(cmp[2].note, "only in OLD");
  EXPECT_EQ(cmp[3].note, "failed in NEW: boom");
  EXPECT_EQ(cmp[4].note, "only in NEW");
  const std::string table = format_comparisons(cmp);
  EXPECT_NE(table.find("b.spec:gen"), std::string::npos);
  EXPECT_NE(table.find("1.996x  faster (significant)"), std::string::npos) << table;
  EXPECT_NE(table.find("no significant difference"), std::string::npos) << table;
  // Swapped, the change is a significant slow-down.
  EXPECT_NE(format_comparisons(compare_results(new_r, old_r)).find("slower (significant)"),
            std::string::npos);
}

}  // namespace
}  // namespace hh::bench
