// Protocol commands, framing and failures against the fake engine.
#include <regex>

#include "server/entry_points.h"
#include "server/records.h"
#include "server/server_fixture.h"

namespace hh::testing {
namespace {

using server::split_words;

TEST(SplitWords, PlainAndQuotedWords) {
  EXPECT_EQ(split_words("call gen  out\tx"), (std::vector<std::string>{"call", "gen", "out", "x"}));
  EXPECT_EQ(split_words("restore \"my file.bin\" v i64"),
            (std::vector<std::string>{"restore", "my file.bin", "v", "i64"}));
  EXPECT_EQ(split_words("new t \"([]i64, Cache)\" a b"),
            (std::vector<std::string>{"new", "t", "([]i64, Cache)", "a", "b"}));
  EXPECT_EQ(split_words("free \"\""), (std::vector<std::string>{"free", ""}));
  EXPECT_TRUE(split_words("   \r").empty());
}

TEST(SplitWords, BadQuoting) {
  auto message = [](std::string_view line) {
    try {
      split_words(line);
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("store \"abc"), "unterminated quoted word at column 7");
  EXPECT_EQ(message("store \"a\"b"),
            "the quoted word at column 7 is followed by 'b' without a space");
  EXPECT_EQ(message("store a\"b\""), "a quote inside the word at column 7: quote whole words only");
}

TEST_F(ServerTest, RunPrintsOkAtStartAndAfterEveryCommand) {
  std::istringstream in("entry_points\nbogus\n\nfree");
  std::ostringstream out;
  server_.run(in, out);
  const std::string s = out.str();
  EXPECT_EQ(s.substr(0, 7), "%%% OK\n");
  EXPECT_NE(s.find("%%% FAILURE\nUnknown command: bogus\n%%% OK\n"), std::string::npos) << s;
  EXPECT_NE(s.find("%%% FAILURE\nEmpty line\n%%% OK\n"), std::string::npos) << s;
  // start-up + 4 commands (the last one without a trailing newline)
  size_t oks = 0;
  for (size_t p = s.find("%%% OK\n"); p != std::string::npos; p = s.find("%%% OK\n", p + 1)) ++oks;
  EXPECT_EQ(oks, 5u);
}

TEST_F(ServerTest, UnknownCommandAndBadLines) {
  EXPECT_EQ(failure("frobnicate x"), "Unknown command: frobnicate\n");
  EXPECT_EQ(failure(""), "Empty line\n");
  EXPECT_EQ(failure("   "), "Empty line\n");
  EXPECT_EQ(failure("type \"x"), "unterminated quoted word at column 6\n");
  EXPECT_EQ(failure(std::string_view("type a\0b", 8)), "the line contains a NUL byte\n");
  EXPECT_EQ(failure("rename a"), "rename: expected 2 arguments, got 1 (usage: rename OLD NEW)\n");
  EXPECT_EQ(failure("types extra"), "types: expected 0 arguments, got 1 (usage: types)\n");
  EXPECT_EQ(failure("call gen"),
            "call: expected at least 2 arguments, got 1 (usage: call ENTRY OUT IN...)\n");
  // A trailing newline, as read from a pipe, is part of the framing, not of the command.
  EXPECT_EQ(ok("entry_points\n").substr(0, 5), "load\n");
}

TEST_F(ServerTest, EntryPointsInputsOutputsAttributes) {
  EXPECT_EQ(ok("entry_points"),
            "load\ninit\ngen\nlogits\nsample\ntool_sumN1_sum_of_first_n_integers\n"
            "tool_sumN2_sum_of_squares_of_first_n_integers\n");
  EXPECT_EQ(ok("inputs gen"), "i64\n[]i64\nParams\n*Cache\ni64\ni64\n");
  EXPECT_EQ(ok("inputs sample"), "i64\n[]i64\nParams\n*Cache\ni64\ni64\nf32\ni64\nf32\nu64\n");
  EXPECT_EQ(ok("inputs load"), "[]u8\n");
  EXPECT_EQ(ok("output gen"), "([]i64, Cache)\n");
  EXPECT_EQ(ok("outputs logits"), "([][]f32, Cache)\n");
  EXPECT_EQ(ok("output init"), "Cache\n");
  EXPECT_EQ(ok("output tool_sumN1_sum_of_first_n_integers"), "i64\n");
  EXPECT_EQ(ok("attributes gen"), "");
  EXPECT_EQ(ok("tuning_params gen"), "");
  EXPECT_EQ(failure("inputs nope"), "Unknown entry point: nope\n");
  EXPECT_EQ(failure("attributes nope"), "Unknown entry point: nope\n");
  EXPECT_EQ(failure("tuning_params nope"), "Unknown entry point: nope\n");
}

TEST_F(ServerTest, TuningParamsDoNotExist) {
  EXPECT_EQ(failure("set_tuning_param foo 3"),
            "Unknown tuning parameter: foo (this server has no tuning parameters)\n");
  EXPECT_EQ(failure("tuning_param_class foo"),
            "Unknown tuning parameter: foo (this server has no tuning parameters)\n");
}

TEST_F(ServerTest, TypesKindsRanksFields) {
  const std::string types = ok("types");
  for (const char* t : {"[]u8\n", "Params\n", "Cache\n", "([]i64, Cache)\n", "([][]f32, Cache)\n",
                        "[][][]f32\n", "[][][][]f32\n", "u64\n"}) {
    EXPECT_NE(types.find(t), std::string::npos) << t << " missing from\n" << types;
  }
  EXPECT_EQ(ok("kind i32"), "primitive\n");
  EXPECT_EQ(ok("kind bf16"), "primitive\n");
  EXPECT_EQ(ok("kind [][]f16"), "array\n");
  EXPECT_EQ(ok("kind Params"), "record\n");
  EXPECT_EQ(ok("kind Cache"), "record\n");
  EXPECT_EQ(ok("kind \"([]i64, Cache)\""), "record\n");
  EXPECT_EQ(failure("kind i33"), "Unknown type: i33\n");
  EXPECT_EQ(failure("kind [][]"), "Unknown type: [][]\n");
  EXPECT_EQ(ok("rank [][][]u16"), "3\n");
  EXPECT_EQ(ok("elemtype [][]bool"), "bool\n");
  EXPECT_EQ(failure("rank i32"), "Not an array type: i32\n");
  EXPECT_EQ(failure("elemtype Cache"), "Not an array type: Cache\n");
  EXPECT_EQ(failure("rank x"), "Unknown type: x\n");

  const std::string params = ok("fields Params");
  EXPECT_EQ(params.substr(0, 55), "token_embd [][]f32\noutput_norm []f32\noutput [][]f32\natt");
  EXPECT_NE(params.find("attn_q [][][]f32\n"), std::string::npos);
  EXPECT_NE(params.find("attn_norm [][]f32\n"), std::string::npos);
  EXPECT_NE(params.find("rope_theta f32\nrms_eps f32\n"), std::string::npos);
  EXPECT_EQ(ok("fields Cache"), "kcache [][][][]f32\nvcache [][][][]f32\n");
  EXPECT_EQ(ok("fields \"([]i64, Cache)\""), "0 []i64\n1 Cache\n");
  EXPECT_EQ(ok("fields \"([][]f32, Cache)\""), "0 [][]f32\n1 Cache\n");
  EXPECT_EQ(failure("fields i64"), "Not a record type: i64\n");
  EXPECT_EQ(failure("fields Nope"), "Unknown type: Nope\n");
}

TEST_F(ServerTest, FieldTypesFollowTheServerDtype) {
  FakeBackend f16(ElemType::F16);
  server::Server s(f16);
  std::string out;
  ASSERT_TRUE(s.handle_line("fields Cache", out));
  EXPECT_EQ(out, "kcache [][][][]f16\nvcache [][][][]f16\n%%% OK\n");
  out.clear();
  ASSERT_TRUE(s.handle_line("fields Params", out));
  EXPECT_NE(out.find("ffn_down [][][]f16\n"), std::string::npos);
  EXPECT_NE(out.find("ffn_norm [][]f32\n"), std::string::npos);  // norms stay f32
}

TEST_F(ServerTest, VariablesTypeRenameFree) {
  put_i64("a", 3);
  put_value("xs", "[1i64, 2i64]");
  EXPECT_EQ(ok("type a"), "i64\n");
  EXPECT_EQ(ok("type xs"), "[]i64\n");
  EXPECT_EQ(failure("type nope"), "Unknown variable: nope\n");
  EXPECT_EQ(failure("rename a xs"), "Variable already exists: xs\n");
  EXPECT_EQ(failure("rename nope b"), "Unknown variable: nope\n");
  ok("rename a b");
  EXPECT_FALSE(server_.has_variable("a"));
  EXPECT_EQ(text_of("b"), "3i64");
  // free checks every name before freeing any.
  EXPECT_EQ(failure("free b nope"), "Unknown variable: nope\n");
  EXPECT_TRUE(server_.has_variable("b"));
  EXPECT_EQ(failure("free b b"), "free: variable b named twice\n");
  EXPECT_TRUE(server_.has_variable("b"));
  ok("free b xs");
  EXPECT_EQ(server_.variable_count(), 0u);
  ok("free");
}

TEST_F(ServerTest, NewArrayShapeIndexSet) {
  put_i64("x", 1);
  put_i64("y", 2);
  put_i64("z", 3);
  put_value("f", "1.5f32");
  ok("new_array a [][]i64 2 3 x y z z y x");
  EXPECT_EQ(text_of("a"), "[[1i64, 2i64, 3i64], [3i64, 2i64, 1i64]]");
  EXPECT_EQ(ok("shape a"), "2\n3\n");
  EXPECT_EQ(ok("type a"), "[][]i64\n");
  ok("new_array e []f32 0");
  EXPECT_EQ(text_of("e"), "empty([0]f32)");
  EXPECT_EQ(failure("new_array b [][]i64 2 3 x y"),
            "new_array: shape [2][3] needs 6 values, got 2\n");
  EXPECT_EQ(failure("new_array b []i64 1 f"),
            "new_array: value 0 is variable f of type f32, expected i64\n");
  EXPECT_EQ(failure("new_array b []i64 -1"), "new_array: dimension 1 has negative size -1\n");
  EXPECT_EQ(failure("new_array b []i64 x"), "invalid dimension size 'x': expected an integer\n");
  EXPECT_EQ(failure("new_array b i64 x"), "Not an array type: i64\n");
  EXPECT_EQ(failure("new_array a []i64 1 x"), "Variable already exists: a\n");
  EXPECT_FALSE(server_.has_variable("b"));

  ok("index v a 1 0");
  EXPECT_EQ(text_of("v"), "3i64");
  EXPECT_EQ(failure("index w a 2 0"),
            "index: index 2 is out of bounds for dimension 1 of size 2\n");
  EXPECT_EQ(failure("index w a 0"), "index: an array of rank 2 needs 2 indices, got 1\n");
  EXPECT_EQ(failure("index w a 0 x"), "invalid index 'x': expected an integer\n");
  EXPECT_EQ(failure("index w x 0"), "index: variable x of type i64 is not an array\n");
  EXPECT_EQ(failure("shape x"), "shape: variable x of type i64 is not an array\n");

  ok("rename a a2");
  ok("index keep a2 0 0");
  ok("set a2 z 0 0");
  EXPECT_EQ(text_of("a2"), "[[3i64, 2i64, 3i64], [3i64, 2i64, 1i64]]");
  EXPECT_EQ(text_of("keep"), "1i64");  // index copied the element
  EXPECT_EQ(failure("set a2 f 0 0"), "set: value f has type f32, expected i64\n");
  EXPECT_EQ(failure("set a2 z 0 3"), "set: index 3 is out of bounds for dimension 2 of size 3\n");
  EXPECT_EQ(failure("set x z"), "set: variable x of type i64 is not an array\n");
  EXPECT_EQ(text_of("a2"), "[[3i64, 2i64, 3i64], [3i64, 2i64, 1i64]]");
}

TEST_F(ServerTest, SetNeverShowsThroughAnotherVariable) {
  load_model_and_cache();
  ok("project emb p token_embd");
  ok("project emb2 p token_embd");
  const std::string before = text_of("emb2");
  put_value("one", "1f32");
  ok("set emb one 0 0");
  EXPECT_EQ(text_of("emb2"), before);  // emb2 and the weights share no bytes with emb now
  ok("project emb3 p token_embd");
  EXPECT_EQ(text_of("emb3"), before);
  EXPECT_NE(text_of("emb"), before);
}

TEST_F(ServerTest, ToolsComputeSumsAndRejectBadN) {
  put_i64("n", 10);
  ok("call tool_sumN1_sum_of_first_n_integers r1 n");
  EXPECT_EQ(text_of("r1"), "55i64");
  ok("call tool_sumN2_sum_of_squares_of_first_n_integers r2 n");
  EXPECT_EQ(text_of("r2"), "385i64");
  put_i64("neg", -1);
  EXPECT_EQ(failure("call tool_sumN1_sum_of_first_n_integers r3 neg"),
            "n is -1; it must be at least 0\n");
  put_i64("big", int64_t{1} << 40);
  EXPECT_EQ(failure("call tool_sumN2_sum_of_squares_of_first_n_integers r3 big"),
            "the sum of squares of 1..1099511627776 does not fit in i64\n");
  EXPECT_FALSE(server_.has_variable("r3"));
  EXPECT_EQ(server::sum_of_first_n(0), 0);
  EXPECT_EQ(server::sum_of_first_n(4294967295), 9223372034707292160);
  EXPECT_THROW(server::sum_of_first_n(4294967296), UsageError);
  EXPECT_EQ(server::sum_of_squares(3024616), 9223371388520336796);
  EXPECT_THROW(server::sum_of_squares(3024617), UsageError);
}

TEST_F(ServerTest, CallPrintsRuntimeAndChecksInputs) {
  load_model_and_cache();
  put_value("xs", "[1i64, 2i64, 3i64]");
  const std::string out = ok("call gen g zero xs p c eos max");
  EXPECT_TRUE(std::regex_match(out, std::regex("runtime: [0-9]+\n"))) << out;
  EXPECT_EQ(ok("type g"), "([]i64, Cache)\n");
  ok("project toks g 0");
  EXPECT_EQ(server_.get_array("toks").count(), 5);

  ok("call init c2 b kvh cs dh");
  EXPECT_EQ(failure("call gen g2 zero xs p c2 eos"),
            "call gen: expected 6 inputs (xsat: i64) (xs: []i64) (params: Params) (cache: *Cache) "
            "(eos_token_id: i64) (max_new_tokens: i64), got 5\n");
  EXPECT_EQ(failure("call gen g2 zero xs c2 p eos max"),
            "call gen: input 2 (params) is variable c2 of type Cache, expected Params\n");
  EXPECT_EQ(failure("call gen g zero xs p c2 eos max"), "Variable already exists: g\n");
  EXPECT_EQ(failure("call gen g2 zero nope p c2 eos max"), "Unknown variable: nope\n");
  EXPECT_EQ(failure("call nope g2"), "Unknown entry point: nope\n");
  EXPECT_FALSE(server_.has_variable("g2"));
  // None of that consumed c2.
  ok("call gen g2 zero xs p c2 eos max");
}

TEST_F(ServerTest, BadValuesFailBeforeTheEngineRuns) {
  load_model_and_cache(/*cs=*/8);
  const int calls = backend_.calls;
  put_value("xs", "[1i64, 2i64, 3i64]");
  put_value("bad_tok", "[1i64, 16i64]");
  put_value("empty", "empty([0]i64)");
  put_i64("at6", 6);
  put_i64("neg", -1);
  EXPECT_EQ(failure("call gen g at6 xs p c eos max"),
            "gen: 3 tokens at xsat=6 pass the end of the cache (context cs=8)\n");
  EXPECT_EQ(failure("call gen g neg xs p c eos max"), "gen: xsat is -1; it must be at least 0\n");
  EXPECT_EQ(failure("call logits g zero bad_tok p c"),
            "logits: token id 16 at xs[1] is out of range (vocabulary size 16)\n");
  EXPECT_EQ(failure("call gen g zero empty p c eos max"),
            "gen: xs is empty; at least one token is needed\n");
  EXPECT_EQ(failure("call gen g zero xs p c eos neg"),
            "gen: max_new_tokens is -1; it must be at least 0\n");
  put_i64("three", 3);
  ok("call init wrong three kvh cs dh");
  EXPECT_EQ(failure("call gen g zero xs p wrong eos max"),
            "gen: the cache has 3 layers (b) but the model has 2\n");
  put_value("temp", "0.5f32");
  put_value("badp", "0f32");
  put_value("nan", "f32.nan");
  put_value("seed", "7u64");
  EXPECT_EQ(failure("call sample g zero xs p c eos max nan zero temp seed"),
            "sample: temperature is nan; it must be finite and at least 0\n");
  EXPECT_EQ(failure("call sample g zero xs p c eos max temp zero badp seed"),
            "sample: top_p is 0; it must be in (0, 1]\n");
  EXPECT_EQ(failure("call sample g zero xs p c eos max temp neg temp seed"),
            "sample: top_k is -1; it must be at least 0\n");
  EXPECT_EQ(failure("call init c3 zero kvh cs dh"),
            "init: every size must be positive, got b=0 kvh=1 cs=8 dh=2\n");
  server_.put_array("missing", server::string_array("nowhere.missing"));
  EXPECT_EQ(failure("call load p2 missing"),
            "cannot open 'nowhere.missing': No such file or directory\n");
  EXPECT_EQ(backend_.calls, calls);
  EXPECT_FALSE(server_.has_variable("g"));
  ok("call gen g zero xs p c eos max");  // the cache survived every failure above
  ok("call init c4 b kvh cs dh");
  ok("call sample s zero xs p c4 eos max temp zero temp seed");
}

}  // namespace
}  // namespace hh::testing
