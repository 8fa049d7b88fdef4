// Unit tests of the Jinja engine: error positions, limits on hostile templates, malformed input,
// and the Python formatting rules values print with. (Language semantics are checked against
// jinja2 itself in jinja_reference_test.cpp.)
#include "text/jinja.h"

#include <gtest/gtest.h>

#include <random>

namespace hh::jinja {
namespace {

std::string render(std::string_view source, const Variables& vars = {},
                   const RenderLimits& limits = {}) {
  return Template::parse(source, "t.jinja").render(vars, limits);
}

template <typename E>
E error_of(std::string_view source, const Variables& vars = {}, const RenderLimits& limits = {}) {
  try {
    render(source, vars, limits);
  } catch (const E& e) {
    return e;
  }
  ADD_FAILURE() << "no error from: " << source;
  return E("", 0, 0);
}

TEST(Jinja, RendersTheBasics) {
  EXPECT_EQ(render("Hello {{ name }}!", {{"name", Value("world")}}), "Hello world!");
  EXPECT_EQ(render("{% for m in ms %}{{ loop.index }}:{{ m.role }} {% endfor %}",
                   {{"ms", Value::from_json(nlohmann::ordered_json::parse(
                               R"([{"role":"user"},{"role":"assistant"}])"))}}),
            "1:user 2:assistant ");
  EXPECT_EQ(render("{{ '%s' }}"), "%s");
  EXPECT_EQ(render(""), "");
  // transformers' {% generation %} marker (assistant-token masks) renders its body.
  EXPECT_EQ(render("a{% generation %}b{{ 1 }}{% endgeneration %}c"), "ab1c");
}

TEST(Jinja, SyntaxErrorsNameLineAndColumn) {
  auto e = error_of<TemplateSyntaxError>("line one\n  {% if x %}\n  text\n");
  EXPECT_EQ(e.line, 3u);  // the end of the template, where `endif` was looked for
  EXPECT_NE(std::string(e.what()).find("t.jinja:3:"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("'if' from line 2, column 3"), std::string::npos)
      << e.what();

  e = error_of<TemplateSyntaxError>("ab\ncd {{ 1 + }}");
  EXPECT_EQ(e.line, 2u);
  EXPECT_EQ(e.column, 11u);  // the `}}` where an operand was expected
  EXPECT_STREQ(e.what(), "t.jinja:2:11: syntax error: unexpected 'end of print statement'");

  e = error_of<TemplateSyntaxError>("{% nosuchtag %}");
  EXPECT_STREQ(e.what(), "t.jinja:1:4: syntax error: encountered unknown tag 'nosuchtag'");

  e = error_of<TemplateSyntaxError>("héllo {{ 'open }}");  // columns count characters
  EXPECT_EQ(e.column, 10u);
  e = error_of<TemplateSyntaxError>("{{ (1, 2 }}");
  EXPECT_NE(std::string(e.what()).find("unexpected '}', expected ')'"), std::string::npos);
  e = error_of<TemplateSyntaxError>("x\n\n{# never closed");
  EXPECT_EQ(e.line, 3u);
  e = error_of<TemplateSyntaxError>("{% for x in xs %}{% endif %}");
  EXPECT_NE(std::string(e.what()).find("unknown tag 'endif'"), std::string::npos);
  e = error_of<TemplateSyntaxError>("{% break %}");
  EXPECT_NE(std::string(e.what()).find("outside of a loop"), std::string::npos);
  e = error_of<TemplateSyntaxError>("{{ 99999999999999999999 }}");
  EXPECT_NE(std::string(e.what()).find("64 bits"), std::string::npos);
}

TEST(Jinja, RuntimeErrorsNameLineAndColumn) {
  auto e = error_of<TemplateRuntimeError>("a\n  {{ x | nosuchfilter }}");
  EXPECT_EQ(e.line, 2u);
  EXPECT_EQ(e.column, 10u);
  EXPECT_STREQ(e.what(), "t.jinja:2:10: no filter named 'nosuchfilter'");

  const Value raise(std::make_shared<const Function>(
      Function{"raise_exception", [](Interpreter&, CallArgs& args) -> Value {
                 fail_value("raise_exception: {}", to_str(args.positional.at(0)));
               }}));
  e = error_of<TemplateRuntimeError>(
      "{% if true %}\n{{ raise_exception('Roles must alternate') }}{% endif %}",
      {{"raise_exception", raise}});
  EXPECT_STREQ(e.what(), "t.jinja:2:19: raise_exception: Roles must alternate");

  e = error_of<TemplateRuntimeError>("{{ x is nosuchtest }}");
  EXPECT_NE(std::string(e.what()).find("no test named 'nosuchtest'"), std::string::npos);
  e = error_of<TemplateRuntimeError>("{{ 5() }}");
  EXPECT_NE(std::string(e.what()).find("'int' object is not callable"), std::string::npos);
  e = error_of<TemplateRuntimeError>("{{ missing.attr }}");
  EXPECT_STREQ(e.what(), "t.jinja:1:11: 'missing' is undefined");
  e = error_of<TemplateRuntimeError>("{{ 9223372036854775807 + 1 }}");
  EXPECT_NE(std::string(e.what()).find("integer overflow"), std::string::npos);
}

TEST(Jinja, LimitsStopHostileTemplates) {
  RenderLimits small;
  small.max_output_bytes = 1000;
  small.max_steps = 10000;
  small.max_call_depth = 20;
  auto e =
      error_of<TemplateRuntimeError>("{% for i in range(500) %}xxxxxxxxxx{% endfor %}", {}, small);
  EXPECT_NE(std::string(e.what()).find("limit"), std::string::npos) << e.what();
  e = error_of<TemplateRuntimeError>(
      "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", {}, small);
  EXPECT_NE(std::string(e.what()).find("step budget"), std::string::npos) << e.what();
  e = error_of<TemplateRuntimeError>("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", {}, small);
  EXPECT_NE(std::string(e.what()).find("nested deeper than 20"), std::string::npos) << e.what();
  e = error_of<TemplateRuntimeError>("{{ 'x' * 100000000000 }}", {}, small);
  e = error_of<TemplateRuntimeError>("{{ [1] * 100000000000 }}", {}, small);
  e = error_of<TemplateRuntimeError>(
      "{% set ns = namespace(v=[]) %}{% for i in range(300) %}{% set ns.v = [ns.v] %}{% endfor %}");
  EXPECT_NE(std::string(e.what()).find("nested deeper"), std::string::npos) << e.what();
  // A namespace may not hold itself (no reference cycles).
  e = error_of<TemplateRuntimeError>("{% set ns = namespace() %}{% set ns.me = [ns] %}");
  EXPECT_NE(std::string(e.what()).find("namespace"), std::string::npos) << e.what();
  // Deep nesting in the source is refused by the parser rather than overflowing the stack.
  EXPECT_THROW(render("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}"),
               TemplateSyntaxError);
  EXPECT_THROW(render("{{ " + std::string(3000, '-') + "1 }}"), TemplateSyntaxError);
  std::string chain = "{{ x", sum = "{{ 1", filters = "{{ x";
  for (int i = 0; i < 5000; ++i) {
    chain += ".a";
    sum += " + 1";
    filters += "|string";
  }
  EXPECT_THROW(render(chain + " }}"), TemplateSyntaxError);
  EXPECT_THROW(render(sum + " }}"), TemplateSyntaxError);
  EXPECT_THROW(render(filters + " }}"), TemplateSyntaxError);
  std::string sum50 = "{{ 0";
  for (int i = 0; i < 50; ++i) sum50 += " + 1";
  EXPECT_EQ(render(sum50 + " }}"), "50");
  std::string nested_ifs;
  for (int i = 0; i < 1000; ++i) nested_ifs += "{% if true %}";
  EXPECT_THROW(render(nested_ifs), TemplateSyntaxError);
  EXPECT_THROW(render("{{ " + std::string(3000, '[') + std::string(3000, ']') + " }}"),
               TemplateSyntaxError);
}

TEST(Jinja, MalformedTemplatesNeverCrash) {
  // Random fragments of template syntax: every one either renders or throws hh::Error.
  const std::vector<std::string> pieces = {
      "{{",   "}}",     "{%",     "%}",     "{#",    "#}",        "-",     "+",
      "if",   "for",    "x",      "in",     "endif", "endfor",    "else",  "elif",
      "set",  "=",      "(",      ")",      "[",     "]",         "{",     "}",
      "'",    "\"",     "|",      "length", "is",    "defined",   ".",     ",",
      ":",    "1",      "2.5",    "loop",   "macro", "endmacro",  "not",   "and",
      "~",    "*",      "**",     "/",      "//",    "%",         "\n",    " ",
      "\xff", "\xc3",   "raw",    "endraw", "ns",    "namespace", "break", "continue",
      "call", "caller", "filter", "tojson", "items", "[::-1]",    "\\"};
  std::mt19937 rng(42);
  const Variables vars = {
      {"x", Value::from_json(nlohmann::ordered_json::parse(R"([1,"a",{"b":null}])"))}};
  RenderLimits limits;
  limits.max_steps = 100000;
  limits.max_output_bytes = 1 << 20;
  int rendered = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string source;
    const int n = 1 + static_cast<int>(rng() % 24);
    for (int k = 0; k < n; ++k) source += pieces[rng() % pieces.size()];
    try {
      render(source, vars, limits);
      ++rendered;
    } catch (const Error&) {
    }
  }
  EXPECT_GT(rendered, 0);
}

TEST(Jinja, InvalidUtf8AndNulPassThrough) {
  const std::string bytes("a\xff\xfe\0b", 5);
  EXPECT_EQ(render("{{ s }}|{{ s | length }}|{{ s[1] == s[1:2] }}", {{"s", Value(bytes)}}),
            bytes + "|5|True");
  EXPECT_EQ(render(std::string("x\0y", 3)), std::string("x\0y", 3));
  EXPECT_EQ(render("{{ s[::-1] }}", {{"s", Value(bytes)}}), std::string("b\0\xfe\xff"
                                                                        "a",
                                                                        5));
  EXPECT_EQ(render("{{ s | tojson }}", {{"s", Value(std::string("\0", 1))}}), "\"\\u0000\"");
}

TEST(JinjaValue, PrintsLikePython) {
  EXPECT_EQ(float_repr(1.0), "1.0");
  EXPECT_EQ(float_repr(1e-5), "1e-05");
  EXPECT_EQ(float_repr(1e16), "1e+16");
  EXPECT_EQ(float_repr(123456789012345.6), "123456789012345.6");
  EXPECT_EQ(float_repr(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(float_repr(-0.0), "-0.0");
  EXPECT_EQ(float_repr(0.0001), "0.0001");
  EXPECT_EQ(float_repr(1.5e-10), "1.5e-10");
  EXPECT_EQ(float_repr(5e-324), "5e-324");
  EXPECT_EQ(float_repr(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(to_repr(Value("it's")), "\"it's\"");
  EXPECT_EQ(to_repr(Value("a'\"b")), "'a\\'\"b'");
  EXPECT_EQ(to_repr(Value("\x01\n\xc2\xa0é")), "'\\x01\\n\\xa0é'");
  EXPECT_EQ(to_str(Value::list({Value(1), Value("x"), Value::none()}, true)), "(1, 'x', None)");
}

TEST(JinjaValue, JsonMatchesPythonDumps) {
  const auto v = Value::from_json(
      nlohmann::ordered_json::parse(R"({"b": [1, 2.0, "é\u0007", null, true], "a": {}, "c": []})"));
  JsonOptions o;
  EXPECT_EQ(to_json(v, o), "{\"b\": [1, 2.0, \"é\\u0007\", null, true], \"a\": {}, \"c\": []}");
  o.sort_keys = true;
  o.has_indent = true;
  o.indent = "  ";
  o.item_separator = ",";
  EXPECT_EQ(to_json(v, o),
            "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2.0,\n    \"é\\u0007\",\n    null,\n"
            "    true\n  ],\n  \"c\": []\n}");
  JsonOptions ascii;
  ascii.ensure_ascii = true;
  EXPECT_EQ(to_json(Value("é😀"), ascii), "\"\\u00e9\\ud83d\\ude00\"");
  EXPECT_THROW(to_json(Value(), o), ValueError);
}

TEST(JinjaValue, FromJsonRejectsTooDeepInput) {
  const std::string deep = std::string(1000, '[') + std::string(1000, ']');
  EXPECT_THROW(Value::from_json(nlohmann::ordered_json::parse(deep)), ValueError);
  const auto big = nlohmann::ordered_json::parse("18446744073709551615");
  EXPECT_TRUE(Value::from_json(big).is_float());
}

TEST(Jinja, TemplateIsReusableAndSharesNothingBetweenRenders) {
  const auto t = Template::parse(
      "{% set ns = namespace(n=0) %}{% for x in xs %}{% set ns.n = ns.n + x %}{% endfor %}"
      "{{ ns.n }}");
  const Variables a = {{"xs", Value::list({Value(1), Value(2)})}};
  const Variables b = {{"xs", Value::list({Value(10)})}};
  EXPECT_EQ(t.render(a), "3");
  EXPECT_EQ(t.render(b), "10");
  EXPECT_EQ(t.render(a), "3");
}

}  // namespace
}  // namespace hh::jinja
