#pragma once
// One conversation with a model: the message history, the chat template, the tokenizer and the
// engine's KV cache, reused across turns. Each round renders the whole conversation, keeps the
// longest prefix it shares with the tokens already in the cache (a drift, such as earlier
// thinking the template drops, only shortens it), prefills the rest and streams the answer a few
// tokens per `gen` call. Thinking (between <think> and </think>) is streamed apart and kept out
// of the answer's content; with tools on, the answer's tool calls are run and the model goes on.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_engine.h"
#include "chat/tool_call.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace hh::chat {

enum class TextKind { Thinking, Answer };

// Where a session's output goes (the terminal, or a test's recorder).
class ChatOutput {
 public:
  virtual ~ChatOutput() = default;
  // A piece of streamed model text (always whole UTF-8 characters).
  virtual void text(TextKind kind, std::string_view text) = 0;
  // The model's answer (one round) ended.
  virtual void end_of_answer() = 0;
  // A line of information: statistics, tool results, a full context.
  virtual void notice(std::string_view line) = 0;
  // Something went wrong; the conversation is kept.
  virtual void error(std::string_view line) = 0;
};

struct SessionOptions {
  int64_t tokens_per_call = 16;  // --cnt: max_new_tokens of each gen call
  bool thinking = false;         // enable_thinking
  bool tools = false;            // offer the tool_* entry points
  std::string system;            // system message; empty: none
  int max_tool_rounds = 8;       // model rounds per user message, tool calls included
};

// How one model round went.
struct RoundStats {
  int64_t reused = 0;          // prompt tokens whose K/V was already in the cache
  int64_t prompt_tokens = 0;   // tokens of the rendered conversation
  int64_t prompt_us = 0;       // engine time of the prefill call
  int64_t generated = 0;       // tokens the model produced, the stop token included
  int64_t decode_us = 0;       // engine time of the later gen calls
  int64_t decode_tokens = 0;   // tokens those calls produced
  int64_t decode_wall_us = 0;  // wall clock of those calls with everything the chat does around
  double first_token_ms = 0;   // wall clock from the start of the round to the first token
};

enum class RoundEnd { Finished, Interrupted, ContextFull, Failed };

class ChatSession {
 public:
  // Finds <|im_end|>, <think> and </think> in the tokenizer; with options.tools, asks the
  // engine for its entry points.
  ChatSession(ChatEngine& engine, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
              const ModelChatTemplate& model_template, SessionOptions options, ChatOutput& output);

  // Adds a user message and lets the model answer (tool rounds included). `interrupt`, when set
  // and true between two gen calls, stops the answer and keeps what it had. Returns false when
  // the message could not be answered at all (the conversation is then as before).
  bool send(std::string_view user_text, const std::atomic<bool>* interrupt = nullptr);
  // Forgets the conversation and what the cache holds.
  void clear();

  void set_thinking(bool on) { options_.thinking = on; }
  bool thinking() const { return options_.thinking; }
  // Tokens of the conversation in the KV cache, and the cache's size.
  int64_t context_used() const { return static_cast<int64_t>(cached_.size()); }
  int64_t context() const { return engine_.context(); }
  const nlohmann::ordered_json& messages() const { return messages_; }
  const std::vector<ToolSpec>& tools() const { return tools_; }
  const RoundStats& last_stats() const { return stats_; }

 private:
  struct Round {
    RoundEnd end = RoundEnd::Failed;
    std::string answer;
    std::string thinking;
  };
  Round run_round(const std::atomic<bool>* interrupt);
  // Displays and records generated tokens; returns true at a stop token (at index *stop_at).
  bool take_tokens(const std::vector<int64_t>& tokens, Round& round, size_t* stop_at);
  void add_assistant(const Round& round, bool run_tools, bool* called_tools);

  ChatEngine& engine_;
  const Tokenizer& tokenizer_;
  const ChatTemplate& template_;
  ModelChatTemplate model_template_;
  SessionOptions options_;
  ChatOutput& output_;
  std::vector<ToolSpec> tools_;
  nlohmann::ordered_json messages_ = nlohmann::ordered_json::array();
  std::vector<int64_t> cached_;  // tokens at positions 0.. of the cache
  int64_t end_of_turn_ = -1;     // <|im_end|>: gen's eos_token_id
  std::optional<int64_t> end_of_text_;
  std::optional<int64_t> think_open_;
  std::optional<int64_t> think_close_;
  TextKind kind_ = TextKind::Answer;
  std::optional<TokenStreamDecoder> decoder_;
  RoundStats stats_;
};

// "[cache reuse R/P tokens | prompt T tokens, X t/s | generated N tokens, Y t/s (wall W t/s) |
// first token Z ms]": X and Y from the engine's own call times (the protocol's `runtime:`), W
// from the wall clock of the decoding calls with all the chat's own work around them.
std::string format_stats(const RoundStats& stats);

}  // namespace hh::chat
