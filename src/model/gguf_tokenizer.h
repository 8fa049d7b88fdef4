#pragma once
// Tokenizer metadata for GGUF files, built from a Hugging Face tokenizer.json (+ the
// tokenizer_config.json beside it, when present) the way llama.cpp's converter writes it for
// Qwen models, so llama.cpp loads the result.
#include <string>
#include <utility>
#include <vector>

#include "model/gguf.h"

namespace hh {

// Keys tokenizer.ggml.{model,pre,tokens,token_type,merges,*_token_id,add_bos_token,...} and
// tokenizer.chat_template. The token list is padded to `vocab_size` with "[PAD{id}]" tokens;
// throws UsageError when the tokenizer has ids >= vocab_size, FormatError on a malformed file.
std::vector<std::pair<std::string, GgufValue>> gguf_tokenizer_metadata(
    const std::string& tokenizer_json, int64_t vocab_size);

}  // namespace hh
