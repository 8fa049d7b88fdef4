// `hedgehog template`: prints exactly what transformers' apply_chat_template renders for a chat,
// from the model's own chat template or from a template file.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/cli_util.h"
#include "text/chat_template.h"

namespace hh::cli {

namespace {

nlohmann::ordered_json read_json_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_errno(fmt::format("cannot open {} file {}", what, path));
  std::ostringstream ss;
  ss << in.rdbuf();
  try {
    return nlohmann::ordered_json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    fail_format("{}: not valid JSON: {}", path, e.what());
  }
}

}  // namespace

int run_template(const Args& args) {
  CLI::App app{
      "Render a chat with a chat template, exactly as transformers' apply_chat_template "
      "does (no newline is added at the end)",
      "hedgehog template"};
  std::string model, template_file, messages_file, tools_file;
  std::optional<std::string> bos, eos;
  bool no_generation_prompt = false, think = false, no_think = false;
  app.add_option("-m,--model", model, "GGUF file or Hugging Face model directory");
  app.add_option("--template", template_file, "render this template file instead of the model's");
  app.add_option("--messages", messages_file, "JSON file with the list of messages")->required();
  app.add_option("--tools", tools_file, "JSON file with the list of tool schemas");
  app.add_flag("--no-generation-prompt", no_generation_prompt,
               "add_generation_prompt=false (default: true)");
  auto* think_flag = app.add_flag("--think", think, "enable_thinking=true");
  auto* no_think_flag = app.add_flag("--no-think", no_think, "enable_thinking=false");
  think_flag->excludes(no_think_flag);
  app.add_option("--bos", bos, "bos_token text (default: the model's, else undefined)");
  app.add_option("--eos", eos, "eos_token text (default: the model's, else undefined)");
  if (auto code = parse_args(app, args)) return *code;
  if (model.empty() && template_file.empty()) fail_usage("give a model (-m) or --template FILE");

  std::string source, name;
  ChatInputs inputs;
  if (!model.empty()) {
    ModelChatTemplate found = load_model_chat_template(model);
    source = std::move(found.source);
    name = std::move(found.origin);
    inputs.bos_token = std::move(found.bos_token);
    inputs.eos_token = std::move(found.eos_token);
  }
  if (!template_file.empty()) {
    std::ifstream in(template_file, std::ios::binary);
    if (!in) fail_errno(fmt::format("cannot open template file {}", template_file));
    std::ostringstream ss;
    ss << in.rdbuf();
    source = ss.str();
    name = template_file;
  }
  if (bos) inputs.bos_token = bos;
  if (eos) inputs.eos_token = eos;
  inputs.messages = read_json_file(messages_file, "messages");
  if (!tools_file.empty()) inputs.tools = read_json_file(tools_file, "tools");
  inputs.add_generation_prompt = !no_generation_prompt;
  if (think) inputs.enable_thinking = true;
  if (no_think) inputs.enable_thinking = false;

  const ChatTemplate tmpl(source, name);
  const std::string text = tmpl.render(inputs);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace hh::cli
