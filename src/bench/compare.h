#pragma once
// benchcmp: dataset by dataset, the mean runtime of two result files, the speed-up and whether
// the difference is significant. Significance: the difference of the means exceeds the 95%
// half-width of that difference, sqrt(h_old^2 + h_new^2), where h is each mean's 95% CI
// half-width (autocorrelation-corrected, as bench reports it). This is the usual test for two
// independent estimates, and less conservative than asking the two intervals not to overlap.
#include <optional>
#include <string>
#include <vector>

#include "bench/results.h"

namespace hh::bench {

struct Comparison {
  std::string program;
  std::string dataset;
  // Set when both files have runtimes for the dataset.
  std::optional<SampleStats> old_stats, new_stats;
  double speedup = 0;  // old mean / new mean: > 1 means the new one is faster
  bool significant = false;
  std::string note;  // why there is no comparison ("only in OLD", "failed in NEW: ...")
};

std::vector<Comparison> compare_results(const Results& old_results, const Results& new_results);
// The table benchcmp prints.
std::string format_comparisons(const std::vector<Comparison>& comparisons);

}  // namespace hh::bench
