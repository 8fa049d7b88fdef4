// hedgehog: a Qwen3 chat engine whose compute core speaks the Futhark server protocol.
#include <cstdio>
#include <string_view>

#include "cli/commands.h"
#include "hh_version.h"
#include "util/error.h"

namespace {

struct Command {
  std::string_view name;
  int (*run)(const hh::cli::Args&);
  std::string_view summary;
};

constexpr Command kCommands[] = {
    {"chat", hh::cli::run_chat, "chat with a Qwen3 model (default: ggml-org/Qwen3-0.6B-GGUF)"},
    {"server", hh::cli::run_server, "serve the engine over the Futhark server protocol"},
    {"make-model", hh::cli::run_make_model, "write a GGUF Qwen3 model with random weights"},
    {"bench", hh::cli::run_bench, "benchmark entry points on the datasets of spec files"},
    {"profile", hh::cli::run_profile, "turn profiling reports into summaries, logs and charts"},
    {"benchcmp", hh::cli::run_benchcmp, "compare two benchmark result files"},
    {"dataset", hh::cli::run_dataset, "generate, convert and inspect data files"},
    {"template", hh::cli::run_template, "render a chat with the model's (or any) chat template"},
    {"tokenize", hh::cli::run_tokenize, "show the token ids and pieces of a text"},
    {"download", hh::cli::run_download, "download a model or files from the Hugging Face Hub"},
};

void print_usage(FILE* out) {
  std::fprintf(out, "usage: hedgehog COMMAND [ARGS...]   (hedgehog COMMAND --help for details)\n\n");
  for (const auto& c : kCommands) {
    std::fprintf(out, "  %-12.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  if (name == "--version") {
    std::printf("hedgehog %s (%s)\n", HH_VERSION, HH_GIT_COMMIT);
    return 0;
  }
  for (const auto& c : kCommands) {
    if (c.name != name) continue;
    hh::cli::Args args(argv + 2, argv + argc);
    try {
      return c.run(args);
    } catch (const hh::Error& e) {
      std::fprintf(stderr, "hedgehog %s: error: %s\n", argv[1], e.what());
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "hedgehog %s: internal error: %s\n", argv[1], e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "hedgehog: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr);
  return 2;
}
