#pragma once
// The CUDA backend's private state: its device scratch (one model shape and cache context at a
// time) and the captured decode graphs. Shared by cuda_backend.cpp and cuda_forward.cpp only.
#include <string>
#include <vector>

#include "engine/cuda/cuda_backend.h"

namespace hh::cuda {

inline constexpr int64_t kPrefillChunk = 512;  // tokens per prefill pass (bounds the scratch)
inline constexpr int64_t kLogitRows = 64;      // rows of logits computed and copied out at once
// Prefill attention runs as matrix products (tensor cores in f16/bf16) while the cache holds at
// most as many positions as the softmax's rows take; the scores of a chunk take
// h * kPrefillChunk * this many floats.
inline constexpr int64_t kProductAttentionKeys = kCausalSoftmaxMaxKeys;

// Layer `layer`'s (kvh, cs, dh) plane of a cache array (b, kvh, cs, dh), in device memory.
inline const void* layer_plane(const Array& cache, int64_t layer) {
  return cache.raw() + static_cast<size_t>(layer * cache.dim(1) * cache.dim(2) * cache.dim(3)) *
                           elem_size(cache.type());
}

struct CudaBackend::Workspace {
  ModelConfig c;
  ElemType dtype = ElemType::F32;
  int64_t cs = 0;
  int64_t out_capacity = 0;
  int64_t tokens_capacity = 0;
  uint64_t generation = 0;  // changes whenever a buffer the decode graph uses moves
  int decode_splits = 1;
  std::vector<std::shared_ptr<Storage>> owned;
  std::shared_ptr<Storage> tokens_storage;
  // Prefill attention through matrix products, for caches up to kProductAttentionKeys positions
  // (allocated at the first prefill; null if the GPU had no room: the flash kernel then serves).
  std::shared_ptr<Storage> scores_storage;
  bool scores_tried = false;
  float* scores = nullptr;  // (h, chunk, kProductAttentionKeys) f32
  void* probs = nullptr;    // (h, chunk, kProductAttentionKeys) E
  // f32 models: the products' operands as bf16 halves (attention_by_split_products).
  uint16_t* q2 = nullptr;  // (h, chunk, 3 dh) hi | lo | hi rows
  uint16_t* k2 = nullptr;  // (kvh, kProductAttentionKeys, 3 dh) lo | hi | hi rows
  uint16_t* v2 = nullptr;  // (kvh, 3 kProductAttentionKeys, dh) lo, hi, hi planes
  uint16_t* p2 = nullptr;  // (h, chunk, 3 kProductAttentionKeys) hi | lo | hi rows

  float* x = nullptr;       // (chunk, d) residual stream; decode uses row 0
  float* qkv = nullptr;     // (qd + 2 kvd) decode projections, q | k | v
  float* att = nullptr;     // (chunk, qd) attention output; (h, chunk, dh) for split products
  float* act = nullptr;     // (f) decode SwiGLU output
  float* logits = nullptr;  // (64 rows, v): the logits computed and copied out at once
  void* xin = nullptr;      // (chunk, max(d, qd, f)) E: input of a prefill matrix product
  float* q = nullptr;       // (chunk, qd)
  float* k = nullptr;       // (chunk, kvd)
  float* v = nullptr;       // (chunk, kvd)
  float* gate = nullptr;    // (chunk, f)
  float* up = nullptr;      // (chunk, f)
  // f32 prefill through split products (f32 workspaces only):
  void* xsplit = nullptr;    // (chunk, 3 max(d, qd, f)) bf16: a product's input, SplitBf16Rows
  float* fused = nullptr;    // (chunk, max(qd + 2 kvd, 2f)) output of the QKV or gate | up product
  float* partial = nullptr;  // attention split partials
  unsigned* counters = nullptr;  // attention split counters (kept zero between launches)
  double* inv_freq = nullptr;    // (head_dim / 2) RoPE inverse frequencies of c.rope_theta
  DecodeState* state = nullptr;
  int64_t* out = nullptr;     // (out_capacity) tokens of the decode loop
  int64_t* tokens = nullptr;  // (tokens_capacity) prompt tokens
  void* pick_scratch = nullptr;
  size_t pick_scratch_bytes = 0;

  template <typename T>
  T* take(size_t count, const std::string& what) {
    owned.push_back(device_array(ElemType::U8, {static_cast<int64_t>(count * sizeof(T))},
                                 "the CUDA backend's " + what)
                        .storage());
    return reinterpret_cast<T*>(owned.back()->data());
  }
};

// f32 prefill's projection weights as bf16 halves, lo | hi | hi rows of 3K bf16, per layer: Q, K
// and V rows one after another (one product), the attention output, gate then up rows (one
// product), down.
struct CudaBackend::SplitWeights {
  // Which weights they were made from: the device address of every projection of every layer,
  // and the allocations behind them (values are immutable, so live allocations at the same
  // addresses hold the same numbers).
  std::vector<const void*> addresses;
  std::vector<std::weak_ptr<Storage>> sources;
  std::shared_ptr<Storage> storage;
  struct Layer {
    const void* qkv;          // (qd + 2 kvd, 3d)
    const void* attn_output;  // (d, 3 qd)
    const void* gate_up;      // (2f, 3d)
    const void* down;         // (d, 3f)
  };
  std::vector<Layer> layers;

  bool expired() const {
    for (const auto& s : sources) {
      if (s.expired()) return true;
    }
    return false;
  }
};

struct CudaBackend::GraphCache {
  struct Entry {
    std::vector<const void*> key;
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
  };
  Entry entries[2];  // greedy, sampling

  static void release(Entry& e) {
    if (e.exec != nullptr) cudaGraphExecDestroy(e.exec);
    if (e.graph != nullptr) cudaGraphDestroy(e.graph);
    e = Entry{};
  }
  ~GraphCache() {
    for (Entry& e : entries) release(e);
  }
};

}  // namespace hh::cuda
