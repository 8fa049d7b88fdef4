// Each CPU kernel, portable and AVX2, against a naive double-precision reference on random
// inputs of odd sizes, for f32, f16 and bf16 tensors.
#include "engine/cpu/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "engine/cpu/cpu_ops.h"
#include "engine/tiny_qwen3.h"

namespace hh::cpu {
namespace {

using test::element;
using test::random_array;

std::vector<const KernelTable*> tables() {
  std::vector<const KernelTable*> t = {&portable_kernels()};
  if (avx2_kernels()) t.push_back(avx2_kernels());
  return t;
}

constexpr ElemType kDtypes[] = {ElemType::F32, ElemType::F16, ElemType::BF16};

std::vector<float> random_floats(int64_t n, std::mt19937_64& rng, double std = 1.0) {
  std::normal_distribution<double> dist(0.0, std);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = static_cast<float>(dist(rng));
  return v;
}

MatView view(const Array& a) { return MatView{a.type(), a.raw(), a.dim(0), a.dim(1)}; }

class Kernels : public ::testing::TestWithParam<const KernelTable*> {
 protected:
  const KernelTable& k() const { return *GetParam(); }
  std::mt19937_64 rng{42};
};

TEST_P(Kernels, MatvecMatchesReference) {
  for (ElemType type : kDtypes) {
    for (int64_t cols : {1, 7, 8, 16, 45, 133}) {
      const int64_t rows = 37, T = 3, ldx = cols + 2, ldy = rows + 1;
      Array w = random_array(type, {rows, cols}, rng, 1.0);
      std::vector<float> x = random_floats(T * ldx, rng);
      const int64_t r0 = 2, r1 = 35;  // a sub-range with a ragged end
      std::vector<float> y(static_cast<size_t>(T * ldy), -7.0f);
      k().matvec(view(w), r0, r1, x.data(), T, ldx, y.data(), ldy);
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t r = r0; r < r1; ++r) {
          double ref = 0, mag = 0;
          for (int64_t i = 0; i < cols; ++i) {
            ref += element(w, r * cols + i) * x[t * ldx + i];
            mag += std::fabs(element(w, r * cols + i) * x[t * ldx + i]);
          }
          EXPECT_NEAR(y[t * ldy + r - r0], ref, 1e-6 * mag + 1e-30)
              << elem_name(type) << " cols=" << cols << " t=" << t << " r=" << r;
        }
        // Entries past r1 - r0 in each output row are untouched.
        EXPECT_EQ(y[t * ldy + (r1 - r0)], -7.0f);
      }
    }
  }
}

TEST_P(Kernels, RowsToF32IsExact) {
  for (ElemType type : kDtypes) {
    Array w = random_array(type, {9, 13}, rng, 3.0);
    std::vector<float> out(7 * 13);
    k().rows_to_f32(view(w), 1, 8, out.data());
    for (int64_t i = 0; i < 7 * 13; ++i) ASSERT_EQ(out[i], element(w, 13 + i)) << elem_name(type);
  }
}

TEST_P(Kernels, F32ToRoundsLikeScalarConversions) {
  std::vector<float> x = random_floats(203, rng, 100.0);
  // Halfway cases, subnormals, overflow, infinities and NaN.
  const float specials[] = {1.0f + 1.0f / 2048,
                            1.0f + 3.0f / 2048,
                            65520.0f,
                            -1e-7f,
                            3e-8f,
                            INFINITY,
                            -INFINITY,
                            NAN,
                            std::bit_cast<float>(0x3f808000u),
                            std::bit_cast<float>(0x3f818000u),
                            std::bit_cast<float>(0x7f7fffffu),
                            0.0f,
                            -0.0f};
  for (size_t i = 0; i < std::size(specials); ++i) x[i * 3] = specials[i];
  std::vector<uint16_t> out(x.size());
  k().f32_to(x.data(), static_cast<int64_t>(x.size()), ElemType::F16, out.data());
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) {
      EXPECT_TRUE(std::isnan(f16_to_f32(out[i])));
    } else {
      EXPECT_EQ(out[i], f32_to_f16(x[i])) << x[i];
    }
  }
  k().f32_to(x.data(), static_cast<int64_t>(x.size()), ElemType::BF16, out.data());
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) {
      EXPECT_TRUE(std::isnan(bf16_to_f32(out[i])));
    } else {
      EXPECT_EQ(out[i], f32_to_bf16(x[i])) << x[i];
    }
  }
  std::vector<float> copy(x.size());
  k().f32_to(x.data(), static_cast<int64_t>(x.size()), ElemType::F32, copy.data());
  EXPECT_EQ(std::memcmp(copy.data(), x.data(), x.size() * sizeof(float)), 0);
  EXPECT_THROW(k().f32_to(x.data(), 4, ElemType::I32, out.data()), UsageError);
}

