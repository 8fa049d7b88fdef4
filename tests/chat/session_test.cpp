// The chat loop on scripted model output (ScriptedEngine) with the real Qwen3 tokenizer and chat
// template: streaming, thinking kept apart, KV-cache reuse and drift, tool calls, Ctrl-C, a full
// context, prompts that do not fit and templates that fail.
#include "chat/session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "chat/scripted_engine.h"
#include "text/tokenizer_test_util.h"

namespace hh::chat {
namespace {

using ::testing::HasSubstr;
using testing::ScriptedEngine;

std::string qwen3_dir() {
  return std::filesystem::path(std::string(HH_FIXTURES_DIR) + test::kQwen3TokenizerFromFixtures)
      .parent_path()
      .string();
}

// Everything the session printed, by kind.
struct RecordingOutput : ChatOutput {
  std::string answer, thinking, all;
  std::vector<std::string> notices, errors;
  int answers_ended = 0;
  void text(TextKind kind, std::string_view t) override {
    (kind == TextKind::Thinking ? thinking : answer) += t;
    all += t;
  }
  void end_of_answer() override { ++answers_ended; }
  void notice(std::string_view line) override { notices.emplace_back(line); }
  void error(std::string_view line) override { errors.emplace_back(line); }
};

class ChatSessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(qwen3_dir())) return;
    tokenizer_ = new Tokenizer(Tokenizer::load(qwen3_dir()));
    model_template_ = new ModelChatTemplate(load_model_chat_template(qwen3_dir()));
    template_ = new ChatTemplate(model_template_->source, model_template_->origin);
  }
  static void TearDownTestSuite() {
    delete template_;
    delete model_template_;
    delete tokenizer_;
  }
  void SetUp() override {
    if (!tokenizer_) GTEST_SKIP() << "scripts/setup.sh installs the Qwen3 tokenizer";
  }

  std::vector<int64_t> tokens(const std::string& text) const {
    const auto ids = tokenizer_->encode(text, true);
    return {ids.begin(), ids.end()};
  }
  std::vector<int64_t> answer(const std::string& text) const { return tokens(text + "<|im_end|>"); }
  ChatSession session(ScriptedEngine& engine, SessionOptions options = {}) {
    return ChatSession(engine, *tokenizer_, *template_, *model_template_, options, output_);
  }
  // What the template renders for `messages` (plus a generation prompt), as tokens.
  std::vector<int64_t> render(const nlohmann::ordered_json& messages, bool thinking,
                              const std::vector<ToolSpec>& tools = {}) const {
    ChatInputs in;
    in.messages = messages;
    in.enable_thinking = thinking;
    if (!tools.empty()) in.tools = tool_schemas(tools);
    return tokens(template_->render(in));
  }

  static Tokenizer* tokenizer_;
  static ModelChatTemplate* model_template_;
  static ChatTemplate* template_;
  RecordingOutput output_;
};

Tokenizer* ChatSessionTest::tokenizer_ = nullptr;
ModelChatTemplate* ChatSessionTest::model_template_ = nullptr;
ChatTemplate* ChatSessionTest::template_ = nullptr;

TEST_F(ChatSessionTest, StreamsTheAnswerAndReusesTheCacheNextTurn) {
  ScriptedEngine engine(4096);
  engine.answers = {answer("Hello, hedgehog fan! 🦔"), answer("Sure.")};
  SessionOptions options;
  options.tokens_per_call = 3;
  ChatSession s = session(engine, options);
  ASSERT_TRUE(s.send("Hi"));
  EXPECT_EQ(output_.answer, "Hello, hedgehog fan! 🦔");
  EXPECT_TRUE(output_.errors.empty());
  ASSERT_EQ(s.messages().size(), 2u);
  EXPECT_EQ(s.messages()[1]["content"], "Hello, hedgehog fan! 🦔");
  // The first call prefills alone; later ones take --cnt tokens.
  EXPECT_EQ(engine.calls[0].xsat, 0);
  EXPECT_EQ(engine.calls[0].max_new_tokens, 1);
  EXPECT_EQ(engine.calls[1].max_new_tokens, 3);
  EXPECT_EQ(engine.prompts[0], render({{{"role", "user"}, {"content", "Hi"}}}, false));
  ASSERT_FALSE(output_.notices.empty());
  EXPECT_THAT(output_.notices.back(), HasSubstr("[cache reuse 0/"));
  EXPECT_EQ(s.last_stats().generated, static_cast<int64_t>(engine.answers[0].size()));
  const int64_t used = s.context_used();
  EXPECT_EQ(used, static_cast<int64_t>(engine.cache.size()));

  const std::vector<int64_t> cached = engine.cache;
  ASSERT_TRUE(s.send("More?"));
  // The longest prefix shared with the cache is reused (Qwen3's template drops the empty think
  // block of earlier answers, so that is up to the first answer's start); the prompt is exactly
  // the rendered conversation.
  const auto shared = std::mismatch(engine.prompts[1].begin(), engine.prompts[1].end(),
                                    cached.begin(), cached.end());
  EXPECT_EQ(s.last_stats().reused, shared.first - engine.prompts[1].begin());
  EXPECT_GT(s.last_stats().reused, static_cast<int64_t>(engine.prompts[0].size()) - 8);
  const int64_t reused = s.last_stats().reused;
  nlohmann::ordered_json first_three = {s.messages()[0], s.messages()[1], s.messages()[2]};
  EXPECT_EQ(engine.prompts[1], render(first_three, false));
  EXPECT_THAT(output_.notices.back(), HasSubstr(fmt::format("[cache reuse {}/", reused)));
}

