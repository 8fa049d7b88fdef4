// The tool-call parser and the tool list made from entry point names.
#include "chat/tool_call.h"

#include <gtest/gtest.h>

namespace hh::chat {
namespace {

TEST(ChatToolCall, ToolsFromEntryPoints) {
  const auto tools = tools_from_entry_points({"load", "gen", "tool_sumN1_sum_of_first_n_integers",
                                              "tool_x", "tool__y", "tool_z_",
                                              "tool_sumN2_sum_of_squares_of_first_n_integers"});
  ASSERT_EQ(tools.size(), 2u);
  EXPECT_EQ(tools[0].name, "sumN1");
  EXPECT_EQ(tools[0].description, "sum of first n integers");
  EXPECT_EQ(tools[0].entry_point, "tool_sumN1_sum_of_first_n_integers");
  EXPECT_EQ(tools[1].name, "sumN2");
  const auto schemas = tool_schemas(tools);
  ASSERT_EQ(schemas.size(), 2u);
  EXPECT_EQ(schemas[0]["type"], "function");
  EXPECT_EQ(schemas[0]["function"]["name"], "sumN1");
  EXPECT_EQ(schemas[0]["function"]["parameters"]["properties"]["n"]["type"], "integer");
  EXPECT_EQ(schemas[0]["function"]["parameters"]["required"][0], "n");
}

TEST(ChatToolCall, ParsesWellFormedCalls) {
  const ParsedAnswer p = parse_tool_calls(
      "Let me compute.\n<tool_call>\n{\"name\": \"sumN1\", \"arguments\": {\"n\": 10}}\n"
      "</tool_call>\n<tool_call>{\"name\": \"sumN2\", \"arguments\": \"{\\\"n\\\": 3}\"}"
      "</tool_call>");
  EXPECT_EQ(p.content, "Let me compute.");
  ASSERT_EQ(p.calls.size(), 2u);
  EXPECT_TRUE(p.calls[0].ok());
  EXPECT_EQ(p.calls[0].name, "sumN1");
  EXPECT_EQ(p.calls[0].n, 10);
  EXPECT_TRUE(p.calls[1].ok()) << p.calls[1].error;
  EXPECT_EQ(p.calls[1].n, 3);
  EXPECT_EQ(parse_tool_calls("<tool_call>{\"name\":\"a\",\"arguments\":{\"n\":4.0}}</tool_call>")
                .calls[0]
                .n,
            4);
}

TEST(ChatToolCall, NoCallsLeavesTheAnswer) {
  const ParsedAnswer p = parse_tool_calls("  just text\n");
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, "just text");
}

TEST(ChatToolCall, MalformedCallsCarryErrors) {
  const struct {
    const char* text;
    const char* error;
  } cases[] = {
      {"<tool_call>{bad json</tool_call>", "not valid JSON"},
      {"<tool_call>[1, 2]</tool_call>", "not a JSON object"},
      {"<tool_call>{\"arguments\": {\"n\": 1}}</tool_call>", "no \"name\""},
      {"<tool_call>{\"name\": \"\", \"arguments\": {\"n\": 1}}</tool_call>", "no \"name\""},
      {"<tool_call>{\"name\": \"a\"}</tool_call>", "no \"arguments\""},
      {"<tool_call>{\"name\": \"a\", \"arguments\": 5}</tool_call>", "not a JSON object"},
      {"<tool_call>{\"name\": \"a\", \"arguments\": \"{x\"}</tool_call>", "not a JSON object"},
      {"<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>", "no \"n\""},
      {"<tool_call>{\"name\": \"a\", \"arguments\": {\"n\": \"5\"}}</tool_call>", "not an integer"},
      {"<tool_call>{\"name\": \"a\", \"arguments\": {\"n\": 1.5}}</tool_call>", "not an integer"},
      {"<tool_call>{\"name\": \"a\", \"arguments\": {\"n\": 1e300}}</tool_call>", "not an integer"},
      {"<tool_call>{\"name\": \"a\", \"arguments\": {\"n\": 18446744073709551615}}</tool_call>",
       "too large"},
      {"text <tool_call>{\"name\": \"a\", \"arguments\": {\"n\": 1}}", "no closing"},
  };
  for (const auto& c : cases) {
    const ParsedAnswer p = parse_tool_calls(c.text);
    ASSERT_EQ(p.calls.size(), 1u) << c.text;
    EXPECT_FALSE(p.calls[0].ok()) << c.text;
    EXPECT_NE(p.calls[0].error.find(c.error), std::string::npos)
        << c.text << " -> " << p.calls[0].error;
  }
}

}  // namespace
}  // namespace hh::chat
