#pragma once
// A Jinja2 template engine for chat templates: the subset that Hugging Face chat templates use
// (Qwen, Llama, Mistral, Gemma, DeepSeek, ChatML), with the semantics of Python jinja2 in the
// sandboxed environment transformers renders them with. Parse once, render many times; a
// Template is immutable and may be rendered from several threads at once.
//
//   auto t = hh::jinja::Template::parse(text, "chat_template");
//   std::string out = t.render({{"messages", hh::jinja::Value::from_json(messages)}});
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/jinja_value.h"

namespace hh::jinja {

struct ParsedTemplate;

// Bounds that keep a hostile template from exhausting memory, stack or time. Reaching one is a
// TemplateRuntimeError naming where it happened.
struct RenderLimits {
  size_t max_output_bytes = size_t{64} << 20;  // any one string built while rendering
  uint32_t max_call_depth = 64;                // nested macro calls
  uint64_t max_steps = 20'000'000;             // loop iterations, calls and element copies
};

using Variables = std::vector<std::pair<std::string, Value>>;

class Template {
 public:
  // Throws TemplateSyntaxError ("<name>:<line>:<column>: syntax error: ...") on bad syntax.
  static Template parse(std::string_view source, std::string name = "template");

  // Renders with `variables` (plus Jinja's globals range, dict, namespace, cycler, joiner).
  // Throws TemplateRuntimeError ("<name>:<line>:<column>: ...") when rendering fails.
  std::string render(const Variables& variables, const RenderLimits& limits = {}) const;

  const std::string& name() const;

 private:
  std::shared_ptr<const ParsedTemplate> parsed_;
};

}  // namespace hh::jinja
