// Chat-template rendering: the Qwen3 template parsed once, rendered for a chat of a few turns
// with tools and tool calls (the issue asks < 1 ms per render).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "text/chat_template.h"

namespace {

namespace fs = std::filesystem;

// tests/fixtures/templates of the source tree: $HH_SOURCE_DIR, or above the binary (build/).
fs::path fixtures() {
  std::vector<fs::path> roots;
  if (const char* env = std::getenv("HH_SOURCE_DIR")) roots.emplace_back(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    roots.push_back(exe.parent_path().parent_path());
    roots.push_back(exe.parent_path().parent_path().parent_path());
  }
  roots.push_back(fs::current_path());
  for (const auto& r : roots) {
    if (fs::exists(r / "tests/fixtures/templates/qwen3.jinja"))
      return r / "tests/fixtures/templates";
  }
  throw std::runtime_error("tests/fixtures/templates not found; set HH_SOURCE_DIR");
}

std::string read_fixture(const std::string& name) {
  std::ifstream in(fixtures() / name, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

hh::ChatInputs inputs_of(const std::string& case_name) {
  const auto spec = nlohmann::ordered_json::parse(read_fixture(case_name + ".json"));
  hh::ChatInputs in;
  in.messages = spec["messages"];
  if (spec.contains("tools")) in.tools = spec["tools"];
  return in;
}

void BM_Qwen3TemplateRender(benchmark::State& state, const char* case_name) {
  const hh::ChatTemplate tmpl(read_fixture("qwen3.jinja"), "qwen3.jinja");
  const hh::ChatInputs in = inputs_of(case_name);
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string out = tmpl.render(in);
    bytes += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK_CAPTURE(BM_Qwen3TemplateRender, system_multi_turn, "qwen3_system_multi_turn")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Qwen3TemplateRender, tool_calls, "qwen3_tool_calls")
    ->Unit(benchmark::kMicrosecond);

void BM_Qwen3TemplateParse(benchmark::State& state) {
  const std::string source = read_fixture("qwen3.jinja");
  for (auto _ : state) {
    hh::ChatTemplate tmpl(source, "qwen3.jinja");
    benchmark::DoNotOptimize(&tmpl);
  }
}
BENCHMARK(BM_Qwen3TemplateParse)->Unit(benchmark::kMicrosecond);

}  // namespace
