#pragma once
// Normalisation and pre-tokenisation, the two steps between added-token matching and BPE,
// with the semantics of Hugging Face `tokenizers`:
//  - Normalizer: a sequence of Unicode normal forms (NFC for Qwen) applied with utf8proc.
//  - PreTokenizer: a sequence of steps, each splitting every current piece further: Split
//    (a regex and a SplitDelimiterBehavior, optionally inverted), Digits (\p{N}), ByteLevel
//    (optional prefix space and GPT-2 regex; its byte-to-character mapping happens in BPE).
// Both run only on valid UTF-8: the tokenizer cuts invalid bytes out beforehand.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer_regex.h"

namespace hh {

enum class NormalForm : uint8_t { NFC, NFD, NFKC, NFKD };

class Normalizer {
 public:
  void add(NormalForm form) { forms_.push_back(form); }
  bool empty() const { return forms_.empty(); }
  // Returns true and writes the normalised text to `out` when it differs from `text`; false
  // (and `out` untouched) when `text` is already normal, which is checked cheaply first.
  bool apply(std::string_view text, std::string& out) const;

 private:
  std::vector<NormalForm> forms_;
};

// How a Split step treats the matched parts (tokenizers' SplitDelimiterBehavior).
enum class SplitBehavior : uint8_t {
  Removed,
  Isolated,
  MergedWithPrevious,
  MergedWithNext,
  Contiguous
};
std::optional<SplitBehavior> parse_split_behavior(std::string_view name);

// A piece of pre-tokenised text: bytes [begin, end) of the current subject.
struct PieceSpan {
  size_t begin = 0;
  size_t end = 0;
};

class PreTokenizer {
 public:
  PreTokenizer();
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  void add_split(TokenizerRegex regex, SplitBehavior behavior, bool invert);
  // tokenizers' Digits: \p{N} characters isolated one by one, or runs of them kept together.
  void add_digits(bool individual, const std::string& where);
  void add_byte_level(bool add_prefix_space, bool use_regex, const std::string& where);
  size_t steps() const { return steps_.size(); }

  // Scratch for one encode call (regex match state, buffers); not shared between threads.
  class Session {
   public:
    explicit Session(const PreTokenizer& pre);
    ~Session();

   private:
    friend class PreTokenizer;
    std::vector<std::unique_ptr<TokenizerRegex::Matcher>> matchers_;  // one per step (or null)
    std::string storage_[2];                                          // when text is inserted
    std::vector<PieceSpan> scratch_;
    std::vector<std::pair<PieceSpan, bool>> marked_;  // (span, is_match) of one piece
  };

  // Splits valid UTF-8 `text` into non-empty pieces. The spans index into the returned view,
  // which is `text` itself unless a step inserted characters (ByteLevel's prefix space); then it
  // points into the session's storage and stays valid until the session's next split().
  std::string_view split(std::string_view text, Session& session,
                         std::vector<PieceSpan>& pieces) const;

 private:
  struct Step {
    enum class Kind : uint8_t { Split, PrefixSpace } kind = Kind::Split;
    std::unique_ptr<TokenizerRegex> regex;  // Split
    SplitBehavior behavior = SplitBehavior::Isolated;
    bool invert = false;
  };
  void split_step(const Step& step, TokenizerRegex::Matcher& matcher, std::string_view subject,
                  const std::vector<PieceSpan>& in, std::vector<PieceSpan>& out,
                  Session& session) const;
  std::vector<Step> steps_;
};

// GPT-2's pattern, which ByteLevel applies when its use_regex is on.
extern const char* const kGpt2Pattern;

// The pre-tokenizer for a GGUF `tokenizer.ggml.pre` name (llama.cpp's names: "qwen2",
// "llama-bpe", "gpt-2", "deepseek-llm", ...): the patterns of the model's own tokenizer.json,
// each a Split step with isolated matches, then ByteLevel. Also tells whether the model's BPE
// ignores merges (whole words found in the vocabulary are taken as they are, as Llama 3 does)
// and whether its tokenizer.json normalises to NFC (Qwen's does; GGUF has no field for it).
// Throws FormatError naming `key` for an unknown name.
struct GgufPreset {
  PreTokenizer pre;
  bool ignore_merges = false;
  bool nfc = false;
};
GgufPreset gguf_pre_tokenizer(const std::string& name, const std::string& key);

}  // namespace hh
