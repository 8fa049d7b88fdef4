// `hedgehog download`: fetch a model, or some files, of a Hugging Face Hub repository into the
// shared Hub cache and print their local paths (one a line) for scripts.
#include <cstdio>

#include "cli/cli_util.h"
#include "hub/resolve.h"

namespace hh::cli {

int run_download(const Args& args) {
  CLI::App app{
      "Download files of a Hugging Face Hub repository into the Hub cache (HF_HOME, "
      "HF_HUB_CACHE) and print their local paths. Without FILE: the model, as -m REPO "
      "would load it (one .gguf of a GGUF repository, or the config, tokenizer and "
      "safetensors files). Honours HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE.",
      "hedgehog download"};
  std::string repo, revision = "main", cache_dir;
  std::vector<std::string> files;
  bool quiet = false;
  app.add_option("REPO", repo, "repository id, ORG/NAME (ggml-org/Qwen3-0.6B-GGUF)")->required();
  app.add_option("FILE", files, "files of the repository to fetch (paths inside it)");
  app.add_option("--revision", revision, "branch, tag or commit hash")->capture_default_str();
  app.add_option("--cache-dir", cache_dir,
                 "Hub cache folder (default: HF_HUB_CACHE or HF_HOME/hub)");
  app.add_flag("-q,--quiet", quiet, "no progress bar");
  if (auto code = parse_args(app, args)) return *code;

  HubOptions options = HubOptions::from_environment();
  options.revision = revision;
  if (!cache_dir.empty()) options.cache_dir = cache_dir;
  if (quiet) options.progress = false;

  std::vector<std::string> paths;
  if (files.empty()) {
    paths = download_model(repo, "", options).files;
  } else {
    for (const std::string& file : files) paths.push_back(hub_download(repo, file, options));
  }
  for (const std::string& path : paths) std::printf("%s\n", path.c_str());
  if (std::fflush(stdout) != 0) fail_errno("cannot write the output");
  return 0;
}

}  // namespace hh::cli
