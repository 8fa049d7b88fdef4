#pragma once
// Every CUDA runtime and cuBLAS call of the backend goes through these checks: a failure becomes
// an hh::Error naming the call, the file and the line (never an exit), and an allocation failure
// a UsageError, so that the server answers `%%% FAILURE` and stays usable.
// No fmt here: nvcc cannot compile fmt's headers, so .cu files build their messages with
// std::string and throw through these functions (defined in cuda_check.cpp).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "values/elem_type.h"

namespace hh::cuda {

[[noreturn]] void throw_usage(const std::string& message);
// "the CUDA kernels take f32, f16 or bf16 tensors, not <type>".
[[noreturn]] void throw_bad_dtype(ElemType type);

// Throws for `status` (UsageError for out-of-memory and missing device or driver, Error
// otherwise); `what` is the failed expression. The sticky error state is cleared where CUDA
// allows it, so later calls can still succeed.
[[noreturn]] void throw_cuda_error(cudaError_t status, const char* what, const char* file,
                                   int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* what, const char* file,
                                     int line);

}  // namespace hh::cuda

#define HH_CUDA_CHECK(expr)                                                \
  do {                                                                     \
    const cudaError_t hh_status_ = (expr);                                 \
    if (hh_status_ != cudaSuccess) {                                       \
      ::hh::cuda::throw_cuda_error(hh_status_, #expr, __FILE__, __LINE__); \
    }                                                                      \
  } while (0)

#define HH_CUBLAS_CHECK(expr)                                                \
  do {                                                                       \
    const cublasStatus_t hh_status_ = (expr);                                \
    if (hh_status_ != CUBLAS_STATUS_SUCCESS) {                               \
      ::hh::cuda::throw_cublas_error(hh_status_, #expr, __FILE__, __LINE__); \
    }                                                                        \
  } while (0)

// After a kernel launch: launch-configuration errors surface here, at the launch's line.
#define HH_CUDA_CHECK_LAUNCH() HH_CUDA_CHECK(cudaGetLastError())
