// The runner end to end against the fake protocol server (fake_server.h).
#include "bench/runner.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "bench/bench_test_util.h"
#include "bench/fake_server.h"
#include "values/binary_format.h"

namespace hh::bench {
namespace {

namespace fs = std::filesystem;

class RunnerTest : public testing::RunnerFixture {
 protected:
  void SetUp() override {
    RunnerFixture::SetUp();
    options_.server_argv = testing::fake_server_argv();
    options_.convergence_max_seconds = 0.2;
  }
};

TEST_F(RunnerTest, MeasuresValidatesAndRecords) {
  options_.description.backend = "fake";
  options_.profile = true;
  const Results r =
      run("==\nentry: spin\n\"small\" input { 200i64 } output { 200i64 }\ninput { 50i64 }\n");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].name.ends_with("b.spec:spin"));
  EXPECT_EQ(r[0].metadata["backend"], "fake");
  EXPECT_TRUE(r[0].metadata.contains("start_time"));
  EXPECT_TRUE(r[0].metadata.contains("hedgehog_commit"));
  const auto& d = dataset(r, ":spin", "small");
  ASSERT_FALSE(d.error) << *d.error;
  EXPECT_GE(d.runtimes.size(), 3u);
  for (int64_t t : d.runtimes) EXPECT_GE(t, 200);
  EXPECT_GT(d.wall_per_call_us, 0);
  EXPECT_EQ(d.bytes.count("host"), 1u);
  // --profile: one extra run with the profiler on; its report is kept.
  ASSERT_TRUE(d.profiling.has_value());
  ASSERT_EQ((*d.profiling)["events"].size(), 1u);
  EXPECT_EQ((*d.profiling)["events"][0]["name"], "spin");
  EXPECT_FALSE(dataset(r, ":spin", "#1").error);
  const std::string out = printed();
  EXPECT_NE(out.find("Results for"), std::string::npos) << out;
  EXPECT_NE(out.find("µs ±"), std::string::npos) << out;
  EXPECT_NE(out.find("runs"), std::string::npos) << out;
  EXPECT_FALSE(any_failed(r));
}

TEST_F(RunnerTest, ConvergencePhaseRunsUntilConvergedOrOutOfTime) {
  options_.min_runs = 2;
  options_.convergence_max_seconds = 5;
  const auto converged = dataset(run("==\nentry: spin\ninput { 300i64 }\n"), "spin", "#0");
  ASSERT_FALSE(converged.error);
  EXPECT_TRUE(has_converged(converged.stats(), options_.rule));
  options_.convergence_phase = false;
  options_.min_runs = 4;
  const auto initial = dataset(run("==\nentry: spin\ninput { 300i64 }\n"), "spin", "#0");
  EXPECT_EQ(initial.runtimes.size(), 4u);
}

TEST_F(RunnerTest, FailuresAreReportedAndTheRestStillRuns) {
  write("ok.in", to_binary(Array::scalar<int64_t>(ElemType::I64, 4)));
  const Results r = run(R"(==
entry: sum
"wrong" input { 3i64 } output { 7i64 }
"toomany" input { 1i64 2i64 }
"type" input { 1i32 }
"missing" input @ nosuch.in
"file" input @ ok.in output { 10i64 }
"expected-missing" input { 1i64 } output @ nosuch.out
"leftover" input { 1i64 } output { 1i64 2i64 }
==
entry: fail nosuchentry
"f" input { 1i64 }
==
entry: die
"dies" input { 1i64 }
==
entry: sum
"after" input { 4i64 } output { 10i64 }
)");
  EXPECT_TRUE(any_failed(r));
  const auto error = [&](const std::string& p, const std::string& n) {
    const auto& d = dataset(r, p, n);
    return d.error ? *d.error : std::string();
  };
  EXPECT_NE(error(":sum", "wrong").find("validation failed: output 0: expected 7i64, got 6i64"),
            std::string::npos)
      << error(":sum", "wrong");
  EXPECT_NE(error(":sum", "wrong").find("b.spec:3:1"), std::string::npos);
  EXPECT_NE(error(":sum", "toomany").find("2 values given, but entry point 'sum' takes 1 input"),
            std::string::npos)
      << error(":sum", "toomany");
  EXPECT_NE(error(":sum", "type").find("value 0 is a i32"), std::string::npos)
      << error(":sum", "type");
  EXPECT_NE(error(":sum", "missing").find("nosuch.in' does not exist"), std::string::npos)
      << error(":sum", "missing");
  EXPECT_EQ(error(":sum", "file"), "");
  EXPECT_NE(error(":sum", "expected-missing").find("expected-output file"), std::string::npos);
  EXPECT_NE(error(":sum", "leftover").find("2 expected values given"), std::string::npos)
      << error(":sum", "leftover");
  EXPECT_NE(error(":fail", "f").find("always fails"), std::string::npos) << error(":fail", "f");
  EXPECT_NE(error(":nosuchentry", "f").find("unknown entry point 'nosuchentry'"), std::string::npos)
      << error(":nosuchentry", "f");
  EXPECT_NE(error(":die", "dies").find("exited with status 3"), std::string::npos)
      << error(":die", "dies");
  // The server was restarted for the datasets after the crash.
  EXPECT_EQ(error(":sum", "after"), "");
  EXPECT_NE(printed().find("FAILED"), std::string::npos);
}

