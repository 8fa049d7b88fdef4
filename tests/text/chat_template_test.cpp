// Chat templates with the variables apply_chat_template passes, found in GGUF files and Hugging
// Face directories, and the `hedgehog template` command.
#include "text/chat_template.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/gguf.h"

namespace hh {
namespace {

namespace fs = std::filesystem;
const fs::path kDir = fs::path(HH_FIXTURES_DIR) / "templates";

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("hh_chat_template_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

const char* kProbe =
    "{{ bos_token | default('-') }}|{{ eos_token | default('-') }}|{{ add_generation_prompt }}|"
    "{{ enable_thinking is defined }}/{{ enable_thinking | default('-') }}|{{ tools }}|"
    "{{ documents }}|{{ messages | length }}";

TEST(ChatTemplate, PassesWhatApplyChatTemplatePasses) {
  const ChatTemplate t(kProbe);
  ChatInputs in;
  in.messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "hi"}])");
  EXPECT_EQ(t.render(in), "-|-|True|False/-|None|None|1");
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  in.add_generation_prompt = false;
  in.enable_thinking = false;
  in.tools = nlohmann::ordered_json::parse(R"([{"name": "f"}])");
  EXPECT_EQ(t.render(in), "<s>|</s>|False|True/False|[{'name': 'f'}]|None|1");
}

TEST(ChatTemplate, StrftimeNowUsesTheClock) {
  const ChatTemplate t("{{ strftime_now('%Y-%m-%d %H:%M') }}|{{ strftime_now('') }}");
  ChatInputs in;
  in.clock = [] {
    std::tm tm{};
    tm.tm_year = 124;
    tm.tm_mon = 1;
    tm.tm_mday = 29;
    tm.tm_hour = 23;
    tm.tm_min = 59;
    tm.tm_isdst = -1;
    return std::mktime(&tm);
  };
  EXPECT_EQ(t.render(in), "2024-02-29 23:59|");
}

TEST(ChatTemplate, BadInputIsAClearError) {
  const ChatTemplate t("{{ messages[0].content }}");
  ChatInputs in;
  in.messages = nlohmann::ordered_json::parse(R"({"role": "user"})");
  EXPECT_THROW(t.render(in), FormatError);
  in.messages = nlohmann::ordered_json::array();
  in.tools = nlohmann::ordered_json::parse(R"("not a list")");
  EXPECT_THROW(t.render(in), FormatError);
  EXPECT_THROW(ChatTemplate("{% for %}"), jinja::TemplateSyntaxError);
  // raise_exception carries its message and the position of the call.
  const ChatTemplate raising("\n  {{ raise_exception('nope: ' ~ messages | length) }}");
  try {
    raising.render(ChatInputs{});
    FAIL();
  } catch (const jinja::TemplateRuntimeError& e) {
    EXPECT_STREQ(e.what(), "chat_template:2:21: raise_exception: nope: 0");
  }
}

TEST(ModelChatTemplate, FromHuggingFaceDirectory) {
  TempDir dir;
  write_file(dir.path() / "tokenizer_config.json", R"({
    "bos_token": {"__type": "AddedToken", "content": "<bos>"}, "eos_token": "<eos>",
    "chat_template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"})");
  ModelChatTemplate m = load_model_chat_template(dir.path().string());
  EXPECT_EQ(m.source, "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}");
  EXPECT_EQ(m.bos_token, "<bos>");
  EXPECT_EQ(m.eos_token, "<eos>");

  // A list of named templates: "default" is the one apply_chat_template uses.
  write_file(dir.path() / "tokenizer_config.json", R"({"bos_token": null, "chat_template": [
    {"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]})");
  m = load_model_chat_template(dir.path().string());
  EXPECT_EQ(m.source, "D");
  EXPECT_FALSE(m.bos_token.has_value());

  // chat_template.jinja beside the config wins.
  write_file(dir.path() / "chat_template.jinja", "J");
  EXPECT_EQ(load_model_chat_template(dir.path().string()).source, "J");
}