TEST_P(Kernels, AxpyRowsMatchesReference) {
  for (ElemType type : kDtypes) {
    for (int64_t cols : {5, 16, 40, 77}) {
      Array w = random_array(type, {21, cols}, rng, 1.0);
      std::vector<float> a = random_floats(21, rng), out = random_floats(cols, rng);
      std::vector<double> ref(out.begin(), out.end());
      for (int64_t r = 3; r < 20; ++r) {
        for (int64_t c = 0; c < cols; ++c) ref[c] += a[r - 3] * element(w, r * cols + c);
      }
      k().axpy_rows(view(w), 3, 20, a.data(), out.data());
      for (int64_t c = 0; c < cols; ++c) EXPECT_NEAR(out[c], ref[c], 1e-5) << elem_name(type);
    }
  }
}

TEST_P(Kernels, SoftmaxMatchesReference) {
  for (int64_t n : {1, 7, 8, 29, 300}) {
    std::vector<float> x = random_floats(n, rng, 8.0);
    x[0] = 60.0f;  // large spread: entries far below the max underflow to (near) zero
    if (n > 2) x[1] = -60.0f;
    double m = -INFINITY, sum = 0;
    for (float v : x) m = std::max<double>(m, v);
    for (float v : x) sum += std::exp(v - m);
    std::vector<float> y = x;
    k().softmax(y.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double ref = std::exp(x[i] - m) / sum;
      // x - max in f32 is off by up to |x| * 2^-24 (here up to ~4e-6 of the result).
      EXPECT_NEAR(y[i], ref, 1e-5 * ref + 1e-30) << "n=" << n << " i=" << i;
    }
  }
}

TEST_P(Kernels, RmsNormMatchesReference) {
  for (int64_t n : {1, 15, 16, 48, 131}) {
    std::vector<float> x = random_floats(n, rng, 3.0), w = random_floats(n, rng);
    std::vector<float> out(static_cast<size_t>(n));
    double ss = 0;
    for (float v : x) ss += static_cast<double>(v) * v;
    const double scale = 1.0 / std::sqrt(ss / n + 1e-6);
    k().rms_norm(x.data(), w.data(), 1e-6f, n, out.data());
    for (int64_t i = 0; i < n; ++i)
      EXPECT_NEAR(out[i], x[i] * scale * w[i], 1e-5 * std::fabs(x[i] * scale * w[i]) + 1e-7);
    k().rms_norm(x.data(), w.data(), 1e-6f, n, x.data());  // in place
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(x[i], out[i]);
  }
}

TEST_P(Kernels, RopeRotatesNeoxPairs) {
  for (int64_t dh : {2, 16, 22, 128}) {
    const int64_t half = dh / 2;
    std::vector<float> x = random_floats(dh, rng), angles = random_floats(half, rng, 3.0);
    std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
    for (int64_t i = 0; i < half; ++i) {
      c[i] = std::cos(angles[i]);
      s[i] = std::sin(angles[i]);
    }
    std::vector<float> y = x;
    k().rope(y.data(), dh, c.data(), s.data());
    for (int64_t i = 0; i < half; ++i) {
      EXPECT_NEAR(y[i], double(x[i]) * c[i] - double(x[i + half]) * s[i], 1e-6);
      EXPECT_NEAR(y[i + half], double(x[i]) * s[i] + double(x[i + half]) * c[i], 1e-6);
    }
  }
}

