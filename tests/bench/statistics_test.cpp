#include "bench/statistics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace hh::bench {
namespace {

TEST(Statistics, MeanAndConfidenceIntervalOfKnownSamples) {
  // Two samples 1 and 3: mean 2, s = sqrt(2), se = 1, t(0.975, 1) = 12.7062.
  const std::vector<double> two{1, 3};
  const SampleStats s = summarize(two);
  EXPECT_EQ(s.n, 2u);
  EXPECT_DOUBLE_EQ(s.mean, 2);
  EXPECT_NEAR(s.stddev, std::sqrt(2.0), 1e-12);
  EXPECT_DOUBLE_EQ(s.tau, 1);
  EXPECT_NEAR(s.standard_error, 1, 1e-12);
  EXPECT_NEAR(s.ci_low, 2 - 12.7062, 1e-3);
  EXPECT_NEAR(s.ci_high, 2 + 12.7062, 1e-3);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 3);

  // 1..10, alternating around the mean: no positive autocorrelation, so tau stays 1.
  const std::vector<double> ten{1, 10, 2, 9, 3, 8, 4, 7, 5, 6};
  const SampleStats t = summarize(ten);
  EXPECT_DOUBLE_EQ(t.mean, 5.5);
  EXPECT_NEAR(t.stddev, 3.0276503540974917, 1e-12);
  EXPECT_DOUBLE_EQ(t.tau, 1);
  // t(0.975, 9) = 2.262157.
  EXPECT_NEAR(t.ci_half_width(), 2.262157 * 3.0276503540974917 / std::sqrt(10.0), 1e-5);
  EXPECT_NEAR(t.relative_standard_error, 3.0276503540974917 / std::sqrt(10.0) / 5.5, 1e-12);
}

TEST(Statistics, EdgeCases) {
  EXPECT_EQ(summarize({}).n, 0u);
  const std::vector<double> one{42};
  const SampleStats s = summarize(one);
  EXPECT_DOUBLE_EQ(s.mean, 42);
  EXPECT_DOUBLE_EQ(s.ci_low, 42);
  EXPECT_DOUBLE_EQ(s.ci_high, 42);
  const std::vector<double> constant(50, 7);
  const SampleStats c = summarize(constant);
  EXPECT_DOUBLE_EQ(c.stddev, 0);
  EXPECT_DOUBLE_EQ(c.ci_half_width(), 0);
  EXPECT_TRUE(has_converged(c, {}));
  // A 0 µs entry point: the mean is floored at one unit, no division by zero.
  const std::vector<double> zeros{0, 0, 1, 0, 0, 1, 0, 0};
  EXPECT_TRUE(std::isfinite(summarize(zeros).relative_standard_error));
}

TEST(Statistics, StudentTQuantiles) {
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.7062047, 1e-5);
  EXPECT_NEAR(student_t_quantile(0.975, 2), 4.3026527, 1e-6);
  EXPECT_NEAR(student_t_quantile(0.975, 10), 2.2281389, 1e-6);
  EXPECT_NEAR(student_t_quantile(0.975, 1e6), 1.959966, 1e-5);
  EXPECT_NEAR(student_t_quantile(0.025, 10), -2.2281389, 1e-6);
  EXPECT_NEAR(student_t_quantile(0.95, 5), 2.0150484, 1e-6);
  EXPECT_DOUBLE_EQ(student_t_quantile(0.5, 3), 0);
  EXPECT_TRUE(std::isnan(student_t_quantile(1.5, 3)));
  // Fractional degrees of freedom (an effective sample size) lie between their neighbours.
  const double q = student_t_quantile(0.975, 4.5);
  EXPECT_LT(q, student_t_quantile(0.975, 4));
  EXPECT_GT(q, student_t_quantile(0.975, 5));
}

// Independent noise around 100: tau near 1, and the rule converges with enough samples.
std::vector<double> white_noise(size_t n, double sd, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(100, sd);
  std::vector<double> x(n);
  for (auto& v : x) v = noise(rng);
  return x;
}

// AR(1) with coefficient phi: tau = (1 + phi) / (1 - phi).
std::vector<double> ar1(size_t n, double phi, double sd, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, sd);
  std::vector<double> x(n);
  double state = 0;
  for (auto& v : x) {
    state = phi * state + noise(rng);
    v = 100 + state;
  }
  return x;
}

TEST(Statistics, AutocorrelationTime) {
  const auto independent = white_noise(4000, 5, 1);
  EXPECT_LT(autocorrelation_time(independent), 1.3);
  EXPECT_NEAR(autocorrelation(independent, 1), 0, 0.05);

  const auto correlated = ar1(4000, 0.8, 1, 2);  // tau = 9
  EXPECT_NEAR(autocorrelation(correlated, 1), 0.8, 0.05);
  const double tau = autocorrelation_time(correlated);
  EXPECT_GT(tau, 6);
  EXPECT_LT(tau, 13);

  // Long series go through batch means and must agree with the direct estimate.
  const auto long_correlated = ar1(200000, 0.8, 1, 3);
  const SampleStats s = summarize(long_correlated);
  EXPECT_GT(s.tau, 6);
  EXPECT_LT(s.tau, 13);
  const SampleStats w = summarize(white_noise(200000, 5, 4));
  EXPECT_LT(w.tau, 1.3);
}

TEST(Statistics, ConvergenceRuleWithAndWithoutAutocorrelation) {
  const ConvergenceRule rule{0.01, 5};
  // sd 10 around 100: the rse is 0.1 / sqrt(n / tau), so 1% needs n / tau >= 100.
  EXPECT_TRUE(has_converged(summarize(white_noise(300, 10, 5)), rule));
  EXPECT_FALSE(has_converged(summarize(white_noise(30, 10, 6)), rule));
  // The same marginal spread with strong autocorrelation (phi 0.9, tau = 19) needs about 19
  // times as many samples: 300 are not enough, 20000 are.
  const double phi = 0.9, innovation = 10 * std::sqrt(1 - phi * phi);
  for (uint32_t seed = 7; seed < 12; ++seed) {
    EXPECT_FALSE(has_converged(summarize(ar1(300, phi, innovation, seed)), rule)) << seed;
  }
  EXPECT_TRUE(has_converged(summarize(ar1(20000, phi, innovation, 12)), rule));
  // Wildly noisy samples never converge in a few runs.
  EXPECT_FALSE(has_converged(summarize(white_noise(100, 80, 8)), rule));
}

}  // namespace
}  // namespace hh::bench
