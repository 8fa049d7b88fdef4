// `hedgehog chat` end to end on a tiny random model carrying the real Qwen3 tokenizer and chat
// template: a terminal session through a pseudo-terminal exercising every command, a piped
// session, -p, capture -> replay through `hedgehog server`, and bad input. A random model never
// says <|im_end|> on purpose, so answers end when the (small) context is full or on Ctrl-C.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "chat/chat_engine.h"
#include "chat/chat_process.h"
#include "chat/session.h"
#include "server/client.h"
#include "text/chat_template.h"
#include "text/tokenizer_test_util.h"
#include "values/value_reader.h"

namespace hh::chat {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ProcessResult;
using testing::PtySession;
using testing::run_hedgehog;
using namespace std::chrono_literals;

const std::string kTokenizerJson = std::string(HH_FIXTURES_DIR) + test::kQwen3TokenizerFromFixtures;

class ChatE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(kTokenizerJson)) return;
    suite_dir_ =
        new fs::path(fs::temp_directory_path() / ("hh_chat_e2e_" + std::to_string(getpid())));
    fs::create_directories(*suite_dir_);
    model_ = new std::string((*suite_dir_ / "tiny.gguf").string());
    const ProcessResult r = run_hedgehog({"make-model", "--preset", "tiny", "--dtype", "f32",
                                          "--tokenizer", kTokenizerJson, "-o", *model_},
                                         "", *suite_dir_);
    if (r.code != 0) {
      delete model_;
      model_ = nullptr;
      make_model_error_ = new std::string(r.err);
    }
  }
  static void TearDownTestSuite() {
    if (suite_dir_) fs::remove_all(*suite_dir_);
    delete suite_dir_;
    delete model_;
    delete make_model_error_;
    suite_dir_ = nullptr;
    model_ = nullptr;
    make_model_error_ = nullptr;
  }
  void SetUp() override {
    if (!fs::exists(kTokenizerJson)) GTEST_SKIP() << "scripts/setup.sh installs the tokenizer";
    ASSERT_NE(model_, nullptr) << "make-model failed: " << *make_model_error_;
    dir_ = *suite_dir_ / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(dir_);
  }
  ProcessResult chat(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"chat", "-m", *model_, "--dtype", "f32", "-t", "1"});
    return run_hedgehog(args, input, dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static fs::path* suite_dir_;
  static std::string* model_;
  static std::string* make_model_error_;
  fs::path dir_;
};

fs::path* ChatE2E::suite_dir_ = nullptr;
std::string* ChatE2E::model_ = nullptr;
std::string* ChatE2E::make_model_error_ = nullptr;

const std::regex kStatsLine(
    R"(\[cache reuse \d+/\d+ tokens \| prompt \d+ tokens, [0-9.]+ t/s \| generated \d+ tokens(, [0-9.]+ t/s \(wall [0-9.]+ t/s\))? \| first token \d+ ms\])");

