#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>

namespace hh {
namespace {

TEST(Argmax, FirstMaximumWinsAndNanNever) {
  EXPECT_EQ(argmax(std::vector<float>{1, 3, 2, 3}), 1);
  EXPECT_EQ(argmax(std::vector<float>{NAN, -1, NAN, 0.5f}), 3);
  EXPECT_EQ(argmax(std::vector<float>{-INFINITY, -INFINITY}), 0);
  EXPECT_EQ(argmax(std::vector<float>{NAN}), 0);
}

TEST(UniformRandom, InRangeAndKeyedBySeedAndStep) {
  double sum = 0;
  for (uint64_t i = 0; i < 10000; ++i) {
    const double u = uniform_random(7, i);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
  EXPECT_EQ(uniform_random(7, 3), uniform_random(7, 3));
  EXPECT_NE(uniform_random(7, 3), uniform_random(8, 3));
  EXPECT_NE(uniform_random(7, 3), uniform_random(7, 4));
}

// Frequencies of `draws` picks from `logits`.
std::vector<double> frequencies(Sampler& s, const std::vector<float>& logits, int draws) {
  std::vector<int> count(logits.size(), 0);
  for (int i = 0; i < draws; ++i)
    ++count[static_cast<size_t>(s.pick(logits, static_cast<uint64_t>(i)))];
  std::vector<double> f;
  for (int c : count) f.push_back(static_cast<double>(c) / draws);
  return f;
}

const std::vector<float> kLogits = {0.0f, std::log(2.0f), std::log(3.0f), std::log(4.0f)};

TEST(Sampler, DrawsFromTheSoftmax) {
  Sampler s(SamplingParams{1.0f, 0, 1.0f, 11});
  const auto f = frequencies(s, kLogits, 20000);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(f[i], (i + 1) / 10.0, 0.015) << i;
}

TEST(Sampler, TemperatureSharpens) {
  Sampler s(SamplingParams{0.5f, 0, 1.0f, 11});  // weights become 1, 4, 9, 16 (sum 30)
  const auto f = frequencies(s, kLogits, 20000);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(f[i], (i + 1) * (i + 1) / 30.0, 0.015) << i;
}

TEST(Sampler, TopKKeepsTheLargest) {
  Sampler s(SamplingParams{1.0f, 2, 1.0f, 3});
  const auto f = frequencies(s, kLogits, 20000);
  EXPECT_EQ(f[0], 0.0);
  EXPECT_EQ(f[1], 0.0);
  EXPECT_NEAR(f[2], 3.0 / 7, 0.015);
  EXPECT_NEAR(f[3], 4.0 / 7, 0.015);
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingIt) {
  // Probabilities .4 .3 .2 .1 (most likely first): top_p .39 keeps one, .65 keeps two.
  Sampler one(SamplingParams{1.0f, 0, 0.39f, 3});
  const auto f1 = frequencies(one, kLogits, 2000);
  EXPECT_EQ(f1[3], 1.0);
  Sampler two(SamplingParams{1.0f, 0, 0.65f, 3});
  const auto f2 = frequencies(two, kLogits, 20000);
  EXPECT_EQ(f2[0] + f2[1], 0.0);
  EXPECT_NEAR(f2[3], 4.0 / 7, 0.015);
  // Large vocabularies take the doubling path: 1000 equal logits and one large one.
  std::vector<float> wide(1000, 0.0f);
  wide[777] = 10.0f;  // e^10 / (e^10 + 999) = 0.957
  Sampler nucleus(SamplingParams{1.0f, 0, 0.9f, 3});
  EXPECT_EQ(frequencies(nucleus, wide, 500)[777], 1.0);
  Sampler broad(SamplingParams{1.0f, 0, 0.99f, 3});  // needs ~770 of the 999 tied tokens
  const auto fb = frequencies(broad, wide, 5000);
  EXPECT_GT(fb[0] + fb[1] + fb[2], 0.0);  // ties are ordered by id: low ids are kept
  EXPECT_EQ(fb[999], 0.0);
}

TEST(Sampler, GreedySettingsAreArgmax) {
  const std::vector<float> logits = {0.5f, 2.0f, 2.0f, -1.0f};
  for (const SamplingParams& p :
       {SamplingParams{0.0f, 0, 1.0f, 1}, SamplingParams{2.0f, 1, 1.0f, 1}}) {
    Sampler s(p);
    for (uint64_t i = 0; i < 50; ++i) EXPECT_EQ(s.pick(logits, i), 1);
  }
}

TEST(Sampler, RejectsBadParametersAndLogits) {
  EXPECT_THROW(Sampler(SamplingParams{-0.1f, 0, 1.0f, 0}), UsageError);
  EXPECT_THROW(Sampler(SamplingParams{INFINITY, 0, 1.0f, 0}), UsageError);
  EXPECT_THROW(Sampler(SamplingParams{1.0f, -1, 1.0f, 0}), UsageError);
  EXPECT_THROW(Sampler(SamplingParams{1.0f, 0, 0.0f, 0}), UsageError);
  EXPECT_THROW(Sampler(SamplingParams{1.0f, 0, NAN, 0}), UsageError);
  Sampler s(SamplingParams{1.0f, 0, 1.0f, 0});
  EXPECT_THROW(s.pick(std::vector<float>{NAN, NAN}, 0), Error);
  EXPECT_EQ(s.pick(std::vector<float>{-INFINITY, 0.0f}, 0), 1);
}

}  // namespace
}  // namespace hh
