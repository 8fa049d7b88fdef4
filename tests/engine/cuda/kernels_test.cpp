// Each CUDA kernel family against a CPU reference in double precision, on random inputs of
// shapes that take every code path (16-byte and element loads, 1/2/4 warps per row, split and
// unsplit attention); outputs are poisoned first so an unwritten element fails. Skipped where no
// GPU is present.
#ifdef HH_HAVE_CUDA
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "engine/cuda/cuda_test_util.h"
#include "engine/cuda/kernels.h"
#include "engine/qwen3.h"
#include "engine/sampler.h"
#include "util/error.h"
#include "util/half.h"

namespace hh {
namespace {

using test::DeviceBuffer;

const ElemType kDtypes[] = {ElemType::F32, ElemType::F16, ElemType::BF16};

// Values rounded to `type`, as raw bytes, and the rounded values as double.
struct Encoded {
  std::vector<uint8_t> bytes;
  std::vector<double> values;
};

Encoded encode(ElemType type, const std::vector<float>& x) {
  Encoded e;
  e.bytes.resize(x.size() * elem_size(type));
  e.values.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    if (type == ElemType::F32) {
      std::memcpy(&e.bytes[i * 4], &x[i], 4);
      e.values[i] = x[i];
    } else {
      const uint16_t b = type == ElemType::F16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
      std::memcpy(&e.bytes[i * 2], &b, 2);
      e.values[i] = type == ElemType::F16 ? f16_to_f32(b) : bf16_to_f32(b);
    }
  }
  return e;
}

double decode_at(ElemType type, const std::vector<uint8_t>& bytes, size_t i) {
  if (type == ElemType::F32) return load_unaligned<float>(&bytes[i * 4]);
  const auto b = load_unaligned<uint16_t>(&bytes[i * 2]);
  return type == ElemType::F16 ? f16_to_f32(b) : bf16_to_f32(b);
}

std::vector<float> random_floats(size_t n, std::mt19937_64& rng, double std = 1.0,
                                 double mean = 0.0) {
  std::normal_distribution<double> dist(mean, std);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(dist(rng));
  return v;
}

double rel_error(const std::vector<float>& got, const std::vector<double>& want) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    diff += (got[i] - want[i]) * (got[i] - want[i]);
    norm += want[i] * want[i];
  }
  return std::sqrt(diff / norm);
}

// Rows in cuda::SplitBf16Rows form (hi | lo | hi rows of 3n bf16) joined back into values; the
// two copies of hi must agree.
std::vector<double> join_halves(const std::vector<uint16_t>& raw, int64_t rows, int64_t n) {
  std::vector<double> out(static_cast<size_t>(rows * n));
  for (int64_t r = 0; r < rows; ++r) {
    const uint16_t* row = &raw[r * cuda::kSplitParts * n];
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(row[i], row[2 * n + i]) << "row " << r << " column " << i;
      out[r * n + i] = double{bf16_to_f32(row[i])} + bf16_to_f32(row[n + i]);
    }
  }
  return out;
}

// Halves are within 2^-16 of the value they split (split_bf16.cu).
constexpr double kSplitTolerance = 1.6e-5;

std::vector<double> ref_rms_norm(const std::vector<float>& x, const std::vector<float>& w,
                                 size_t row, size_t n, double eps) {
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += double(x[row * n + i]) * x[row * n + i];
  const double scale = 1.0 / std::sqrt(ss / n + eps);
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = x[row * n + i] * scale * w[i];
  return out;
}

class CudaKernels : public ::testing::TestWithParam<ElemType> {
 protected:
  void SetUp() override { HH_SKIP_WITHOUT_GPU(); }
  ElemType dtype() const { return GetParam(); }
  std::mt19937_64 rng_{1234};
};

TEST_P(CudaKernels, EmbedGathersRows) {
  const int64_t v = 37, d = 20;
  const Encoded table = encode(dtype(), random_floats(v * d, rng_));
  DeviceBuffer<uint8_t> t(table.bytes);
  const std::vector<int64_t> tokens = {3, 0, 36, 3};
  DeviceBuffer<int64_t> tok(tokens);
  DeviceBuffer<float> out(tokens.size() * d, NAN);
  cuda::embed(dtype(), t.get(), tok.get(), 4, d, out.get(), nullptr);
  const auto got = out.read();
  for (size_t t_i = 0; t_i < tokens.size(); ++t_i) {
    for (int64_t i = 0; i < d; ++i) {
      EXPECT_EQ(got[t_i * d + i], static_cast<float>(table.values[tokens[t_i] * d + i]));
    }
  }
}

