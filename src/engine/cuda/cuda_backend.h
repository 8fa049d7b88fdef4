#pragma once
// The CUDA backend: weights and KV caches in GPU memory, prefill through cuBLAS matrix products
// (tensor cores: f16/bf16 directly, f32 as bf16 products of split operands so that logits match
// the CPU, plain f32 SGEMM where the split weights do not fit), and a
// decode loop that never returns to the host: one CUDA graph per shape holds a conditional
// while node whose body is one decode step (its last kernel picks the next token, writes it to
// the device-side state and clears the loop condition on eos, the token limit or a full cache).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/cuda/decode_trace.h"
#include "engine/cuda/device_memory.h"
#include "engine/cuda/kernel_timer.h"
#include "engine/cuda/kernels.h"

namespace hh::cuda {

class CudaBackend final : public Backend {
 public:
  // Throws UsageError naming the cause when no usable GPU or driver is present.
  explicit CudaBackend(const EngineOptions& options);
  ~CudaBackend() override;

  std::string name() const override { return "cuda"; }
  ElemType dtype() const override { return options_.dtype; }
  // The GPU's name, for reports.
  const std::string& device_name() const { return device_name_; }

  std::shared_ptr<Weights> load(const std::string& path) override;
  std::shared_ptr<Weights> adopt(Weights weights) override;
  std::shared_ptr<KVCache> init_cache(int64_t b, int64_t kvh, int64_t cs, int64_t dh) override;
  std::shared_ptr<KVCache> adopt(KVCache cache) override;
  Array to_host(const Array& array) override;

  std::vector<int64_t> gen(const Weights& w, KVCache& cache, int64_t xsat,
                           std::span<const int64_t> xs, int64_t eos_token_id,
                           int64_t max_new_tokens) override;
  std::vector<int64_t> sample(const Weights& w, KVCache& cache, int64_t xsat,
                              std::span<const int64_t> xs, int64_t eos_token_id,
                              int64_t max_new_tokens, const SamplingParams& sampling) override;
  Array logits(const Weights& w, KVCache& cache, int64_t xsat,
               std::span<const int64_t> xs) override;

  // How decode steps are driven: a graph with a while node (default), or one launch sequence
  // per token from the host (used while profiling, and where conditional nodes are missing;
  // HH_CUDA_DECODE=host forces it, for comparison).
  enum class DecodeMode { Graph, Host };
  DecodeMode decode_mode() const { return decode_mode_; }

 private:
  // Device scratch for one model shape and cache context; regrown, never shrunk.
  struct Workspace;
  struct GraphCache;
  struct SplitWeights;

  // hh::check_call (engine/generation.h), then that the weights and cache are in GPU memory.
  void check_call(const Weights& w, const KVCache& cache, int64_t xsat,
                  std::span<const int64_t> xs) const;
  Workspace& workspace(const ModelConfig& c, int64_t cs, int64_t out_capacity);
  std::vector<int64_t> generate(const Weights& w, KVCache& cache, int64_t xsat,
                                std::span<const int64_t> xs, int64_t eos_token_id,
                                int64_t max_new_tokens, const SamplingParams* sampling);

  // Prefill of T >= 2 tokens (on the device, at ws.tokens) at positions pos..: matrix products
  // through cuBLAS, in chunks of the workspace's width. With logits set, the f32 logits of
  // every position are copied to it (T, v) on the host.
  // Returns the row of ws.x that holds the last token.
  int64_t prefill(const Weights& w, KVCache& cache, int64_t pos, int64_t T, float* logits);
  // One token at state.pos through every layer, logits of it in ws.logits. gather_input: its
  // input row from state.token first (false: the pick before it left that row in ws.x).
  void decode_body(const Weights& w, KVCache& cache, bool gather_input);
  // The pick kernel(s) at the end of a step.
  void pick(const Weights& w, bool sampling, bool advance, unsigned long long cond);
  // Last row of ws.x (prefill output) through the final norm and the output matrix.
  void last_logits(const Weights& w, int64_t row, TraceTag trace = {});
  // The decode timeline's tag of a launch (decode_trace.h); off when not tracing.
  TraceTag trace_tag(uint32_t launch) const;
  // The q/k norm + RoPE arguments of layer l: T tokens of q (rows of q_stride floats), k and v
  // (rows of kv_stride) from position pos (*pos_dev when set), into the layer's cache planes.
  QkvRope rope_args(const LayerWeights& lw, const KVCache& cache, int64_t l, float* q,
                    const float* k, const float* v, int64_t q_stride, int64_t kv_stride, int64_t T,
                    int64_t pos, const int64_t* pos_dev) const;
  // Copies rope_inv_freq() of c's theta and head width to dst (device memory).
  void upload_rope_frequencies(double* dst, const ModelConfig& c);
  // y (T, R) f32 = x (T, K) E times w (R, K)ᵀ (+ y when accumulate).
  void gemm(const Array& w, const void* x, int64_t T, float* y, bool accumulate);
  // The same for f32 at f32 accuracy on bf16 tensor cores (split_bf16.cu): w3 (R, 3K) bf16
  // split as lo | hi | hi, x3 (T, 3K) bf16 split as hi | lo | hi; y rows `ldy` floats apart.
  void gemm_split(const void* w3, int64_t R, int64_t K, const void* x3, int64_t T, float* y,
                  int64_t ldy, bool accumulate);
  // f32 prefill's projection weights split into bf16 halves, made at the first f32 prefill of
  // these weights when the GPU has room for them (1.5 times the f32 projections' bytes, leaving
  // a quarter of its memory free); null otherwise (plain f32 products then).
  const SplitWeights* split_weights(const Weights& w);
  // Frees the split weights once the weights they were made from are gone (before other
  // allocations, which may need the room).
  void drop_stale_split_weights();
  // Prefill attention of T tokens at positions p0... over layer l's cache as two batched matrix
  // products around a causal softmax (tensor cores in f16/bf16): ws.q (T, h, dh) f32, normalised
  // and rotated; out (T, h, dh) in the model's dtype, the next product's input. products_fit():
  // whether it serves T tokens at p0 (at most kProductAttentionKeys keys, and room for the
  // scores, allocated at the first use; the flash kernel serves otherwise).
  bool products_fit(int64_t T, int64_t p0);
  void attention_by_products(const KVCache& cache, int64_t l, int64_t T, int64_t p0, void* out);
  // Its f32 form with split weights: each product one bf16 product of split operands
  // (split_bf16.cu), head-major, over layer l's key and value planes and the queries' halves in
  // ws.q2 (qk_norm_rope_store's q_split); the output goes (through ws.att, head-major) to
  // ws.xsplit as the split input of the output projection.
  void attention_by_split_products(const KVCache& cache, int64_t l, int64_t T, int64_t p0);
  // Runs the decode loop until the state says done; graph or host driven.
  void decode_loop(const Weights& w, KVCache& cache, bool sampling);

  EngineOptions options_;
  int device_ = 0;
  int sm_count_ = 0;
  std::string device_name_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::unique_ptr<Copier> copier_;
  std::unique_ptr<KernelTimer> timer_;
  DecodeMode decode_mode_ = DecodeMode::Graph;
  std::unique_ptr<Workspace> ws_;
  std::unique_ptr<GraphCache> graphs_;
  std::unique_ptr<SplitWeights> split_;
  std::unique_ptr<DecodeTrace> trace_;  // HH_CUDA_TRACE
};

}  // namespace hh::cuda