TEST(ModelChatTemplate, BadHuggingFaceConfigNamesTheField) {
  TempDir dir;
  auto message = [&](const std::string& config) {
    write_file(dir.path() / "tokenizer_config.json", config);
    try {
      load_model_chat_template(dir.path().string());
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("{}").find("no field 'chat_template'"), std::string::npos);
  EXPECT_NE(message(R"({"chat_template": 5})").find("'chat_template'"), std::string::npos);
  EXPECT_NE(message(R"({"chat_template": [{"name": "x", "template": "y"}]})").find("'default'"),
            std::string::npos);
  EXPECT_NE(message(R"({"chat_template": "x", "eos_token": 3})").find("'eos_token'"),
            std::string::npos);
  EXPECT_NE(message("{not json").find("not valid JSON"), std::string::npos);
  TempDir empty;
  EXPECT_THROW(load_model_chat_template(empty.path().string()), FormatError);
  EXPECT_THROW(load_model_chat_template((empty.path() / "missing.gguf").string()), UsageError);
}

TEST(ModelChatTemplate, FromGguf) {
  TempDir dir;
  const fs::path path = dir.path() / "m.gguf";
  GgufWriter w;
  w.add("tokenizer.chat_template", gguf_string("{{ bos_token }}x{{ eos_token }}"));
  w.add("tokenizer.ggml.tokens", gguf_string_array({"<unk>", "<s>", "</s>"}));
  w.add("tokenizer.ggml.bos_token_id", gguf_u32(1));
  w.add("tokenizer.ggml.eos_token_id", gguf_u32(2));
  w.write(path.string());
  const ModelChatTemplate m = load_model_chat_template(path.string());
  EXPECT_EQ(m.source, "{{ bos_token }}x{{ eos_token }}");
  EXPECT_EQ(m.bos_token, "<s>");
  EXPECT_EQ(m.eos_token, "</s>");

  GgufWriter bad;
  bad.add("tokenizer.chat_template", gguf_string("x"));
  bad.add("tokenizer.ggml.tokens", gguf_string_array({"<unk>"}));
  bad.add("tokenizer.ggml.eos_token_id", gguf_u32(7));
  bad.write(path.string());
  try {
    load_model_chat_template(path.string());
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.eos_token_id"), std::string::npos);
  }
  GgufWriter none;
  none.add("general.architecture", gguf_string("qwen3"));
  none.write(path.string());
  EXPECT_THROW(load_model_chat_template(path.string()), FormatError);
}

// --- the command ----------------------------------------------------------------------------

struct CommandResult {
  int code;
  std::string out;
};

CommandResult run_hedgehog(const std::string& args) {
  const std::string cmd = std::string(HH_BINARY) + " template " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  CommandResult r{-1, {}};
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(TemplateCommand, PrintsExactlyTheReference) {
  TempDir dir;
  const auto spec = nlohmann::ordered_json::parse(read_file(kDir / "qwen3_tool_calls.json"));
  write_file(dir.path() / "chat.json", spec["messages"].dump());
  write_file(dir.path() / "tools.json", spec["tools"].dump());
  const std::string common = "--template " + (kDir / "qwen3.jinja").string() + " --messages " +
                             (dir.path() / "chat.json").string();
  CommandResult r = run_hedgehog(common + " --tools " + (dir.path() / "tools.json").string());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, read_file(kDir / "qwen3_tool_calls.txt"));

  const auto off = nlohmann::ordered_json::parse(read_file(kDir / "qwen3_thinking_off.json"));
  write_file(dir.path() / "chat.json", off["messages"].dump());
  r = run_hedgehog(common + " --no-think");
  EXPECT_EQ(r.out, read_file(kDir / "qwen3_thinking_off.txt"));
  r = run_hedgehog(common + " --think");
  EXPECT_EQ(r.out, read_file(kDir / "qwen3_thinking_off.txt").substr(0, r.out.size()));
  EXPECT_EQ(r.out.find("<think>"), std::string::npos);  // thinking on: no empty think block
  r = run_hedgehog(common + " --no-generation-prompt");
  EXPECT_EQ(r.out.find("assistant"), std::string::npos) << r.out;
  EXPECT_EQ(run_hedgehog(common + " --think --no-think").code, 2);
}

TEST(TemplateCommand, ModelDirectoryAndOverrides) {
  TempDir dir;
  write_file(dir.path() / "tokenizer_config.json",
             R"({"bos_token": "<B>", "eos_token": {"content": "<E>"},
                 "chat_template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"})");
  write_file(dir.path() / "chat.json", R"([{"role": "user", "content": "hi"}])");
  const std::string chat = " --messages " + (dir.path() / "chat.json").string();
  CommandResult r = run_hedgehog("-m " + dir.path().string() + chat);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "<B>hi<E>");
  r = run_hedgehog("-m " + dir.path().string() + chat + " --bos X --eos Y");
  EXPECT_EQ(r.out, "XhiY");
  write_file(dir.path() / "other.jinja", "[{{ bos_token }}]");
  r = run_hedgehog("-m " + dir.path().string() + " --template " +
                   (dir.path() / "other.jinja").string() + chat);
  EXPECT_EQ(r.out, "[<B>]");
}

TEST(TemplateCommand, ErrorsNameTheTemplateLineAndColumn) {
  TempDir dir;
  write_file(dir.path() / "chat.json", R"([{"role": "user", "content": "hi"}])");
  write_file(dir.path() / "bad.jinja", "ok\n{{ messages | nosuch }}");
  const std::string chat = " --messages " + (dir.path() / "chat.json").string();
  CommandResult r = run_hedgehog("--template " + (dir.path() / "bad.jinja").string() + chat);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("bad.jinja:2:15: no filter named 'nosuch'"), std::string::npos) << r.out;
  write_file(dir.path() / "bad.jinja", "{% if %}");
  r = run_hedgehog("--template " + (dir.path() / "bad.jinja").string() + chat);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("bad.jinja:1:7: syntax error"), std::string::npos) << r.out;
  write_file(dir.path() / "chat.json", "[{");
  r = run_hedgehog("--template " + (dir.path() / "bad.jinja").string() + chat);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("not valid JSON"), std::string::npos) << r.out;
  EXPECT_EQ(run_hedgehog(chat).code, 1);  // neither -m nor --template
}

}  // namespace
}  // namespace hh