TEST_P(CudaKernels, RmsNormRowsInEveryOutputType) {
  const int64_t rows = 3, n = 1000;
  const auto x = random_floats(rows * n, rng_, 2.0);
  const auto w = random_floats(n, rng_, 0.1, 1.0);
  DeviceBuffer<float> dx(x), dw(w);
  DeviceBuffer<uint8_t> out(rows * n * elem_size(dtype()), 0xff);
  cuda::rms_norm(dx.get(), dw.get(), 1e-6f, rows, n, dtype(), out.get(), nullptr);
  const auto bytes = out.read();
  const double tol = dtype() == ElemType::F32 ? 1e-6 : 1e-2;
  // And as bf16 halves (the split form of f32 models; the same for every dtype).
  DeviceBuffer<uint16_t> halves(static_cast<size_t>(rows * cuda::kSplitParts * n), 0xffff);
  cuda::rms_norm(dx.get(), dw.get(), 1e-6f, rows, n, cuda::SplitBf16Rows{}, halves.get(), nullptr);
  const auto joined = join_halves(halves.read(), rows, n);
  for (int64_t r = 0; r < rows; ++r) {
    const auto want = ref_rms_norm(x, w, r, n, 1e-6);
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_NEAR(decode_at(dtype(), bytes, r * n + i), want[i], tol * (1 + std::abs(want[i])));
      EXPECT_NEAR(joined[r * n + i], want[i], kSplitTolerance * (1 + std::abs(want[i])));
    }
  }
}

// The reference of qk_norm_rope_store for one head vector: norm, then NeoX rotation.
std::vector<double> ref_head(const float* x, const std::vector<float>& w, int64_t dh, double eps,
                             int64_t pos, double theta) {
  double ss = 0;
  for (int64_t i = 0; i < dh; ++i) ss += double(x[i]) * x[i];
  const double scale = 1.0 / std::sqrt(ss / dh + eps);
  std::vector<double> n(dh), out(dh);
  for (int64_t i = 0; i < dh; ++i) n[i] = x[i] * scale * w[i];
  for (int64_t i = 0; i < dh / 2; ++i) {
    const double a = std::pow(theta, -2.0 * i / dh) * pos;
    out[i] = n[i] * std::cos(a) - n[i + dh / 2] * std::sin(a);
    out[i + dh / 2] = n[i] * std::sin(a) + n[i + dh / 2] * std::cos(a);
  }
  return out;
}

TEST_P(CudaKernels, QkNormRopeStoresIntoTheCache) {
  for (const int64_t dh : {16, 128}) {
    for (const bool device_pos : {false, true}) {
      SCOPED_TRACE(testing::Message() << "dh " << dh << " device_pos " << device_pos);
      const int64_t T = device_pos ? 1 : 3, h = 4, kvh = 2, cs = 40, pos = 29;
      const double theta = 1e6;
      const auto q = random_floats(T * h * dh, rng_), k = random_floats(T * kvh * dh, rng_),
                 v = random_floats(T * kvh * dh, rng_);
      const auto qn = random_floats(dh, rng_, 0.1, 1.0), kn = random_floats(dh, rng_, 0.1, 1.0);
      DeviceBuffer<float> dq(q), dk(k), dv(v), dqn(qn), dkn(kn);
      const size_t plane = kvh * cs * dh * elem_size(dtype());
      DeviceBuffer<uint8_t> kc(plane, 0), vc(plane, 0);
      DeviceBuffer<int64_t> dpos(std::vector<int64_t>{pos});
      DeviceBuffer<double> dfreq(rope_inv_freq(static_cast<float>(theta), dh));
      cuda::QkvRope p{dq.get(),
                      dk.get(),
                      dv.get(),
                      h * dh,
                      kvh * dh,
                      kvh * dh,
                      dqn.get(),
                      dkn.get(),
                      kc.get(),
                      vc.get(),
                      T,
                      h,
                      kvh,
                      dh,
                      cs,
                      1e-6f,
                      device_pos ? 0 : pos,
                      device_pos ? dpos.get() : nullptr,
                      dfreq.get()};
      // The queries' bf16 halves as well (f32 models' split attention products).
      DeviceBuffer<uint16_t> q_halves(static_cast<size_t>(T * h * cuda::kSplitParts * dh), 0xffff);
      p.q_split = q_halves.get();
      cuda::qk_norm_rope_store(dtype(), p, nullptr);
      const auto gq = dq.read();
      const auto joined = join_halves(q_halves.read(), h * T, dh);  // head-major
      const auto gk = kc.read(), gv = vc.read();
      const double tol = dtype() == ElemType::F32 ? 2e-5 : 1e-2;
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t j = 0; j < h; ++j) {
          const auto want = ref_head(&q[(t * h + j) * dh], qn, dh, 1e-6, pos + t, theta);
          for (int64_t i = 0; i < dh; ++i) {
            EXPECT_NEAR(gq[(t * h + j) * dh + i], want[i], 2e-5 * (1 + std::abs(want[i])));
            EXPECT_NEAR(joined[(j * T + t) * dh + i], gq[(t * h + j) * dh + i],
                        kSplitTolerance * std::abs(gq[(t * h + j) * dh + i]));
          }
        }
        for (int64_t g = 0; g < kvh; ++g) {
          const auto want = ref_head(&k[(t * kvh + g) * dh], kn, dh, 1e-6, pos + t, theta);
          for (int64_t i = 0; i < dh; ++i) {
            const size_t at = (g * cs + pos + t) * dh + i;
            EXPECT_NEAR(decode_at(dtype(), gk, at), want[i], tol * (1 + std::abs(want[i])));
            EXPECT_NEAR(decode_at(dtype(), gv, at), v[(t * kvh + g) * dh + i],
                        tol * (1 + std::abs(v[(t * kvh + g) * dh + i])));
          }
        }
      }
      // Other positions are untouched.
      for (int64_t g = 0; g < kvh; ++g) {
        EXPECT_EQ(decode_at(dtype(), gk, (g * cs + pos - 1) * dh), 0.0);
        EXPECT_EQ(decode_at(dtype(), gv, (g * cs + pos - 1) * dh), 0.0);
      }
    }
  }
}

