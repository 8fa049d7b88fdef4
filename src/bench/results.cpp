#include "bench/results.h"

#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "hh_version.h"
#include "util/error.h"
#include "values/byte_io.h"

namespace hh::bench {
namespace {

using ojson = nlohmann::ordered_json;

// The first line of a file that starts with `key`, after the colon, trimmed.
std::optional<std::string> field_of(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(key)) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const size_t start = line.find_first_not_of(" \t", colon + 1);
    if (start == std::string::npos) return std::string();
    return line.substr(start);
  }
  return std::nullopt;
}

std::optional<std::string> gpu_name() {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/driver/nvidia/gpus", ec)) {
    if (auto model = field_of((entry.path() / "information").string(), "Model")) return model;
  }
  return std::nullopt;
}

DatasetResult dataset_from_json(const std::string& name, const ojson& j, const std::string& where) {
  DatasetResult d;
  d.name = name;
  if (j.is_string()) {  // a failed dataset
    d.error = j.get<std::string>();
    return d;
  }
  if (!j.is_object()) fail_format("{}: expected an object or an error message", where);
  const auto runtimes = j.find("runtimes");
  if (runtimes == j.end() || !runtimes->is_array()) {
    fail_format("{}: missing \"runtimes\" array", where);
  }
  for (size_t i = 0; i < runtimes->size(); ++i) {
    const auto& r = (*runtimes)[i];
    if (!r.is_number()) fail_format("{}: runtimes[{}] is not a number", where, i);
    d.runtimes.push_back(static_cast<int64_t>(r.get<double>()));
  }
  if (const auto bytes = j.find("bytes"); bytes != j.end() && bytes->is_object()) {
    for (const auto& [space, n] : bytes->items()) {
      if (!n.is_number()) fail_format("{}: bytes.{} is not a number", where, space);
      d.bytes[space] = static_cast<int64_t>(n.get<double>());
    }
  }
  if (const auto err = j.find("stderr"); err != j.end() && err->is_string()) {
    d.stderr_text = err->get<std::string>();
  }
  if (const auto prof = j.find("profiling"); prof != j.end() && !prof->is_null()) {
    d.profiling = *prof;
  }
  if (const auto st = j.find("statistics"); st != j.end() && st->is_object()) {
    d.wall_per_call_us = st->value("wall_per_call_us", 0.0);
    d.measure_seconds = st->value("measure_seconds", 0.0);
    d.dataset_seconds = st->value("dataset_seconds", 0.0);
    d.timed_fraction = st->value("timed_fraction", 0.0);
    d.call_fraction = st->value("call_fraction", 0.0);
  }
  return d;
}

}  // namespace

SampleStats DatasetResult::stats() const {
  std::vector<double> samples(runtimes.begin(), runtimes.end());
  return summarize(samples);
}

nlohmann::ordered_json results_to_json(const Results& results) {
  ojson root = ojson::object();
  for (const auto& program : results) {
    ojson datasets = ojson::object();
    for (const auto& d : program.datasets) {
      if (d.error) {
        datasets[d.name] = *d.error;
        continue;
      }
      ojson j;
      j["runtimes"] = d.runtimes;
      ojson bytes = ojson::object();
      for (const auto& [space, n] : d.bytes) bytes[space] = n;
      j["bytes"] = std::move(bytes);
      j["stderr"] = d.stderr_text;
      if (d.profiling) j["profiling"] = *d.profiling;
      const SampleStats s = d.stats();
      j["statistics"] = {{"mean_us", s.mean},
                         {"ci95_us", {s.ci_low, s.ci_high}},
                         {"min_us", s.min},
                         {"max_us", s.max},
                         {"runs", s.n},
                         {"relative_standard_error", s.relative_standard_error},
                         {"autocorrelation_time", s.tau},
                         {"wall_per_call_us", d.wall_per_call_us},
                         {"measure_seconds", d.measure_seconds},
                         {"dataset_seconds", d.dataset_seconds},
                         {"timed_fraction", d.timed_fraction},
                         {"call_fraction", d.call_fraction}};
      datasets[d.name] = std::move(j);
    }
    ojson p;
    p["datasets"] = std::move(datasets);
    p["metadata"] = program.metadata;
    root[program.name] = std::move(p);
  }
  return root;
}

Results results_from_json(const ojson& json, const std::string& source) {
  if (!json.is_object()) fail_format("{}: not a results file (expected a JSON object)", source);
  Results results;
  for (const auto& [name, program] : json.items()) {
    const std::string where = fmt::format("{}: program \"{}\"", source, name);
    if (!program.is_object()) fail_format("{}: expected an object", where);
    const auto datasets = program.find("datasets");
    if (datasets == program.end() || !datasets->is_object()) {
      fail_format("{}: missing \"datasets\" object", where);
    }
    ProgramResult p;
    p.name = name;
    for (const auto& [dname, d] : datasets->items()) {
      p.datasets.push_back(
          dataset_from_json(dname, d, fmt::format("{}, dataset \"{}\"", where, dname)));
    }
    if (const auto meta = program.find("metadata"); meta != program.end() && meta->is_object()) {
      p.metadata = *meta;
    }
    results.push_back(std::move(p));
  }
  return results;
}

void write_results_file(const std::string& path, const Results& results) {
  // Compact, as Futhark writes it: a dataset may hold a million runtimes.
  const std::string text = results_to_json(results).dump() + "\n";
  AtomicFileSink sink(path);
  sink.write(text.data(), text.size());
  sink.commit();
}

Results read_results_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_errno(fmt::format("cannot open results file '{}'", path));
  std::ostringstream text;
  text << in.rdbuf();
  ojson json;
  try {
    json = ojson::parse(text.str());
  } catch (const ojson::parse_error& e) {
    fail_format("{}: not valid JSON (truncated or corrupt?): {}", path, e.what());
  }
  return results_from_json(json, path);
}

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::ordered_json collect_metadata(const RunDescription& run) {
  ojson m;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  m["host"] = host;
  const auto cpu = field_of("/proc/cpuinfo", "model name");
  m["cpu"] = cpu ? ojson(*cpu) : ojson(nullptr);
  m["cpu_cores"] = std::thread::hardware_concurrency();
  const auto gpu = gpu_name();
  m["gpu"] = gpu ? ojson(*gpu) : ojson(nullptr);
  m["backend"] = run.backend.empty() ? ojson(nullptr) : ojson(run.backend);
  m["dtype"] = run.dtype.empty() ? ojson(nullptr) : ojson(run.dtype);
  m["threads"] =
      run.threads > 0 ? run.threads : static_cast<int>(std::thread::hardware_concurrency());
  m["server"] = run.server_command;
  m["spec"] = run.spec;
  m["entry"] = run.entry;
  m["hedgehog_version"] = HH_VERSION;
  m["hedgehog_commit"] = HH_GIT_COMMIT;
  return m;
}

}  // namespace hh::bench
