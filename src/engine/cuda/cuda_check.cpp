#include "engine/cuda/cuda_check.h"

#include "util/error.h"

namespace hh::cuda {

void throw_usage(const std::string& message) { throw UsageError(message); }

void throw_bad_dtype(ElemType type) {
  fail_usage("the CUDA kernels take f32, f16 or bf16 tensors, not {}", elem_name(type));
}

void throw_cuda_error(cudaError_t status, const char* what, const char* file, int line) {
  // Clears a non-sticky error so that the next call does not report it again.
  cudaGetLastError();
  const std::string message =
      fmt::format("CUDA error {} ({}) in {} at {}:{}", cudaGetErrorName(status),
                  cudaGetErrorString(status), what, file, line);
  switch (status) {
    case cudaErrorMemoryAllocation:
      fail_usage("out of GPU memory: {}", message);
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInvalidDevice:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
      fail_usage("no usable GPU: {}", message);
    default:
      throw Error(message);
  }
}

void throw_cublas_error(cublasStatus_t status, const char* what, const char* file, int line) {
  const std::string message =
      fmt::format("cuBLAS error {} ({}) in {} at {}:{}", cublasGetStatusName(status),
                  cublasGetStatusString(status), what, file, line);
  if (status == CUBLAS_STATUS_ALLOC_FAILED) fail_usage("out of GPU memory: {}", message);
  if (status == CUBLAS_STATUS_NOT_INITIALIZED || status == CUBLAS_STATUS_ARCH_MISMATCH) {
    fail_usage("no usable GPU for cuBLAS: {}", message);
  }
  throw Error(message);
}

}  // namespace hh::cuda
