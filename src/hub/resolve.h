#pragma once
// Turns the chat's `-m MODEL` argument into a local path: a GGUF file or Hugging Face model
// folder on disk is used as is; otherwise ORG/NAME names a Hub repository, downloaded into the
// Hub cache (download.h) unless already there.
#include <string>
#include <vector>

#include "hub/download.h"

namespace hh {

inline constexpr const char* kDefaultModel = "ggml-org/Qwen3-0.6B-GGUF";

struct ModelFiles {
  std::string path;                // what to load: the .gguf file, or the snapshot folder
  std::vector<std::string> files;  // every local file fetched or found in the cache
};

// Whether `repo` names a GGUF repository: its name ends in "-GGUF" (any case).
bool is_gguf_repo(const std::string& repo);

// The model files of a Hub repository. A GGUF repository (or any repository when hf_file is
// given) yields one file: hf_file, the known default of the repository, or its only .gguf file
// (several: an error listing them). Otherwise a safetensors repository yields its snapshot
// folder with config.json, tokenizer.json, tokenizer_config.json, generation_config.json (when
// the repository has one) and model.safetensors or model.safetensors.index.json and its shards,
// all from one commit.
ModelFiles download_model(const std::string& repo, const std::string& hf_file,
                          const HubOptions& options);

// `-m` resolution: an existing path is returned unchanged; a repository id goes through
// download_model. Errors name the argument and what was tried.
std::string resolve_model_argument(const std::string& arg, const std::string& hf_file,
                                   const HubOptions& options);
std::string resolve_model_argument(const std::string& arg, const std::string& hf_file);

}  // namespace hh
