#pragma once
// Launchers of the CUDA backend's kernels, one family per .cu file. Activations are f32; weights
// and the KV cache are in the model dtype E (f32, f16 or bf16), named by an ElemType and
// dispatched to one templated kernel body per family. Every launcher enqueues on `stream` and
// checks the launch; none synchronises, so all of them can be captured into a CUDA graph.
// Decode launchers read the position (and token) from the device-side DecodeState, so one
// captured graph serves every step.
#include <cuda_runtime.h>

#include <cstdint>

#include "values/elem_type.h"

namespace hh::cuda {

// The decode loop's state, in device memory: what a replayed step reads and what the pick
// kernel at its end updates, so that no step needs the host.
struct DecodeState {
  int64_t token = 0;    // input token of the next step
  int64_t pos = 0;      // cache position of that token; after a pick, the next free position
  int64_t n_out = 0;    // tokens emitted so far (they are in the output buffer)
  int64_t max_new = 0;  // stop after this many tokens
  int64_t eos = -1;     // stop after emitting this token
  int64_t cs = 0;       // cache context: stop when pos reaches it
  int64_t done = 0;     // set by the pick kernel when a stop rule holds
  int64_t error = 0;    // 1 + the sampling step whose logits gave no finite distribution
  // Sampling (the sample entry point); unused by greedy picks.
  float temperature = 0.0f;
  float top_p = 1.0f;
  int64_t top_k = 0;
  uint64_t seed = 0;
};

// The output form of f32 models' split products (split_bf16.cu): rows of n values written as
// rows of 3n bf16, hi | lo | hi (each value's halves, the high one twice), the right operand of
// one bf16 product over 3n whose left operand rows are lo | hi | hi. Row kernels take it in
// place of an ElemType.
struct SplitBf16Rows {};
inline constexpr int kSplitParts = 3;

// ---- embedding.cu ----
// out (T, d) f32 = rows tokens[t] of table (v, d) E; tokens in device memory.
void embed(ElemType type, const void* table, const int64_t* tokens, int64_t T, int64_t d,
           float* out, cudaStream_t stream);

// ---- norm.cu ----
// Each of `rows` rows of x (rows, n) f32: out = x * weight / sqrt(mean(x^2) + eps), written in
// `out_type` (f32 for the next op, or E as the input of a tensor-core matrix product).
void rms_norm(const float* x, const float* weight, float eps, int64_t rows, int64_t n,
              ElemType out_type, void* out, cudaStream_t stream);
void rms_norm(const float* x, const float* weight, float eps, int64_t rows, int64_t n,
              SplitBf16Rows out_form, void* out, cudaStream_t stream);

// Qwen3's per-head RMSNorm of queries and keys fused with RoPE (NeoX pairs (i, i + dh/2),
// angle (pos + t) * inv_freq[i] in double as on the CPU, reduced to a fraction of a turn in
// double before the f32 sin/cos) and the KV-cache update: for token
// t < T, q (T rows of q_stride, h heads of dh) is normalised and rotated in place, k (kvh heads)
// normalised, rotated and written to the cache at position pos + t, v copied there. The
// position is *pos_dev when pos_dev is not null, else pos. Caches are (kvh, cs, dh) E planes of
// one layer.
struct QkvRope {
  float* q;
  const float* k;
  const float* v;
  int64_t q_stride, k_stride, v_stride;  // floats between tokens
  const float* q_norm;                   // (dh) f32
  const float* k_norm;                   // (dh) f32
  void* k_cache;                         // (kvh, cs, dh) E
  void* v_cache;                         // (kvh, cs, dh) E
  int64_t T, h, kvh, dh, cs;
  float eps;
  int64_t pos;
  const int64_t* pos_dev;
  const double* inv_freq;  // (dh/2) device copy of rope_inv_freq() (engine/qwen3.h)
  // When set, the rotated queries' bf16 halves as well, head-major: (h, T, 3dh) as rows of dh
  // in SplitBf16Rows form, for f32 models' split attention products.
  void* q_split = nullptr;
};
void qk_norm_rope_store(ElemType type, const QkvRope& p, cudaStream_t stream);

// ---- elementwise.cu ----
// out (n) E = x (n) f32, rounded to nearest even.
void convert_f32(const float* x, int64_t n, ElemType out_type, void* out, cudaStream_t stream);
// out (rows, f) in out_type = silu(gate) * up, from f32 gate and up whose rows lie `stride`
// floats apart (f when they are packed; 2f for gate | up rows of one fused product).
void swiglu(const float* gate, const float* up, int64_t rows, int64_t f, int64_t stride,
            ElemType out_type, void* out, cudaStream_t stream);
void swiglu(const float* gate, const float* up, int64_t rows, int64_t f, int64_t stride,
            SplitBf16Rows out_form, void* out, cudaStream_t stream);

// ---- split_bf16.cu ----
// f32 values as their nearest bf16 values (hi) and the nearest bf16 values of the remainders
// (lo; hi + lo is within 2^-16 of the value): one bf16 tensor-core product over rows of
// lo | hi | hi times rows of hi | lo | hi is lo·hi + hi·lo + hi·hi, an f32-accurate product
// (CudaBackend::gemm_split, attention_by_split_products). `groups` blocks of `rows` rows of K
// values; strides in elements; hi2 (a second copy of hi) may be null.
struct SplitBf16 {
  const float* src = nullptr;
  int64_t groups = 1, rows = 0, K = 0;
  int64_t src_row_stride = 0, src_group_stride = 0;
  void* hi = nullptr;   // bf16
  void* lo = nullptr;   // bf16
  void* hi2 = nullptr;  // bf16
  int64_t dst_row_stride = 0, dst_group_stride = 0;
};
void split_bf16(const SplitBf16& args, cudaStream_t stream);
// The packed layouts: rows of src (rows, K) to dst (rows, 3K) bf16, as the left operand
// (LoHiHi: weights) or the right one (HiLoHi: activations, as SplitBf16Rows).
enum class SplitLayout { LoHiHi, HiLoHi };
void split_bf16_rows(const float* src, int64_t rows, int64_t K, void* dst, SplitLayout layout,
                     cudaStream_t stream);

// ---- matvec.cu ----
// The decode matrix-vector products (one token) over weights as stored, with 16-byte loads.
// Up to three matrices of one width K are read in one launch (Q, K and V); each gets its own
// output. With norm_weight set, the input is RMS-normalised on the fly (the block's norm is
// fused into the product). Modes: Store y = W·x; Add y += W·x (the residual connection);
// SwiGlu y = silu(W0·x) * (W1·x) (gate and up in one pass, W0 and W1 of the same rows).
enum class MatvecMode { Store, Add, SwiGlu };
// ---- decode timeline (decode_trace.h, trace.cuh) ----
// One block of one launch of a decode step.
struct TraceRecord {
  uint32_t launch;  // the launch's place in the step (decode_trace.h)
  uint32_t step;    // the step's cache position
  uint32_t sm;      // the multiprocessor the block ran on
  uint32_t block;   // its linear index in the grid
  uint64_t start;   // %globaltimer (ns) at the block's entry,
  uint64_t waited;  // when its wait for the kernel before was over,
  uint64_t end;     // when it left
};
// Where a kernel records its blocks; records == nullptr: tracing is off.
struct TraceTag {
  TraceRecord* records = nullptr;
  unsigned long long* count = nullptr;  // records written (or lost to a full buffer)
  unsigned long long capacity = 0;
  const int64_t* step = nullptr;         // the decode state's position
  int64_t first_step = 0, end_step = 0;  // record steps at positions [first_step, end_step)
  uint32_t launch = 0;
};

struct MatvecArgs {
  const void* w[3] = {nullptr, nullptr, nullptr};  // (rows[i], K) E
  int64_t rows[3] = {0, 0, 0};
  float* y[3] = {nullptr, nullptr, nullptr};  // (rows[i]) f32
  int n_mats = 1;
  int64_t K = 0;
  const float* x = nullptr;            // (K) f32
  const float* norm_weight = nullptr;  // (K) f32 or null
  float eps = 0.0f;
  MatvecMode mode = MatvecMode::Store;
  // The next kernel may launch only once this one's wait is over (instead of at its start).
  bool trigger_after_wait = false;
  // An ordinary launch instead of a chained one (a decode step's first kernel: launch.cuh).
  bool ordinary_launch = false;
  TraceTag trace;
};
void matvec(ElemType type, const MatvecArgs& args, cudaStream_t stream);
// Bytes of dynamic shared memory the matvec kernels need at width K; throws UsageError when the
// device cannot give that much.
void check_matvec_width(int64_t K);

// ---- attention.cu ----
// Causal grouped-query attention over one layer's cache, flash style (online softmax over
// tiles of keys), for T query tokens at positions pos + t (pos from *pos_dev when set): query
// head j reads kv head j / (h / kvh) at positions [0, pos + t]. q (T, h, dh) f32 already
// normalised and rotated; out (T, h, dh) f32. Long caches are split over `splits` blocks per
// head group whose partial results the last block to finish merges.
struct AttentionArgs {
  const float* q;
  const void* k_cache;  // (kvh, cs, dh) E
  const void* v_cache;  // (kvh, cs, dh) E
  float* out;
  int64_t T, h, kvh, dh, cs;
  int64_t pos;
  const int64_t* pos_dev;
  int splits;
  float* partial;     // scratch of attention_scratch_floats() floats
  unsigned* counter;  // scratch of attention_counters() zeroed counters (left zeroed)
};
// ---- attention_decode.cu ----
// Decode attention (one token) fused with qk_norm_rope_store: the query heads are normalised,
// rotated and scaled on the fly (rope.q is left as it is), the key and value of the token are
// written to the cache at the position (rope.pos_dev or rope.pos; rope.T is 1), and out (h, dh)
// gets attention over positions [0, pos]. splits: the launch's grid, attention_decode_splits()
// (a step takes only as many as its cache length needs, 256 positions each at least); partial
// and counter: attention_decode_scratch_floats() floats and attention_decode_counters() zeroed
// counters (left zeroed). A chained launch (launch.cuh).
struct DecodeAttentionArgs {
  QkvRope rope;
  float* out;
  int splits;
  float* partial;
  unsigned* counter;
  TraceTag trace = {};
  // The next kernel may launch only once this one's wait is over (instead of at its start).
  bool trigger_after_wait = false;
};
void attention_decode(ElemType type, const DecodeAttentionArgs& args, cudaStream_t stream);
// The splits a decode launch takes (its grid): about one block per multiprocessor once the cache
// is long; a step uses only as many as its cache length needs.
int attention_decode_splits(int64_t h, int64_t cs, int sm_count);
size_t attention_decode_scratch_floats(int64_t h, int64_t dh, int splits);
size_t attention_decode_counters(int64_t h);

// ---- attention.cu ----
// How many splits suit T tokens over a cache of cs positions on this GPU.
int attention_splits(int64_t T, int64_t h, int64_t kvh, int64_t cs, int sm_count);
size_t attention_scratch_floats(int64_t T, int64_t h, int64_t kvh, int64_t dh, int splits);
size_t attention_counters(int64_t T, int64_t h, int64_t kvh);
// Throws UsageError for a head width or group size the kernel does not take.
void check_attention_shape(int64_t h, int64_t kvh, int64_t dh);
void attention(ElemType type, const AttentionArgs& args, cudaStream_t stream);
// Prefill attention through matrix products (CudaBackend::attention_by_products) needs the
// causal softmax of the score rows: scores (h, T, n) f32, query t (at position p0 + t) sees keys
// [0, p0 + t]; probs (h, T, n) E, zero where masked. Rows of at most kCausalSoftmaxMaxKeys.
inline constexpr int64_t kCausalSoftmaxMaxKeys = 1024;
void causal_softmax(ElemType type, const float* scores, int64_t h, int64_t T, int64_t n, int64_t p0,
                    void* probs, cudaStream_t stream);
void causal_softmax(SplitBf16Rows out_form, const float* scores, int64_t h, int64_t T, int64_t n,
                    int64_t p0, void* probs, cudaStream_t stream);

// ---- sampling.cu ----
// The next decode step's input, gathered by the pick that chose its token (one kernel fewer a
// step): row `token` of table (vocab, d) of `type` into x (d) f32. table null: none.
struct NextEmbedding {
  const void* table = nullptr;
  ElemType type = ElemType::F32;
  int64_t d = 0;
  float* x = nullptr;
};
// Greedy pick of the decode loop: argmax of logits (v) (first index on ties, NaN never wins),
// then the bookkeeping of DESIGN.md's gen: out[n_out++] = token; with `advance` the position
// moves past the step's input first; done when token == eos, n_out == max_new or pos == cs.
// When `cond` is non-zero (inside a graph with a while node) the loop condition is set to !done.
// The picked token's embedding goes to `next` (also when done: x is scratch then). Scratch:
// argmax_scratch_bytes(v).
void pick_argmax(const float* logits, int64_t v, DecodeState* state, int64_t* out, bool advance,
                 unsigned long long cond, const NextEmbedding& next, void* scratch,
                 cudaStream_t stream);
size_t argmax_scratch_bytes(int64_t v);
// Sampling pick (Sampler's rules: temperature, top_k, top_p, uniform_random(seed, step)) with
// the same bookkeeping. Scratch: sample_scratch_bytes(v).
void pick_sample(const float* logits, int64_t v, DecodeState* state, int64_t* out, bool advance,
                 unsigned long long cond, const NextEmbedding& next, void* scratch,
                 size_t scratch_bytes, cudaStream_t stream);
size_t sample_scratch_bytes(int64_t v);
// Sets the while node's condition to !state->done (the first node of the decode graph).
void set_loop_condition(const DecodeState* state, unsigned long long cond, cudaStream_t stream);

}  // namespace hh::cuda
