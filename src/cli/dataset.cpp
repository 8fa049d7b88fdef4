// hedgehog dataset generate|convert|inspect (docs/bench.md).
#include <unistd.h>

#include <cstdio>
#include <map>

#include "bench/data_files.h"
#include "cli/cli_util.h"
#include "values/byte_io.h"

namespace hh::cli {
namespace {

// Writes to `path`, or to stdout when it is empty; refuses to pour binary data into a terminal.
template <typename F>
void with_output(const std::string& path, bool binary, F&& write) {
  if (path.empty()) {
    if (binary && isatty(STDOUT_FILENO)) {
      fail_usage("refusing to write binary data to a terminal: redirect it or use -o FILE");
    }
    bench::StdioSink sink(stdout);
    write(sink);
    if (std::fflush(stdout) != 0) fail_errno("cannot write the output");
    return;
  }
  AtomicFileSink sink(path);
  write(sink);
  sink.commit();
}

}  // namespace

int run_dataset(const Args& args) {
  CLI::App app{
      "Generate, convert and inspect data files (values in Futhark's binary or text "
      "format).",
      "hedgehog dataset"};
  app.require_subcommand(1);

  auto* gen = app.add_subcommand("generate",
                                 "random values of the given types, e.g. "
                                 "'[1000]f32' '[10][10]i64' (a literal such as "
                                 "10i64 is written as it is)");
  std::vector<std::string> gen_types;
  bool gen_binary = false, gen_text = false;
  uint64_t seed = bench::kDefaultRandomSeed;
  std::string gen_out;
  std::map<ElemType, std::string> bounds;
  gen->add_option("types", gen_types, "sized types ([n][m]t) or value literals")->required();
  gen->add_flag("-b,--binary", gen_binary, "binary format");
  gen->add_flag("--text", gen_text, "text format (the default)");
  gen->add_option("-s,--seed", seed, "random seed (the same seed gives the same values)")
      ->capture_default_str();
  gen->add_option("-o,--output", gen_out, "write to this file instead of stdout");
  for (ElemType t : kAllElemTypes) {
    if (t == ElemType::Bool) continue;
    const std::string name(elem_name(t));
    gen->add_option_function<std::string>(
        "--" + name + "-bounds", [&bounds, t](const std::string& v) { bounds[t] = v; },
        fmt::format("LOW:HIGH range of {} values (default {})", name,
                    is_float(t) ? "0:1" : "0:100"));
  }

  auto* conv = app.add_subcommand("convert", "rewrite a data file in the binary or text format");
  std::string conv_in, conv_out;
  bool conv_binary = false, conv_text = false;
  conv->add_option("file", conv_in, "data file")->required()->check(CLI::ExistingFile);
  conv->add_flag("-b,--binary", conv_binary, "to the binary format");
  conv->add_flag("--text", conv_text, "to the text format");
  conv->add_option("-o,--output", conv_out, "write to this file instead of stdout");

  auto* insp = app.add_subcommand("inspect",
                                  "list every value of a data file: index, offset, "
                                  "type, shape, bytes (records with their fields)");
  std::string insp_in;
  insp->add_option("file", insp_in, "data file")->required();

  if (auto code = parse_args(app, args)) return *code;

  if (gen->parsed()) {
    if (gen_binary && gen_text) fail_usage("give either --binary or --text, not both");
    bench::RandomRanges ranges;
    for (const auto& [t, text] : bounds) ranges.set(t, text);
    const auto values = bench::generate_values(gen_types, seed, ranges);
    with_output(gen_out, gen_binary,
                [&](ByteSink& sink) { bench::write_values(sink, values, gen_binary); });
  } else if (conv->parsed()) {
    if (conv_binary == conv_text) fail_usage("give the target format: --binary or --text");
    with_output(conv_out, conv_binary,
                [&](ByteSink& sink) { bench::convert_data_file(conv_in, sink, conv_binary); });
  } else if (insp->parsed()) {
    std::fputs(bench::inspect_data_file(insp_in).c_str(), stdout);
  }
  return 0;
}

}  // namespace hh::cli
