// hedgehog make-model: a Qwen3 GGUF with random weights and the real shapes of a preset,
// optionally with a Hugging Face tokenizer's metadata so llama.cpp can load it too.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli/cli_util.h"
#include "model/gguf.h"
#include "model/gguf_tokenizer.h"
#include "model/random_model.h"
#include "util/error.h"
#include "values/elem_type.h"

namespace hh::cli {

int run_make_model(const Args& args) {
  CLI::App app("Write a Qwen3 GGUF model with random weights (std 0.02, norms near 1).",
               "hedgehog make-model");
  std::string preset, dtype_name, tokenizer, out;
  uint64_t seed = 0;
  int64_t vocab = 0;
  bool untied = false;
  app.add_option("--preset", preset, "model shape: tiny, 0.6b, 1.7b or 4b")->required();
  app.add_option("--dtype", dtype_name, "matrix dtype: f32, f16 or bf16 (norms are f32)")
      ->required();
  app.add_option("--tokenizer", tokenizer,
                 "tokenizer.json whose vocabulary, merges, special tokens and chat template "
                 "(from tokenizer_config.json beside it) go into the file")
      ->check(CLI::ExistingFile);
  app.add_option("--seed", seed, "random seed (the same seed gives the same file)");
  app.add_flag("--untied", untied, "write a separate output matrix instead of tying token_embd");
  app.add_option("--vocab", vocab, "vocabulary size instead of the preset's")
      ->check(CLI::PositiveNumber);
  app.add_option("-o,--output", out, "GGUF file to write")->required();
  if (auto code = parse_args(app, args)) return *code;

  const auto start = std::chrono::steady_clock::now();
  RandomModelOptions options;
  options.config = model_preset(preset);
  options.dtype = parse_model_dtype(dtype_name);
  options.seed = seed;
  if (vocab > 0) options.config.vocab_size = vocab;
  options.config.tied_output = !untied;
  options.name = "Qwen3-" + preset + "-random";
  options.size_label = preset;

  GgufWriter writer;
  add_random_qwen3(writer, options);
  if (!tokenizer.empty()) {
    for (auto& [key, value] : gguf_tokenizer_metadata(tokenizer, options.config.vocab_size)) {
      writer.add(std::move(key), std::move(value));
    }
  }
  writer.write(out);

  const ModelConfig& c = options.config;
  const int64_t per_layer = 2 * c.dim + 2 * c.head_dim +
                            c.dim * (2 * c.n_heads + 2 * c.n_kv_heads) * c.head_dim +
                            3 * c.dim * c.ffn_dim;
  const int64_t params =
      c.vocab_size * c.dim * (c.tied_output ? 1 : 2) + c.dim + c.n_layers * per_layer;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "wrote %s: %.1f M parameters, %s, %s, %s, %.1f MiB in %.2f s\n", out.c_str(),
               static_cast<double>(params) / 1e6, dtype_name.c_str(),
               c.tied_output ? "tied" : "untied",
               tokenizer.empty() ? "no tokenizer" : "with tokenizer",
               static_cast<double>(std::filesystem::file_size(out)) / (1 << 20), seconds);
  return 0;
}

}  // namespace hh::cli
