#include "bench/compare.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace hh::bench {
namespace {

const DatasetResult* find_dataset(const ProgramResult* p, const std::string& name) {
  if (p == nullptr) return nullptr;
  for (const auto& d : p->datasets) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

const ProgramResult* find_program(const Results& results, const std::string& name) {
  for (const auto& p : results) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

std::vector<Comparison> compare_results(const Results& old_results, const Results& new_results) {
  // Programs and datasets in the order of the old file, then what only the new one has.
  std::vector<std::pair<std::string, std::string>> keys;
  for (const Results* rs : {&old_results, &new_results}) {
    for (const auto& p : *rs) {
      for (const auto& d : p.datasets) {
        const std::pair<std::string, std::string> key{p.name, d.name};
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
      }
    }
  }
  std::vector<Comparison> out;
  for (const auto& [program, dataset] : keys) {
    Comparison c;
    c.program = program;
    c.dataset = dataset;
    const DatasetResult* o = find_dataset(find_program(old_results, program), dataset);
    const DatasetResult* n = find_dataset(find_program(new_results, program), dataset);
    if (o == nullptr) {
      c.note = "only in NEW";
    } else if (n == nullptr) {
      c.note = "only in OLD";
    } else if (o->error) {
      c.note = "failed in OLD: " + first_line(*o->error);
    } else if (n->error) {
      c.note = "failed in NEW: " + first_line(*n->error);
    } else if (o->runtimes.empty() || n->runtimes.empty()) {
      c.note = "no runtimes";
    } else {
      c.old_stats = o->stats();
      c.new_stats = n->stats();
      c.speedup = c.new_stats->mean > 0 ? c.old_stats->mean / c.new_stats->mean : 0;
      const double h = std::hypot(c.old_stats->ci_half_width(), c.new_stats->ci_half_width());
      c.significant = std::fabs(c.old_stats->mean - c.new_stats->mean) > h;
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::string format_comparisons(const std::vector<Comparison>& comparisons) {
  std::string out;
  size_t width = 7;  // "Dataset"
  for (const auto& c : comparisons) width = std::max(width, c.dataset.size());
  std::string program;
  for (const auto& c : comparisons) {
    if (c.program != program) {
      program = c.program;
      out += fmt::format("{}{}\n", out.empty() ? "" : "\n", program);
      out += fmt::format("  {:<{}}  {:>22}  {:>22}  {:>9}  {}\n", "Dataset", width,
                         "old mean (µs) ± 95%", "new mean (µs) ± 95%", "speed-up", "");
    }
    if (!c.old_stats) {
      out += fmt::format("  {:<{}}  {}\n", c.dataset, width, c.note);
      continue;
    }
    const auto cell = [](const SampleStats& s) {
      return fmt::format("{:.1f} ± {:.1f}", s.mean, s.ci_half_width());
    };
    std::string verdict = "no significant difference";
    if (c.significant) verdict = c.speedup >= 1 ? "faster (significant)" : "slower (significant)";
    out += fmt::format("  {:<{}}  {:>22}  {:>22}  {:>8.3f}x  {}\n", c.dataset, width,
                       cell(*c.old_stats), cell(*c.new_stats), c.speedup, verdict);
  }
  if (comparisons.empty()) out = "No datasets in either file.\n";
  return out;
}

}  // namespace hh::bench
