#pragma once
// The CUDA backend's private state: its device scratch (one model shape and cache context at a
// time) and the captured decode graphs. Shared by cuda_backend.cpp and cuda_forward.cpp only.
#include <string>
#include <vector>

#include "engine/cuda/cuda_backend.h"

namespace hh::cuda {

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

  float* x = nullptr;            // (chunk, d) residual stream; decode uses row 0
  float* qkv = nullptr;          // (qd + 2 kvd) decode projections, q | k | v
  float* att = nullptr;          // (chunk, qd) attention output
  float* act = nullptr;          // (f) decode SwiGLU output
  float* logits = nullptr;       // (64 rows, v): the logits computed and copied out at once
  void* xin = nullptr;           // (chunk, max(d, qd, f)) E: input of a prefill matrix product
  float* q = nullptr;            // (chunk, qd)
  float* k = nullptr;            // (chunk, kvd)
  float* v = nullptr;            // (chunk, kvd)
  float* gate = nullptr;         // (chunk, f)
  float* up = nullptr;           // (chunk, f)
  float* partial = nullptr;      // attention split partials
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