TEST_F(ChatE2E, TerminalSessionWithEveryCommand) {
  PtySession s({"chat", "-m", *model_, "--dtype", "f32", "-t", "1", "--ctx", "2048", "--cnt", "2",
                "--profile"},
               dir_);
  ASSERT_TRUE(s.started());
  ASSERT_TRUE(s.wait_for("(ctx: 0/2048)> ", 20s)) << s.output();
  s.type("help\r");
  ASSERT_TRUE(s.wait_for("nothink", 5s)) << s.output();
  for (const auto& [command, reply] :
       std::vector<std::pair<std::string, std::string>>{{"hide", "thinking hidden"},
                                                        {"show", "thinking shown"},
                                                        {"think", "thinking on"},
                                                        {"nothink", "thinking off"}}) {
    s.type(command + "\r");
    ASSERT_TRUE(s.wait_for(reply, 5s)) << command << ":\n" << s.output();
    ASSERT_TRUE(s.wait_for("(ctx: 0/2048)> ", 5s)) << s.output();
  }
  // An answer that would run until the context is full; Ctrl-C stops it between gen calls.
  s.type("Tell me about hedgehogs\r");
  ASSERT_TRUE(s.wait_for("Tell me about hedgehogs", 5s));
  std::this_thread::sleep_for(300ms);
  s.type("\x03");
  ASSERT_TRUE(s.wait_for("(stopped)", 20s)) << s.output();
  const std::string after_stop = s.rest();
  ASSERT_TRUE(s.wait_for("(ctx: ", 5s)) << s.output();
  ASSERT_TRUE(s.wait_for("/2048)> ", 5s)) << s.output();
  std::smatch m;
  const std::string transcript = s.output();
  EXPECT_TRUE(std::regex_search(transcript, m, kStatsLine)) << transcript;
  const std::regex prompt_counter(R"(\(ctx: (\d+)/2048\)> )");
  std::vector<int> counters;
  for (auto it = std::sregex_iterator(transcript.begin(), transcript.end(), prompt_counter);
       it != std::sregex_iterator(); ++it) {
    counters.push_back(std::stoi((*it)[1]));
  }
  ASSERT_FALSE(counters.empty());
  EXPECT_GT(counters.back(), 10);    // the prompt and part of an answer are in the cache
  EXPECT_LT(counters.back(), 2048);  // stopped well before the context was full
  s.type("report\r");
  ASSERT_TRUE(s.wait_for("wrote report.json (", 10s)) << s.output();
  {
    std::ifstream in(dir_ / "report.json");
    const auto report = nlohmann::json::parse(in, nullptr, false);
    ASSERT_FALSE(report.is_discarded());
    ASSERT_TRUE(report.contains("events"));
    EXPECT_GT(report["events"].size(), 0u);  // --profile
  }
  s.type("clear\r");
  ASSERT_TRUE(s.wait_for("conversation cleared", 5s)) << s.output();
  ASSERT_TRUE(s.wait_for("(ctx: 0/2048)> ", 5s)) << s.output();
  ASSERT_TRUE(s.type_when_raw("\x04", 5s)) << s.output();  // Ctrl-D
  EXPECT_EQ(s.wait_exit(10s), 0) << s.output();
}

