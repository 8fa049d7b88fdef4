#pragma once
// The benchmark runner: drives one protocol server (hedgehog's own or any --server command)
// through every dataset of the given specs.
//
// Per dataset: the inputs are restored once (a consumed input gets a fresh value before every
// run, never timed: re-evaluated when it comes from a script sub-call, otherwise restored from a
// file the runner stores once); one warm-up run, whose outputs are validated when the dataset
// gives expected values; an initial phase of at least `min_runs` runs and `min_seconds`; then,
// unless disabled, a convergence phase that runs until the relative standard error of the mean,
// corrected for autocorrelation, reaches the target (see statistics.h), for at most
// `convergence_max_seconds`. Times are the server's `runtime:` values. With `profile`, one more
// run is made with profiling on and its `report` kept.
//
// A failing dataset (server failure, crash, timeout, bad data, wrong outputs) is recorded with
// its message and the runner goes on with the next one, restarting the server when it died.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "bench/results.h"
#include "bench/spec.h"
#include "bench/statistics.h"

namespace hh::bench {

struct RunnerOptions {
  // A shell command line for the server; when empty, `server_argv` is started directly.
  std::string server_command;
  std::vector<std::string> server_argv;
  RunDescription description;  // backend, dtype, threads for the metadata

  int min_runs = 10;
  double min_seconds = 0.5;
  bool convergence_phase = true;
  double convergence_max_seconds = 300;
  ConvergenceRule rule;
  // Bound on all of one dataset's work (restores, runs, validation); none when unset.
  std::optional<double> timeout_seconds;
  bool profile = false;
  std::vector<std::string> exclude_tags;   // blocks with any of these tags are skipped
  std::optional<std::string> entry_point;  // only this entry point
  bool verbose = false;

  std::FILE* out = stdout;        // one line per dataset
  std::FILE* progress = nullptr;  // a live progress line (a terminal), or none
};

// Benchmarks every dataset; failures are recorded in the results, not thrown.
Results run_benchmarks(const std::vector<Spec>& specs, const RunnerOptions& options);

bool any_failed(const Results& results);

}  // namespace hh::bench