TEST_P(Kernels, SwigluAndAddMatchReference) {
  for (int64_t n : {1, 9, 64, 101}) {
    std::vector<float> g = random_floats(n, rng, 4.0), u = random_floats(n, rng);
    g[0] = -95.0f;  // exp(-g) beyond float range: silu is ~0
    if (n > 1) g[1] = 95.0f;
    std::vector<float> out(static_cast<size_t>(n));
    k().swiglu(g.data(), u.data(), n, out.data());
    for (int64_t i = 0; i < n; ++i) {
      const double ref = g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
      EXPECT_NEAR(out[i], ref, 3e-7 * std::fabs(ref) + 1e-30) << "g=" << g[i];
    }
    std::vector<float> x = u;
    k().add(x.data(), g.data(), n);
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(x[i], u[i] + g[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(Cpu, Kernels, ::testing::ValuesIn(tables()),
                         [](const auto& info) { return std::string(info.param->name); });

TEST(KernelTables, BestIsAvx2WhereTheCpuHasIt) {
  EXPECT_STREQ(portable_kernels().name, "portable");
  if (avx2_kernels()) {
    EXPECT_STREQ(best_kernels().name, "avx2");
  } else {
    EXPECT_STREQ(best_kernels().name, "portable");
  }
}

// The threaded ops around the kernels: the sgemm path with converted tiles (several tiles,
// ragged last one), the matvec path, and attention over a cache in E.
class Ops : public ::testing::TestWithParam<const KernelTable*> {
 protected:
  std::mt19937_64 rng{7};
};

TEST_P(Ops, MatmulMatchesReferenceOnBothPaths) {
  CpuOps ops(*GetParam(), 2, nullptr);
  for (ElemType type : kDtypes) {
    for (int64_t T : {1, 5, 9}) {
      const int64_t R = 300, K = 1000;  // sgemm tiles of 256 and 44 rows
      Array w = random_array(type, {R, K}, rng, 1.0);
      std::vector<float> x = random_floats(T * K, rng), y(static_cast<size_t>(T * R));
      ops.matmul(x.data(), T, w, y.data());
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t r = 0; r < R; r += 7) {
          double ref = 0, mag = 0;
          for (int64_t i = 0; i < K; ++i) {
            ref += element(w, r * K + i) * x[t * K + i];
            mag += std::fabs(element(w, r * K + i) * x[t * K + i]);
          }
          ASSERT_NEAR(y[t * R + r], ref, 2e-6 * mag) << elem_name(type) << " T=" << T;
        }
      }
    }
  }
  Array bad = Array::allocate(ElemType::I32, {4, 4});
  std::vector<float> x(16), y(16);
  EXPECT_THROW(ops.matmul(x.data(), 1, bad, y.data()), UsageError);
}

TEST_P(Ops, AttentionMatchesReference) {
  CpuOps ops(*GetParam(), 2, nullptr);
  const int64_t b = 2, kvh = 2, dh = 16, heads = 4, layer = 1;
  // (pos, T): a short extension, and a prefill of 70 tokens after 3 cached positions.
  for (const auto& [pos, T] : {std::pair<int64_t, int64_t>{5, 4}, {3, 70}}) {
    const int64_t cs = pos + T + 2;
    for (ElemType type : kDtypes) {
      KVCache cache{random_array(type, {b, kvh, cs, dh}, rng, 1.0),
                    random_array(type, {b, kvh, cs, dh}, rng, 1.0)};
      std::vector<float> q = random_floats(T * heads * dh, rng, 2.0);
      std::vector<float> out(static_cast<size_t>(T * heads * dh));
      ops.attention(q.data(), cache, layer, pos, T, heads, out.data());
      const auto at = [&](const Array& a, int64_t g, int64_t p, int64_t i) {
        return element(a, ((layer * kvh + g) * cs + p) * dh + i);
      };
      double worst = 0;
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t j = 0; j < heads; ++j) {
          const int64_t g = j / (heads / kvh), n = pos + t + 1;
          std::vector<double> s(static_cast<size_t>(n));
          double m = -INFINITY, sum = 0;
          for (int64_t p = 0; p < n; ++p) {
            for (int64_t i = 0; i < dh; ++i) {
              s[p] += q[(t * heads + j) * dh + i] * at(cache.k, g, p, i);
            }
            s[p] /= 4.0;  // sqrt(dh)
            m = std::max(m, s[p]);
          }
          for (double& e : s) sum += (e = std::exp(e - m));
          for (int64_t i = 0; i < dh; ++i) {
            double ref = 0;
            for (int64_t p = 0; p < n; ++p) ref += s[p] / sum * at(cache.v, g, p, i);
            worst = std::max(worst, std::fabs(out[(t * heads + j) * dh + i] - ref));
          }
        }
      }
      EXPECT_LT(worst, 1e-5) << elem_name(type) << " pos=" << pos << " T=" << T;
    }
  }
}

TEST_P(Ops, EmbedRejectsTokensOutsideTheTable) {
  CpuOps ops(*GetParam(), 1, nullptr);
  Array table = random_array(ElemType::F16, {5, 8}, rng, 1.0);
  std::vector<float> out(16);
  const int64_t good[] = {4, 0};
  ops.embed(table, good, out.data());
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(out[i], element(table, 32 + i));
  const int64_t bad[] = {1, 5};
  try {
    ops.embed(table, bad, out.data());
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("token id 5 at index 1"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Cpu, Ops, ::testing::ValuesIn(tables()),
                         [](const auto& info) { return std::string(info.param->name); });

}  // namespace
}  // namespace hh::cpu