TEST_F(ChatSessionTest, ThinkingIsShownApartAndKeptOutOfTheAnswer) {
  ScriptedEngine engine(4096);
  engine.answers = {answer("<think>\nLet me see.\n</think>\n\nYes."), answer("No.")};
  SessionOptions options;
  options.thinking = true;
  ChatSession s = session(engine, options);
  ASSERT_TRUE(s.send("Is it?"));
  EXPECT_EQ(output_.thinking, "\nLet me see.\n");
  EXPECT_EQ(output_.answer, "\n\nYes.");
  EXPECT_EQ(s.messages()[1]["content"], "Yes.");
  EXPECT_EQ(s.messages()[1]["reasoning_content"], "Let me see.");
  // The template drops earlier thinking: the cache keeps only the shared prefix (a drift).
  const int64_t used = s.context_used();
  ASSERT_TRUE(s.send("Sure?"));
  EXPECT_LT(s.last_stats().reused, used);
  EXPECT_GT(s.last_stats().reused, 0);
  nlohmann::ordered_json first_three = {s.messages()[0], s.messages()[1], s.messages()[2]};
  EXPECT_EQ(engine.prompts[1], render(first_three, true));
}

TEST_F(ChatSessionTest, ToolCallsRunAndTheModelGoesOn) {
  ScriptedEngine engine(4096);
  engine.answers = {
      answer("<tool_call>\n{\"name\": \"sumN1\", \"arguments\": {\"n\": 10}}\n</tool_call>"),
      answer("The sum is 55.")};
  SessionOptions options;
  options.tools = true;
  ChatSession s = session(engine, options);
  ASSERT_EQ(s.tools().size(), 1u);
  ASSERT_TRUE(s.send("What is 1+...+10?"));
  ASSERT_EQ(engine.tool_calls.size(), 1u);
  EXPECT_EQ(engine.tool_calls[0].first, "tool_sumN1_sum_of_first_n_integers");
  EXPECT_EQ(engine.tool_calls[0].second, 10);
  ASSERT_EQ(s.messages().size(), 4u);
  EXPECT_EQ(s.messages()[1]["tool_calls"][0]["function"]["name"], "sumN1");
  EXPECT_EQ(s.messages()[1]["tool_calls"][0]["function"]["arguments"]["n"], 10);
  EXPECT_EQ(s.messages()[2]["role"], "tool");
  EXPECT_EQ(s.messages()[2]["content"], "55");
  EXPECT_EQ(s.messages()[3]["content"], "The sum is 55.");
  EXPECT_THAT(output_.notices, ::testing::Contains(HasSubstr("tool sumN1(n=10) = 55")));
  // The second round's prompt is the rendered conversation with the tool's result.
  nlohmann::ordered_json first_three = {s.messages()[0], s.messages()[1], s.messages()[2]};
  EXPECT_EQ(engine.prompts[1], render(first_three, false, s.tools()));
}

TEST_F(ChatSessionTest, BadToolCallsAreReportedNotFatal) {
  ScriptedEngine engine(4096);
  engine.answers = {
      answer("<tool_call>{bad json</tool_call>"),
      answer("<tool_call>{\"name\": \"nope\", \"arguments\": {\"n\": 1}}</tool_call>"),
      answer("<tool_call>{\"name\": \"sumN1\", \"arguments\": {\"n\": -1}}</tool_call>"),
      answer("Sorry.")};
  SessionOptions options;
  options.tools = true;
  ChatSession s = session(engine, options);
  ASSERT_TRUE(s.send("Go"));
  ASSERT_EQ(output_.errors.size(), 3u);
  EXPECT_THAT(output_.errors[0], HasSubstr("not valid JSON"));
  EXPECT_THAT(output_.errors[1], HasSubstr("no tool named \"nope\""));
  EXPECT_THAT(output_.errors[2], HasSubstr("must not be negative"));
  ASSERT_EQ(s.messages().size(), 8u);
  EXPECT_EQ(s.messages()[1]["content"], "<tool_call>{bad json</tool_call>");
  EXPECT_THAT(s.messages()[2]["content"].get<std::string>(), HasSubstr("error: "));
  EXPECT_EQ(s.messages()[7]["content"], "Sorry.");
}

