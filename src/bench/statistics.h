#pragma once
// Statistics of benchmark samples. Successive runs of a benchmark are not independent (caches,
// clocks and thermal state carry over), so the standard error of the mean is computed from the
// effective sample size n / tau, where tau is the integrated autocorrelation time, and the 95%
// confidence interval uses Student's t with n / tau - 1 degrees of freedom. The convergence rule
// of the runner is stated on this corrected relative standard error.
#include <cstddef>
#include <span>

namespace hh::bench {

struct SampleStats {
  size_t n = 0;
  double mean = 0;
  double stddev = 0;  // sample standard deviation (n - 1 in the denominator)
  double min = 0;
  double max = 0;
  double tau = 1;          // integrated autocorrelation time, >= 1
  double effective_n = 0;  // n / tau
  double standard_error = 0;
  // standard_error / mean; the mean is floored at one unit (1 µs for runtimes), the resolution
  // of the server's clock, so a 0 µs entry point does not divide by zero.
  double relative_standard_error = 0;
  double ci_low = 0;  // 95% confidence interval of the mean
  double ci_high = 0;
  double ci_half_width() const { return (ci_high - ci_low) / 2; }
};

// Summary of `samples` (all zero when empty). With fewer than two samples the interval is the
// single value itself.
SampleStats summarize(std::span<const double> samples);

// Integrated autocorrelation time 1 + 2 * sum_k rho_k, with the sum cut by Geyer's initial
// positive sequence (pairs of lags are added while their sum stays positive). Clamped to
// [1, n]: an anti-correlated sequence is not credited with more information than independent
// samples.
double autocorrelation_time(std::span<const double> samples);

// The tau used by summarize(): autocorrelation_time() for short series; for long ones (a fast
// entry point run many thousands of times) the same quantity estimated from batch means.
double effective_autocorrelation_time(std::span<const double> samples, double stddev);

// Lag-k sample autocorrelation (biased estimator, divides by n), 0 when undefined.
double autocorrelation(std::span<const double> samples, size_t lag);

// Quantile function of Student's t distribution, p in (0, 1), df > 0 (may be fractional).
double student_t_quantile(double p, double df);

// The runner's stopping rule for the convergence phase.
struct ConvergenceRule {
  double target_rse = 0.01;    // relative standard error of the mean to reach
  double min_effective_n = 5;  // at least this many effectively independent samples
};
bool has_converged(const SampleStats& stats, const ConvergenceRule& rule);

}  // namespace hh::bench
