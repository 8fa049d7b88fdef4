#pragma once
// Random values for `random input { [n][m]t }` and `hedgehog dataset generate`: a fixed,
// portable generator (xoshiro256** seeded through splitmix64), so the same seed gives the same
// bytes on every machine and in every release that keeps kRandomGeneratorVersion.
#include <cstdint>
#include <map>
#include <string_view>

#include "values/array.h"

namespace hh::bench {

// Bumped whenever the bytes generated for a seed change; part of the cache key of generated
// data files.
inline constexpr int kRandomGeneratorVersion = 1;
// The seed of `random input` datasets.
inline constexpr uint64_t kDefaultRandomSeed = 0x68656467;  // "hedg"

class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  // Uniform integer in [low, high] (low <= high), without modulo bias.
  int64_t uniform_int(int64_t low, int64_t high);

 private:
  uint64_t s_[4];
};

// Value ranges per element type: integers in [low, high] (both included), floats drawn from
// [low, high) (rounding to f16/bf16/f32 may reach high itself). Defaults: integers 0..100,
// floats 0..1.
struct RandomRange {
  double low = 0;
  double high = 0;
};
class RandomRanges {
 public:
  RandomRange get(ElemType type) const;
  // Throws UsageError when low > high, or when the bounds do not fit the type.
  void set(ElemType type, RandomRange range);
  // Parses "LOW:HIGH" for `type` (e.g. "--i64-bounds -5:5").
  void set(ElemType type, std::string_view text);

 private:
  std::map<ElemType, RandomRange> ranges_;
};

Array random_array(ElemType type, const Shape& shape, Rng& rng, const RandomRanges& ranges = {});

}  // namespace hh::bench
