#pragma once
// Benchmark results in Futhark's JSON format, which `futhark bench` tools and hedgehog's own
// `profile` and `benchcmp` read:
//
//   {PROGRAM: {"datasets": {NAME: {"runtimes": [µs...], "bytes": {space: n}, "stderr": "...",
//                                  "profiling": REPORT}   -- or NAME: "error message"
//              }, "metadata": {...}}}
//
// hedgehog adds "statistics" to each dataset (mean, 95% CI, ... of the runtimes, so a reader
// needs no statistics of its own) and "metadata" to each program (what produced it); readers
// of the plain Futhark format ignore both, and both are optional when reading.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/statistics.h"

namespace hh::bench {

struct DatasetResult {
  std::string name;
  std::optional<std::string> error;  // set when the dataset failed
  std::vector<int64_t> runtimes;     // µs, the server's `runtime:` per measured run
  std::map<std::string, int64_t> bytes;
  std::string stderr_text;
  std::optional<nlohmann::ordered_json> profiling;  // the `report` of the profiled run
  // Client-side wall time of each measured call (send to `%%% OK`), µs; its excess over the
  // runtime is the protocol overhead.
  double wall_per_call_us = 0;
  // Seconds spent in the measured phase, refreshes of consumed inputs included.
  double measure_seconds = 0;
  // Seconds the whole dataset took (restores, warm-up, validation, profiling included), and the
  // share of it spent inside timed runs.
  double dataset_seconds = 0;
  double timed_fraction = 0;
  // The share spent inside any call of the entry point, the warm-up and profiled runs included.
  double call_fraction = 0;

  SampleStats stats() const;
};

struct ProgramResult {
  std::string name;  // "SPEC:ENTRY"
  std::vector<DatasetResult> datasets;
  nlohmann::ordered_json metadata = nlohmann::ordered_json::object();
};

using Results = std::vector<ProgramResult>;

nlohmann::ordered_json results_to_json(const Results& results);
// FormatError naming `source` and the offending key when the JSON is not a results file.
Results results_from_json(const nlohmann::ordered_json& json, const std::string& source);

// Written atomically.
void write_results_file(const std::string& path, const Results& results);
// SystemError when unreadable, FormatError when truncated or malformed.
Results read_results_file(const std::string& path);

// A JSON object from the environment: start/end times are filled by the caller.
struct RunDescription {
  std::string backend;  // empty: unknown (a --server command)
  std::string dtype;
  int threads = 0;  // 0: the server's default (all cores)
  std::string server_command;
  std::string spec;
  std::string entry;
};
nlohmann::ordered_json collect_metadata(const RunDescription& run);
// "2026-11-25T19:12:03Z".
std::string utc_timestamp();

}  // namespace hh::bench
