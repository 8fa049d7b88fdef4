#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace hh {

namespace {

// SplitMix64's finaliser: a bijection of 64-bit words with good avalanche.
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

int64_t argmax(std::span<const float> logits) {
  int64_t best = 0;
  float best_value = -INFINITY;
  bool found = false;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] > best_value || (!found && logits[i] == best_value)) {
      best = static_cast<int64_t>(i);
      best_value = logits[i];
      found = true;
    }
  }
  return best;
}

double uniform_random(uint64_t seed, uint64_t step) {
  // Two rounds so that nearby (seed, step) pairs give unrelated words; the top 53 bits make
  // the double.
  const uint64_t bits = mix64(seed ^ mix64(step));
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

Sampler::Sampler(const SamplingParams& params) : p_(params) {
  if (!(p_.temperature >= 0.0f) || std::isinf(p_.temperature)) {
    fail_usage("temperature must be a finite number >= 0, got {}", p_.temperature);
  }
  if (p_.top_k < 0) fail_usage("top_k must be >= 0 (0 = no cut), got {}", p_.top_k);
  if (!(p_.top_p > 0.0f && p_.top_p <= 1.0f)) {
    fail_usage("top_p must be in (0, 1] (1 = no cut), got {}", p_.top_p);
  }
}

int64_t Sampler::pick(std::span<const float> logits, uint64_t step) {
  if (p_.temperature == 0.0f || p_.top_k == 1) return argmax(logits);
  const auto v = static_cast<int64_t>(logits.size());
  const float top = logits[static_cast<size_t>(argmax(logits))];
  weight_.resize(logits.size());
  const float inv_t = 1.0f / p_.temperature;
  for (size_t i = 0; i < logits.size(); ++i) weight_[i] = std::exp((logits[i] - top) * inv_t);

  // Most likely first; equal weights by token id, so the order is fully determined.
  const auto before = [this](int32_t a, int32_t b) {
    const float wa = weight_[static_cast<size_t>(a)], wb = weight_[static_cast<size_t>(b)];
    return wa > wb || (wa == wb && a < b);
  };
  order_.resize(logits.size());
  std::iota(order_.begin(), order_.end(), 0);
  // Candidates: the top_k most likely, sorted (all, in token-id order, when top_k is 0 or at
  // least v).
  int64_t n = v;
  if (p_.top_k > 0 && p_.top_k < v) {
    n = p_.top_k;
    std::partial_sort(order_.begin(), order_.begin() + n, order_.end(), before);
  }
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i)
    total += weight_[static_cast<size_t>(order_[static_cast<size_t>(i)])];
  if (!(total > 0.0) || !std::isfinite(total)) {
    fail("sampling step {}: the logits give no finite distribution (NaN or infinite logits)", step);
  }

  // Nucleus: the fewest most likely candidates whose mass reaches top_p. Only as many are
  // sorted as that needs, doubling the sorted prefix (usually a few dozen of the whole
  // vocabulary).
  int64_t keep = n;
  double kept = total;
  if (p_.top_p < 1.0f) {
    const double target = static_cast<double>(p_.top_p) * total;
    const bool presorted = n < v;
    double cumulative = 0.0;
    int64_t sorted = 0;
    for (int64_t m = std::min<int64_t>(n, 64); sorted < n; m = std::min(n, 2 * m)) {
      if (!presorted) {
        std::partial_sort(order_.begin() + sorted, order_.begin() + m, order_.begin() + n, before);
      }
      for (; sorted < m && cumulative < target; ++sorted) {
        cumulative += weight_[static_cast<size_t>(order_[static_cast<size_t>(sorted)])];
      }
      if (cumulative >= target) break;
    }
    // Rounding may leave the sum of all n a hair short of the target: then all are kept.
    if (cumulative >= target) {
      keep = sorted;
      kept = cumulative;
    }
  }

  // Draw from the kept candidates in their (deterministic) order.
  const double u = uniform_random(p_.seed, step) * kept;
  double acc = 0.0;
  for (int64_t i = 0; i < keep; ++i) {
    const int32_t id = order_[static_cast<size_t>(i)];
    acc += weight_[static_cast<size_t>(id)];
    if (u < acc) return id;
  }
  return order_[static_cast<size_t>(keep - 1)];  // u within rounding of the kept mass
}

}  // namespace hh
