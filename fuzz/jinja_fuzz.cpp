// libFuzzer target: any bytes as a chat template, parsed and rendered with a small fixed chat.
// Every input must either render or throw hh::Error, within the limits below.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "text/chat_template.h"

namespace {

const hh::ChatInputs& inputs() {
  static const hh::ChatInputs in = [] {
    hh::ChatInputs i;
    i.messages = nlohmann::ordered_json::parse(R"([
      {"role": "system", "content": "sys"},
      {"role": "user", "content": "hi <tool_response>x</tool_response>"},
      {"role": "assistant", "content": "<think>\nr\n</think>\n\nok",
       "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"n": 1.5}}}]},
      {"role": "tool", "content": "2"}])");
    i.tools = nlohmann::ordered_json::parse(
        R"([{"type": "function", "function": {"name": "f", "parameters": {"n": [1, null]}}}])");
    i.enable_thinking = false;
    i.bos_token = "<s>";
    i.clock = [] { return std::time_t{0}; };
    return i;
  }();
  return in;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  hh::jinja::RenderLimits limits;
  limits.max_output_bytes = 1 << 20;
  limits.max_steps = 200000;
  limits.max_call_depth = 32;
  try {
    const hh::ChatTemplate tmpl(std::string_view(reinterpret_cast<const char*>(data), size));
    tmpl.render(inputs(), limits);
  } catch (const hh::Error&) {
  }
  return 0;
}