TEST_P(CudaKernels, QkNormRopeRefusesHeadsWiderThan256) {
  cuda::QkvRope p{};
  p.T = 1;
  p.h = p.kvh = 1;
  p.dh = 264;
  EXPECT_THROW(cuda::qk_norm_rope_store(dtype(), p, nullptr), UsageError);
}

TEST_P(CudaKernels, MatvecModesMatchReference) {
  struct Shape {
    std::vector<int64_t> rows;
    int64_t K;
    cuda::MatvecMode mode;
    bool norm;
  };
  const Shape shapes[] = {
      {{2048, 1024, 1024}, 1024, cuda::MatvecMode::Store, true},  // QKV: 1 warp per row
      {{97}, 48, cuda::MatvecMode::Store, true},                  // odd: element loads
      {{1024}, 2048, cuda::MatvecMode::Add, false},               // 4 warps per row
      {{3000}, 1024, cuda::MatvecMode::SwiGlu, true},             // 2 warps per row
      {{80}, 44, cuda::MatvecMode::SwiGlu, false},                // element loads
      {{48}, 3080, cuda::MatvecMode::Add, false},                 // tail after the unrolled loop
  };
  for (const Shape& s : shapes) {
    SCOPED_TRACE(testing::Message()
                 << "K " << s.K << " rows " << s.rows[0] << " mode " << static_cast<int>(s.mode));
    const int n_mats = s.mode == cuda::MatvecMode::SwiGlu ? 2 : static_cast<int>(s.rows.size());
    const auto x = random_floats(s.K, rng_);
    const auto nw = random_floats(s.K, rng_, 0.1, 1.0);
    std::vector<double> xin(s.K);
    if (s.norm) {
      xin = ref_rms_norm(x, nw, 0, s.K, 1e-6);
    } else {
      for (int64_t i = 0; i < s.K; ++i) xin[i] = x[i];
    }
    DeviceBuffer<float> dx(x), dnw(nw);
    std::vector<Encoded> w;
    std::vector<std::unique_ptr<DeviceBuffer<uint8_t>>> dw;
    std::vector<std::unique_ptr<DeviceBuffer<float>>> dy;
    std::vector<std::vector<float>> y0;
    cuda::MatvecArgs a;
    for (int m = 0; m < n_mats; ++m) {
      const int64_t rows = s.rows[s.mode == cuda::MatvecMode::SwiGlu ? 0 : m];
      w.push_back(encode(dtype(), random_floats(rows * s.K, rng_, 0.05)));
      dw.push_back(std::make_unique<DeviceBuffer<uint8_t>>(w.back().bytes));
      y0.push_back(s.mode == cuda::MatvecMode::Add ? random_floats(rows, rng_)
                                                   : std::vector<float>(rows, NAN));
      dy.push_back(std::make_unique<DeviceBuffer<float>>(y0.back()));
      a.w[m] = dw.back()->get();
      a.rows[m] = rows;
      a.y[m] = dy.back()->get();
    }
    a.n_mats = n_mats;
    a.K = s.K;
    a.x = dx.get();
    a.norm_weight = s.norm ? dnw.get() : nullptr;
    a.eps = 1e-6f;
    a.mode = s.mode;
    cuda::matvec(dtype(), a, nullptr);
    auto dot = [&](int m, int64_t r) {
      double acc = 0;
      for (int64_t i = 0; i < s.K; ++i) acc += w[m].values[r * s.K + i] * xin[i];
      return acc;
    };
    for (int m = 0; m < (s.mode == cuda::MatvecMode::SwiGlu ? 1 : n_mats); ++m) {
      std::vector<double> want(a.rows[m]);
      for (int64_t r = 0; r < a.rows[m]; ++r) {
        if (s.mode == cuda::MatvecMode::Store) want[r] = dot(m, r);
        if (s.mode == cuda::MatvecMode::Add) want[r] = y0[m][r] + dot(m, r);
        if (s.mode == cuda::MatvecMode::SwiGlu) {
          const double g = dot(0, r);
          want[r] = g / (1 + std::exp(-g)) * dot(1, r);
        }
      }
      EXPECT_LT(rel_error(dy[m]->read(), want), 1e-5);
    }
  }
}