TEST_F(RunnerTest, CrashMidRunAndTimeout) {
  options_.min_runs = 10;
  options_.timeout_seconds = 1.0;
  const Results r = run(R"(==
entry: dieafter
"crash" input { 1i64 }
==
entry: hang
"hangs" input { 1i64 }
==
entry: sum
"fine" input { 1i64 }
)");
  const auto& crash = dataset(r, ":dieafter", "crash");
  ASSERT_TRUE(crash.error);
  EXPECT_NE(crash.error->find("exited with status 3"), std::string::npos) << *crash.error;
  const auto& hang = dataset(r, ":hang", "hangs");
  ASSERT_TRUE(hang.error);
  EXPECT_NE(hang.error->find("timed out"), std::string::npos) << *hang.error;
  EXPECT_FALSE(dataset(r, ":sum", "fine").error);
}

TEST_F(RunnerTest, ConsumedInputsAreFreshForEveryRun) {
  // `consume` consumes its array: from a literal (stored once, restored per run) and from a
  // script sub-call (evaluated again per run). Both must run every time.
  const Results r = run(R"(==
entry: consume
"literal" input { [1i64, 2i64, 3i64] } output { 6i64 }
"script" script input { consume (mk 5i64) } output { 10i64 }
"generator" script input { mk 4i64 } output { 6i64 }
)");
  for (const char* name : {"literal", "script", "generator"}) {
    const auto& d = dataset(r, ":consume", name);
    EXPECT_FALSE(d.error) << name << ": " << *d.error;
    EXPECT_GE(d.runtimes.size(), 3u) << name;
  }
}

TEST_F(RunnerTest, ScriptErrors) {
  const Results r = run(R"(==
entry: sum
"arity" script input { sum 1i64 2i64 }
"type" script input { sum 1i32 }
"nested" script input { sum (mk 3i64) }
"unknown" script input { sum (nosuch 1i64) }
)");
  const auto error = [&](const std::string& n) {
    const auto& d = dataset(r, ":sum", n);
    return d.error ? *d.error : std::string();
  };
  EXPECT_NE(error("arity").find("'sum' takes 1 argument, the script gives 2"), std::string::npos)
      << error("arity");
  EXPECT_NE(error("type").find("is a i32 (1i32), but 'sum' takes i64 there"), std::string::npos)
      << error("type");
  EXPECT_NE(error("nested").find("'mk' returns a []i64, but 'sum' takes i64"), std::string::npos)
      << error("nested");
  EXPECT_NE(error("unknown").find("unknown entry point 'nosuch'"), std::string::npos)
      << error("unknown");
}

TEST_F(RunnerTest, RandomInputsAreCachedBesideTheSpec) {
  const Results r = run("==\nentry: consume\nrandom input { [1000]i64 }\n");
  ASSERT_FALSE(dataset(r, ":consume", "#0").error);
  std::vector<fs::path> cached;
  for (const auto& e : fs::directory_iterator(dir_ / "data")) cached.push_back(e.path());
  ASSERT_EQ(cached.size(), 1u);
  const auto before = fs::last_write_time(cached[0]);
  const auto values = read_values_file(cached[0].string());
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0].shape(), (Shape{1000}));
  run("==\nentry: consume\nrandom input { [1000]i64 }\n");
  EXPECT_EQ(fs::last_write_time(cached[0]), before);  // reused, not regenerated
}

TEST_F(RunnerTest, TagsNobenchAndEntryFilter) {
  options_.exclude_tags = {"slow"};
  options_.entry_point = "sum";
  const Results r = run(R"(==
entry: sum spin
"a" input { 1i64 }
"b" nobench input { 1i64 }
==
tags { slow }
entry: sum
"c" input { 1i64 }
==
tags { nobench }
entry: sum
"d" input { 1i64 }
)");
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].datasets.size(), 1u);
  EXPECT_EQ(r[0].datasets[0].name, "a");
}

TEST_F(RunnerTest, ServerThatCannotStart) {
  options_.server_argv = testing::fake_server_argv("nostart");
  const Results r = run("==\nentry: sum\n\"x\" input { 1i64 }\n\"y\" input { 2i64 }\n");
  for (const char* n : {"x", "y"}) {
    const auto& d = dataset(r, ":sum", n);
    ASSERT_TRUE(d.error);
    EXPECT_NE(d.error->find("cannot start the server"), std::string::npos) << *d.error;
  }
}

TEST_F(RunnerTest, ShellServerCommand) {
  options_.server_argv.clear();
  options_.server_command = testing::fake_server_command();
  const Results r = run("==\nentry: sum\ninput { 3i64 } output { 6i64 }\n");
  EXPECT_FALSE(any_failed(r));
}

}  // namespace
}  // namespace hh::bench