TEST_F(ChatSessionTest, EndlessToolCallsStop) {
  ScriptedEngine engine(8192);
  for (int i = 0; i < 3; ++i) {
    engine.answers.push_back(
        answer("<tool_call>{\"name\": \"sumN1\", \"arguments\": {\"n\": 2}}</tool_call>"));
  }
  SessionOptions options;
  options.tools = true;
  options.max_tool_rounds = 3;
  ChatSession s = session(engine, options);
  ASSERT_TRUE(s.send("Go"));
  EXPECT_EQ(engine.tool_calls.size(), 3u);
  EXPECT_THAT(output_.notices.back(), HasSubstr("stopped after 3 model rounds"));
}

TEST_F(ChatSessionTest, InterruptStopsBetweenCallsAndKeepsTheAnswer) {
  ScriptedEngine engine(4096);
  engine.answers = {answer("one two three four five six seven eight nine ten"), answer("Ok.")};
  std::atomic<bool> interrupt{false};
  engine.after_call = [&](size_t calls) {
    if (calls == 2) interrupt = true;
  };
  SessionOptions options;
  options.tokens_per_call = 2;
  ChatSession s = session(engine, options);
  ASSERT_TRUE(s.send("Count", &interrupt));
  EXPECT_EQ(engine.calls.size(), 2u);
  // The prefill call gave "one", the next call " two three"; then the flag was seen.
  EXPECT_EQ(output_.answer, "one two three");
  EXPECT_EQ(s.messages()[1]["content"], "one two three");
  EXPECT_EQ(output_.notices.back(), "(stopped)");
  interrupt = false;
  ASSERT_TRUE(s.send("Again", &interrupt));
  EXPECT_EQ(s.messages()[3]["content"], "Ok.");
}

TEST_F(ChatSessionTest, AFullContextIsAnnounced) {
  const auto prompt = render({{{"role", "user"}, {"content", "Hi"}}}, false);
  const auto context = static_cast<int64_t>(prompt.size()) + 4;
  ScriptedEngine engine(context);
  engine.answers = {answer("a b c d e f g h i j k l")};
  ChatSession s = session(engine);
  ASSERT_TRUE(s.send("Hi"));
  EXPECT_EQ(s.context_used(), context);
  EXPECT_EQ(output_.notices.back(),
            fmt::format("context full: {0}/{0} tokens; use clear", context));
  EXPECT_EQ(s.last_stats().generated, 5);  // cs - prompt + 1
  // The next message cannot fit: an error, and the conversation stays as it was.
  EXPECT_FALSE(s.send("More"));
  ASSERT_EQ(output_.errors.size(), 1u);
  EXPECT_THAT(output_.errors[0], HasSubstr("the context holds"));
  EXPECT_THAT(output_.errors[0], HasSubstr("the conversation is kept"));
  EXPECT_EQ(s.messages().size(), 2u);
  s.clear();
  EXPECT_EQ(s.context_used(), 0);
  EXPECT_TRUE(s.messages().empty());
}

TEST_F(ChatSessionTest, APromptLongerThanTheContextIsRefused) {
  ScriptedEngine engine(8);
  ChatSession s = session(engine);
  EXPECT_FALSE(s.send("Hi"));
  EXPECT_TRUE(engine.calls.empty());
  EXPECT_TRUE(s.messages().empty());
  ASSERT_EQ(output_.errors.size(), 1u);
  EXPECT_THAT(output_.errors[0], HasSubstr("context holds 8"));
}

TEST_F(ChatSessionTest, ATemplateFailureKeepsTheConversation) {
  ScriptedEngine engine(4096);
  engine.answers = {answer("Fine.")};
  const ChatTemplate failing(
      "{% if messages|length > 2 %}{{ raise_exception('too long a chat') }}{% endif %}"
      "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
      "<|im_start|>assistant\n");
  ChatSession s(engine, *tokenizer_, failing, *model_template_, {}, output_);
  ASSERT_TRUE(s.send("One"));
  EXPECT_FALSE(s.send("Two"));
  ASSERT_EQ(output_.errors.size(), 1u);
  EXPECT_THAT(output_.errors[0], HasSubstr("too long a chat"));
  EXPECT_EQ(s.messages().size(), 2u);
}

TEST_F(ChatSessionTest, AnEngineFailureIsReportedAndTheCacheForgotten) {
  ScriptedEngine engine(4096);
  engine.answers = {};  // gen finds no answer: the engine "fails"
  ChatSession s = session(engine);
  EXPECT_FALSE(s.send("Hi"));
  ASSERT_EQ(output_.errors.size(), 1u);
  EXPECT_THAT(output_.errors[0], HasSubstr("generation failed"));
  EXPECT_EQ(s.context_used(), 0);
  EXPECT_TRUE(s.messages().empty());
}

}  // namespace
}  // namespace hh::chat