// Naive causal attention in double over a cache given as doubles (kvh, cs, dh).
std::vector<double> ref_attention(const std::vector<float>& q, const std::vector<double>& kc,
                                  const std::vector<double>& vc, int64_t T, int64_t h, int64_t kvh,
                                  int64_t dh, int64_t cs, int64_t pos) {
  std::vector<double> out(T * h * dh, 0.0);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t j = 0; j < h; ++j) {
      const int64_t g = j / (h / kvh), n = pos + t + 1;
      std::vector<double> s(n);
      double m = -INFINITY, sum = 0;
      for (int64_t p = 0; p < n; ++p) {
        double dot = 0;
        for (int64_t i = 0; i < dh; ++i) dot += q[(t * h + j) * dh + i] * kc[(g * cs + p) * dh + i];
        s[p] = dot / std::sqrt(double(dh));
        m = std::max(m, s[p]);
      }
      for (double& x : s) sum += (x = std::exp(x - m));
      for (int64_t p = 0; p < n; ++p) {
        for (int64_t i = 0; i < dh; ++i) {
          out[(t * h + j) * dh + i] += s[p] / sum * vc[(g * cs + p) * dh + i];
        }
      }
    }
  }
  return out;
}

TEST_P(CudaKernels, AttentionSplitAndUnsplitMatchReference) {
  struct Case {
    int64_t T, h, kvh, dh, cs, pos;
    int splits;
  };
  const Case cases[] = {
      {1, 16, 8, 128, 2048, 1500, 8},  // decode, split over the cache
      {1, 4, 2, 16, 64, 0, 1},         // the first position
      {1, 4, 2, 32, 300, 299, 3},      // decode at the last position
      {37, 8, 2, 32, 128, 20, 1},      // prefill over a cached prefix, group 4
      {37, 4, 2, 8, 128, 20, 3},       // prefill split
      {5, 32, 2, 64, 40, 3, 2},        // group 16: the most queries a block takes
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "T " << c.T << " h " << c.h << " kvh " << c.kvh << " dh "
                                    << c.dh << " pos " << c.pos << " splits " << c.splits);
    const auto q = random_floats(c.T * c.h * c.dh, rng_);
    const Encoded kc = encode(dtype(), random_floats(c.kvh * c.cs * c.dh, rng_));
    const Encoded vc = encode(dtype(), random_floats(c.kvh * c.cs * c.dh, rng_));
    DeviceBuffer<float> dq(q), out(c.T * c.h * c.dh, NAN);
    DeviceBuffer<uint8_t> dk(kc.bytes), dv(vc.bytes);
    DeviceBuffer<float> partial(cuda::attention_scratch_floats(c.T, c.h, c.kvh, c.dh, c.splits) + 1,
                                0.0f);
    DeviceBuffer<unsigned> counters(cuda::attention_counters(c.T, c.h, c.kvh), 0u);
    DeviceBuffer<int64_t> dpos(std::vector<int64_t>{c.pos});
    cuda::AttentionArgs a{dq.get(),   dk.get(), dv.get(),      out.get(),     c.T,
                          c.h,        c.kvh,    c.dh,          c.cs,          0,
                          dpos.get(), c.splits, partial.get(), counters.get()};
    const auto want = ref_attention(q, kc.values, vc.values, c.T, c.h, c.kvh, c.dh, c.cs, c.pos);
    for (int run = 0; run < 2; ++run) {  // the second run checks the counters were reset
      cuda::attention(dtype(), a, nullptr);
      EXPECT_LT(rel_error(out.read(), want), 1e-5);
    }
    for (unsigned n : counters.read()) EXPECT_EQ(n, 0u);
  }
}

