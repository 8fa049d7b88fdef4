#pragma once
// Tiny random Qwen3 models built in memory, and an independent naive double-precision forward
// pass to check the engine against (one token at a time, its own cache, no shared code with
// src/engine beyond the Weights struct).
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "model/weights.h"
#include "util/half.h"

namespace hh::test {

// Element i of an array of a float dtype, as double.
inline double element(const Array& a, int64_t i) {
  switch (a.type()) {
    case ElemType::F32:
      return a.data<float>()[i];
    case ElemType::F16:
      return f16_to_f32(a.data<uint16_t>()[i]);
    case ElemType::BF16:
      return bf16_to_f32(a.data<uint16_t>()[i]);
    default:
      return NAN;
  }
}

inline void set_element(Array& a, int64_t i, float value) {
  switch (a.type()) {
    case ElemType::F32:
      a.data<float>()[i] = value;
      break;
    case ElemType::F16:
      a.data<uint16_t>()[i] = f32_to_f16(value);
      break;
    case ElemType::BF16:
      a.data<uint16_t>()[i] = f32_to_bf16(value);
      break;
    default:
      break;
  }
}

// An array of normal(mean, std) values, rounded to `type`.
inline Array random_array(ElemType type, Shape shape, std::mt19937_64& rng, double std,
                          double mean = 0.0) {
  Array a = Array::allocate(type, std::move(shape));
  std::normal_distribution<double> dist(mean, std);
  for (int64_t i = 0; i < a.count(); ++i) set_element(a, i, static_cast<float>(dist(rng)));
  return a;
}

// The shape used across the engine tests: v=97 d=48 b=2 h=4 kvh=2 dh=16 (h*dh != d) f=80.
inline ModelConfig tiny_config(bool tied = true) {
  ModelConfig c;
  c.vocab_size = 97;
  c.dim = 48;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.ffn_dim = 80;
  c.rope_theta = 10000.0f;
  c.rms_eps = 1e-6f;
  c.tied_output = tied;
  return c;
}

// Random weights: matrices with std 0.15 (large enough that attention and the FFN matter),
// norm weights near 1.
inline Weights random_weights(const ModelConfig& c, ElemType dtype, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const double s = 0.15;
  Weights w;
  w.dtype = dtype;
  w.config = c;
  const int64_t qd = c.n_heads * c.head_dim, kvd = c.n_kv_heads * c.head_dim;
  w.token_embd = random_array(dtype, {c.vocab_size, c.dim}, rng, 1.0);
  w.output_norm = random_array(ElemType::F32, {c.dim}, rng, 0.1, 1.0);
  w.output = c.tied_output ? w.token_embd : random_array(dtype, {c.vocab_size, c.dim}, rng, s);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    LayerWeights lw;
    lw.attn_norm = random_array(ElemType::F32, {c.dim}, rng, 0.1, 1.0);
    lw.attn_q = random_array(dtype, {qd, c.dim}, rng, s);
    lw.attn_k = random_array(dtype, {kvd, c.dim}, rng, s);
    lw.attn_v = random_array(dtype, {kvd, c.dim}, rng, s);
    lw.attn_output = random_array(dtype, {c.dim, qd}, rng, s);
    lw.attn_q_norm = random_array(ElemType::F32, {c.head_dim}, rng, 0.1, 1.0);
    lw.attn_k_norm = random_array(ElemType::F32, {c.head_dim}, rng, 0.1, 1.0);
    lw.ffn_norm = random_array(ElemType::F32, {c.dim}, rng, 0.1, 1.0);
    lw.ffn_gate = random_array(dtype, {c.ffn_dim, c.dim}, rng, s);
    lw.ffn_up = random_array(dtype, {c.ffn_dim, c.dim}, rng, s);
    lw.ffn_down = random_array(dtype, {c.dim, c.ffn_dim}, rng, s);
    w.layers.push_back(std::move(lw));
  }
  return w;
}

// Naive Qwen3 in double precision, straight from the model's definition.
class ReferenceQwen3 {
 public:
  explicit ReferenceQwen3(const Weights& w) : w_(w), c_(w.config) {
    k_.resize(static_cast<size_t>(c_.n_layers));
    v_.resize(static_cast<size_t>(c_.n_layers));
  }

  int64_t position() const { return static_cast<int64_t>(k_[0].size()); }