TEST_F(ChatE2E, PipedSession) {
  const ProcessResult r =
      chat({"--ctx", "96", "--cnt", "8"}, "Hello\nthink\n\nclear\nHi there\nquit\nnever sent\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  // No colour on a pipe; the input is echoed after the prompt.
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b[")));
  EXPECT_THAT(r.out, HasSubstr("(ctx: 0/96)> Hello\n"));
  EXPECT_THAT(r.out, HasSubstr("thinking on"));
  EXPECT_THAT(r.out, HasSubstr("(ctx: 0/96)> Hi there\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("never sent")));
  std::smatch m;
  EXPECT_TRUE(std::regex_search(r.out, m, kStatsLine)) << r.out;
  // A random model fills the context; that is said, never silently cut.
  const bool full = r.out.find("context full: 96/96 tokens; use clear") != std::string::npos;
  const bool ended = r.out.find("(ctx: ") != std::string::npos;
  EXPECT_TRUE(full || ended) << r.out;
}

TEST_F(ChatE2E, PromptOnce) {
  const ProcessResult r = chat({"--ctx", "64", "-p", "Tell me about hedgehogs"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::smatch m;
  EXPECT_TRUE(std::regex_search(r.out, m, kStatsLine)) << r.out;
  EXPECT_THAT(r.out, Not(HasSubstr("(ctx: ")));
}

// Reads a capture file: xsat xs params cache eos max_new (params and cache stored as records).
struct Capture {
  int64_t xsat = 0;
  std::vector<int64_t> xs;
  int64_t max_new = 0;
};

TEST_F(ChatE2E, CaptureReplaysThroughTheServer) {
  // Two runs of the same (greedy, deterministic) chat capture gen calls 2 and 3. Replaying call
  // 2 with `restore` + `gen` must give the tokens the chat got: call 3 starts at the position
  // after them and feeds their last one.
  for (const char* n : {"2", "3"}) {
    const ProcessResult r = chat({"--ctx", "64", "--cnt", "4", "-p", "Hi", "--capture", n,
                                  "--capture-file", path(std::string("call") + n + ".in")});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr(std::string("captured the inputs of gen call ") + n + " to " +
                                 path(std::string("call") + n + ".in")));
  }
  const std::vector<std::pair<std::string, std::string>> vars = {
      {"xsat", "i64"},    {"xs", "[]i64"}, {"params", "Params"},
      {"cache", "Cache"}, {"eos", "i64"},  {"max_new", "i64"}};
  ServerClient server = ServerClient::spawn({HH_BINARY, "server", "--dtype", "f32", "-t", "1"});
  const auto read_value = [&](const std::string& var) {
    server.store(path("value.bin"), {var});
    return ValueReader::open(path("value.bin")).read().clone();
  };
  const auto read_tokens = [&](const std::string& var) {
    const Array a = read_value(var);
    return std::vector<int64_t>(a.data<int64_t>(), a.data<int64_t>() + a.count());
  };
  server.restore(path("call2.in"), vars);
  const int64_t xsat2 = read_value("xsat").scalar_value<int64_t>();
  const std::vector<int64_t> xs2 = read_tokens("xs");
  server.call("gen", {"out"}, {"xsat", "xs", "params", "cache", "eos", "max_new"});
  server.project("toks", "out", "0");
  const std::vector<int64_t> replayed = read_tokens("toks");
  server.free({"out", "toks", "xsat", "xs", "params", "cache", "eos", "max_new"});
  server.restore(path("call3.in"), vars);
  const int64_t xsat3 = read_value("xsat").scalar_value<int64_t>();
  const std::vector<int64_t> xs3 = read_tokens("xs");

  ASSERT_EQ(replayed.size(), 4u);  // --cnt 4, far from the end of the context
  ASSERT_EQ(xs2.size(), 1u);
  ASSERT_EQ(xs3.size(), 1u);
  EXPECT_EQ(xs3[0], replayed.back());
  // Call 3 starts after xs2 and every replayed token but the last (not yet in the cache).
  EXPECT_EQ(xsat3, xsat2 + 1 + static_cast<int64_t>(replayed.size()) - 1);
}

TEST_F(ChatE2E, BadModelsAreClearErrors) {
  {
    const ProcessResult r = run_hedgehog({"chat", "-m", path("absent.gguf")}, "", dir_);
    EXPECT_EQ(r.code, 1);
    EXPECT_THAT(r.err, HasSubstr("absent.gguf: no such file or folder"));
  }
  {
    std::ifstream in(*model_, std::ios::binary);
    std::string head(4096, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(path("truncated.gguf"), std::ios::binary) << head;
    const ProcessResult r = run_hedgehog({"chat", "-m", path("truncated.gguf")}, "", dir_);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("truncated.gguf"));
  }
  {
    std::ofstream(path("notes.txt")) << "not a model at all\n";
    const ProcessResult r = run_hedgehog({"chat", "-m", path("notes.txt")}, "", dir_);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("notes.txt"));
  }
  {
    // The default model with no network and an empty Hub cache.
    const ProcessResult r = run_hedgehog(
        {"chat"}, "", dir_,
        {{"HF_HOME", path("hf")}, {"HF_ENDPOINT", "http://127.0.0.1:9"}, {"HF_HUB_OFFLINE", "0"}});
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("-m"));
    EXPECT_THAT(r.err, HasSubstr("HF_HUB_OFFLINE"));
    const ProcessResult offline =
        run_hedgehog({"chat"}, "", dir_, {{"HF_HOME", path("hf")}, {"HF_HUB_OFFLINE", "1"}});
    EXPECT_EQ(offline.code, 1) << offline.err;
    EXPECT_THAT(offline.err, HasSubstr("HF_HUB_OFFLINE"));
  }
}

TEST_F(ChatE2E, AContextTooSmallKeepsTheConversation) {
  const ProcessResult once = chat({"--ctx", "8", "-p", "Hello"});
  EXPECT_EQ(once.code, 1);
  EXPECT_THAT(once.err, HasSubstr("the context holds 8 (--ctx)"));
  const ProcessResult piped = chat({"--ctx", "8"}, "Hello\nclear\n");
  EXPECT_EQ(piped.code, 0) << piped.err;
  EXPECT_THAT(piped.err, HasSubstr("the conversation is kept"));
  EXPECT_THAT(piped.out, HasSubstr("conversation cleared"));
}

TEST_F(ChatE2E, ATemplateThatFailsIsReported) {
  // A model whose chat template raises: make-model takes it from the tokenizer_config.json
  // beside the tokenizer.json.
  fs::create_directories(dir_ / "tok");
  fs::copy_file(kTokenizerJson, dir_ / "tok" / "tokenizer.json");
  std::ifstream config_in(fs::path(kTokenizerJson).parent_path() / "tokenizer_config.json");
  nlohmann::json config = nlohmann::json::parse(config_in);
  config["chat_template"] = "{{ raise_exception('no chat today') }}";
  std::ofstream(dir_ / "tok" / "tokenizer_config.json") << config.dump();
  const ProcessResult made =
      run_hedgehog({"make-model", "--preset", "tiny", "--dtype", "f32", "--tokenizer",
                    (dir_ / "tok" / "tokenizer.json").string(), "-o", path("bad.gguf")},
                   "", dir_);
  ASSERT_EQ(made.code, 0) << made.err;
  const ProcessResult r = run_hedgehog(
      {"chat", "-m", path("bad.gguf"), "--dtype", "f32", "-t", "1"}, "Hello\nHello again\n", dir_);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("the chat template failed"));
  EXPECT_THAT(r.err, HasSubstr("no chat today"));
  EXPECT_THAT(r.out, HasSubstr("> Hello again"));
}

// The real server's gen runs (and fills the cache) but its tokens are swapped for a scripted
// tool call, so the tool path runs through the protocol end to end: the tools come from the
// server's entry points and the tool entry point is called with `call`.
class ScriptedOutput final : public ChatEngine {
 public:
  ScriptedOutput(ChatEngine& real, std::vector<std::vector<int64_t>> answers)
      : real_(real), answers_(std::move(answers)) {}
  int64_t context() const override { return real_.context(); }
  GenChunk gen(int64_t xsat, std::span<const int64_t> xs, int64_t eos_token_id,
               int64_t max_new_tokens) override {
    const auto& answer = answers_.at(answer_);
    const auto left = static_cast<int64_t>(answer.size() - at_);
    GenChunk chunk = real_.gen(xsat, xs, eos_token_id, std::min(max_new_tokens, left));
    for (auto& t : chunk.tokens) t = answer[at_++];
    if (at_ == answer.size()) {
      ++answer_;
      at_ = 0;
    }
    return chunk;
  }
  std::vector<std::string> entry_points() override { return real_.entry_points(); }
  int64_t call_tool(const std::string& entry_point, int64_t n) override {
    return real_.call_tool(entry_point, n);
  }
  std::string report() override { return real_.report(); }

 private:
  ChatEngine& real_;
  std::vector<std::vector<int64_t>> answers_;
  size_t answer_ = 0;
  size_t at_ = 0;
};

struct Transcript : ChatOutput {
  std::string text_seen;
  std::vector<std::string> notices, errors;
  void text(TextKind, std::string_view t) override { text_seen += t; }
  void end_of_answer() override {}
  void notice(std::string_view line) override { notices.emplace_back(line); }
  void error(std::string_view line) override { errors.emplace_back(line); }
};

TEST_F(ChatE2E, ToolCallThroughTheServerProtocol) {
  const Tokenizer tokenizer = Tokenizer::load(*model_);
  const ModelChatTemplate model_template = load_model_chat_template(*model_);
  const ChatTemplate chat_template(model_template.source, model_template.origin);
  ProtocolEngineOptions options;
  options.model_path = *model_;
  options.context = 512;
  ProtocolChatEngine real(make_subprocess_link(std::string(HH_BINARY) + " server --dtype f32 -t 1"),
                          options);
  const auto answer = [&](const std::string& text) {
    const auto ids = tokenizer.encode(text + "<|im_end|>", true);
    return std::vector<int64_t>(ids.begin(), ids.end());
  };
  ScriptedOutput engine(
      real, {answer("<tool_call>\n{\"name\": \"sumN2\", \"arguments\": {\"n\": 4}}\n</tool_call>"),
             answer("<tool_call>{\"name\": \"sumN1\", \"arguments\": {\"n\": -3}}</tool_call>"),
             answer("1+4+9+16 = 30.")});
  Transcript out;
  SessionOptions session_options;
  session_options.tools = true;
  session_options.tokens_per_call = 4;
  ChatSession session(engine, tokenizer, chat_template, model_template, session_options, out);
  ASSERT_EQ(session.tools().size(), 2u);
  ASSERT_TRUE(session.send("Sum the first four squares"))
      << (out.errors.empty() ? "" : out.errors[0]);
  EXPECT_THAT(out.notices, ::testing::Contains(HasSubstr("tool sumN2(n=4) = 30")));
  ASSERT_EQ(out.errors.size(), 1u);  // the server refuses n < 0; the chat goes on
  EXPECT_THAT(out.errors[0], HasSubstr("sumN1"));
  EXPECT_EQ(session.messages().back()["content"], "1+4+9+16 = 30.");
  EXPECT_EQ(session.messages()[2]["content"], "30");
  EXPECT_GT(session.context_used(), 0);
  EXPECT_GT(real.gen_calls(), 3);
}

}  // namespace
}  // namespace hh::chat
