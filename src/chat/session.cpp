#include "chat/session.h"

#include <algorithm>

#include "server/client.h"

namespace hh::chat {

namespace {

using Clock = std::chrono::steady_clock;

std::optional<int64_t> token_id(const Tokenizer& tokenizer, std::string_view text) {
  const auto id = tokenizer.find(text);
  if (!id) return std::nullopt;
  return *id;
}

double rate(int64_t tokens, int64_t us) {
  return us > 0 ? static_cast<double>(tokens) * 1e6 / static_cast<double>(us) : 0.0;
}

}  // namespace

std::string format_stats(const RoundStats& s) {
  std::string line = fmt::format("[cache reuse {}/{} tokens | prompt {} tokens, {:.1f} t/s",
                                 s.reused, s.prompt_tokens, s.prompt_tokens - s.reused,
                                 rate(s.prompt_tokens - s.reused, s.prompt_us));
  line += fmt::format(" | generated {} tokens", s.generated);
  if (s.decode_tokens > 0) {
    line += fmt::format(", {:.2f} t/s (wall {:.2f} t/s)", rate(s.decode_tokens, s.decode_us),
                        rate(s.decode_tokens, s.decode_wall_us));
  }
  line += fmt::format(" | first token {:.0f} ms]", s.first_token_ms);
  return line;
}

ChatSession::ChatSession(ChatEngine& engine, const Tokenizer& tokenizer,
                         const ChatTemplate& chat_template, const ModelChatTemplate& model_template,
                         SessionOptions options, ChatOutput& output)
    : engine_(engine),
      tokenizer_(tokenizer),
      template_(chat_template),
      model_template_(model_template),
      options_(std::move(options)),
      output_(output) {
  const auto im_end = token_id(tokenizer, "<|im_end|>");
  if (im_end) {
    end_of_turn_ = *im_end;
  } else if (tokenizer.eos_id()) {
    end_of_turn_ = *tokenizer.eos_id();
  } else {
    fail_format("{}: the tokenizer has neither <|im_end|> nor an eos token", tokenizer.source());
  }
  end_of_text_ = token_id(tokenizer, "<|endoftext|>");
  if (tokenizer.eos_id() && *tokenizer.eos_id() != end_of_turn_) end_of_text_ = *tokenizer.eos_id();
  think_open_ = token_id(tokenizer, "<think>");
  think_close_ = token_id(tokenizer, "</think>");
  if (options_.tokens_per_call <= 0) {
    fail_usage("--cnt must be positive, got {}", options_.tokens_per_call);
  }
  if (options_.tools) tools_ = tools_from_entry_points(engine_.entry_points());
}

void ChatSession::clear() {
  messages_ = nlohmann::ordered_json::array();
  cached_.clear();
}

bool ChatSession::send(std::string_view user_text, const std::atomic<bool>* interrupt) {
  const size_t before = messages_.size();
  messages_.push_back({{"role", "user"}, {"content", std::string(user_text)}});
  for (int round_index = 0; round_index < options_.max_tool_rounds; ++round_index) {
    const Round round = run_round(interrupt);
    if (round.end == RoundEnd::Failed) {
      if (round_index == 0) messages_.erase(before);
      return round_index > 0;
    }
    bool called_tools = false;
    add_assistant(round, options_.tools && round.end == RoundEnd::Finished, &called_tools);
    if (!called_tools) return true;
  }
  output_.notice(
      fmt::format("stopped after {} model rounds with tool calls", options_.max_tool_rounds));
  return true;
}

ChatSession::Round ChatSession::run_round(const std::atomic<bool>* interrupt) {
  Round round;
  stats_ = RoundStats{};
  const auto start = Clock::now();

  // Render the whole conversation first: the new prompt's tokens decide what the cache keeps.
  ChatInputs inputs;
  inputs.messages = messages_;
  if (!options_.system.empty()) {
    inputs.messages.insert(inputs.messages.begin(),
                           {{"role", "system"}, {"content", options_.system}});
  }
  if (!tools_.empty()) inputs.tools = tool_schemas(tools_);
  inputs.enable_thinking = options_.thinking;
  inputs.bos_token = model_template_.bos_token;
  inputs.eos_token = model_template_.eos_token;
  std::vector<int64_t> prompt;
  try {
    const std::string text = template_.render(inputs);
    std::vector<TokenId> ids = tokenizer_.encode(text, /*parse_special=*/true);
    prompt.assign(ids.begin(), ids.end());
  } catch (const Error& e) {
    output_.error(fmt::format("the chat template failed: {}", e.what()));
    return round;
  }
  const auto prompt_size = static_cast<int64_t>(prompt.size());
  if (prompt_size == 0) {
    output_.error("the chat template rendered nothing");
    return round;
  }
  if (prompt_size > engine_.context()) {
    output_.error(fmt::format(
        "the prompt has {} tokens but the context holds {} (--ctx); the message was not sent, "
        "the conversation is kept (use clear to start over)",
        prompt_size, engine_.context()));
    return round;
  }

  // Reuse the cached prefix; at least one token must be run to get the next one.
  const auto mismatch = std::mismatch(prompt.begin(), prompt.end(), cached_.begin(), cached_.end());
  int64_t reused = mismatch.first - prompt.begin();
  if (reused == prompt_size) --reused;
  cached_.resize(static_cast<size_t>(reused));
  stats_.reused = reused;
  stats_.prompt_tokens = prompt_size;

  kind_ = TextKind::Answer;
  decoder_.emplace(tokenizer_, /*skip_special=*/true);
  std::vector<int64_t> xs(prompt.begin() + reused, prompt.end());
  bool first_call = true;
  Clock::time_point decode_start;
  while (true) {
    // Prefill alone first (one new token), so the prompt's time is measured on its own.
    const int64_t max_new = first_call ? 1 : options_.tokens_per_call;
    GenChunk chunk;
    try {
      chunk = engine_.gen(static_cast<int64_t>(cached_.size()), xs, end_of_turn_, max_new);
    } catch (const Error& e) {
      cached_.clear();  // the engine's cache is fresh after a failed call
      output_.error(fmt::format("generation failed: {}", e.what()));
      round.end = stats_.generated > 0 ? RoundEnd::Interrupted : RoundEnd::Failed;
      break;
    }
    if (first_call) {
      stats_.prompt_us = chunk.runtime_us;
      stats_.first_token_ms =
          std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    } else {
      stats_.decode_us += chunk.runtime_us;
      stats_.decode_tokens += static_cast<int64_t>(chunk.tokens.size());
    }
    if (first_call) decode_start = Clock::now();
    first_call = false;
    size_t stop_at = chunk.tokens.size();
    const bool stopped = take_tokens(chunk.tokens, round, &stop_at);
    // What the call put in the cache: xs, then every returned token but the last.
    cached_.insert(cached_.end(), xs.begin(), xs.end());
    const size_t kept = std::min(stop_at, chunk.tokens.empty() ? 0 : chunk.tokens.size() - 1);
    cached_.insert(cached_.end(), chunk.tokens.begin(), chunk.tokens.begin() + kept);
    if (stopped) {
      round.end = RoundEnd::Finished;
      break;
    }
    if (chunk.tokens.empty() || static_cast<int64_t>(cached_.size()) >= engine_.context()) {
      round.end = RoundEnd::ContextFull;
      break;
    }
    if (interrupt && interrupt->load()) {
      round.end = RoundEnd::Interrupted;
      break;
    }
    xs.assign(1, chunk.tokens.back());
  }
  if (stats_.decode_tokens > 0) {
    stats_.decode_wall_us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - decode_start).count();
  }
  const std::string rest = decoder_->flush();
  if (!rest.empty()) {
    output_.text(kind_, rest);
    (kind_ == TextKind::Thinking ? round.thinking : round.answer) += rest;
  }
  output_.end_of_answer();
  if (round.end == RoundEnd::Failed) return round;
  output_.notice(format_stats(stats_));
  if (round.end == RoundEnd::Interrupted && interrupt && interrupt->load()) {
    output_.notice("(stopped)");
  }
  if (round.end == RoundEnd::ContextFull) {
    output_.notice(
        fmt::format("context full: {}/{} tokens; use clear", engine_.context(), engine_.context()));
  }
  return round;
}

