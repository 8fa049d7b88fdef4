// The CUDA backend's forward pass (Qwen3, DESIGN.md): the workspace, decode through fused
// matrix-vector kernels, and the decode loop as a CUDA graph whose while node replays one step
// until the device-side state says stop. Prefill is in cuda_prefill.cpp.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_workspace.h"
#include "engine/qwen3.h"

namespace hh::cuda {

namespace {

// Workspace generations: unique over the process, so a graph keyed on one never matches a
// later workspace whose buffers happen to be at other addresses.
uint64_t next_generation() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

}  // namespace

CudaBackend::~CudaBackend() {
  split_.reset();
  graphs_.reset();
  ws_.reset();
  timer_.reset();
  copier_.reset();
  if (cublas_ != nullptr) cublasDestroy(cublas_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

QkvRope CudaBackend::rope_args(const LayerWeights& lw, const KVCache& cache, int64_t l, float* q,
                               const float* k, const float* v, int64_t q_stride, int64_t kv_stride,
                               int64_t T, int64_t pos, const int64_t* pos_dev) const {
  const ModelConfig& c = ws_->c;
  return QkvRope{q,
                 k,
                 v,
                 q_stride,
                 kv_stride,
                 kv_stride,
                 lw.attn_q_norm.data<float>(),
                 lw.attn_k_norm.data<float>(),
                 const_cast<void*>(layer_plane(cache.k, l)),
                 const_cast<void*>(layer_plane(cache.v, l)),
                 T,
                 c.n_heads,
                 c.n_kv_heads,
                 c.head_dim,
                 cache.context(),
                 c.rms_eps,
                 pos,
                 pos_dev,
                 ws_->inv_freq};
}

void CudaBackend::upload_rope_frequencies(double* dst, const ModelConfig& c) {
  const std::vector<double> f = rope_inv_freq(c.rope_theta, c.head_dim);
  copier_->to_device(dst, f.data(), f.size() * sizeof(double));
}

CudaBackend::Workspace& CudaBackend::workspace(const ModelConfig& c, int64_t cs,
                                               int64_t out_capacity) {
  const auto same = [&](const ModelConfig& a) {
    return a.vocab_size == c.vocab_size && a.dim == c.dim && a.n_heads == c.n_heads &&
           a.n_kv_heads == c.n_kv_heads && a.head_dim == c.head_dim && a.ffn_dim == c.ffn_dim;
  };
  if (ws_ && same(ws_->c) && ws_->cs == cs && ws_->dtype == dtype() &&
      ws_->out_capacity >= out_capacity) {
    // The norms' eps is a kernel argument; the RoPE frequencies live in device memory (the decode
    // graph reads them there, so a new theta needs no new graph).
    if (ws_->c.rope_theta != c.rope_theta) upload_rope_frequencies(ws_->inv_freq, c);
    ws_->c = c;
    return *ws_;
  }
  const uint64_t generation = next_generation();
  ws_.reset();  // free first: the new workspace may need the room
  drop_stale_split_weights();
  auto ws = std::make_unique<Workspace>();
  ws->c = c;
  ws->dtype = dtype();
  ws->cs = cs;
  ws->generation = generation;
  ws->out_capacity = std::max<int64_t>(out_capacity, 64);
  const int64_t d = c.dim, qd = c.n_heads * c.head_dim, kvd = c.n_kv_heads * c.head_dim,
                f = c.ffn_dim, v = c.vocab_size, ch = kPrefillChunk;
  const auto n = [](int64_t x) { return static_cast<size_t>(x); };
  ws->x = ws->take<float>(n(ch * d), "residual stream");
  ws->qkv = ws->take<float>(n(qd + 2 * kvd), "decode projections");
  ws->att = ws->take<float>(n(ch * qd), "attention output");
  ws->act = ws->take<float>(n(f), "decode FFN activations");
  ws->logits = ws->take<float>(n(kLogitRows * v), "logits");
  ws->xin = ws->take<std::byte>(n(ch * std::max({d, qd, f})) * elem_size(dtype()),
                                "matrix-product input");
  ws->q = ws->take<float>(n(ch * qd), "queries");
  ws->k = ws->take<float>(n(ch * kvd), "keys");
  ws->v = ws->take<float>(n(ch * kvd), "values");
  ws->gate = ws->take<float>(n(ch * f), "FFN gate");
  ws->up = ws->take<float>(n(ch * f), "FFN up");
  if (dtype() == ElemType::F32) {
    ws->xsplit =
        ws->take<uint16_t>(n(kSplitParts * ch * std::max({d, qd, f})), "split product input");
    ws->fused = ws->take<float>(n(ch * std::max(qd + 2 * kvd, 2 * f)), "fused product output");
  }
  ws->decode_splits = attention_decode_splits(c.n_heads, cs, sm_count_);
  size_t partial = attention_decode_scratch_floats(c.n_heads, c.head_dim, ws->decode_splits);
  size_t counters = attention_decode_counters(c.n_heads);
  // Prefill chunks of any length up to ch (the last chunk of a prompt is shorter): the largest
  // scratch any of them needs.
  for (int64_t T = 1; T <= ch; ++T) {
    const int s = attention_splits(T, c.n_heads, c.n_kv_heads, cs, sm_count_);
    partial =
        std::max(partial, attention_scratch_floats(T, c.n_heads, c.n_kv_heads, c.head_dim, s));
    counters = std::max(counters, attention_counters(T, c.n_heads, c.n_kv_heads));
  }
  ws->partial = ws->take<float>(partial, "attention partials");
  ws->counters = ws->take<unsigned>(counters, "attention counters");
  ws->inv_freq = ws->take<double>(n(c.head_dim / 2), "RoPE frequencies");
  upload_rope_frequencies(ws->inv_freq, c);
  ws->state = ws->take<DecodeState>(1, "decode state");
  ws->out = ws->take<int64_t>(n(ws->out_capacity), "generated tokens");
  ws->pick_scratch_bytes = std::max(argmax_scratch_bytes(v), sample_scratch_bytes(v));
  ws->pick_scratch = ws->take<std::byte>(ws->pick_scratch_bytes, "sampling scratch");
  ws_ = std::move(ws);
  return *ws_;
}

TraceTag CudaBackend::trace_tag(uint32_t launch) const {
  return trace_ ? trace_->tag(launch, &ws_->state->pos) : TraceTag{};
}

void CudaBackend::last_logits(const Weights& w, int64_t row, TraceTag trace) {
  Workspace& ws = *ws_;
  const ModelConfig& c = w.config;
  timer_->run("matvec_output", [&] {
    MatvecArgs a;
    a.w[0] = w.output.raw();
    a.rows[0] = c.vocab_size;
    a.y[0] = ws.logits;
    a.K = c.dim;
    a.x = ws.x + row * c.dim;
    a.norm_weight = w.output_norm.data<float>();
    a.eps = c.rms_eps;
    a.trace = trace;
    matvec(dtype(), a, stream_);
  });
}

void CudaBackend::decode_body(const Weights& w, KVCache& cache, bool gather_input) {
  Workspace& ws = *ws_;
  const ModelConfig& c = w.config;
  const ElemType E = dtype();
  const int64_t d = c.dim, h = c.n_heads, kvh = c.n_kv_heads, dh = c.head_dim, qd = h * dh,
                kvd = kvh * dh, f = c.ffn_dim;
  const int64_t* pos = &ws.state->pos;
  if (gather_input) {
    timer_->run("embed",
                [&] { embed(E, w.token_embd.raw(), &ws.state->token, 1, d, ws.x, stream_); });
  }
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& lw = w.layers[static_cast<size_t>(l)];
    const auto launch = [&](int k) { return trace_tag(static_cast<uint32_t>(5 * l + k)); };
    timer_->run("matvec_qkv", [&] {
      MatvecArgs a;
      a.w[0] = lw.attn_q.raw();
      a.w[1] = lw.attn_k.raw();
      a.w[2] = lw.attn_v.raw();
      a.rows[0] = qd;
      a.rows[1] = kvd;
      a.rows[2] = kvd;
      a.y[0] = ws.qkv;
      a.y[1] = ws.qkv + qd;
      a.y[2] = ws.qkv + qd + kvd;
      a.n_mats = 3;
      a.K = d;
      a.x = ws.x;
      a.norm_weight = lw.attn_norm.data<float>();
      a.eps = c.rms_eps;
      a.ordinary_launch = l == 0 && !gather_input;  // the step's first kernel
      a.trace = launch(1);
      matvec(E, a, stream_);
    });
    // The query and key norms, RoPE and the cache update run inside the attention kernel.
    timer_->run("attention", [&] {
      DecodeAttentionArgs a{
          rope_args(lw, cache, l, ws.qkv, ws.qkv + qd, ws.qkv + qd + kvd, 0, 0, 1, 0, pos),
          ws.att,
          ws.decode_splits,
          ws.partial,
          ws.counters,
          launch(2)};
      // The next two kernels launch only once the one before them is over: the attention
      // output product's blocks (few, so room is left beside them) once the QKV product is, the
      // FFN's gate/up blocks once attention is. Their weight requests would otherwise queue
      // ahead of attention's own loads, which are on every layer's critical path. Measured on
      // an H100, decode 1+128, t/s f16 / bf16: both launching at their kernel's start 1483 /
      // 1469; either one later alone -0.5 %; both later, attention's dependents after it read
      // q, k and v 1497 / 1491; after its wait (this) 1514 / 1512.
      a.trigger_after_wait = true;
      attention_decode(E, a, stream_);
    });
    timer_->run("matvec_attn_output", [&] {
      MatvecArgs a;
      a.w[0] = lw.attn_output.raw();
      a.rows[0] = d;
      a.y[0] = ws.x;
      a.K = qd;
      a.x = ws.att;
      a.mode = MatvecMode::Add;
      a.trigger_after_wait = true;  // see attention above
      a.trace = launch(3);
      matvec(E, a, stream_);
    });
    timer_->run("matvec_ffn_gate_up", [&] {
      MatvecArgs a;
      a.w[0] = lw.ffn_gate.raw();
      a.w[1] = lw.ffn_up.raw();
      a.rows[0] = f;
      a.y[0] = ws.act;
      a.n_mats = 2;
      a.K = d;
      a.x = ws.x;
      a.norm_weight = lw.ffn_norm.data<float>();
      a.eps = c.rms_eps;
      a.mode = MatvecMode::SwiGlu;
      a.trace = launch(4);
      matvec(E, a, stream_);
    });
    timer_->run("matvec_ffn_down", [&] {
      MatvecArgs a;
      a.w[0] = lw.ffn_down.raw();
      a.rows[0] = d;
      a.y[0] = ws.x;
      a.K = f;
      a.x = ws.act;
      a.mode = MatvecMode::Add;
      a.trace = launch(5);
      matvec(E, a, stream_);
    });
  }
  last_logits(w, 0, trace_tag(static_cast<uint32_t>(5 * c.n_layers + 1)));
}

void CudaBackend::pick(const Weights& w, bool sampling, bool advance, unsigned long long cond) {
  Workspace& ws = *ws_;
  const int64_t v = ws.c.vocab_size;
  // The next step's input row, gathered by the pick's last block: a kernel fewer a step.
  const NextEmbedding next{w.token_embd.raw(), dtype(), ws.c.dim, ws.x};
  if (sampling) {
    timer_->run("sample", [&] {
      pick_sample(ws.logits, v, ws.state, ws.out, advance, cond, next, ws.pick_scratch,
                  ws.pick_scratch_bytes, stream_);
    });
  } else {
    timer_->run("argmax", [&] {
      pick_argmax(ws.logits, v, ws.state, ws.out, advance, cond, next, ws.pick_scratch, stream_);
    });
  }
}

void CudaBackend::decode_loop(const Weights& w, KVCache& cache, bool sampling) {
  Workspace& ws = *ws_;
  if (decode_mode_ == DecodeMode::Graph && !timer_->active()) {
    // Graphs hold raw pointers: one is reused only for the very same weights, cache and
    // workspace buffers.
    std::vector<const void*> key{cache.k.raw(),       cache.v.raw(),
                                 w.token_embd.raw(),  w.output.raw(),
                                 w.output_norm.raw(), reinterpret_cast<const void*>(ws.generation)};
    for (const LayerWeights& lw : w.layers) {
      for (const Array* a :
           {&lw.attn_norm, &lw.attn_q, &lw.attn_k, &lw.attn_v, &lw.attn_output, &lw.attn_q_norm,
            &lw.attn_k_norm, &lw.ffn_norm, &lw.ffn_gate, &lw.ffn_up, &lw.ffn_down}) {
        key.push_back(a->raw());
      }
    }
    // The norm epsilon is baked into the graph's kernel arguments.
    uint32_t eps_bits = 0;
    std::memcpy(&eps_bits, &w.config.rms_eps, sizeof(eps_bits));
    key.push_back(reinterpret_cast<const void*>(uintptr_t{eps_bits}));
    if (!graphs_) graphs_ = std::make_unique<GraphCache>();
    GraphCache::Entry& e = graphs_->entries[sampling ? 1 : 0];
    if (e.exec == nullptr || e.key != key) {
      GraphCache::release(e);
      try {
        HH_CUDA_CHECK(cudaGraphCreate(&e.graph, 0));
        cudaGraphConditionalHandle handle = 0;
        HH_CUDA_CHECK(cudaGraphConditionalHandleCreate(&handle, e.graph, 0, 0));
        // Node 1: the loop condition from the state (the first pick may already have stopped).
        HH_CUDA_CHECK(cudaStreamBeginCaptureToGraph(stream_, e.graph, nullptr, nullptr, 0,
                                                    cudaStreamCaptureModeThreadLocal));
        try {
          set_loop_condition(ws.state, handle, stream_);
        } catch (...) {
          cudaGraph_t g = nullptr;
          cudaStreamEndCapture(stream_, &g);
          throw;
        }
        cudaGraph_t captured = nullptr;
        HH_CUDA_CHECK(cudaStreamEndCapture(stream_, &captured));
        cudaGraphNode_t first = nullptr;
        size_t n_nodes = 1;
        HH_CUDA_CHECK(cudaGraphGetNodes(e.graph, &first, &n_nodes));
        // Node 2: while (condition) { one decode step }.
        cudaGraphNodeParams params{};
        params.type = cudaGraphNodeTypeConditional;
        params.conditional.handle = handle;
        params.conditional.type = cudaGraphCondTypeWhile;
        params.conditional.size = 1;
        cudaGraphNode_t loop = nullptr;
        HH_CUDA_CHECK(cudaGraphAddNode(&loop, e.graph, &first, nullptr, 1, &params));
        cudaGraph_t body = params.conditional.phGraph_out[0];
        HH_CUDA_CHECK(cudaStreamBeginCaptureToGraph(stream_, body, nullptr, nullptr, 0,
                                                    cudaStreamCaptureModeThreadLocal));
        try {
          decode_body(w, cache, false);
          pick(w, sampling, true, handle);
        } catch (...) {
          cudaGraph_t g = nullptr;
          cudaStreamEndCapture(stream_, &g);
          throw;
        }
        HH_CUDA_CHECK(cudaStreamEndCapture(stream_, &captured));
        HH_CUDA_CHECK(cudaGraphInstantiate(&e.exec, e.graph, 0));
        e.key = std::move(key);
      } catch (const UsageError&) {
        GraphCache::release(e);
        throw;  // out of memory: the caller's business
      } catch (const Error&) {
        // No conditional nodes here (an old driver): drive the steps from the host instead.
        GraphCache::release(e);
        cudaGetLastError();
        decode_mode_ = DecodeMode::Host;
      }
    }
    if (e.exec != nullptr) {
      HH_CUDA_CHECK(cudaGraphLaunch(e.exec, stream_));
      return;
    }
  }
  // Host-driven steps: one small read of the state per token (profiling, or no graph support).
  for (;;) {
    DecodeState st;
    copier_->to_host(&st, ws.state, sizeof(st));
    if (st.done) return;
    decode_body(w, cache, false);
    pick(w, sampling, true, 0);
  }
}

std::vector<int64_t> CudaBackend::generate(const Weights& w, KVCache& cache, int64_t xsat,
                                           std::span<const int64_t> xs, int64_t eos_token_id,
                                           int64_t max_new_tokens, const SamplingParams* sampling) {
  check_call(w, cache, xsat, xs);
  if (xs.empty()) fail_usage("gen needs at least one prompt token in xs");
  HH_CUDA_CHECK(cudaSetDevice(device_));
  const auto T = static_cast<int64_t>(xs.size());
  const int64_t cs = cache.context();
  // At most cs - (xsat + T) + 1 tokens: the last one returned is not yet in the cache.
  const int64_t capacity = max_new_tokens <= 0 ? 0 : std::min(max_new_tokens, cs - (xsat + T) + 1);
  Workspace& ws = workspace(w.config, cs, std::max<int64_t>(capacity, 1));
  if (ws.tokens_capacity < T) {
    ws.tokens_storage.reset();
    ws.tokens_storage = allocate_device(static_cast<size_t>(T) * sizeof(int64_t), "prompt tokens");
    ws.tokens = reinterpret_cast<int64_t*>(ws.tokens_storage->data());
    ws.tokens_capacity = T;
  }
  copier_->to_device(ws.tokens, xs.data(), static_cast<size_t>(T) * sizeof(int64_t));

  DecodeState st;
  st.max_new = capacity;
  st.eos = eos_token_id;
  st.cs = cs;
  if (sampling != nullptr) {
    st.temperature = sampling->temperature;
    st.top_p = sampling->top_p;
    st.top_k = sampling->top_k;
    st.seed = sampling->seed;
  }
  if (capacity == 0) {
    // No tokens asked for, but gen still writes the prompt into the cache (DESIGN.md).
    prefill(w, cache, xsat, T, nullptr);
    HH_CUDA_CHECK(cudaStreamSynchronize(stream_));
    timer_->flush();
    return {};
  }
  if (T >= 2) {
    st.pos = xsat + T;
    copier_->to_device(ws.state, &st, sizeof(st));
    const int64_t row = prefill(w, cache, xsat, T, nullptr);
    last_logits(w, row);
    pick(w, sampling != nullptr, false, 0);
  } else {
    st.token = xs[0];
    st.pos = xsat;
    copier_->to_device(ws.state, &st, sizeof(st));
    decode_body(w, cache, true);
    pick(w, sampling != nullptr, true, 0);
  }
  decode_loop(w, cache, sampling != nullptr);
  copier_->to_host(&st, ws.state, sizeof(st));
  timer_->flush();
  if (trace_) trace_->flush(stream_);
  if (st.error != 0) {
    fail("sampling step {}: the logits give no finite distribution (NaN or infinite logits)",
         st.error - 1);
  }
  std::vector<int64_t> out(static_cast<size_t>(st.n_out));
  copier_->to_host(out.data(), ws.out, out.size() * sizeof(int64_t));
  return out;
}

Array CudaBackend::logits(const Weights& w, KVCache& cache, int64_t xsat,
                          std::span<const int64_t> xs) {
  check_call(w, cache, xsat, xs);
  HH_CUDA_CHECK(cudaSetDevice(device_));
  const auto T = static_cast<int64_t>(xs.size());
  const int64_t v = w.config.vocab_size;
  Array out = Array::allocate(ElemType::F32, {T, v}, /*zero=*/false);
  if (T == 0) return out;
  Workspace& ws = workspace(w.config, cache.context(), 1);
  if (ws.tokens_capacity < T) {
    ws.tokens_storage.reset();
    ws.tokens_storage = allocate_device(static_cast<size_t>(T) * sizeof(int64_t), "prompt tokens");
    ws.tokens = reinterpret_cast<int64_t*>(ws.tokens_storage->data());
    ws.tokens_capacity = T;
  }
  if (T == 1) {
    DecodeState st;
    st.token = xs[0];
    st.pos = xsat;
    st.cs = cache.context();
    copier_->to_device(ws.state, &st, sizeof(st));
    decode_body(w, cache, true);
    copier_->to_host(out.data<float>(), ws.logits, static_cast<size_t>(v) * sizeof(float));
  } else {
    copier_->to_device(ws.tokens, xs.data(), static_cast<size_t>(T) * sizeof(int64_t));
    prefill(w, cache, xsat, T, out.data<float>());
  }
  timer_->flush();
  return out;
}

}  // namespace hh::cuda
