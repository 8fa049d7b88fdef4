#pragma once
// A ChatEngine whose model output is a script: each round of the session gets the next answer's
// tokens, handed out with gen's rules (at most max_new_tokens per call, eos included and last,
// no more than the cache can take). It keeps the tokens the real cache would hold, so tests can
// check what the session prefilled and reused.
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "chat/chat_engine.h"
#include "server/client.h"
#include "util/error.h"

namespace hh::chat::testing {

class ScriptedEngine : public ChatEngine {
 public:
  struct Call {
    int64_t xsat;
    std::vector<int64_t> xs;
    int64_t max_new_tokens;
  };

  explicit ScriptedEngine(int64_t context) : context_(context) {}

  // Answers, one per model round, in order.
  std::vector<std::vector<int64_t>> answers;
  std::vector<std::string> entry_point_names = {"load", "gen",
                                                "tool_sumN1_sum_of_first_n_integers"};
  // Runs after every gen call (to press Ctrl-C, say).
  std::function<void(size_t calls)> after_call;
  std::vector<Call> calls;
  std::vector<std::pair<std::string, int64_t>> tool_calls;
  std::vector<std::vector<int64_t>> prompts;  // cache prefix + xs at each round's first call
  std::vector<int64_t> cache;                 // tokens at positions 0.. of the cache

  int64_t context() const override { return context_; }

  GenChunk gen(int64_t xsat, std::span<const int64_t> xs, int64_t eos_token_id,
               int64_t max_new_tokens) override {
    if (xsat > static_cast<int64_t>(cache.size())) {
      fail_usage("scripted gen: xsat {} claims more than the {} cached tokens", xsat, cache.size());
    }
    if (xsat + static_cast<int64_t>(xs.size()) > context_) fail_usage("scripted gen: too long");
    // The session prefills each round with a one-token call: a round left unfinished (stopped,
    // context full) gives way to the next answer.
    if (max_new_tokens == 1 && at_ != 0) {
      ++answer_;
      at_ = 0;
    }
    calls.push_back({xsat, std::vector<int64_t>(xs.begin(), xs.end()), max_new_tokens});
    cache.resize(static_cast<size_t>(xsat));
    cache.insert(cache.end(), xs.begin(), xs.end());
    if (at_ == 0) prompts.push_back(cache);
    GenChunk chunk;
    chunk.runtime_us = 100;
    if (answer_ >= answers.size()) fail_usage("scripted gen: no answer left in the script");
    const auto& answer = answers[answer_];
    const int64_t room = context_ - static_cast<int64_t>(cache.size()) + 1;
    while (static_cast<int64_t>(chunk.tokens.size()) < std::min(max_new_tokens, room) &&
           at_ < answer.size()) {
      const int64_t t = answer[at_++];
      chunk.tokens.push_back(t);
      if (t == eos_token_id) break;
    }
    for (size_t i = 0; i + 1 < chunk.tokens.size(); ++i) cache.push_back(chunk.tokens[i]);
    if (at_ == answer.size() || (!chunk.tokens.empty() && chunk.tokens.back() == eos_token_id)) {
      ++answer_;
      at_ = 0;
    }
    if (after_call) after_call(calls.size());
    return chunk;
  }
  std::vector<std::string> entry_points() override { return entry_point_names; }
  int64_t call_tool(const std::string& entry_point, int64_t n) override {
    tool_calls.emplace_back(entry_point, n);
    if (n < 0) throw ServerFailure("call " + entry_point, "n must not be negative");
    return n * (n + 1) / 2;
  }
  std::string report() override { return R"({"memory": {}, "events": []})"; }

 private:
  int64_t context_;
  size_t answer_ = 0;
  size_t at_ = 0;
};

}  // namespace hh::chat::testing