bool ChatSession::take_tokens(const std::vector<int64_t>& tokens, Round& round, size_t* stop_at) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int64_t id = tokens[i];
    ++stats_.generated;
    if (id == end_of_turn_ || (end_of_text_ && id == *end_of_text_)) {
      *stop_at = i;
      return true;
    }
    const bool opens = think_open_ && id == *think_open_;
    const bool closes = think_close_ && id == *think_close_;
    std::string piece;
    if (opens || closes) {
      piece = decoder_->flush();
    } else if (id >= 0 && static_cast<size_t>(id) < tokenizer_.vocab_size()) {
      piece = decoder_->feed(static_cast<TokenId>(id));
    } else {
      piece = "\xEF\xBF\xBD";  // not in the vocabulary: U+FFFD, as the decoder shows bad bytes
    }
    if (!piece.empty()) {
      output_.text(kind_, piece);
      (kind_ == TextKind::Thinking ? round.thinking : round.answer) += piece;
    }
    if (opens) kind_ = TextKind::Thinking;
    if (closes) kind_ = TextKind::Answer;
  }
  return false;
}

void ChatSession::add_assistant(const Round& round, bool run_tools, bool* called_tools) {
  const auto trim_newlines = [](std::string s) {
    const size_t first = s.find_first_not_of('\n');
    if (first == std::string::npos) return std::string();
    s.erase(0, first);
    s.erase(s.find_last_not_of('\n') + 1);
    return s;
  };
  nlohmann::ordered_json message = {{"role", "assistant"},
                                    {"content", trim_newlines(round.answer)}};
  if (!round.thinking.empty()) message["reasoning_content"] = trim_newlines(round.thinking);
  *called_tools = false;
  if (!run_tools) {
    messages_.push_back(std::move(message));
    return;
  }
  const ParsedAnswer parsed = parse_tool_calls(round.answer);
  if (parsed.calls.empty()) {
    messages_.push_back(std::move(message));
    return;
  }
  *called_tools = true;
  bool all_ok = true;
  std::vector<nlohmann::ordered_json> results;
  auto tool_calls = nlohmann::ordered_json::array();
  for (const ToolCall& call : parsed.calls) {
    std::string result;
    std::string error = call.error;
    const ToolSpec* tool = nullptr;
    if (error.empty()) {
      for (const auto& t : tools_) {
        if (t.name == call.name) tool = &t;
      }
      if (!tool) error = fmt::format("there is no tool named \"{}\"", call.name);
    }
    if (error.empty()) {
      try {
        result = std::to_string(engine_.call_tool(tool->entry_point, *call.n));
        output_.notice(fmt::format("tool {}(n={}) = {}", call.name, *call.n, result));
      } catch (const ServerFailure& e) {
        error = e.server_message();
      }
    }
    if (!error.empty()) {
      all_ok = false;
      output_.error(fmt::format("tool call {}: {}", call.raw, error));
      result = "error: " + error;
    } else {
      tool_calls.push_back({{"type", "function"},
                            {"function", {{"name", call.name}, {"arguments", {{"n", *call.n}}}}}});
    }
    results.push_back({{"role", "tool"}, {"content", result}});
  }
  // Well-formed calls are stored as the template expects them; an answer with a bad call is kept
  // as written, so the model sees its own mistake next to the error.
  if (all_ok) {
    message["content"] = parsed.content;
    message["tool_calls"] = std::move(tool_calls);
  }
  messages_.push_back(std::move(message));
  for (auto& r : results) messages_.push_back(std::move(r));
}

}  // namespace hh::chat