// The causal softmax of prefill attention through matrix products: each row's visible scores
// (query t at position p0 + t sees keys up to it) against a double-precision softmax, zeros past.
TEST_P(CudaKernels, CausalSoftmaxMatchesReference) {
  const int64_t h = 3, T = 5, p0 = 7, n = p0 + T;
  const auto scores = random_floats(h * T * n, rng_, 3.0);
  DeviceBuffer<float> ds(scores);
  DeviceBuffer<uint8_t> dp(static_cast<size_t>(h * T * n) * elem_size(dtype()), 0xff);
  cuda::causal_softmax(dtype(), ds.get(), h, T, n, p0, dp.get(), nullptr);
  const auto got = dp.read();
  DeviceBuffer<uint16_t> halves(static_cast<size_t>(h * T * cuda::kSplitParts * n), 0xffff);
  cuda::causal_softmax(cuda::SplitBf16Rows{}, ds.get(), h, T, n, p0, halves.get(), nullptr);
  const auto joined = join_halves(halves.read(), h * T, n);
  const double tol = dtype() == ElemType::F32 ? 1e-6 : dtype() == ElemType::F16 ? 1e-3 : 8e-3;
  for (int64_t r = 0; r < h * T; ++r) {
    const int64_t visible = p0 + r % T + 1;
    double mx = -INFINITY, sum = 0.0;
    for (int64_t i = 0; i < visible; ++i) mx = std::max(mx, double{scores[r * n + i]});
    for (int64_t i = 0; i < visible; ++i) sum += std::exp(scores[r * n + i] - mx);
    for (int64_t i = 0; i < n; ++i) {
      const double want = i < visible ? std::exp(scores[r * n + i] - mx) / sum : 0.0;
      EXPECT_NEAR(decode_at(dtype(), got, static_cast<size_t>(r * n + i)), want,
                  tol * std::max(want, 1e-3))
          << "row " << r << " key " << i;
      EXPECT_NEAR(joined[r * n + i], want, 2e-5 * std::max(want, 1e-3))
          << "halves, row " << r << " key " << i;
    }
  }
  // Rows longer than the kernel holds are refused before anything runs.
  EXPECT_THROW(cuda::causal_softmax(dtype(), ds.get(), 1, 1, cuda::kCausalSoftmaxMaxKeys + 1,
                                    cuda::kCausalSoftmaxMaxKeys, dp.get(), nullptr),
               UsageError);
}

TEST_P(CudaKernels, SwigluOfPackedAndStridedRows) {
  const int64_t rows = 3, f = 300;
  for (const int64_t stride : {f, 2 * f + 4}) {
    // Gate rows at 0, stride, ...; up rows `up` floats further (packed: a separate array).
    const int64_t up = stride == f ? rows * f : f;
    const auto gu = random_floats(up + rows * stride, rng_, 2.0);
    DeviceBuffer<float> d(gu);
    DeviceBuffer<uint8_t> out(static_cast<size_t>(rows * f) * elem_size(dtype()), 0xff);
    cuda::swiglu(d.get(), d.get() + up, rows, f, stride, dtype(), out.get(), nullptr);
    const auto got = out.read();
    DeviceBuffer<uint16_t> halves(static_cast<size_t>(rows * cuda::kSplitParts * f), 0xffff);
    cuda::swiglu(d.get(), d.get() + up, rows, f, stride, cuda::SplitBf16Rows{}, halves.get(),
                 nullptr);
    const auto joined = join_halves(halves.read(), rows, f);
    const double tol = dtype() == ElemType::F32 ? 1e-6 : dtype() == ElemType::F16 ? 1e-3 : 8e-3;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < f; ++i) {
        const double g = gu[r * stride + i], u = gu[up + r * stride + i];
        const double want = g / (1 + std::exp(-g)) * u;
        EXPECT_NEAR(decode_at(dtype(), got, static_cast<size_t>(r * f + i)), want,
                    tol * std::max(std::abs(want), 1e-2))
            << "stride " << stride << " row " << r << " column " << i;
        EXPECT_NEAR(joined[r * f + i], want, kSplitTolerance * std::max(std::abs(want), 1e-2))
            << "halves, stride " << stride << " row " << r << " column " << i;
      }
    }
  }
}

// The bf16 halves: hi is the nearest bf16 value of the input, lo the nearest of the remainder,
// hi + lo within 2^-16 of the input, hi twice, in both layouts, over magnitudes from tiny to
// huge.
TEST(CudaSplitBf16, HalvesAreNearestBf16) {
  HH_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(5);
  const int64_t rows = 3, K = 700;
  std::vector<float> x = random_floats(rows * K, rng);
  std::uniform_int_distribution<int> exponent(-100, 100);
  for (size_t i = 0; i < x.size(); i += 3) x[i] = std::ldexp(x[i], exponent(rng));
  x[1] = INFINITY;
  x[4] = -0.0f;
  DeviceBuffer<float> src(x);
  // Whether b is a nearest bf16 value of v: no closer value among v's two bf16 neighbours.
  const auto nearest = [](double v, uint16_t b) {
    const float fv = static_cast<float>(v);
    uint32_t bits;
    std::memcpy(&bits, &fv, 4);
    const double got = bf16_to_f32(b);
    for (const uint32_t n : {bits & 0xffff0000u, (bits & 0xffff0000u) + 0x10000u}) {
      float neighbour;
      std::memcpy(&neighbour, &n, 4);
      if (std::abs(v - got) > std::abs(v - neighbour)) return false;
    }
    return true;
  };
  for (const auto layout : {cuda::SplitLayout::LoHiHi, cuda::SplitLayout::HiLoHi}) {
    DeviceBuffer<uint16_t> dst(static_cast<size_t>(3 * rows * K), 0xffff);
    cuda::split_bf16_rows(src.get(), rows, K, dst.get(), layout, nullptr);
    const auto got = dst.read();
    const bool lo_first = layout == cuda::SplitLayout::LoHiHi;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < K; ++k) {
        const float in = x[r * K + k];
        const uint16_t hi = got[r * 3 * K + (lo_first ? K + k : k)];
        const uint16_t lo = got[r * 3 * K + (lo_first ? k : K + k)];
        EXPECT_EQ(got[r * 3 * K + 2 * K + k], hi) << r << " " << k;  // hi again
        if (std::isinf(in)) {
          EXPECT_EQ(bf16_to_f32(hi), in);
          EXPECT_EQ(bf16_to_f32(lo), 0.0f);
          continue;
        }
        EXPECT_TRUE(nearest(in, hi)) << r << " " << k;
        const double rest = double{in} - bf16_to_f32(hi);
        EXPECT_TRUE(nearest(rest, lo)) << r << " " << k;
        EXPECT_LE(std::abs(rest - bf16_to_f32(lo)), std::ldexp(std::abs(double{in}), -16))
            << r << " " << k;
      }
    }
  }
}

