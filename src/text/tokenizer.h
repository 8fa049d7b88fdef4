#pragma once
// Byte-level BPE tokenizer (GPT-2, Qwen, Llama 3, DeepSeek families) with the behaviour of
// Hugging Face `tokenizers`:
//
//   text ─► added tokens (longest match first; special ones only when parse_special)
//        ─► between them: NFC ─► pre-tokenizer regex splits ─► byte-level BPE per piece
//
// Loaded from tokenizer.json (+ tokenizer_config.json in a model directory) or from a GGUF
// file's tokenizer.ggml.* metadata.
//
// Text that is not valid UTF-8 is tokenised, never rejected: it is cut into maximal valid runs
// and single invalid bytes. Valid runs go through the normal path (each on its own, so the
// regex never sees the bad bytes); every invalid byte becomes the token of that one byte. Since
// decoding maps tokens back to their exact bytes, decode(encode(x)) == x for every x that is
// already in the normaliser's form (NFC for Qwen), invalid bytes and NUL bytes included.
//
// encode/decode are const and may run on several threads at once (the BPE word cache has its
// own lock). No BOS/EOS is added: chat templates write those. Not supported, with an error
// naming the field when met: SentencePiece-style models, byte fallback, BPE dropout,
// normalisers other than the Unicode normal forms.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer_bpe.h"
#include "text/tokenizer_pretok.h"

namespace hh {

class GgufFile;

// Ids above this are rejected when loading: a vocabulary's largest id sizes the id table, and
// the largest real vocabularies have about 2^18 entries.
constexpr TokenId kMaxTokenId = (1 << 24) - 1;

enum class TokenKind : uint8_t {
  Normal,   // produced by BPE
  Special,  // added token flagged special (<|im_start|>): matched only when parse_special
  Added,    // other added token (<think>, <tool_call>): always matched as a whole
  Unused,   // present in the id space, never produced by encode (GGUF padding entries)
};

class Tokenizer {
 public:
  // MODEL: a GGUF file, a Hugging Face model directory (tokenizer.json, tokenizer_config.json)
  // or a tokenizer.json file.
  static Tokenizer load(const std::string& model);
  // A tokenizer.json (text in `json`); `name` is used in error messages. `config_json`, when
  // not empty, is the tokenizer_config.json text (special flags of added tokens, eos/bos).
  static Tokenizer from_json(std::string_view json, const std::string& name,
                             std::string_view config_json = {},
                             const std::string& config_name = "tokenizer_config.json");
  static Tokenizer from_json_file(const std::string& path);
  static Tokenizer from_hf_dir(const std::string& dir);
  static Tokenizer from_gguf(const GgufFile& gguf);
  static Tokenizer from_gguf_file(const std::string& path);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // parse_special: whether special tokens written in the text (<|im_end|>) become their ids;
  // when off they are tokenised as plain text (tokenizers' encode_special_tokens). Any bytes
  // are accepted; the only error is a tokenizer.json pattern exceeding PCRE2's match limit.
  std::vector<TokenId> encode(std::string_view text, bool parse_special = true) const;
  void encode_append(std::string_view text, bool parse_special, std::vector<TokenId>& out) const;

  // Exact bytes of the tokens (not necessarily valid UTF-8 when the ids cut a character).
  // Throws UsageError for an id outside the vocabulary.
  std::string decode(std::span<const TokenId> ids, bool skip_special = false) const;
  // Bytes one token stands for.
  std::string_view token_bytes(TokenId id) const;
  // The vocabulary spelling (byte-level form for BPE tokens, the text for added tokens).
  std::string_view token_text(TokenId id) const;
  TokenKind kind(TokenId id) const;
  bool is_special(TokenId id) const { return kind(id) == TokenKind::Special; }
  // Id of a vocabulary spelling or added token's text.
  std::optional<TokenId> find(std::string_view text) const;

  // One more than the largest id.
  size_t vocab_size() const { return entries_.size(); }
  std::optional<TokenId> bos_id() const { return bos_id_; }
  std::optional<TokenId> eos_id() const { return eos_id_; }
  std::optional<TokenId> pad_id() const { return pad_id_; }
  // Where it came from, for messages ("tokenizer.json", "model.gguf").
  const std::string& source() const { return source_; }

 private:
  Tokenizer();
  friend class TokenizerBuilder;

  // Per id: its spelling in text_arena_ and its decoded bytes in bytes_arena_ (two big strings
  // instead of 300k small ones: loading is dominated by allocation otherwise).
  struct Entry {
    uint32_t text_offset = 0;
    uint32_t text_length = 0;
    uint32_t bytes_offset = 0;
    uint32_t bytes_length = 0;
    TokenKind kind = TokenKind::Unused;
    bool present = false;  // ids not named by the vocabulary are holes
  };
  struct AddedToken {
    std::string content;
    TokenId id = 0;
    bool special = false;
    bool normalized = false;   // matched after normalisation instead of on the raw text
    bool lstrip = false;       // swallows whitespace to its left
    bool rstrip = false;       // swallows whitespace to its right
    bool single_word = false;  // only when not inside a word
  };
  class AddedMatcher;

  const Entry& entry(TokenId id) const;
  void set_entry(TokenId id, std::string_view text, TokenKind kind);
  std::string_view text_of(const Entry& e) const {
    return std::string_view(text_arena_).substr(e.text_offset, e.text_length);
  }
  std::string_view bytes_of(const Entry& e) const {
    return std::string_view(bytes_arena_).substr(e.bytes_offset, e.bytes_length);
  }
  void encode_segment(std::string_view text, bool parse_special, struct EncodeState& state,
                      std::vector<TokenId>& out) const;
  void encode_normalized(std::string_view text, bool parse_special, struct EncodeState& state,
                         std::vector<TokenId>& out) const;
  void encode_valid(std::string_view text, struct EncodeState& state,
                    std::vector<TokenId>& out) const;
  void finish();  // builds matchers and decoded bytes after loading

  std::string source_;
  std::vector<Entry> entries_;  // [vocab_size]
  std::string text_arena_;
  std::string bytes_arena_;
  std::vector<AddedToken> added_;
  std::unique_ptr<AddedMatcher> raw_matcher_;         // added tokens with normalized == false
  std::unique_ptr<AddedMatcher> normalized_matcher_;  // added tokens with normalized == true
  Normalizer normalizer_;
  PreTokenizer pre_;
  BpeModel bpe_;
  std::optional<TokenId> bos_id_;
  std::optional<TokenId> eos_id_;
  std::optional<TokenId> pad_id_;
};

// Turns a stream of ids into text that is always complete UTF-8: bytes of a character cut
// between tokens are held back until the character is whole. Bytes that can never become a
// character are shown as U+FFFD (as tokenizers' decoders do).
class TokenStreamDecoder {
 public:
  explicit TokenStreamDecoder(const Tokenizer& tokenizer, bool skip_special = false)
      : tokenizer_(&tokenizer), skip_special_(skip_special) {}
  // Text completed by this token (may be empty).
  std::string feed(TokenId id);
  // Whatever is held back, an unfinished character as U+FFFD; the decoder is then empty.
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  std::string pending_;
};

}  // namespace hh
