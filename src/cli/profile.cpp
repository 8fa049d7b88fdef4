// hedgehog profile: profiling reports -> summaries, logs and HTML charts (docs/bench.md).
#include <cstdio>

#include "cli/cli_util.h"
#include "profile/outputs.h"

namespace hh::cli {

int run_profile(const Args& args) {
  CLI::App app{
      "Write FILE.prof/NAME.summary, NAME.log and NAME.html for every profiling report "
      "in FILE: a `hedgehog bench --profile --json` results file, or a raw report "
      "from the protocol's `report` command.",
      "hedgehog profile"};
  std::string input, out_dir;
  app.add_option("file", input, "results JSON or raw report")->required();
  app.add_option("-o,--output", out_dir, "output folder (default: FILE without .json, + .prof)");
  if (auto code = parse_args(app, args)) return *code;
  if (out_dir.empty()) out_dir = profile::output_dir_for(input);
  for (const auto& file : profile::write_profile_outputs(input, out_dir)) {
    std::printf("%s\n", file.c_str());
  }
  return 0;
}

}  // namespace hh::cli