// The general layout: groups of rows read with strides (a cache plane's first positions per
// head), written as a plane of lo rows then one of hi rows per group.
TEST(CudaSplitBf16, GroupedRowsToPlanes) {
  HH_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(6);
  const int64_t groups = 3, rows = 4, K = 5, row_stride = 7, group_stride = 40;
  const int64_t plane = rows * K;
  const std::vector<float> x = random_floats(groups * group_stride, rng);
  DeviceBuffer<float> src(x);
  DeviceBuffer<uint16_t> dst(static_cast<size_t>(groups * 3 * plane), 0xffff);
  cuda::SplitBf16 a;
  a.src = src.get();
  a.groups = groups;
  a.rows = rows;
  a.K = K;
  a.src_row_stride = row_stride;
  a.src_group_stride = group_stride;
  a.lo = dst.get();
  a.hi = dst.get() + plane;
  a.hi2 = dst.get() + 2 * plane;
  a.dst_row_stride = K;
  a.dst_group_stride = 3 * plane;
  cuda::split_bf16(a, nullptr);
  const auto got = dst.read();
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < K; ++k) {
        const float in = x[g * group_stride + r * row_stride + k];
        const size_t at = static_cast<size_t>(g * 3 * plane + r * K + k);
        const double hi = bf16_to_f32(got[at + plane]), lo = bf16_to_f32(got[at]);
        EXPECT_EQ(hi, bf16_to_f32(f32_to_bf16(in))) << g << " " << r << " " << k;
        EXPECT_EQ(got[at + 2 * plane], got[at + plane]) << g << " " << r << " " << k;
        EXPECT_LE(std::abs(in - hi - lo), std::ldexp(std::abs(double{in}), -16));
      }
    }
  }
}

