// The CUDA backend's entry points: device set-up, weights and caches moved into GPU memory,
// the checks every backend makes, and gen / sample / logits on top of the forward pass in
// cuda_forward.cpp.
#include "engine/cuda/cuda_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_workspace.h"
#include "engine/generation.h"
#include "engine/sampler.h"
#include "model/loader.h"

namespace hh {

std::unique_ptr<Backend> make_cuda_backend(const EngineOptions& options) {
  return std::make_unique<cuda::CudaBackend>(options);
}

namespace cuda {

namespace {

bool on_device(const Array& a) { return a.valid() && a.space() == MemorySpace::Device; }

}  // namespace

CudaBackend::CudaBackend(const EngineOptions& options) : options_(options) {
  if (!is_model_dtype(options.dtype)) {
    fail_usage("the CUDA backend computes in f32, f16 or bf16, not {}", elem_name(options.dtype));
  }
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    fail_usage("--backend cuda: no usable GPU ({}: {}); CUDA driver version {}, runtime {}",
               cudaGetErrorName(status), cudaGetErrorString(status), driver, runtime);
  }
  if (count == 0) fail_usage("--backend cuda: no GPU found");
  HH_CUDA_CHECK(cudaSetDevice(device_));
  cudaDeviceProp prop{};
  HH_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
  device_name_ = prop.name;
  sm_count_ = prop.multiProcessorCount;
  if (prop.major < 8) {
    fail_usage("--backend cuda: GPU {} has compute capability {}.{}; this build needs 8.0 or newer",
               device_name_, prop.major, prop.minor);
  }
  HH_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  HH_CUBLAS_CHECK(cublasCreate(&cublas_));
  HH_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  // No TF32: f32 products run as split bf16 products or plain f32 ones, so that f32 logits match
  // the CPU within 1e-4.
  HH_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
  copier_ = std::make_unique<Copier>(stream_, options_.profiler);
  trace_ = DecodeTrace::from_environment();
  timer_ = std::make_unique<KernelTimer>(stream_, options_.profiler);
  if (const char* mode = std::getenv("HH_CUDA_DECODE")) {
    if (std::strcmp(mode, "host") == 0) {
      decode_mode_ = DecodeMode::Host;
    } else if (std::strcmp(mode, "graph") != 0) {
      fail_usage("HH_CUDA_DECODE is '{}': expected graph or host", mode);
    }
  }
}

std::shared_ptr<Weights> CudaBackend::load(const std::string& path) {
  return adopt(load_model(path, dtype()));
}

std::shared_ptr<Weights> CudaBackend::adopt(Weights weights) {
  drop_stale_split_weights();
  if (weights.dtype != dtype()) {
    fail_usage("weights are {} but this server's dtype is {}", elem_name(weights.dtype),
               elem_name(dtype()));
  }
  validate_weights(weights);
  const ModelConfig& c = weights.config;
  check_attention_shape(c.n_heads, c.n_kv_heads, c.head_dim);
  for (int64_t K : {c.dim, c.n_heads * c.head_dim, c.ffn_dim}) check_matvec_width(K);
  // One device allocation per Params field, layers stacked (b, ...), so that `project` of a
  // field is a view and per-layer tensors are slices of it.
  const std::vector<std::string>& names = params_field_names();
  std::vector<Array> fields;
  fields.reserve(names.size());
  for (const std::string& name : names) {
    if (name == "output" && c.tied_output) {
      fields.push_back(fields.front());  // token_embd, already on the device
      continue;
    }
    Array a = params_field(weights, name);
    if (a.rank() > 0) a = copier_->upload(a, "Params field '" + name + "'");
    fields.push_back(std::move(a));
  }
  return std::make_shared<Weights>(weights_from_fields(fields, dtype()));
}

std::shared_ptr<KVCache> CudaBackend::init_cache(int64_t b, int64_t kvh, int64_t cs, int64_t dh) {
  if (b <= 0 || kvh <= 0 || cs <= 0 || dh <= 0) {
    fail_usage("init: cache sizes must be positive, got b={} kvh={} cs={} dh={}", b, kvh, cs, dh);
  }
  const Shape shape{b, kvh, cs, dh};
  shape_count(shape);  // throws on overflow
  drop_stale_split_weights();
  const std::string what = fmt::format("the KV cache ({}x{}x{}x{} {}, keys and values each)", b,
                                       kvh, cs, dh, elem_name(dtype()));
  KVCache cache{device_array(dtype(), shape, what), device_array(dtype(), shape, what)};
  return std::make_shared<KVCache>(std::move(cache));
}

std::shared_ptr<KVCache> CudaBackend::adopt(KVCache cache) {
  validate_kv_cache(cache);
  if (cache.dtype() != dtype()) {
    fail_usage("cache is {} but this server's dtype is {}", elem_name(cache.dtype()),
               elem_name(dtype()));
  }
  drop_stale_split_weights();
  cache.k = copier_->upload(cache.k, "the KV cache keys");
  cache.v = copier_->upload(cache.v, "the KV cache values");
  return std::make_shared<KVCache>(std::move(cache));
}

Array CudaBackend::to_host(const Array& array) { return copier_->download(array); }

void CudaBackend::check_call(const Weights& w, const KVCache& cache, int64_t xsat,
                             std::span<const int64_t> xs) const {
  hh::check_call(*this, w, cache, xsat, xs);
  if (!on_device(w.token_embd) || !on_device(w.output) || !on_device(w.output_norm) ||
      w.layers.empty() || !on_device(w.layers.front().attn_q)) {
    fail_usage("the weights are not in GPU memory (load or adopt them with the cuda backend)");
  }
  if (!on_device(cache.k) || !on_device(cache.v)) {
    fail_usage("the cache is not in GPU memory (init or adopt it with the cuda backend)");
  }
}

std::vector<int64_t> CudaBackend::gen(const Weights& w, KVCache& cache, int64_t xsat,
                                      std::span<const int64_t> xs, int64_t eos_token_id,
                                      int64_t max_new_tokens) {
  return generate(w, cache, xsat, xs, eos_token_id, max_new_tokens, nullptr);
}

std::vector<int64_t> CudaBackend::sample(const Weights& w, KVCache& cache, int64_t xsat,
                                         std::span<const int64_t> xs, int64_t eos_token_id,
                                         int64_t max_new_tokens, const SamplingParams& sampling) {
  Sampler check(sampling);  // the CPU's parameter checks, before the cache is touched
  // Sampler picks the argmax for these: the greedy loop is the same function, faster.
  const bool greedy = sampling.temperature == 0.0f || sampling.top_k == 1;
  return generate(w, cache, xsat, xs, eos_token_id, max_new_tokens, greedy ? nullptr : &sampling);
}

}  // namespace cuda
}  // namespace hh
