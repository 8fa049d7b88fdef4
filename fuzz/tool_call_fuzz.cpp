// libFuzzer target: the chat's tool-call parser on arbitrary model output. It must never throw,
// every call must either be usable (name and n set) or carry an error, and the content must not
// keep any complete <tool_call> block.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chat/tool_call.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const hh::chat::ParsedAnswer parsed = hh::chat::parse_tool_calls(text);
  for (const auto& call : parsed.calls) {
    if (call.ok() && (call.name.empty() || !call.n)) std::abort();
    if (!call.ok() && call.error.empty()) std::abort();
  }
  if (parsed.calls.empty() && text.find("<tool_call>") != std::string_view::npos) std::abort();
  return 0;
}
