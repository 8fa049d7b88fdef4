#pragma once
// `load`: a GGUF file or a Hugging Face model directory (config.json + model.safetensors or a
// sharded model.safetensors.index.json) into host Weights of the model dtype E. Tensors stored
// in E are used in place (mmap, no copy); others (f32/f16/bf16/Q8_0) are converted once.
#include <string>

#include "model/weights.h"

namespace hh {

Weights load_model(const std::string& path, ElemType dtype);

}  // namespace hh
