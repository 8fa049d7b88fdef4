#pragma once
// Tool calling as Qwen3 does it: tools are offered to the chat template as JSON schemas, and the
// model answers with `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks. The tools
// are the server's entry points named tool_NAME_DESCRIPTION, each taking one integer `n`.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace hh::chat {

struct ToolSpec {
  std::string entry_point;  // tool_sumN1_sum_of_first_n_integers
  std::string name;         // sumN1
  std::string description;  // sum of first n integers
};

// The tools among `entry_points`: tool_NAME_DESCRIPTION with non-empty NAME and DESCRIPTION
// (underscores in the description become spaces).
std::vector<ToolSpec> tools_from_entry_points(const std::vector<std::string>& entry_points);
// The list the template's `tools` gets: {"type": "function", "function": {name, description,
// parameters: one required integer n}} per tool.
nlohmann::ordered_json tool_schemas(const std::vector<ToolSpec>& tools);

struct ToolCall {
  std::string raw;   // the text between <tool_call> and </tool_call>
  std::string name;  // empty when the call could not be read
  std::optional<int64_t> n;
  std::string error;  // why the call cannot be made; empty when name and n are set
  bool ok() const { return error.empty(); }
};

struct ParsedAnswer {
  std::string content;          // the answer with every <tool_call> block taken out, trimmed
  std::vector<ToolCall> calls;  // in order; malformed ones carry an error
};

// Splits an answer into its text and its tool calls. Never throws: malformed JSON, a missing
// name or argument, a non-integer n and an unterminated block become calls with an error.
ParsedAnswer parse_tool_calls(std::string_view answer);

}  // namespace hh::chat
