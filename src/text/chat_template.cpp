#include "text/chat_template.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/gguf.h"
#include "text/jinja_interp.h"

namespace hh {

namespace {

using jinja::CallArgs;
using jinja::Value;

Value function_value(std::string name, std::function<Value(jinja::Interpreter&, CallArgs&)> call) {
  auto f = std::make_shared<jinja::Function>();
  f->name = std::move(name);
  f->call = std::move(call);
  return Value(std::shared_ptr<const jinja::Function>(std::move(f)));
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_errno(fmt::format("cannot open {}", path.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A special token in tokenizer_config.json: a string, {"content": ...} (AddedToken), or null.
std::optional<std::string> token_text(const nlohmann::json& config, const char* key,
                                      const std::string& file) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return (*it)["content"].get<std::string>();
  }
  fail_format("{}: field '{}' is neither a string nor an object with a string 'content'", file,
              key);
}

ModelChatTemplate from_hf_directory(const std::filesystem::path& dir) {
  ModelChatTemplate out;
  const auto config_path = dir / "tokenizer_config.json";
  nlohmann::json config = nlohmann::json::object();
  if (std::filesystem::exists(config_path)) {
    try {
      config = nlohmann::json::parse(read_text_file(config_path));
    } catch (const nlohmann::json::exception& e) {
      fail_format("{}: not valid JSON: {}", config_path.string(), e.what());
    }
    if (!config.is_object()) fail_format("{}: expected a JSON object", config_path.string());
    out.bos_token = token_text(config, "bos_token", config_path.string());
    out.eos_token = token_text(config, "eos_token", config_path.string());
  }
  // Newer transformers save the template beside the config; it wins when present.
  const auto jinja_path = dir / "chat_template.jinja";
  if (std::filesystem::exists(jinja_path)) {
    out.source = read_text_file(jinja_path);
    out.origin = jinja_path.string();
    return out;
  }
  if (!std::filesystem::exists(config_path)) {
    fail_format("{}: no tokenizer_config.json or chat_template.jinja", dir.string());
  }
  const auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) {
    fail_format("{}: no field 'chat_template'", config_path.string());
  }
  out.origin = config_path.string() + " (chat_template)";
  if (it->is_string()) {
    out.source = it->get<std::string>();
    return out;
  }
  if (it->is_array()) {
    // Several named templates: apply_chat_template uses "default" unless told otherwise.
    for (const auto& entry : *it) {
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
          entry["template"].is_string()) {
        out.source = entry["template"].get<std::string>();
        return out;
      }
    }
    fail_format("{}: field 'chat_template' has no template named 'default'", config_path.string());
  }
  fail_format("{}: field 'chat_template' must be a string or a list of {{name, template}}",
              config_path.string());
}

std::optional<std::string> gguf_token(const GgufFile& gguf, const char* id_key) {
  const GgufValue* id = gguf.find(id_key);
  if (!id) return std::nullopt;
  const GgufValue* tokens = gguf.find("tokenizer.ggml.tokens");
  if (!tokens) return std::nullopt;
  const int64_t i = id->as_int(id_key);
  if (tokens->type != GgufType::Array || i < 0 ||
      static_cast<uint64_t>(i) >= tokens->array.size()) {
    fail_format("{}: {} = {} is not an index into tokenizer.ggml.tokens", gguf.path(), id_key, i);
  }
  return tokens->array[static_cast<size_t>(i)].as_string("tokenizer.ggml.tokens");
}

}  // namespace

ChatTemplate::ChatTemplate(std::string_view source, std::string name)
    : template_(jinja::Template::parse(source, std::move(name))) {}

std::string ChatTemplate::render(const ChatInputs& inputs,
                                 const jinja::RenderLimits& limits) const {
  if (!inputs.messages.is_array()) fail_format("messages must be a JSON list of messages");
  if (inputs.tools && !inputs.tools->is_array() && !inputs.tools->is_null()) {
    fail_format("tools must be a JSON list of tool schemas");
  }
  jinja::Variables vars;
  try {
    vars.emplace_back("messages", Value::from_json(inputs.messages));
    vars.emplace_back("tools", inputs.tools ? Value::from_json(*inputs.tools) : Value::none());
  } catch (const jinja::ValueError& e) {
    fail_format("chat input: {}", e.what());
  }
  vars.emplace_back("documents", Value::none());
  vars.emplace_back("add_generation_prompt", Value(inputs.add_generation_prompt));
  if (inputs.bos_token) vars.emplace_back("bos_token", Value(*inputs.bos_token));
  if (inputs.eos_token) vars.emplace_back("eos_token", Value(*inputs.eos_token));
  if (inputs.enable_thinking) vars.emplace_back("enable_thinking", Value(*inputs.enable_thinking));
  vars.emplace_back(
      "raise_exception",
      function_value("raise_exception", [](jinja::Interpreter&, CallArgs& args) -> Value {
        const std::string msg =
            args.positional.empty() ? std::string() : jinja::to_str(args.positional[0]);
        jinja::fail_value("raise_exception: {}", msg);
      }));
  auto clock = inputs.clock;
  vars.emplace_back("strftime_now",
                    function_value("strftime_now", [clock](jinja::Interpreter&, CallArgs& args) {
                      auto a = jinja::bind_args(args, {"format"}, "strftime_now");
                      if (!a[0] || !a[0]->is_string()) {
                        jinja::fail_value("strftime_now() needs a format string");
                      }
                      const std::time_t now = clock ? clock() : std::time(nullptr);
                      std::tm tm{};
                      localtime_r(&now, &tm);
                      const std::string& format = a[0]->str();
                      if (format.empty()) return Value("");
                      std::string buf(256 + format.size() * 8, '\0');
                      const size_t n = std::strftime(buf.data(), buf.size(), format.c_str(), &tm);
                      buf.resize(n);
                      return Value(std::move(buf));
                    }));
  return template_.render(vars, limits);
}

ModelChatTemplate load_model_chat_template(const std::string& model_path) {
  const std::filesystem::path path(model_path);
  if (std::filesystem::is_directory(path)) return from_hf_directory(path);
  if (!std::filesystem::exists(path)) fail_usage("model not found: {}", model_path);
  const GgufFile gguf = GgufFile::open(model_path);
  ModelChatTemplate out;
  const GgufValue* tmpl = gguf.find("tokenizer.chat_template");
  if (!tmpl) fail_format("{}: no metadata key 'tokenizer.chat_template'", model_path);
  out.source = tmpl->as_string("tokenizer.chat_template");
  out.origin = model_path + " (tokenizer.chat_template)";
  out.bos_token = gguf_token(gguf, "tokenizer.ggml.bos_token_id");
  out.eos_token = gguf_token(gguf, "tokenizer.ggml.eos_token_id");
  return out;
}

}  // namespace hh
