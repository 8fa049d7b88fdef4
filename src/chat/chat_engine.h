#pragma once
// What a chat session needs from the engine, as a small interface so tests can script the
// model's output: generation steps on a KV cache the engine keeps, the tool entry points, and
// the profiling report. ProtocolChatEngine implements it with the protocol's entry points
// (`load`, `init`, `gen`, `tool_*`) through an EngineLink.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "chat/engine_link.h"

namespace hh::chat {

struct GenChunk {
  std::vector<int64_t> tokens;
  int64_t runtime_us = 0;  // the engine's own time for the call
};

class ChatEngine {
 public:
  virtual ~ChatEngine() = default;
  // Context size cs of the cache.
  virtual int64_t context() const = 0;
  // `gen` semantics (DESIGN.md): runs xs at positions xsat.., then decodes; at most
  // max_new_tokens, stopping after eos_token_id. The last token returned is not in the cache.
  virtual GenChunk gen(int64_t xsat, std::span<const int64_t> xs, int64_t eos_token_id,
                       int64_t max_new_tokens) = 0;
  // Entry point names, for the tools on offer.
  virtual std::vector<std::string> entry_points() = 0;
  // Calls a tool entry point (i64 -> i64). Throws ServerFailure when the engine refuses.
  virtual int64_t call_tool(const std::string& entry_point, int64_t n) = 0;
  // The protocol's `report` (a JSON object).
  virtual std::string report() = 0;
};

struct ProtocolEngineOptions {
  std::string model_path;                    // what `load` gets
  int64_t context = 4096;                    // cs asked for; the model's maximum caps it
  std::optional<int64_t> model_max_context;  // from the model's metadata, when known
  // Store the inputs of this gen call (1-based) to capture_file before running it.
  int64_t capture_call = 0;
  std::string capture_file = "capture.in";
  // Told where a capture went (and anything else worth a line).
  std::function<void(const std::string&)> notice;
};

class ProtocolChatEngine final : public ChatEngine {
 public:
  // Loads the model (`call load`), reads b, kvh and dh from the shapes of the Params fields
  // attn_k_norm ([b][dh]) and attn_k ([b][kvh*dh][d]) with `project` + `shape`, and makes the
  // cache with `call init`.
  ProtocolChatEngine(std::unique_ptr<EngineLink> link, ProtocolEngineOptions options);
  int64_t context() const override { return context_; }
  GenChunk gen(int64_t xsat, std::span<const int64_t> xs, int64_t eos_token_id,
               int64_t max_new_tokens) override;
  std::vector<std::string> entry_points() override { return link_->entry_points(); }
  int64_t call_tool(const std::string& entry_point, int64_t n) override;
  std::string report() override { return link_->report(); }
  EngineLink& link() { return *link_; }
  int64_t gen_calls() const { return gen_calls_; }

 private:
  std::unique_ptr<EngineLink> link_;
  ProtocolEngineOptions options_;
  int64_t context_ = 0;
  int64_t gen_calls_ = 0;
};

// The context length the model was trained for, from a GGUF file's ARCH.context_length or a
// model folder's config.json max_position_embeddings; nullopt when the file does not say.
std::optional<int64_t> model_max_context(const std::string& model_path);

}  // namespace hh::chat
