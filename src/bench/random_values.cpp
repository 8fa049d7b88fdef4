#include "bench/random_values.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "util/half.h"

namespace hh::bench {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// The representable integer range of an integer type, as doubles (exact for every bound that
// matters: the 64-bit extremes round outwards, which the clamp below absorbs).
std::pair<double, double> integer_limits(ElemType type) {
  switch (type) {
    case ElemType::I8:
      return {-128.0, 127.0};
    case ElemType::I16:
      return {-32768.0, 32767.0};
    case ElemType::I32:
      return {-2147483648.0, 2147483647.0};
    case ElemType::I64:
      return {-9223372036854775808.0, 9223372036854775807.0};
    case ElemType::U8:
      return {0.0, 255.0};
    case ElemType::U16:
      return {0.0, 65535.0};
    case ElemType::U32:
      return {0.0, 4294967295.0};
    // Generation goes through int64, so u64 values stop at 2^63 - 1.
    case ElemType::U64:
      return {0.0, 9223372036854775807.0};
    default:
      return {0, 0};
  }
}

template <typename T>
void fill_ints(Array& a, Rng& rng, int64_t low, int64_t high) {
  T* out = a.data<T>();
  for (int64_t i = 0; i < a.count(); ++i) out[i] = static_cast<T>(rng.uniform_int(low, high));
}

}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

int64_t Rng::uniform_int(int64_t low, int64_t high) {
  const uint64_t span = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  if (span == std::numeric_limits<uint64_t>::max()) return static_cast<int64_t>(next());
  const uint64_t n = span + 1;
  // Lemire's multiply-and-reject: unbiased, one multiplication in the common case.
  unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
  uint64_t low_bits = static_cast<uint64_t>(m);
  if (low_bits < n) {
    const uint64_t threshold = (0 - n) % n;
    while (low_bits < threshold) {
      m = static_cast<unsigned __int128>(next()) * n;
      low_bits = static_cast<uint64_t>(m);
    }
  }
  return static_cast<int64_t>(static_cast<uint64_t>(low) + static_cast<uint64_t>(m >> 64));
}

RandomRange RandomRanges::get(ElemType type) const {
  const auto it = ranges_.find(type);
  if (it != ranges_.end()) return it->second;
  if (is_float(type)) return {0, 1};
  return {0, 100};
}

void RandomRanges::set(ElemType type, RandomRange range) {
  if (!(range.low <= range.high)) {
    fail_usage("{} bounds {}:{}: the lower bound is above the upper one", elem_name(type),
               range.low, range.high);
  }
  if (type == ElemType::Bool) fail_usage("bool values take no bounds");
  if (!is_float(type)) {
    const auto [lo, hi] = integer_limits(type);
    if (range.low < lo || range.high > hi || std::floor(range.low) != range.low ||
        std::floor(range.high) != range.high) {
      fail_usage("{} bounds {}:{} are not integers within {}..{}", elem_name(type), range.low,
                 range.high, lo, hi);
    }
  } else if (!std::isfinite(range.low) || !std::isfinite(range.high)) {
    fail_usage("{} bounds must be finite", elem_name(type));
  }
  ranges_[type] = range;
}

void RandomRanges::set(ElemType type, std::string_view text) {
  const size_t colon = text.find(':', text.empty() || text[0] != '-' ? 0 : 1);
  const auto number = [&](std::string_view s) {
    const std::string str(s);
    char* end = nullptr;
    const double v = std::strtod(str.c_str(), &end);
    if (str.empty() || end != str.c_str() + str.size()) {
      fail_usage("{} bounds \"{}\": \"{}\" is not a number (expected LOW:HIGH)", elem_name(type),
                 text, s);
    }
    return v;
  };
  if (colon == std::string_view::npos) {
    fail_usage("{} bounds \"{}\": expected LOW:HIGH", elem_name(type), text);
  }
  set(type, RandomRange{number(text.substr(0, colon)), number(text.substr(colon + 1))});
}

Array random_array(ElemType type, const Shape& shape, Rng& rng, const RandomRanges& ranges) {
  Array a = Array::allocate(type, shape, /*zero=*/false);
  const RandomRange r = ranges.get(type);
  const int64_t n = a.count();
  const auto real = [&] { return r.low + (r.high - r.low) * rng.uniform(); };
  switch (type) {
    case ElemType::Bool: {
      auto* out = a.data<uint8_t>();
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(rng.next() >> 63);
      break;
    }
    case ElemType::F16: {
      auto* out = a.data<uint16_t>();
      for (int64_t i = 0; i < n; ++i) out[i] = f32_to_f16(static_cast<float>(real()));
      break;
    }
    case ElemType::BF16: {
      auto* out = a.data<uint16_t>();
      for (int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(static_cast<float>(real()));
      break;
    }
    case ElemType::F32: {
      auto* out = a.data<float>();
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(real());
      break;
    }
    case ElemType::F64: {
      auto* out = a.data<double>();
      for (int64_t i = 0; i < n; ++i) out[i] = real();
      break;
    }
    default: {
      const auto [lo_limit, hi_limit] = integer_limits(type);
      const double lo_d = std::max(r.low, lo_limit), hi_d = std::min(r.high, hi_limit);
      // 2^63 itself is not an int64: the clamp keeps the conversion defined.
      const auto to_i64 = [](double v) {
        if (v >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
        if (v <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
        return static_cast<int64_t>(v);
      };
      const int64_t lo = to_i64(lo_d), hi = to_i64(hi_d);
      switch (type) {
        case ElemType::I8:
          fill_ints<int8_t>(a, rng, lo, hi);
          break;
        case ElemType::I16:
          fill_ints<int16_t>(a, rng, lo, hi);
          break;
        case ElemType::I32:
          fill_ints<int32_t>(a, rng, lo, hi);
          break;
        case ElemType::I64:
          fill_ints<int64_t>(a, rng, lo, hi);
          break;
        case ElemType::U8:
          fill_ints<uint8_t>(a, rng, lo, hi);
          break;
        case ElemType::U16:
          fill_ints<uint16_t>(a, rng, lo, hi);
          break;
        case ElemType::U32:
          fill_ints<uint32_t>(a, rng, lo, hi);
          break;
        case ElemType::U64:
          fill_ints<uint64_t>(a, rng, lo, hi);
          break;
        default:
          fail("random_array: unhandled type {}", elem_name(type));
      }
    }
  }
  return a;
}

}  // namespace hh::bench