  // Runs one token at the next position; returns its logits (v).
  std::vector<double> step(int64_t token) {
    const int64_t d = c_.dim, h = c_.n_heads, kvh = c_.n_kv_heads, dh = c_.head_dim;
    const int64_t pos = position();
    std::vector<double> x(static_cast<size_t>(d));
    for (int64_t i = 0; i < d; ++i) x[i] = element(w_.token_embd, token * d + i);
    for (int64_t l = 0; l < c_.n_layers; ++l) {
      const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
      std::vector<double> xn = rms_norm(x, lw.attn_norm, 0, d);
      std::vector<double> q = matvec(lw.attn_q, xn), k = matvec(lw.attn_k, xn),
                          v = matvec(lw.attn_v, xn);
      for (int64_t j = 0; j < h; ++j) head_norm_rope(q, j * dh, lw.attn_q_norm, pos);
      for (int64_t g = 0; g < kvh; ++g) head_norm_rope(k, g * dh, lw.attn_k_norm, pos);
      k_[static_cast<size_t>(l)].push_back(k);
      v_[static_cast<size_t>(l)].push_back(v);
      std::vector<double> att(static_cast<size_t>(h * dh), 0.0);
      for (int64_t j = 0; j < h; ++j) {
        const int64_t g = j / (h / kvh);
        std::vector<double> s(static_cast<size_t>(pos + 1));
        double m = -INFINITY;
        for (int64_t p = 0; p <= pos; ++p) {
          double dot = 0;
          for (int64_t i = 0; i < dh; ++i) dot += q[j * dh + i] * k_[l][p][g * dh + i];
          s[p] = dot / std::sqrt(static_cast<double>(dh));
          m = std::max(m, s[p]);
        }
        double sum = 0;
        for (double& e : s) sum += (e = std::exp(e - m));
        for (int64_t p = 0; p <= pos; ++p) {
          for (int64_t i = 0; i < dh; ++i) att[j * dh + i] += s[p] / sum * v_[l][p][g * dh + i];
        }
      }
      std::vector<double> o = matvec(lw.attn_output, att);
      for (int64_t i = 0; i < d; ++i) x[i] += o[i];
      xn = rms_norm(x, lw.ffn_norm, 0, d);
      std::vector<double> gate = matvec(lw.ffn_gate, xn), up = matvec(lw.ffn_up, xn);
      for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
      std::vector<double> down = matvec(lw.ffn_down, gate);
      for (int64_t i = 0; i < d; ++i) x[i] += down[i];
    }
    return matvec(w_.output, rms_norm(x, w_.output_norm, 0, d));
  }

  // Logits of every token of xs, run from the current position on.
  std::vector<std::vector<double>> run(std::span<const int64_t> xs) {
    std::vector<std::vector<double>> out;
    for (int64_t t : xs) out.push_back(step(t));
    return out;
  }

  // Greedy continuation as gen does it (first max on ties), without cache limits.
  std::vector<int64_t> greedy(std::span<const int64_t> xs, int64_t n) {
    std::vector<double> logits = run(xs).back();
    std::vector<int64_t> out;
    for (;;) {
      const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
      out.push_back(best);
      if (static_cast<int64_t>(out.size()) == n) return out;
      logits = step(best);
    }
  }

 private:
  std::vector<double> matvec(const Array& m, const std::vector<double>& x) const {
    const int64_t rows = m.dim(0), cols = m.dim(1);
    std::vector<double> y(static_cast<size_t>(rows), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < cols; ++i) y[r] += element(m, r * cols + i) * x[i];
    }
    return y;
  }

  std::vector<double> rms_norm(const std::vector<double>& x, const Array& weight, int64_t off,
                               int64_t n) const {
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += x[off + i] * x[off + i];
    const double scale = 1.0 / std::sqrt(ss / static_cast<double>(n) + c_.rms_eps);
    std::vector<double> y(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) y[i] = x[off + i] * scale * element(weight, i);
    return y;
  }

  // Per-head RMSNorm, then RoPE in the NeoX layout, of x[off, off + dh).
  void head_norm_rope(std::vector<double>& x, int64_t off, const Array& weight, int64_t pos) const {
    const int64_t dh = c_.head_dim, half = dh / 2;
    std::vector<double> y = rms_norm(x, weight, off, dh);
    for (int64_t i = 0; i < half; ++i) {
      const double angle =
          static_cast<double>(pos) * std::pow(static_cast<double>(c_.rope_theta), -2.0 * i / dh);
      const double a = y[i], b = y[i + half];
      x[off + i] = a * std::cos(angle) - b * std::sin(angle);
      x[off + i + half] = a * std::sin(angle) + b * std::cos(angle);
    }
  }

  const Weights& w_;
  const ModelConfig c_;
  std::vector<std::vector<std::vector<double>>> k_, v_;  // [layer][pos] (kvh*dh)
};

// ‖a − b‖ / ‖b‖.
inline double relative_error(std::span<const float> a, std::span<const double> b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / den);
}

}  // namespace hh::test
