#include "hub/resolve.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "hub/hub_cache.h"

namespace fs = std::filesystem;

namespace hh {
namespace {

struct DefaultFile {
  const char* repo;
  const char* file;
};
// GGUF repositories hold one file per quantisation; these are the ones chosen without --hf-file.
constexpr DefaultFile kDefaultFiles[] = {
    {"ggml-org/Qwen3-0.6B-GGUF", "Qwen3-0.6B-f16.gguf"},
};

bool ends_with_ci(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  return std::equal(suffix.begin(), suffix.end(), s.end() - static_cast<long>(suffix.size()),
                    [](char a, char b) {
                      return std::tolower(static_cast<unsigned char>(a)) ==
                             std::tolower(static_cast<unsigned char>(b));
                    });
}

std::string pick_gguf_file(const std::string& repo, const HubOptions& options) {
  for (const auto& d : kDefaultFiles) {
    if (repo == d.repo) return d.file;
  }
  std::vector<std::string> ggufs;
  for (const std::string& f : hub_list_files(repo, options)) {
    if (ends_with_ci(f, ".gguf")) ggufs.push_back(f);
  }
  if (ggufs.size() == 1) return ggufs[0];
  if (ggufs.empty()) {
    if (options.offline) {
      throw HubOfflineError(fmt::format(
          "no GGUF file of {} is in the Hub cache ({}) and HF_HUB_OFFLINE is set: unset "
          "HF_HUB_OFFLINE to download one, or give a local model file or folder with -m",
          repo, options.cache_dir));
    }
    throw HubNotFoundError(fmt::format("{} holds no .gguf file", repo));
  }
  std::string list;
  for (const std::string& f : ggufs) list += "\n  " + f;
  fail_usage("{} holds {} GGUF files; choose one with --hf-file:{}", repo, ggufs.size(), list);
}

// The shard names of a model.safetensors.index.json (its weight_map values), each checked.
std::vector<std::string> index_shards(const std::string& index_path) {
  std::ifstream in(index_path, std::ios::binary);
  if (!in) fail_errno(fmt::format("cannot open {}", index_path));
  std::set<std::string> shards;
  try {
    const auto json = nlohmann::json::parse(in);
    for (const auto& [tensor, shard] : json.at("weight_map").items()) {
      shards.insert(shard.get<std::string>());
    }
  } catch (const nlohmann::json::exception& e) {
    fail_format("{}: not a safetensors index: {}", index_path, e.what());
  }
  if (shards.empty()) fail_format("{}: the weight_map is empty", index_path);
  for (const std::string& shard : shards) {
    try {
      validate_repo_file(shard);
    } catch (const UsageError& e) {
      fail_format("{}: weight_map names a bad shard: {}", index_path, e.what());
    }
  }
  return {shards.begin(), shards.end()};
}

ModelFiles download_safetensors(const std::string& repo, const HubOptions& options) {
  ModelFiles model;
  const HubFile config = hub_download_file(repo, "config.json", options);
  model.files.push_back(config.path);
  // Every other file comes from the commit of the first, even if the branch moves meanwhile.
  HubOptions pinned = options;
  pinned.revision = config.commit;
  for (const char* file : {"tokenizer.json", "tokenizer_config.json"}) {
    model.files.push_back(hub_download(repo, file, pinned));
  }
  try {
    model.files.push_back(hub_download(repo, "generation_config.json", pinned));
  } catch (const HubNotFoundError&) {
    // Optional: sampling defaults only.
  } catch (const HubOfflineError&) {
    if (!options.offline) throw;
  }
  try {
    model.files.push_back(hub_download(repo, "model.safetensors", pinned));
  } catch (const HubNotFoundError&) {
    std::string index;
    try {
      index = hub_download(repo, "model.safetensors.index.json", pinned);
    } catch (const HubNotFoundError&) {
      throw HubNotFoundError(fmt::format(
          "{} has neither model.safetensors nor model.safetensors.index.json (for a GGUF "
          "repository give the file with --hf-file)",
          repo));
    }
    model.files.push_back(index);
    for (const std::string& shard : index_shards(index)) {
      model.files.push_back(hub_download(repo, shard, pinned));
    }
  }
  model.path = fs::path(config.path).parent_path().string();
  return model;
}

}  // namespace

bool is_gguf_repo(const std::string& repo) { return ends_with_ci(repo, "-GGUF"); }

ModelFiles download_model(const std::string& repo, const std::string& hf_file,
                          const HubOptions& options) {
  validate_repo_id(repo);
  if (!hf_file.empty() || is_gguf_repo(repo)) {
    const std::string file = hf_file.empty() ? pick_gguf_file(repo, options) : hf_file;
    const std::string path = hub_download(repo, file, options);
    return {path, {path}};
  }
  return download_safetensors(repo, options);
}

std::string resolve_model_argument(const std::string& arg, const std::string& hf_file,
                                   const HubOptions& options) {
  if (arg.empty()) fail_usage("-m: the model argument is empty");
  std::error_code ec;
  if (fs::exists(arg, ec)) {
    if (!hf_file.empty()) {
      fail_usage("--hf-file {} applies to Hub repositories, but -m {} is a local path", hf_file,
                 arg);
    }
    return arg;
  }
  bool repo_like = true;
  try {
    validate_repo_id(arg);
  } catch (const UsageError&) {
    repo_like = false;
  }
  if (!repo_like) {
    fail_usage("-m {}: no such file or folder (nor a Hub repository id ORG/NAME)", arg);
  }
  try {
    return download_model(arg, hf_file, options).path;
  } catch (const HubNotFoundError& e) {
    throw HubNotFoundError(
        fmt::format("-m {}: no such local file or folder, and on the Hub: {}", arg, e.what()));
  }
}

std::string resolve_model_argument(const std::string& arg, const std::string& hf_file) {
  // Environment read only when needed: a local path must work whatever HF_* holds.
  std::error_code ec;
  if (!arg.empty() && fs::exists(arg, ec)) return resolve_model_argument(arg, hf_file, {});
  return resolve_model_argument(arg, hf_file, HubOptions::from_environment());
}

}  // namespace hh
