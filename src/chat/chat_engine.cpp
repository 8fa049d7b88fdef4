#include "chat/chat_engine.h"

#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "model/gguf.h"
#include "server/client.h"
#include "util/json_file.h"

namespace hh::chat {

namespace {

// Variables this client keeps in the server; prefixed so that a shared server stays readable.
constexpr const char* kParams = "chat_params";
constexpr const char* kCache = "chat_cache";

}  // namespace

std::optional<int64_t> model_max_context(const std::string& model_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(model_path, ec)) {
    const nlohmann::json config = read_json_file((fs::path(model_path) / "config.json").string());
    if (!config.is_object()) return std::nullopt;
    const auto it = config.find("max_position_embeddings");
    if (it == config.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
  }
  const GgufFile gguf = GgufFile::open(model_path);
  const GgufValue* arch = gguf.find("general.architecture");
  if (!arch || arch->type != GgufType::String) return std::nullopt;
  const std::string key = arch->string_value + ".context_length";
  const GgufValue* length = gguf.find(key);
  if (!length) return std::nullopt;
  return length->as_int(key);
}

ProtocolChatEngine::ProtocolChatEngine(std::unique_ptr<EngineLink> link,
                                       ProtocolEngineOptions options)
    : link_(std::move(link)), options_(std::move(options)) {
  EngineLink& s = *link_;
  Array path = Array::allocate(ElemType::U8, {static_cast<int64_t>(options_.model_path.size())});
  std::memcpy(path.raw(), options_.model_path.data(), options_.model_path.size());
  s.put_array("chat_path", path);
  try {
    s.call("load", kParams, {"chat_path"});
  } catch (...) {
    s.free({"chat_path"});
    throw;
  }
  s.free({"chat_path"});

  s.project("chat_k_norm", kParams, "attn_k_norm");
  const std::vector<int64_t> k_norm = s.shape("chat_k_norm");
  s.free({"chat_k_norm"});
  s.project("chat_k", kParams, "attn_k");
  const std::vector<int64_t> k = s.shape("chat_k");
  s.free({"chat_k"});
  if (k_norm.size() != 2 || k.size() != 3 || k_norm[1] <= 0 || k[1] % k_norm[1] != 0) {
    fail_format("{}: unexpected Params shapes: attn_k_norm has {} dims, attn_k {}", s.description(),
                k_norm.size(), k.size());
  }
  const int64_t layers = k_norm[0], head_dim = k_norm[1], kv_heads = k[1] / head_dim;
  if (options_.context <= 0) fail_usage("--ctx must be positive, got {}", options_.context);
  context_ = options_.context;
  if (options_.model_max_context && *options_.model_max_context > 0) {
    context_ = std::min(context_, *options_.model_max_context);
  }
  s.put_i64("chat_b", layers);
  s.put_i64("chat_kvh", kv_heads);
  s.put_i64("chat_cs", context_);
  s.put_i64("chat_dh", head_dim);
  s.call("init", kCache, {"chat_b", "chat_kvh", "chat_cs", "chat_dh"});
}

GenChunk ProtocolChatEngine::gen(int64_t xsat, std::span<const int64_t> xs, int64_t eos_token_id,
                                 int64_t max_new_tokens) {
  EngineLink& s = *link_;
  const std::vector<std::string> inputs = {"chat_xsat", "chat_xs", "chat_eos", "chat_max_new"};
  s.put_i64("chat_xsat", xsat);
  s.put_tokens("chat_xs", xs);
  s.put_i64("chat_eos", eos_token_id);
  s.put_i64("chat_max_new", max_new_tokens);
  ++gen_calls_;
  GenChunk chunk;
  try {
    if (gen_calls_ == options_.capture_call) {
      // Before the call: it consumes the cache.
      s.store(options_.capture_file,
              {"chat_xsat", "chat_xs", kParams, kCache, "chat_eos", "chat_max_new"});
      if (options_.notice) {
        options_.notice(fmt::format("captured the inputs of gen call {} to {}", gen_calls_,
                                    options_.capture_file));
      }
    }
    chunk.runtime_us = s.call("gen", "chat_out",
                              {"chat_xsat", "chat_xs", kParams, kCache, "chat_eos", "chat_max_new"})
                           .runtime_us;
  } catch (...) {
    s.free(inputs);
    // A call that reached the engine consumed the cache; make a fresh one either way so the
    // session can go on (it forgets what the cache held).
    try {
      s.free({kCache});
    } catch (const ServerFailure&) {
    }
    s.call("init", kCache, {"chat_b", "chat_kvh", "chat_cs", "chat_dh"});
    throw;
  }
  s.free(inputs);
  s.project("chat_toks", "chat_out", "0");
  s.project("chat_cache_next", "chat_out", "1");
  // Dropping the tuple and the consumed input leaves the new cache the only owner of its
  // memory, so the next call updates it in place instead of copying it.
  s.free({"chat_out", kCache});
  s.rename("chat_cache_next", kCache);
  chunk.tokens = s.get_tokens("chat_toks");
  s.free({"chat_toks"});
  return chunk;
}

int64_t ProtocolChatEngine::call_tool(const std::string& entry_point, int64_t n) {
  EngineLink& s = *link_;
  s.put_i64("chat_tool_n", n);
  try {
    s.call(entry_point, "chat_tool_result", {"chat_tool_n"});
  } catch (...) {
    s.free({"chat_tool_n"});
    throw;
  }
  s.free({"chat_tool_n"});
  const int64_t result = s.get_i64("chat_tool_result");
  s.free({"chat_tool_result"});
  return result;
}

}  // namespace hh::chat
