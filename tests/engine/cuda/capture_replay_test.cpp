// Capture on the GPU and replay on the CPU, and the other way, through the protocol: one server
// over each backend; a `gen` call's inputs (position, prompt, Params, the Cache after a first
// turn, eos, budget) are stored by one server, restored by the other, and the continuation must
// give the same tokens in f32 as the capturing server's own call. Skipped where no GPU is present.
#ifdef HH_HAVE_CUDA
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_test_util.h"
#include "model/model_test_util.h"
#include "server/server.h"

namespace hh {
namespace {

void run(server::Server& s, const std::string& line) {
  std::string out;
  ASSERT_TRUE(s.handle_line(line, out)) << line << "\n" << out;
}

std::vector<int64_t> tokens_of(server::Server& s, const std::string& var) {
  const Array a = s.get_array(var);
  return std::vector<int64_t>(a.data<int64_t>(), a.data<int64_t>() + a.dim(0));
}

class CudaCaptureReplay : public ::testing::Test {
 protected:
  void SetUp() override {
    HH_SKIP_WITHOUT_GPU();
    model_ = dir_.file("m.gguf");
    testing::write_tiny_model(model_, ElemType::F32, /*tied=*/false);
    EngineOptions options;
    options.dtype = ElemType::F32;
    options.threads = 2;
    cpu_backend_ = std::make_unique<CpuBackend>(options);
    gpu_backend_ = std::make_unique<cuda::CudaBackend>(options);
  }
  // Loads the model, runs a first turn (prompt of 5 tokens, 4 new) into a fresh cache, and stores
  // the inputs of the second turn's `gen` to `file`; returns the tokens that call then gives.
  std::vector<int64_t> capture(server::Server& s, const std::string& file) {
    const ModelConfig c = testing::tiny_options(ElemType::F32, false).config;
    Array path = Array::allocate(ElemType::U8, {static_cast<int64_t>(model_.size())});
    std::memcpy(path.raw(), model_.data(), model_.size());
    s.put_array("path", path);
    const std::vector<int64_t> prompt = {3, 1, 4, 1, 5},
                               more = {9, 2};  // 5 + 3 cached after turn 1
    s.put_array("b", Array::scalar<int64_t>(ElemType::I64, c.n_layers));
    s.put_array("kvh", Array::scalar<int64_t>(ElemType::I64, c.n_kv_heads));
    s.put_array("cs", Array::scalar<int64_t>(ElemType::I64, 64));
    s.put_array("dh", Array::scalar<int64_t>(ElemType::I64, c.head_dim));
    s.put_array("at0", Array::scalar<int64_t>(ElemType::I64, 0));
    s.put_array("xs0", Array::from_i64(prompt));
    s.put_array("eos", Array::scalar<int64_t>(ElemType::I64, -1));
    s.put_array("n0", Array::scalar<int64_t>(ElemType::I64, 4));
    s.put_array("at1",
                Array::scalar<int64_t>(ElemType::I64, 8));  // the last token is not cached yet
    s.put_array("xs1", Array::from_i64(more));
    s.put_array("n1", Array::scalar<int64_t>(ElemType::I64, 8));
    run(s, "call load params path");
    run(s, "call init c0 b kvh cs dh");
    run(s, "call gen r0 at0 xs0 params c0 eos n0");
    run(s, "project c1 r0 1");
    run(s, "store " + file + " at1 xs1 params c1 eos n1");
    run(s, "call gen r1 at1 xs1 params c1 eos n1");
    run(s, "project toks r1 0");
    return tokens_of(s, "toks");
  }

  // Restores a capture and runs its `gen`.
  std::vector<int64_t> replay(server::Server& s, const std::string& file) {
    run(s, "restore " + file + " at i64 xs []i64 p Params c Cache eos i64 n i64");
    run(s, "call gen r at xs p c eos n");
    run(s, "project toks r 0");
    return tokens_of(s, "toks");
  }

  testing::TempDir dir_;
  std::string model_;
  std::unique_ptr<CpuBackend> cpu_backend_;
  std::unique_ptr<cuda::CudaBackend> gpu_backend_;
};

TEST_F(CudaCaptureReplay, GpuCaptureReplaysOnTheCpu) {
  server::Server gpu(*gpu_backend_), cpu(*cpu_backend_);
  const std::string file = dir_.file("gpu.in");
  const std::vector<int64_t> want = capture(gpu, file);
  ASSERT_EQ(want.size(), 8u);
  EXPECT_EQ(replay(cpu, file), want);
  server::Server gpu_again(*gpu_backend_);
  EXPECT_EQ(replay(gpu_again, file), want);  // and on the GPU again, from the file
}

TEST_F(CudaCaptureReplay, CpuCaptureReplaysOnTheGpu) {
  server::Server gpu(*gpu_backend_), cpu(*cpu_backend_);
  const std::string file = dir_.file("cpu.in");
  const std::vector<int64_t> want = capture(cpu, file);
  ASSERT_EQ(want.size(), 8u);
  EXPECT_EQ(replay(gpu, file), want);
}

}  // namespace
}  // namespace hh
#endif  // HH_HAVE_CUDA
