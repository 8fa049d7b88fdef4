// hedgehog benchcmp: compare two benchmark result files (docs/bench.md).
#include <cstdio>

#include "bench/compare.h"
#include "cli/cli_util.h"

namespace hh::cli {

int run_benchcmp(const Args& args) {
  CLI::App app{
      "Compare two `hedgehog bench --json` result files (or Futhark's): per program and "
      "dataset, the old and new mean runtime, the speed-up, and whether the difference "
      "is significant given both 95% confidence intervals.",
      "hedgehog benchcmp"};
  std::string old_path, new_path;
  app.add_option("old", old_path, "results before the change")->required();
  app.add_option("new", new_path, "results after the change")->required();
  if (auto code = parse_args(app, args)) return *code;
  const auto old_results = bench::read_results_file(old_path);
  const auto new_results = bench::read_results_file(new_path);
  const auto comparisons = bench::compare_results(old_results, new_results);
  std::fputs(bench::format_comparisons(comparisons).c_str(), stdout);
  return 0;
}

}  // namespace hh::cli
