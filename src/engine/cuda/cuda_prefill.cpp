// The CUDA backend's prefill (Qwen3, DESIGN.md): chunks of tokens through cuBLAS matrix
// products, tensor cores in f16/bf16 and, for f32 models, bf16 products of split operands
// (split_bf16.cu: lo·hi + hi·lo + hi·hi in one product) so that logits stay within 1e-4 of the
// CPU's; attention as two batched products around a causal softmax while the cache is short,
// else the flash kernel.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_workspace.h"

namespace hh::cuda {

namespace {

cudaDataType cuda_type(ElemType type) {
  switch (type) {
    case ElemType::F16:
      return CUDA_R_16F;
    case ElemType::BF16:
      return CUDA_R_16BF;
    default:
      return CUDA_R_32F;
  }
}

// HH_CUDA_SPLIT_BF16=0: f32 prefill through plain f32 products (for comparison).
bool split_products_enabled() {
  const char* env = std::getenv("HH_CUDA_SPLIT_BF16");
  return env == nullptr || env[0] != '0';
}

}  // namespace

void CudaBackend::gemm(const Array& w, const void* x, int64_t T, float* y, bool accumulate) {
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  const auto R = static_cast<int>(w.dim(0)), K = static_cast<int>(w.dim(1));
  const cudaDataType type = cuda_type(w.type());
  // Column-major view: yᵀ (R, T) = w (K, R)ᵀ · xᵀ (K, T).
  HH_CUBLAS_CHECK(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, R, static_cast<int>(T), K, &alpha,
                               w.raw(), type, K, x, type, K, &beta, y, CUDA_R_32F, R,
                               CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void CudaBackend::gemm_split(const void* w3, int64_t R, int64_t K, const void* x3, int64_t T,
                             float* y, int64_t ldy, bool accumulate) {
  const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  const auto I = [](int64_t x) { return static_cast<int>(x); };
  // Column-major view as in gemm(), rows of 3K: lo·hi + hi·lo + hi·hi in one product.
  HH_CUBLAS_CHECK(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, I(R), I(T), I(kSplitParts * K),
                               &one, w3, CUDA_R_16BF, I(kSplitParts * K), x3, CUDA_R_16BF,
                               I(kSplitParts * K), &beta, y, CUDA_R_32F, I(ldy), CUBLAS_COMPUTE_32F,
                               CUBLAS_GEMM_DEFAULT));
}

void CudaBackend::drop_stale_split_weights() {
  if (split_ && split_->expired()) split_.reset();
}

const CudaBackend::SplitWeights* CudaBackend::split_weights(const Weights& w) {
  if (!split_products_enabled()) return nullptr;
  std::vector<const void*> addresses;
  std::vector<const Array*> arrays;
  for (const LayerWeights& lw : w.layers) {
    for (const Array* a : {&lw.attn_q, &lw.attn_k, &lw.attn_v, &lw.attn_output, &lw.ffn_gate,
                           &lw.ffn_up, &lw.ffn_down}) {
      addresses.push_back(a->raw());
      arrays.push_back(a);
    }
  }
  if (split_ && !split_->expired() && split_->addresses == addresses) return split_.get();
  split_.reset();  // other weights (or freed ones): their halves go first

  int64_t values = 0;
  for (const Array* a : arrays) values += a->count();
  const size_t bytes = static_cast<size_t>(kSplitParts * values) * sizeof(uint16_t);
  size_t free_bytes = 0, total_bytes = 0;
  HH_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (bytes + total_bytes / 4 > free_bytes) return nullptr;

  auto split = std::make_unique<SplitWeights>();
  split->addresses = std::move(addresses);
  for (const Array* a : arrays) split->sources.push_back(a->storage());
  try {
    split->storage = allocate_device(bytes, "f32 prefill's split weights");
  } catch (const UsageError&) {
    return nullptr;  // taken meanwhile: plain f32 products need no room
  }
  auto* next = reinterpret_cast<uint16_t*>(split->storage->data());
  // Rows of `a` split into the next 3 * rows * K bf16.
  const auto put = [&](const Array& a) {
    const int64_t rows = a.dim(0), K = a.dim(1);
    split_bf16_rows(a.data<float>(), rows, K, next, SplitLayout::LoHiHi, stream_);
    next += kSplitParts * rows * K;
  };
  for (const LayerWeights& lw : w.layers) {
    SplitWeights::Layer& L = split->layers.emplace_back();
    L.qkv = next;
    put(lw.attn_q);
    put(lw.attn_k);
    put(lw.attn_v);
    L.attn_output = next;
    put(lw.attn_output);
    L.gate_up = next;
    put(lw.ffn_gate);
    put(lw.ffn_up);
    L.down = next;
    put(lw.ffn_down);
  }
  split_ = std::move(split);
  return split_.get();
}

bool CudaBackend::products_fit(int64_t T, int64_t p0) {
  Workspace& ws = *ws_;
  if (T < 2 || p0 + T > kProductAttentionKeys) return false;
  if (!ws.scores_tried) {
    ws.scores_tried = true;
    const ModelConfig& c = ws.c;
    const size_t cells = static_cast<size_t>(c.n_heads * kPrefillChunk * kProductAttentionKeys);
    // f32: the operands split into bf16 halves (queries, keys, values, probabilities), three
    // bf16 per value.
    const size_t split_values =
        dtype() != ElemType::F32
            ? 0
            : kSplitParts * (static_cast<size_t>((kPrefillChunk * c.n_heads +
                                                  2 * c.n_kv_heads * kProductAttentionKeys) *
                                                 c.head_dim) +
                             cells);
    try {
      ws.scores_storage = allocate_device(
          cells * (sizeof(float) + elem_size(dtype())) + split_values * sizeof(uint16_t),
          "attention scores");
      ws.scores = reinterpret_cast<float*>(ws.scores_storage->data());
      ws.probs = ws.scores + cells;
      if (split_values > 0) {
        auto* next = reinterpret_cast<uint16_t*>(ws.scores + 2 * cells);
        const auto take = [&](int64_t values) {
          uint16_t* p = next;
          next += kSplitParts * values;
          return p;
        };
        ws.q2 = take(kPrefillChunk * c.n_heads * c.head_dim);
        ws.k2 = take(c.n_kv_heads * kProductAttentionKeys * c.head_dim);
        ws.v2 = take(c.n_kv_heads * kProductAttentionKeys * c.head_dim);
        ws.p2 = take(static_cast<int64_t>(cells));
      }
    } catch (const UsageError&) {
      return false;  // no room: the flash kernel needs none
    }
  }
  return ws.scores != nullptr;
}

void CudaBackend::attention_by_products(const KVCache& cache, int64_t l, int64_t T, int64_t p0,
                                        void* out) {
  Workspace& ws = *ws_;
  const int64_t n = p0 + T;  // keys
  const ModelConfig& c = ws.c;
  const int64_t h = c.n_heads, kvh = c.n_kv_heads, dh = c.head_dim, group = h / kvh;
  const ElemType E = dtype();
  const size_t es = elem_size(E);
  const cudaDataType type = cuda_type(E);
  const int64_t cs = cache.context();
  const auto* k = static_cast<const std::byte*>(layer_plane(cache.k, l));
  const auto* v = static_cast<const std::byte*>(layer_plane(cache.v, l));
  const std::byte* q = reinterpret_cast<const std::byte*>(ws.q);
  if (E != ElemType::F32) {
    convert_f32(ws.q, T * h * dh, E, ws.xin, stream_);  // ws.xin is free until the output
    q = static_cast<const std::byte*>(ws.xin);
  }
  const auto I = [](int64_t x) { return static_cast<int>(x); };
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh)), one = 1.0f, zero = 0.0f;
  // Query head j = g group + jj reads kv head g: one batched product over g per jj. Column-major
  // views: S_jᵀ (n, T) = K_g (dh, n)ᵀ · Q_j (dh, T); O_j (dh, T) = V_g (dh, n) · P_jᵀ (n, T).
  for (int64_t jj = 0; jj < group; ++jj) {
    HH_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        cublas_, CUBLAS_OP_T, CUBLAS_OP_N, I(n), I(T), I(dh), &scale, k, type, I(dh), cs * dh,
        q + jj * dh * es, type, I(h * dh), group * dh, &zero, ws.scores + jj * T * n, CUDA_R_32F,
        I(n), group * T * n, I(kvh), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
  causal_softmax(E, ws.scores, h, T, n, p0, ws.probs, stream_);
  const std::byte* p = static_cast<const std::byte*>(ws.probs);
  const size_t out_es = E == ElemType::F32 ? sizeof(float) : es;
  for (int64_t jj = 0; jj < group; ++jj) {
    HH_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        cublas_, CUBLAS_OP_N, CUBLAS_OP_N, I(dh), I(T), I(n), &one, v, type, I(dh), cs * dh,
        p + jj * T * n * es, type, I(n), group * T * n, &zero,
        static_cast<std::byte*>(out) + jj * dh * out_es, type, I(h * dh), group * dh, I(kvh),
        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
}

void CudaBackend::attention_by_split_products(const KVCache& cache, int64_t l, int64_t T,
                                              int64_t p0) {
  Workspace& ws = *ws_;
  const int64_t n = p0 + T;  // keys
  const int64_t cs = cache.context();
  const ModelConfig& c = ws.c;
  const int64_t h = c.n_heads, kvh = c.n_kv_heads, dh = c.head_dim, group = h / kvh, qd = h * dh;
  constexpr int64_t P = kSplitParts;
  const auto I = [](int64_t x) { return static_cast<int>(x); };
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh)), one = 1.0f, zero = 0.0f;
  // Head-major operands, so that a kv head's whole query group is one product (N = group T):
  // queries (h, T, 3dh) as hi | lo | hi rows (ws.q2, from qk_norm_rope_store); keys
  // (kvh, n, 3dh) as lo | hi | hi rows; values (kvh, 3n, dh) as planes of lo, hi and hi rows
  // (their product reduces over positions); probabilities (h, T, 3n) as hi | lo | hi rows; the
  // output (h, T, dh) f32 in ws.att.
  SplitBf16 keys;
  keys.src = static_cast<const float*>(layer_plane(cache.k, l));
  keys.groups = kvh;
  keys.rows = n;
  keys.K = dh;
  keys.src_row_stride = dh;
  keys.src_group_stride = cs * dh;
  keys.lo = ws.k2;
  keys.hi = ws.k2 + dh;
  keys.hi2 = ws.k2 + 2 * dh;
  keys.dst_row_stride = P * dh;
  keys.dst_group_stride = P * n * dh;
  split_bf16(keys, stream_);
  SplitBf16 values = keys;
  values.src = static_cast<const float*>(layer_plane(cache.v, l));
  values.lo = ws.v2;
  values.hi = ws.v2 + n * dh;
  values.hi2 = ws.v2 + 2 * n * dh;
  values.dst_row_stride = dh;
  split_bf16(values, stream_);
  // Column-major views per kv head g: S_gᵀ (n, group T) = K_g (3dh, n)ᵀ · Q_g (3dh, group T);
  // O_g (dh, group T) = V_g (dh, 3n) · P_gᵀ (3n, group T).
  HH_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      cublas_, CUBLAS_OP_T, CUBLAS_OP_N, I(n), I(group * T), I(P * dh), &scale, ws.k2, CUDA_R_16BF,
      I(P * dh), P * n * dh, ws.q2, CUDA_R_16BF, I(P * dh), group * T * P * dh, &zero, ws.scores,
      CUDA_R_32F, I(n), group * T * n, I(kvh), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  causal_softmax(SplitBf16Rows{}, ws.scores, h, T, n, p0, ws.p2, stream_);
  HH_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      cublas_, CUBLAS_OP_N, CUBLAS_OP_N, I(dh), I(group * T), I(P * n), &one, ws.v2, CUDA_R_16BF,
      I(dh), P * n * dh, ws.p2, CUDA_R_16BF, I(P * n), group * T * P * n, &zero, ws.att, CUDA_R_32F,
      I(dh), group * T * dh, I(kvh), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  // The output projection's input: token rows of all heads, (T, 3 qd) as SplitBf16Rows.
  SplitBf16 out;
  out.src = ws.att;
  out.groups = h;
  out.rows = T;
  out.K = dh;
  out.src_row_stride = dh;
  out.src_group_stride = T * dh;
  out.hi = static_cast<uint16_t*>(ws.xsplit);
  out.lo = static_cast<uint16_t*>(ws.xsplit) + qd;
  out.hi2 = static_cast<uint16_t*>(ws.xsplit) + 2 * qd;
  out.dst_row_stride = P * qd;
  out.dst_group_stride = dh;
  split_bf16(out, stream_);
}

