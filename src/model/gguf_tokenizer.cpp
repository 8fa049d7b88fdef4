#include "model/gguf_tokenizer.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "util/error.h"
#include "util/json_file.h"

namespace hh {
namespace {

// llama.cpp's token types.
constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;

// The converter's heuristic for added tokens not flagged special.
bool looks_special(const std::string& t) {
  auto wrapped = [&](std::string_view open, std::string_view close) {
    return t.size() >= open.size() + close.size() && t.starts_with(open) && t.ends_with(close);
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
         wrapped("<\uff5c", "\uff5c>") || wrapped("<unused", ">");
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

int64_t token_id(const nlohmann::json& id, const std::string& path, const std::string& token) {
  if (!id.is_number_integer() || id.get<int64_t>() < 0) {
    fail_format("{}: token '{}' has id {}, expected a non-negative integer", path, token,
                id.dump());
  }
  return id.get<int64_t>();
}

}  // namespace

std::vector<std::pair<std::string, GgufValue>> gguf_tokenizer_metadata(
    const std::string& tokenizer_json, int64_t vocab_size) {
  const nlohmann::json tj = read_json_file(tokenizer_json);
  if (!tj.is_object() || !tj.contains("model") || !tj["model"].is_object()) {
    fail_format("{}: no 'model' object", tokenizer_json);
  }
  const auto& model = tj["model"];
  if (model.value("type", "") != "BPE") {
    fail_format("{}: model type {} is not BPE", tokenizer_json,
                model.value("type", nlohmann::json()).dump());
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    fail_format("{}: model has no 'vocab' object", tokenizer_json);
  }

  std::vector<std::optional<std::string>> tokens(static_cast<size_t>(vocab_size));
  std::vector<int32_t> types(static_cast<size_t>(vocab_size), kUnused);
  auto place = [&](int64_t id, std::string text, int32_t type) {
    if (id >= vocab_size) {
      fail_usage("{}: token id {} ('{}') does not fit a vocabulary of {}", tokenizer_json, id, text,
                 vocab_size);
    }
    auto& slot = tokens[static_cast<size_t>(id)];
    if (slot && *slot != text) {
      fail_format("{}: id {} is both '{}' and '{}'", tokenizer_json, id, *slot, text);
    }
    slot = std::move(text);
    types[static_cast<size_t>(id)] = type;
  };
  for (const auto& [text, id] : model["vocab"].items()) {
    place(token_id(id, tokenizer_json, text), text, kNormal);
  }

  std::map<std::string, int64_t> added_ids;  // content -> id, for the special-token lookup
  std::map<int64_t, std::string> added_by_id;
  if (tj.contains("added_tokens")) {
    if (!tj["added_tokens"].is_array()) {
      fail_format("{}: 'added_tokens' is not an array", tokenizer_json);
    }
    for (const auto& a : tj["added_tokens"]) {
      if (!a.is_object() || !a.contains("content") || !a["content"].is_string() ||
          !a.contains("id")) {
        fail_format("{}: an added token lacks 'content' or 'id': {}", tokenizer_json, a.dump());
      }
      std::string text = a["content"].get<std::string>();
      const int64_t id = token_id(a["id"], tokenizer_json, text);
      if (id >= vocab_size) {
        fail_usage("{}: token id {} ('{}') does not fit a vocabulary of {}", tokenizer_json, id,
                   text, vocab_size);
      }
      auto& slot = tokens[static_cast<size_t>(id)];
      const auto [previous, fresh] = added_by_id.try_emplace(id, text);
      if ((!fresh && previous->second != text) || (fresh && slot && *slot != text)) {
        fail_format("{}: added token '{}' clashes with '{}' at id {}", tokenizer_json, text,
                    fresh ? *slot : previous->second, id);
      }
      added_ids[text] = id;
      const bool special = a.value("special", false) || looks_special(text);
      // As the converter's decode step does for user-defined tokens.
      if (!special) replace_all(text, "\u2581", " ");
      slot = std::move(text);
      types[static_cast<size_t>(id)] = special ? kControl : kUserDefined;
    }
  }

  std::vector<std::string> token_list;
  token_list.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    token_list.push_back(tokens[i] ? std::move(*tokens[i]) : fmt::format("[PAD{}]", i));
  }

  // Merges come as "a b" strings or, in newer files, as [a, b] pairs.
  std::vector<std::string> merges;
  if (model.contains("merges")) {
    if (!model["merges"].is_array()) fail_format("{}: 'merges' is not an array", tokenizer_json);
    merges.reserve(model["merges"].size());
    for (const auto& m : model["merges"]) {
      if (m.is_string()) {
        merges.push_back(m.get<std::string>());
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        std::string a = m[0].get<std::string>(), b = m[1].get<std::string>();
        // A space inside a part would split the pair when read back: byte-level BPE writes it
        // as U+0120.
        replace_all(a, " ", "\u0120");
        replace_all(b, " ", "\u0120");
        merges.push_back(a + " " + b);
      } else {
        fail_format("{}: bad merge entry {}", tokenizer_json, m.dump());
      }
    }
  }

  nlohmann::json config = nlohmann::json::object();
  const auto config_path =
      std::filesystem::path(tokenizer_json).parent_path() / "tokenizer_config.json";
  if (std::filesystem::is_regular_file(config_path)) {
    config = read_json_file(config_path.string());
    if (!config.is_object()) fail_format("{}: expected a JSON object", config_path.string());
  }

  std::vector<std::pair<std::string, GgufValue>> out;
  out.emplace_back("tokenizer.ggml.model", gguf_string("gpt2"));
  out.emplace_back("tokenizer.ggml.pre", gguf_string("qwen2"));
  out.emplace_back("tokenizer.ggml.tokens", gguf_string_array(std::move(token_list)));
  out.emplace_back("tokenizer.ggml.token_type", gguf_i32_array(std::move(types)));
  out.emplace_back("tokenizer.ggml.merges", gguf_string_array(std::move(merges)));

  const std::pair<const char*, const char*> specials[] = {
      {"bos_token", "tokenizer.ggml.bos_token_id"},
      {"eos_token", "tokenizer.ggml.eos_token_id"},
      {"unk_token", "tokenizer.ggml.unknown_token_id"},
      {"sep_token", "tokenizer.ggml.seperator_token_id"},  // llama.cpp's spelling
      {"pad_token", "tokenizer.ggml.padding_token_id"},
      {"cls_token", "tokenizer.ggml.cls_token_id"},
      {"mask_token", "tokenizer.ggml.mask_token_id"},
  };
  for (const auto& [entry, key] : specials) {
    nlohmann::json v = config.value(entry, nlohmann::json());
    if (v.is_object()) v = v.value("content", nlohmann::json());
    std::optional<int64_t> id;
    if (v.is_string()) {
      auto it = added_ids.find(v.get<std::string>());
      if (it != added_ids.end()) id = it->second;
    }
    // Qwen3 has no bos_token; its config.json names <|endoftext|>, which llama.cpp then uses.
    if (!id && std::string_view(entry) == "bos_token") {
      auto it = added_ids.find("<|endoftext|>");
      if (it != added_ids.end()) id = it->second;
    }
    if (id) out.emplace_back(key, gguf_u32(static_cast<uint32_t>(*id)));
  }
  const auto add_bos = config.value("add_bos_token", nlohmann::json());
  out.emplace_back("tokenizer.ggml.add_bos_token",
                   gguf_bool(add_bos.is_boolean() && add_bos.get<bool>()));
  if (const auto add_eos = config.value("add_eos_token", nlohmann::json()); add_eos.is_boolean()) {
    out.emplace_back("tokenizer.ggml.add_eos_token", gguf_bool(add_eos.get<bool>()));
  }
  if (const auto tmpl = config.value("chat_template", nlohmann::json()); tmpl.is_string()) {
    out.emplace_back("tokenizer.chat_template", gguf_string(tmpl.get<std::string>()));
  }
  return out;
}

}  // namespace hh
