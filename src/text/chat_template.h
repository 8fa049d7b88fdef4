#pragma once
// Chat templates as transformers' apply_chat_template renders them: the template sees
// `messages`, `tools` (None when not given), `documents` (None), `add_generation_prompt`,
// `enable_thinking` (only when set), `bos_token` / `eos_token` (only when the model has them),
// and the functions raise_exception(message) and strftime_now(format).
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "text/jinja.h"

namespace hh {

struct ChatInputs {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  std::optional<nlohmann::ordered_json> tools;  // a list of tool schemas; nullopt -> None
  bool add_generation_prompt = true;
  std::optional<bool> enable_thinking;  // nullopt -> undefined in the template
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  // strftime_now's clock (local time); tests fix it. Default: the current time.
  std::function<std::time_t()> clock;
};

class ChatTemplate {
 public:
  // Throws jinja::TemplateSyntaxError naming the line and column of a syntax error.
  explicit ChatTemplate(std::string_view source, std::string name = "chat_template");
  // Throws jinja::TemplateRuntimeError (raise_exception, unknown filter, ...) or FormatError
  // when `messages` is not a list.
  std::string render(const ChatInputs& inputs,
                     const jinja::RenderLimits& limits = jinja::RenderLimits{}) const;

 private:
  jinja::Template template_;
};

// The chat template and special-token texts that come with a model.
struct ModelChatTemplate {
  std::string source;
  std::string origin;  // where the template was found, for messages
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
};

// From a GGUF file (tokenizer.chat_template; tokenizer.ggml.bos_token_id / eos_token_id looked up
// in tokenizer.ggml.tokens) or a Hugging Face directory (chat_template.jinja, else
// tokenizer_config.json's chat_template: a string or a list of {name, template} from which
// "default" is taken; bos_token / eos_token as a string or {content}). Throws FormatError naming
// the file and field when there is no template or a field has the wrong type.
ModelChatTemplate load_model_chat_template(const std::string& model_path);

}  // namespace hh
