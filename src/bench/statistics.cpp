#include "bench/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace hh::bench {
namespace {

// Continued fraction of the regularized incomplete beta function (modified Lentz method),
// valid for x < (a + 1) / (a + b + 2); the caller uses the symmetry I_x(a,b) = 1 - I_{1-x}(b,a)
// otherwise.
double beta_continued_fraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kEpsilon = 1e-15;
  double c = 1;
  double d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double result = d;
  for (int m = 1; m <= 1000; ++m) {
    const double m2 = 2.0 * m;
    // Even step.
    double numerator = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + numerator * d;
    c = 1 + numerator / c;
    if (std::fabs(d) < kTiny) d = kTiny;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    result *= d * c;
    // Odd step.
    numerator = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + numerator * d;
    c = 1 + numerator / c;
    if (std::fabs(d) < kTiny) d = kTiny;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    result *= delta;
    if (std::fabs(delta - 1) < kEpsilon) break;
  }
  return result;
}

double regularized_incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  const double front = std::exp(log_front);
  if (x < (a + 1) / (a + b + 2)) return front * beta_continued_fraction(a, b, x) / a;
  return 1 - front * beta_continued_fraction(b, a, 1 - x) / b;
}

// P(T <= t) for Student's t with df degrees of freedom.
double student_t_cdf(double t, double df) {
  const double x = df / (df + t * t);
  const double tail = 0.5 * regularized_incomplete_beta(df / 2, 0.5, x);
  return t >= 0 ? 1 - tail : tail;
}

// Series longer than this are first reduced to batch means, which keeps the autocorrelation sum
// (quadratic in the worst case) cheap enough to evaluate after every few runs of a fast entry
// point.
constexpr size_t kDirectLimit = 4096;
constexpr size_t kBatches = 2048;

}  // namespace

double effective_autocorrelation_time(std::span<const double> samples, double stddev) {
  const size_t n = samples.size();
  if (n <= kDirectLimit) return autocorrelation_time(samples);
  if (stddev <= 0) return 1;
  // Batch means: the variance of the overall mean is var(batch means) * tau_batches / batches,
  // and tau is whatever factor turns the naive variance stddev^2 / n into that.
  const size_t size = (n + kBatches - 1) / kBatches;
  const size_t batches = n / size;
  std::vector<double> means(batches);
  for (size_t b = 0; b < batches; ++b) {
    double sum = 0;
    for (size_t i = 0; i < size; ++i) sum += samples[b * size + i];
    means[b] = sum / static_cast<double>(size);
  }
  double grand = 0;
  for (double m : means) grand += m;
  grand /= static_cast<double>(batches);
  double squares = 0;
  for (double m : means) squares += (m - grand) * (m - grand);
  const double var_means = squares / static_cast<double>(batches - 1);
  const double var_of_mean = var_means * autocorrelation_time(means) / static_cast<double>(batches);
  const double tau = var_of_mean * static_cast<double>(n) / (stddev * stddev);
  return std::clamp(tau, 1.0, static_cast<double>(n));
}

double autocorrelation(std::span<const double> samples, size_t lag) {
  const size_t n = samples.size();
  if (n < 2 || lag >= n) return 0;
  double mean = 0;
  for (double x : samples) mean += x;
  mean /= static_cast<double>(n);
  double c0 = 0, ck = 0;
  for (size_t i = 0; i < n; ++i) c0 += (samples[i] - mean) * (samples[i] - mean);
  for (size_t i = 0; i + lag < n; ++i) ck += (samples[i] - mean) * (samples[i + lag] - mean);
  if (c0 <= 0) return 0;
  return ck / c0;
}

double autocorrelation_time(std::span<const double> samples) {
  const size_t n = samples.size();
  if (n < 4) return 1;
  double mean = 0;
  for (double x : samples) mean += x;
  mean /= static_cast<double>(n);
  double c0 = 0;
  for (double x : samples) c0 += (x - mean) * (x - mean);
  if (c0 <= 0) return 1;  // constant samples: nothing to correlate
  const auto rho = [&](size_t lag) {
    double ck = 0;
    for (size_t i = 0; i + lag < n; ++i) ck += (samples[i] - mean) * (samples[i + lag] - mean);
    return ck / c0;
  };
  // Geyer: Gamma_m = rho(2m) + rho(2m+1) is positive and decreasing for a stationary series;
  // summing until it first turns non-positive cuts off the noise of the far lags.
  double sum_pairs = 0;
  for (size_t m = 0; 2 * m + 1 < n / 2; ++m) {
    const double gamma = (m == 0 ? 1.0 : rho(2 * m)) + rho(2 * m + 1);
    if (gamma <= 0) break;
    sum_pairs += gamma;
  }
  const double tau = 2 * sum_pairs - 1;
  return std::clamp(tau, 1.0, static_cast<double>(n));
}

double student_t_quantile(double p, double df) {
  if (!(p > 0 && p < 1) || !(df > 0)) return std::numeric_limits<double>::quiet_NaN();
  if (p == 0.5) return 0;
  if (p < 0.5) return -student_t_quantile(1 - p, df);
  // Bracket, then bisect: the CDF is monotone and the bisection needs no derivative, so it is
  // robust for fractional and tiny degrees of freedom.
  double lo = 0, hi = 1;
  while (student_t_cdf(hi, df) < p) {
    lo = hi;
    hi *= 2;
    if (hi > 1e12) return hi;
  }
  for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; ++i) {
    const double mid = (lo + hi) / 2;
    (student_t_cdf(mid, df) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

SampleStats summarize(std::span<const double> samples) {
  SampleStats s;
  s.n = samples.size();
  if (s.n == 0) return s;
  s.min = *std::min_element(samples.begin(), samples.end());
  s.max = *std::max_element(samples.begin(), samples.end());
  double sum = 0;
  for (double x : samples) sum += x;
  s.mean = sum / static_cast<double>(s.n);
  s.ci_low = s.ci_high = s.mean;
  s.effective_n = static_cast<double>(s.n);
  if (s.n < 2) return s;
  double squares = 0;
  for (double x : samples) squares += (x - s.mean) * (x - s.mean);
  s.stddev = std::sqrt(squares / static_cast<double>(s.n - 1));
  s.tau = effective_autocorrelation_time(samples, s.stddev);
  s.effective_n = static_cast<double>(s.n) / s.tau;
  s.standard_error = s.stddev / std::sqrt(s.effective_n);
  s.relative_standard_error = s.standard_error / std::max(std::fabs(s.mean), 1.0);
  const double df = std::max(1.0, s.effective_n - 1);
  const double half = student_t_quantile(0.975, df) * s.standard_error;
  s.ci_low = s.mean - half;
  s.ci_high = s.mean + half;
  return s;
}

bool has_converged(const SampleStats& stats, const ConvergenceRule& rule) {
  if (stats.n < 2 || stats.effective_n < rule.min_effective_n) return false;
  return stats.relative_standard_error <= rule.target_rse;
}

}  // namespace hh::bench
