#include "bench/spec.h"

#include <gtest/gtest.h>

#include <cstring>

namespace hh::bench {
namespace {

// The FormatError message of parsing `text`, or "" when it parses.
std::string parse_error(const std::string& text) {
  try {
    parse_spec(text, "t.spec");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

std::string as_string(const Array& a) {
  return std::string(reinterpret_cast<const char*>(a.raw()), a.bytes());
}

TEST(Spec, EveryDatasetForm) {
  const Spec spec = parse_spec(R"(A benchmark of the demo tools.
Free text before the first == line is ignored: input { nonsense
==
entry: tool_a tool_b   -- two entry points
tags { slow cpu }
input { 10i64 } output { 55i64 }
"named" input @ data/x.in
nobench input { [1i64, 2i64] empty([0]f32) [[1f32], [2f32]] }
random input { [100]f32 [10][3]i64 i64 7i64 }
"capture" script input { gen 0i64 [1i64] (load "m.gguf") (init 2i64 2i64 64i64 32i64) (-1i64) 8i64 }
input @ "with space.in" output @ expected.out
compiled input {}
)",
                               "dir/b.spec");
  EXPECT_EQ(spec.path, "dir/b.spec");
  ASSERT_EQ(spec.cases.size(), 1u);
  const CaseSpec& c = spec.cases[0];
  EXPECT_EQ(c.pos.line, 3);
  EXPECT_EQ(c.entries, (std::vector<std::string>{"tool_a", "tool_b"}));
  EXPECT_EQ(c.tags, (std::vector<std::string>{"slow", "cpu"}));
  ASSERT_EQ(c.datasets.size(), 7u);

  const auto& lit = c.datasets[0];
  EXPECT_EQ(lit.name, "#0");
  EXPECT_FALSE(lit.named);
  EXPECT_EQ(lit.pos.line, 6);
  EXPECT_EQ(lit.pos.column, 1);
  ASSERT_EQ(lit.input.kind, ValuesSpec::Kind::Literal);
  ASSERT_EQ(lit.input.values.size(), 1u);
  EXPECT_EQ(lit.input.values[0].scalar_value<int64_t>(), 10);
  ASSERT_TRUE(lit.output.has_value());
  EXPECT_EQ(lit.output->values[0].scalar_value<int64_t>(), 55);

  const auto& file = c.datasets[1];
  EXPECT_EQ(file.name, "named");
  EXPECT_TRUE(file.named);
  EXPECT_EQ(file.input.kind, ValuesSpec::Kind::File);
  EXPECT_EQ(file.input.file, "data/x.in");

  const auto& nb = c.datasets[2];
  EXPECT_TRUE(nb.nobench);
  ASSERT_EQ(nb.input.values.size(), 3u);
  EXPECT_EQ(nb.input.values[1].shape(), (Shape{0}));
  EXPECT_EQ(nb.input.values[2].type_name(), "[][]f32");

  const auto& rnd = c.datasets[3];
  ASSERT_EQ(rnd.input.kind, ValuesSpec::Kind::Random);
  ASSERT_EQ(rnd.input.random.size(), 4u);
  EXPECT_EQ(rnd.input.random[0].type, ElemType::F32);
  EXPECT_EQ(rnd.input.random[0].shape, (Shape{100}));
  EXPECT_EQ(rnd.input.random[1].shape, (Shape{10, 3}));
  EXPECT_EQ(rnd.input.random[1].text, "[10][3]i64");
  EXPECT_TRUE(rnd.input.random[2].shape.empty());
  EXPECT_FALSE(rnd.input.random[2].is_literal);
  EXPECT_TRUE(rnd.input.random[3].is_literal);
  EXPECT_EQ(rnd.input.random[3].literal.scalar_value<int64_t>(), 7);

  const auto& script = c.datasets[4];
  EXPECT_EQ(script.name, "capture");
  ASSERT_EQ(script.input.kind, ValuesSpec::Kind::Script);
  const ScriptExpr& e = script.input.script;
  ASSERT_TRUE(e.is_call);
  EXPECT_EQ(e.function, "gen");
  ASSERT_EQ(e.args.size(), 6u);
  EXPECT_EQ(e.args[0].value.scalar_value<int64_t>(), 0);
  EXPECT_EQ(e.args[1].value.type_name(), "[]i64");
  ASSERT_TRUE(e.args[2].is_call);
  EXPECT_EQ(e.args[2].function, "load");
  ASSERT_EQ(e.args[2].args.size(), 1u);
  EXPECT_EQ(e.args[2].args[0].value.type_name(), "[]u8");  // a string literal
  EXPECT_EQ(as_string(e.args[2].args[0].value), "m.gguf");
  EXPECT_EQ(e.args[3].function, "init");
  EXPECT_EQ(e.args[3].args.size(), 4u);
  EXPECT_EQ(e.args[3].text, "init 2i64 2i64 64i64 32i64");
  EXPECT_EQ(e.args[4].value.scalar_value<int64_t>(), -1);
  EXPECT_EQ(e.args[5].value.scalar_value<int64_t>(), 8);

  const auto& quoted = c.datasets[5];
  EXPECT_EQ(quoted.input.file, "with space.in");
  EXPECT_EQ(quoted.name, "with space.in");
  ASSERT_TRUE(quoted.output.has_value());
  EXPECT_EQ(quoted.output->kind, ValuesSpec::Kind::File);
  EXPECT_EQ(quoted.output->file, "expected.out");

  EXPECT_TRUE(c.datasets[6].input.values.empty());
}

TEST(Spec, SeveralBlocksAndDefaults) {
  const Spec spec = parse_spec("==\ninput { 1i64 }\n==\nentry: f\n\"a\" input { 2i64 }\n", "s");
  ASSERT_EQ(spec.cases.size(), 2u);
  EXPECT_EQ(spec.cases[0].entries, (std::vector<std::string>{kDefaultEntry}));
  EXPECT_EQ(spec.cases[1].entries, (std::vector<std::string>{"f"}));
  EXPECT_EQ(spec.cases[1].pos.line, 3);
  EXPECT_EQ(spec.cases[1].datasets[0].name, "a");
  // A minimal spec as the issue writes it.
  const Spec tiny = parse_spec("==\nentry: gen\ninput @ data.in\n", "benchmark.spec");
  EXPECT_EQ(tiny.cases[0].datasets[0].name, "data.in");
}

TEST(Spec, StringEscapesAndNestedScripts) {
  const Spec spec = parse_spec(
      "==\nscript input { f (g (h \"a\\\"b\\\\c\\n\")) true f32.nan (empty([0]i64)) }", "s");
  const ScriptExpr& f = spec.cases[0].datasets[0].input.script;
  ASSERT_EQ(f.args.size(), 4u);
  EXPECT_EQ(f.args[0].function, "g");
  EXPECT_EQ(f.args[0].args[0].function, "h");
  EXPECT_EQ(as_string(f.args[0].args[0].args[0].value), "a\"b\\c\n");
  EXPECT_EQ(f.args[1].value.type(), ElemType::Bool);
  EXPECT_EQ(f.args[2].value.type(), ElemType::F32);
  EXPECT_EQ(f.args[3].value.shape(), (Shape{0}));
  // A name in argument position is a call without arguments.
  const Spec zero = parse_spec("==\nscript input { f g }", "s");
  EXPECT_TRUE(zero.cases[0].datasets[0].input.script.args[0].is_call);
  EXPECT_TRUE(zero.cases[0].datasets[0].input.script.args[0].args.empty());
}

TEST(Spec, ErrorsNameFileLineAndColumn) {
  const struct {
    const char* text;
    const char* message;
  } cases[] = {
      {"input { 1i64 }", "t.spec:1:1: no '==' line"},
      {"==\nentry:\ninput {}", "t.spec:2:1: 'entry:' names no entry point"},
      {"==\nentry: f\nentry: g", "t.spec:3:1: a second 'entry:' line"},
      {"==\nentry f", "t.spec:2:6: expected ':' after 'entry'"},
      {"==\ntags { a", "t.spec:2:9: expected a tag or '}', found the end of the block"},
      {"==\nbogus { }", "t.spec:2:1: unexpected 'bogus'"},
      {"==\n{ }", "t.spec:2:1: unexpected '{'"},
      {"==\ninput", "t.spec:2:6: expected '{' or '@ FILE' after 'input'"},
      {"==\ninput { 1i64", "t.spec:2:13: missing '}' to close the input values"},
      {"==\ninput { 1i64 ]", "t.spec:2:14:"},
      {"==\ninput { [1i64, 2i32] }", "t.spec:2:"},
      {"==\ninput { 1i64 } output", "expected '{' or '@ FILE' after 'output'"},
      {"==\ninput @", "t.spec:2:8: expected a file name after '@'"},
      {"==\ninput @ \"\"", "t.spec:2:9: empty file name after '@'"},
      {"==\n\"unterminated input {}", "t.spec:2:1: unterminated string"},
      {"==\n\"\" input {}", "t.spec:2:1: empty dataset name"},
      {"==\n\"a\" nobench output {}", "t.spec:2:13: expected 'input', found 'o'"},
      {"==\nrandom input { []f32 }", "t.spec:2:16: random input needs sizes"},
      {"==\nrandom input { [10]f32", "missing '}' to close the random input"},
      {"==\nrandom input { [99999999999999999999]f32 }", "dimension too large"},
      {"==\nrandom input { [4294967296][4294967296]f32 }", "has too many elements"},
      {"==\nrandom input @ x", "t.spec:2:14: expected '{' after 'random input'"},
      {"==\nscript input { }", "t.spec:2:16: expected a script expression, found '}'"},
      {"==\nscript input { f (g }",
       "t.spec:2:21: expected ')' to close the parenthesis, found '}'"},
      {"==\nscript input { f () }", "t.spec:2:18: empty parentheses"},
      {"==\nscript input { f ) }", "t.spec:2:18: expected '}' after the script expression"},
      {"==\nscript input { f \"a\\q\" }", "unknown escape '\\q'"},
      {"==\ninput {} error: boom", "t.spec:2:10: expected-failure datasets"},
      {"==\ninput {} auto output", "'auto output' is not supported"},
      {"==\nstructure { Map 1 }", "t.spec:2:1: 'structure' blocks are for compiler tests"},
      {"==\n\"a\" input {}\n\"a\" input {}", "t.spec:3:1: a second dataset named \"a\""},
  };
  for (const auto& c : cases) {
    const std::string error = parse_error(c.text);
    EXPECT_NE(error.find(c.message), std::string::npos)
        << "spec: " << c.text << "\nerror: " << error << "\nwanted: " << c.message;
  }
}

TEST(Spec, DeepNestingIsAnErrorNotACrash) {
  std::string text = "==\nscript input { f ";
  for (int i = 0; i < 100000; ++i) text += '(';
  EXPECT_NE(parse_error(text).find("nested deeper than"), std::string::npos);
  std::string arrays = "==\ninput { ";
  for (int i = 0; i < 100000; ++i) arrays += '[';
  EXPECT_NE(parse_error(arrays).find("t.spec:2:"), std::string::npos);
}

TEST(Spec, ReadsFiles) {
  EXPECT_THROW(read_spec_file("/nonexistent/x.spec"), SystemError);
  const Spec spec = read_spec_file(std::string(HH_FIXTURES_DIR) + "/bench/tools.spec");
  EXPECT_FALSE(spec.cases.empty());
}

}  // namespace
}  // namespace hh::bench
