// hedgehog bench: benchmark entry points on the datasets of spec files (docs/bench.md).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>

#include "bench/results.h"
#include "bench/runner.h"
#include "bench/spec.h"
#include "cli/cli_util.h"
#include "values/elem_type.h"

namespace hh::cli {
namespace {

// The running binary, so `bench` drives the server of the same build.
std::string self_executable() {
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) fail_errno("cannot find the running hedgehog binary (/proc/self/exe)");
  return path.string();
}

}  // namespace

int run_bench(const Args& args) {
  CLI::App app{"Benchmark entry points of a protocol server on the datasets of spec files.",
               "hedgehog bench"};
  std::vector<std::string> spec_files, positional_specs, exclude;
  std::string backend = "cpu", dtype = "f32", server_command, json_path;
  std::optional<std::string> entry;
  int threads = 0, runs = 10;
  double max_seconds = 300, timeout = 0;
  bool profile = false, no_convergence = false, verbose = false;
  app.add_option("--spec-file", spec_files, "a spec file (may be repeated)");
  app.add_option("specs", positional_specs, "more spec files");
  app.add_option("--backend", backend, "backend of hedgehog's server: cpu or cuda")
      ->capture_default_str();
  app.add_option("--dtype", dtype, "dtype of hedgehog's server: f32, f16 or bf16")
      ->capture_default_str();
  app.add_option("-t,--threads", threads, "CPU threads of hedgehog's server (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--server", server_command,
                 "run this server command line instead of `hedgehog server` (any program that "
                 "speaks the Futhark server protocol)");
  app.add_option("--json", json_path, "write the results to this file (Futhark's JSON format)");
  app.add_flag("--profile", profile,
               "one extra profiled run per dataset; its report goes to "
               "the JSON under \"profiling\"");
  app.add_option("-r,--runs", runs, "at least this many measured runs per dataset")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--no-convergence-phase", no_convergence,
               "stop after the initial phase (at least -r runs and 0.5 s)");
  app.add_option("--convergence-max-seconds", max_seconds, "longest convergence phase per dataset")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--timeout", timeout,
                 "fail a dataset that takes longer than this many seconds in all (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--entry-point,-e", entry, "benchmark only this entry point");
  app.add_option("--exclude-case", exclude, "skip spec blocks with this tag (may be repeated)");
  app.add_flag("-v,--verbose", verbose, "also print protocol overhead and timing shares");
  if (auto code = parse_args(app, args)) return *code;

  spec_files.insert(spec_files.end(), positional_specs.begin(), positional_specs.end());
  if (spec_files.empty()) {
    std::fprintf(stderr, "hedgehog bench: no spec file given (--spec-file F or SPEC ...)\n");
    return 2;
  }
  // Every spec is parsed before anything runs: a typo fails at once, not an hour in.
  std::vector<bench::Spec> specs;
  for (const auto& f : spec_files) specs.push_back(bench::read_spec_file(f));

  bench::RunnerOptions o;
  if (!server_command.empty()) {
    o.server_command = server_command;
    o.description.server_command = server_command;
    o.description.threads = threads;
  } else {
    parse_model_dtype(dtype);  // a bad value fails here, not once per dataset
    o.server_argv = {self_executable(), "server", "--backend", backend, "--dtype", dtype};
    if (threads > 0) {
      o.server_argv.push_back("-t");
      o.server_argv.push_back(std::to_string(threads));
    }
    o.description.backend = backend;
    o.description.dtype = dtype;
    o.description.threads = threads;
    o.description.server_command =
        fmt::format("hedgehog server --backend {} --dtype {}{}", backend, dtype,
                    threads > 0 ? fmt::format(" -t {}", threads) : "");
  }
  o.min_runs = runs;
  o.convergence_phase = !no_convergence;
  o.convergence_max_seconds = max_seconds;
  if (timeout > 0) o.timeout_seconds = timeout;
  o.profile = profile;
  o.exclude_tags = exclude;
  o.entry_point = entry;
  o.verbose = verbose;
  o.out = stdout;
  o.progress = isatty(STDERR_FILENO) ? stderr : nullptr;

  const bench::Results results = bench::run_benchmarks(specs, o);
  if (!json_path.empty()) bench::write_results_file(json_path, results);
  size_t datasets = 0, failed = 0;
  for (const auto& p : results) {
    for (const auto& d : p.datasets) {
      ++datasets;
      failed += d.error ? 1 : 0;
    }
  }
  if (datasets == 0) std::fprintf(stderr, "hedgehog bench: no dataset to run\n");
  if (failed > 0) {
    std::fprintf(stderr, "hedgehog bench: %zu of %zu datasets failed\n", failed, datasets);
    return 1;
  }
  return 0;
}

}  // namespace hh::cli