// The fused decode kernel against the two it replaces (each checked against the CPU above): the
// same output, and the same key and value written to the cache, for split and unsplit caches,
// the first and the last position, and group sizes 2 to 16.
TEST_P(CudaKernels, DecodeAttentionEqualsNormRopeThenAttention) {
  struct Case {
    int64_t h, kvh, dh, cs, pos;
    int splits;
  };
  const Case cases[] = {
      {16, 8, 128, 2048, 1500, 8}, {16, 8, 128, 1024, 70, 4}, {4, 2, 16, 64, 0, 1},
      {4, 2, 32, 300, 299, 3},     {32, 2, 64, 40, 3, 2},     {8, 8, 256, 512, 200, 1},
      {16, 8, 128, 512, 127, 33},  // the decode shape: short cache over many splits
      {16, 8, 128, 512, 40, 33},   // the new key inside a split's first tile
      {8, 4, 40, 128, 77, 5},      // rows of packs that no power of two of lanes divides
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "h " << c.h << " kvh " << c.kvh << " dh " << c.dh << " pos "
                                    << c.pos << " splits " << c.splits);
    const auto q = random_floats(c.h * c.dh, rng_), k = random_floats(c.kvh * c.dh, rng_),
               v = random_floats(c.kvh * c.dh, rng_);
    const auto qn = random_floats(c.dh, rng_, 0.1, 1.0), kn = random_floats(c.dh, rng_, 0.1, 1.0);
    const Encoded cache = encode(dtype(), random_floats(c.kvh * c.cs * c.dh, rng_));
    DeviceBuffer<float> dq(q), dk(k), dv(v), dqn(qn), dkn(kn);
    DeviceBuffer<uint8_t> kc1(cache.bytes), vc1(cache.bytes), kc2(cache.bytes), vc2(cache.bytes);
    DeviceBuffer<int64_t> dpos(std::vector<int64_t>{c.pos});
    DeviceBuffer<float> out1(c.h * c.dh, NAN), out2(c.h * c.dh, NAN);
    DeviceBuffer<float> partial(
        std::max(cuda::attention_scratch_floats(1, c.h, c.kvh, c.dh, c.splits),
                 cuda::attention_decode_scratch_floats(c.h, c.dh, c.splits)) +
            1,
        0.0f);
    DeviceBuffer<unsigned> counters(
        std::max(cuda::attention_counters(1, c.h, c.kvh), cuda::attention_decode_counters(c.h)),
        0u);
    DeviceBuffer<double> dfreq(rope_inv_freq(1e6f, c.dh));
    cuda::QkvRope p{dq.get(),  dk.get(),  dv.get(),  0,          0,          0,     dqn.get(),
                    dkn.get(), kc2.get(), vc2.get(), 1,          c.h,        c.kvh, c.dh,
                    c.cs,      1e-6f,     0,         dpos.get(), dfreq.get()};
    for (int run = 0; run < 2; ++run) {  // the second run checks the counters were reset
      cuda::attention_decode(dtype(), {p, out2.get(), c.splits, partial.get(), counters.get()},
                             nullptr);
      const auto got = out2.read();
      std::vector<double> want;
      if (run == 0) {
        // The unfused pair, on its own copy of the caches (q is rotated in place there).
        DeviceBuffer<float> dq1(q);
        cuda::QkvRope p1 = p;
        p1.q = dq1.get();
        p1.k_cache = kc1.get();
        p1.v_cache = vc1.get();
        cuda::qk_norm_rope_store(dtype(), p1, nullptr);
        cuda::AttentionArgs a{dq1.get(),  kc1.get(), vc1.get(),     out1.get(),    1,
                              c.h,        c.kvh,     c.dh,          c.cs,          0,
                              dpos.get(), c.splits,  partial.get(), counters.get()};
        cuda::attention(dtype(), a, nullptr);
      }
      const auto ref = out1.read();
      want.assign(ref.begin(), ref.end());
      // In f16/bf16 the new key may round to a neighbouring value (sums in another order).
      EXPECT_LT(rel_error(got, want), dtype() == ElemType::F32 ? 1e-5 : 1e-3);
    }
    for (unsigned n : counters.read()) EXPECT_EQ(n, 0u);
    const auto k1 = kc1.read(), k2 = kc2.read(), v1 = vc1.read(), v2 = vc2.read();
    for (int64_t g = 0; g < c.kvh; ++g) {
      for (int64_t i = 0; i < c.dh; ++i) {
        const size_t at = (g * c.cs + c.pos) * c.dh + i;
        const double want = decode_at(dtype(), k1, at);
        EXPECT_NEAR(decode_at(dtype(), k2, at), want, 1e-2 * (1 + std::abs(want)));
        EXPECT_EQ(decode_at(dtype(), v2, at), decode_at(dtype(), v1, at));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaKernels, ::testing::ValuesIn(kDtypes),
                         [](const auto& info) { return std::string(elem_name(info.param)); });

class CudaPick : public ::testing::Test {
 protected:
  void SetUp() override { HH_SKIP_WITHOUT_GPU(); }

  // Runs one pick over `logits` from `st`; returns the state after it and the first output.
  std::pair<cuda::DecodeState, int64_t> run(const std::vector<float>& logits, cuda::DecodeState st,
                                            bool sampling, bool advance) {
    const auto v = static_cast<int64_t>(logits.size());
    DeviceBuffer<float> dl(logits);
    std::vector<cuda::DecodeState> host{st};
    DeviceBuffer<cuda::DecodeState> ds(host);
    DeviceBuffer<int64_t> out(8, -7);
    DeviceBuffer<uint8_t> scratch(cuda::sample_scratch_bytes(v), 0);
    if (sampling) {
      cuda::pick_sample(dl.get(), v, ds.get(), out.get(), advance, 0, next_, scratch.get(),
                        cuda::sample_scratch_bytes(v), nullptr);
    } else {
      cuda::pick_argmax(dl.get(), v, ds.get(), out.get(), advance, 0, next_, scratch.get(),
                        nullptr);
    }
    return {ds.read()[0], out.read()[st.n_out]};
  }
  cuda::NextEmbedding next_;  // none unless a test sets it
};

TEST_F(CudaPick, ThePickedTokensEmbeddingBecomesTheNextInput) {
  const int64_t v = 300, d = 70;  // d not a multiple of the block
  std::vector<float> table(static_cast<size_t>(v * d));
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<float>(i % 997) * 0.25f - 9.0f;
  DeviceBuffer<float> dtable(table);
  DeviceBuffer<float> x(static_cast<size_t>(d), -1.0f);
  next_ = {dtable.get(), ElemType::F32, d, x.get()};
  std::vector<float> logits(static_cast<size_t>(v), 0.0f);
  // Greedy; sampled; sampling at temperature 0 (the draw kernel's greedy shortcut).
  struct Case {
    bool sampling;
    float temperature;
    int64_t winner;
  };
  for (const Case& c : {Case{false, 0.7f, 211}, Case{true, 0.7f, 47}, Case{true, 0.0f, 123}}) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    logits[static_cast<size_t>(c.winner)] = 1000.0f;  // certain under any sampling setting
    cuda::DecodeState st;
    st.max_new = 4;
    st.eos = -1;
    st.cs = 100;
    st.temperature = c.temperature;
    st.top_p = 0.9f;
    const auto [after, token] = run(logits, st, c.sampling, true);
    ASSERT_EQ(token, c.winner) << c.sampling << " " << c.temperature;
    const std::vector<float> got = x.read();
    for (int64_t i = 0; i < d; ++i) {
      ASSERT_EQ(got[static_cast<size_t>(i)], table[static_cast<size_t>(c.winner * d + i)])
          << c.sampling << " " << c.temperature << " " << i;
    }
  }
}

TEST_F(CudaPick, ArgmaxTakesTheFirstMaximumAndSkipsNan) {
  std::mt19937_64 rng(5);
  std::vector<float> logits = random_floats(151936, rng);
  logits[70000] = 9.0f;
  logits[120000] = 9.0f;
  logits[10] = NAN;
  cuda::DecodeState st;
  st.max_new = 10;
  st.cs = 100;
  st.pos = 4;
  auto [after, token] = run(logits, st, false, false);
  EXPECT_EQ(token, 70000);
  EXPECT_EQ(argmax(logits), 70000);
  EXPECT_EQ(after.n_out, 1);
  EXPECT_EQ(after.token, 70000);
  EXPECT_EQ(after.pos, 4);
  EXPECT_EQ(after.done, 0);
  std::vector<float> all_nan(1000, NAN), all_inf(1000, -INFINITY);
  EXPECT_EQ(run(all_nan, st, false, false).second, 0);
  EXPECT_EQ(run(all_inf, st, false, false).second, 0);
}

TEST_F(CudaPick, BookkeepingStopsOnEosLimitAndFullCache) {
  std::vector<float> logits(50, 0.0f);
  logits[7] = 1.0f;
  cuda::DecodeState st;
  st.max_new = 10;
  st.cs = 100;
  st.pos = 4;
  st.n_out = 2;
  auto [a, t] = run(logits, st, false, true);
  EXPECT_EQ(t, 7);
  EXPECT_EQ(a.pos, 5);  // advanced past the step's input
  EXPECT_EQ(a.n_out, 3);
  EXPECT_EQ(a.done, 0);
  st.eos = 7;
  EXPECT_EQ(run(logits, st, false, true).first.done, 1);
  st.eos = -1;
  st.max_new = 3;
  EXPECT_EQ(run(logits, st, false, true).first.done, 1);
  st.max_new = 10;
  st.cs = 5;
  EXPECT_EQ(run(logits, st, false, true).first.done, 1);
}

TEST_F(CudaPick, SamplingDrawsWhatTheCpuSamplerDraws) {
  std::mt19937_64 rng(11);
  const std::vector<float> logits = random_floats(5000, rng, 3.0);
  const SamplingParams cases[] = {
      {0.8f, 0, 1.0f, 1}, {1.0f, 50, 1.0f, 2}, {0.7f, 0, 0.9f, 3},     {1.3f, 20, 0.5f, 4},
      {0.0f, 0, 1.0f, 5}, {2.0f, 1, 1.0f, 6},  {1.0f, 5000, 0.95f, 7},
  };
  for (const SamplingParams& p : cases) {
    SCOPED_TRACE(testing::Message() << "temperature " << p.temperature << " top_k " << p.top_k
                                    << " top_p " << p.top_p);
    Sampler sampler(p);
    for (int64_t step = 0; step < 6; ++step) {
      cuda::DecodeState st;
      st.max_new = 100;
      st.cs = 100;
      st.n_out = step;
      st.temperature = p.temperature;
      st.top_k = p.top_k;
      st.top_p = p.top_p;
      st.seed = p.seed;
      auto [after, token] = run(logits, st, true, false);
      EXPECT_EQ(after.error, 0);
      EXPECT_EQ(token, sampler.pick(logits, static_cast<uint64_t>(step)));
    }
  }
}

TEST_F(CudaPick, SamplingNanLogitsSetTheErrorFlag) {
  std::vector<float> logits(100, NAN);
  cuda::DecodeState st;
  st.max_new = 10;
  st.cs = 100;
  st.n_out = 3;
  st.temperature = 1.0f;
  auto [after, token] = run(logits, st, true, false);
  EXPECT_EQ(after.error, 4);
  EXPECT_EQ(after.done, 1);
}

}  // namespace
}  // namespace hh
#endif  // HH_HAVE_CUDA