int64_t CudaBackend::prefill(const Weights& w, KVCache& cache, int64_t pos, int64_t T,
                             float* logits_host) {
  Workspace& ws = *ws_;
  const ModelConfig& c = w.config;
  const ElemType E = dtype();
  const int64_t d = c.dim, h = c.n_heads, kvh = c.n_kv_heads, dh = c.head_dim, qd = h * dh,
                kvd = kvh * dh, f = c.ffn_dim, v = c.vocab_size;
  const bool f32 = E == ElemType::F32;
  const SplitWeights* split = f32 ? split_weights(w) : nullptr;
  int64_t last_row = 0;
  for (int64_t c0 = 0; c0 < T; c0 += kPrefillChunk) {
    const int64_t Tc = std::min(kPrefillChunk, T - c0), p0 = pos + c0;
    timer_->run("embed",
                [&] { embed(E, w.token_embd.raw(), ws.tokens + c0, Tc, d, ws.x, stream_); });
    const int splits = attention_splits(Tc, h, kvh, cache.context(), sm_count_);
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const LayerWeights& lw = w.layers[static_cast<size_t>(l)];
      const SplitWeights::Layer* sl = split ? &split->layers[static_cast<size_t>(l)] : nullptr;
      // A product's input: in the model's dtype (ws.xin), or with split weights as bf16 halves
      // (ws.xsplit).
      const auto norm_input = [&](const Array& norm) {
        timer_->run("rms_norm", [&] {
          if (sl != nullptr) {
            rms_norm(ws.x, norm.data<float>(), c.rms_eps, Tc, d, SplitBf16Rows{}, ws.xsplit,
                     stream_);
          } else {
            rms_norm(ws.x, norm.data<float>(), c.rms_eps, Tc, d, E, ws.xin, stream_);
          }
        });
      };
      norm_input(lw.attn_norm);
      // Queries, keys and values: rows of q_stride and kv_stride floats.
      float* q = ws.q;
      const float *k = ws.k, *v = ws.v;
      int64_t q_stride = qd, kv_stride = kvd;
      if (sl != nullptr) {
        const int64_t R = qd + 2 * kvd;
        timer_->run("gemm_qkv",
                    [&] { gemm_split(sl->qkv, R, d, ws.xsplit, Tc, ws.fused, R, false); });
        q = ws.fused;
        k = ws.fused + qd;
        v = ws.fused + qd + kvd;
        q_stride = kv_stride = R;
      } else {
        timer_->run("gemm_qkv", [&] {
          gemm(lw.attn_q, ws.xin, Tc, ws.q, false);
          gemm(lw.attn_k, ws.xin, Tc, ws.k, false);
          gemm(lw.attn_v, ws.xin, Tc, ws.v, false);
        });
      }
      const bool by_products = products_fit(Tc, p0);
      // With split weights, the attention products split too (their output is the split input
      // of the output projection).
      const bool split_attention = by_products && sl != nullptr;
      timer_->run("qk_norm_rope", [&] {
        QkvRope p = rope_args(lw, cache, l, q, k, v, q_stride, kv_stride, Tc, p0, nullptr);
        if (split_attention) p.q_split = ws.q2;  // the split products' queries
        qk_norm_rope_store(E, p, stream_);
      });
      if (q != ws.q && !split_attention) {
        // The other attention paths take the rotated queries packed.
        timer_->run("copy_queries", [&] {
          HH_CUDA_CHECK(cudaMemcpy2DAsync(ws.q, qd * sizeof(float), q, q_stride * sizeof(float),
                                          qd * sizeof(float), Tc, cudaMemcpyDeviceToDevice,
                                          stream_));
        });
      }
      // The attention output, the output projection's input: f16/bf16 products write it in the
      // model's dtype; f32 (and the flash kernel) write f32 into ws.att; split products write
      // its halves straight into ws.xsplit.
      const void* att_in = ws.att;
      if (split_attention) {
        timer_->run("attention_products", [&] { attention_by_split_products(cache, l, Tc, p0); });
      } else if (by_products) {
        void* product_out = f32 ? static_cast<void*>(ws.att) : ws.xin;
        timer_->run("attention_products",
                    [&] { attention_by_products(cache, l, Tc, p0, product_out); });
        att_in = product_out;
      } else {
        timer_->run("attention", [&] {
          AttentionArgs a{ws.q,
                          layer_plane(cache.k, l),
                          layer_plane(cache.v, l),
                          ws.att,
                          Tc,
                          h,
                          kvh,
                          dh,
                          cache.context(),
                          p0,
                          nullptr,
                          splits,
                          ws.partial,
                          ws.counters};
          attention(E, a, stream_);
        });
        if (!f32) {
          timer_->run("convert", [&] { convert_f32(ws.att, Tc * qd, E, ws.xin, stream_); });
          att_in = ws.xin;
        }
      }
      if (sl != nullptr && !split_attention) {
        timer_->run("split_bf16", [&] {
          split_bf16_rows(static_cast<const float*>(att_in), Tc, qd, ws.xsplit, SplitLayout::HiLoHi,
                          stream_);
        });
      }
      timer_->run("gemm_attn_output", [&] {
        if (sl != nullptr) {
          gemm_split(sl->attn_output, d, qd, ws.xsplit, Tc, ws.x, d, true);
        } else {
          gemm(lw.attn_output, att_in, Tc, ws.x, true);
        }
      });
      norm_input(lw.ffn_norm);
      if (sl != nullptr) {
        timer_->run("gemm_ffn_gate_up", [&] {
          gemm_split(sl->gate_up, 2 * f, d, ws.xsplit, Tc, ws.fused, 2 * f, false);
        });
        timer_->run("swiglu", [&] {
          swiglu(ws.fused, ws.fused + f, Tc, f, 2 * f, SplitBf16Rows{}, ws.xsplit, stream_);
        });
        timer_->run("gemm_ffn_down",
                    [&] { gemm_split(sl->down, d, f, ws.xsplit, Tc, ws.x, d, true); });
      } else {
        timer_->run("gemm_ffn_gate_up", [&] {
          gemm(lw.ffn_gate, ws.xin, Tc, ws.gate, false);
          gemm(lw.ffn_up, ws.xin, Tc, ws.up, false);
        });
        timer_->run("swiglu", [&] { swiglu(ws.gate, ws.up, Tc, f, f, E, ws.xin, stream_); });
        timer_->run("gemm_ffn_down", [&] { gemm(lw.ffn_down, ws.xin, Tc, ws.x, true); });
      }
    }
    last_row = Tc - 1;
    if (logits_host == nullptr) continue;
    for (int64_t r0 = 0; r0 < Tc; r0 += kLogitRows) {
      const int64_t n = std::min(kLogitRows, Tc - r0);
      timer_->run("rms_norm", [&] {
        rms_norm(ws.x + r0 * d, w.output_norm.data<float>(), c.rms_eps, n, d, E, ws.xin, stream_);
      });
      timer_->run("gemm_output", [&] { gemm(w.output, ws.xin, n, ws.logits, false); });
      copier_->to_host(logits_host + (c0 + r0) * v, ws.logits,
                       static_cast<size_t>(n * v) * sizeof(float));
    }
  }
  return last_row;
}

}  // namespace hh::cuda
