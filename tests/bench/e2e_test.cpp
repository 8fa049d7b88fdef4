// The bench tool end to end against `hedgehog server` (the built binary, HH_BINARY): the demo
// tools on literal, validated, random and failing datasets, and `gen` of a tiny model both on a
// captured input (as a chat's --capture writes it) and from a script.
#include <gtest/gtest.h>

#include <cstdlib>

#include "bench/bench_test_util.h"
#include "server/client.h"
#include "values/binary_format.h"

namespace hh::bench {
namespace {

class EndToEnd : public testing::RunnerFixture {
 protected:
  void SetUp() override {
    RunnerFixture::SetUp();
    options_.server_argv = {HH_BINARY, "server", "--backend", "cpu", "--dtype", "f32", "-t", "1"};
    options_.convergence_max_seconds = 0.3;
    options_.timeout_seconds = 120;
  }
};

TEST_F(EndToEnd, DemoTools) {
  const std::string n1 = "tool_sumN1_sum_of_first_n_integers";
  const std::string n2 = "tool_sumN2_sum_of_squares_of_first_n_integers";
  options_.profile = true;
  const Results r = run("==\nentry: " + n1 + " " + n2 + R"(
"ten" input { 10i64 }
random input { i64 }
"negative" input { -1i64 }
==
entry: )" + n1 + R"(
"checked" input { 10i64 } output { 55i64 }
"wrong" input { 10i64 } output { 56i64 }
"type" input { 10i32 }
)");
  for (const auto& p : {n1, n2}) {
    for (const char* d : {"ten", "#1"}) {
      const auto& res = dataset(r, ":" + p, d);
      EXPECT_FALSE(res.error) << p << " " << d << ": " << *res.error;
      EXPECT_GE(res.runtimes.size(), 3u);
      EXPECT_TRUE(res.profiling.has_value());
    }
    EXPECT_TRUE(dataset(r, ":" + p, "negative").error) << p;
  }
  EXPECT_FALSE(dataset(r, ":" + n1, "checked").error);
  const auto& wrong = dataset(r, ":" + n1, "wrong");
  ASSERT_TRUE(wrong.error);
  EXPECT_NE(wrong.error->find("expected 56i64, got 55i64"), std::string::npos) << *wrong.error;
  ASSERT_TRUE(dataset(r, ":" + n1, "type").error);
  EXPECT_TRUE(any_failed(r));
}

TEST_F(EndToEnd, GenOnACapturedInputAndFromAScript) {
  const std::string model = path("tiny.gguf");
  ASSERT_EQ(std::system((std::string("'") + HH_BINARY + "' make-model --preset tiny --vocab 512 " +
                         "--dtype f32 -o '" + model + "' > /dev/null")
                            .c_str()),
            0);
  // Capture gen's inputs with the protocol's `store`, as a chat's --capture does, and keep the
  // tokens one direct call produces as the expected output.
  {
    ServerClient s = ServerClient::spawn(options_.server_argv);
    const Array path_bytes = [&] {
      Array a = Array::allocate(ElemType::U8, {static_cast<int64_t>(model.size())});
      std::memcpy(a.raw(), model.data(), model.size());
      return a;
    }();
    write_values_file(
        path("args.bin"),
        {path_bytes, Array::scalar<int64_t>(ElemType::I64, 2),
         Array::scalar<int64_t>(ElemType::I64, 2), Array::scalar<int64_t>(ElemType::I64, 64),
         Array::scalar<int64_t>(ElemType::I64, 32), Array::scalar<int64_t>(ElemType::I64, 0),
         Array::from_i64(std::vector<int64_t>{1}), Array::scalar<int64_t>(ElemType::I64, -1),
         Array::scalar<int64_t>(ElemType::I64, 8)});
    s.restore(path("args.bin"), {{"path", "[]u8"},
                                 {"b", "i64"},
                                 {"kvh", "i64"},
                                 {"cs", "i64"},
                                 {"dh", "i64"},
                                 {"xsat", "i64"},
                                 {"xs", "[]i64"},
                                 {"eos", "i64"},
                                 {"n", "i64"}});
    s.call("load", {"params"}, {"path"});
    s.call("init", {"cache"}, {"b", "kvh", "cs", "dh"});
    s.store(path("capture.in"), {"xsat", "xs", "params", "cache", "eos", "n"});
    s.call("gen", {"out"}, {"xsat", "xs", "params", "cache", "eos", "n"});
    s.project("tokens", "out", "0");
    s.store(path("tokens.out"), {"tokens"});
  }
  const auto tokens = read_values_file(path("tokens.out"));
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].type_name(), "[]i64");

  // A string in a script is plain bytes: the server resolves the path from its own working
  // folder, so the test gives it whole.
  const Results r =
      run(R"(==
entry: gen
"capture" input @ capture.in output @ tokens.out
"script" script input { gen 0i64 [1i64] (load ")" +
          model + R"(") (init 2i64 2i64 64i64 32i64) (-1i64) 8i64 } output @ tokens.out
"bad-cache" script input { gen 10i64 [1i64] (load ")" +
          model + R"(") (init 2i64 2i64 4i64 32i64) (-1i64) 8i64 }
)");
  // Consumed caches are fresh for every run: otherwise the second run would fail.
  for (const char* d : {"capture", "script"}) {
    const auto& res = dataset(r, ":gen", d);
    ASSERT_FALSE(res.error) << d << ": " << *res.error;
    EXPECT_GE(res.runtimes.size(), 3u) << d;
  }
  EXPECT_TRUE(dataset(r, ":gen", "bad-cache").error);
}

}  // namespace
}  // namespace hh::bench
