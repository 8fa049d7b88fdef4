#pragma once
// The BPE model of a byte-level tokenizer: the vocabulary (strings in GPT-2's byte-to-character
// form, "Ġthe" for " the"), the merges with their ranks, and the merge loop that turns one
// pre-tokenised word into ids. Results for short words are cached; the model is shared by all
// threads that encode (the cache has its own lock).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hh {

using TokenId = int32_t;

// GPT-2's bytes_to_unicode(): every byte value maps to one printable character (bytes that are
// printable Latin-1 map to themselves, the rest to U+0100 and up, in order).
char32_t byte_level_char(uint8_t byte);
// The inverse; -1 when `c` is not one of the 256 characters.
int byte_level_byte(char32_t c);
// `bytes` in byte-level form (the vocabulary's spelling).
std::string byte_level_encode(std::string_view bytes);
// Vocabulary spelling back to bytes; nullopt when a character is outside the byte-level table
// (such tokens decode to their own UTF-8 text, as tokenizers' ByteLevel decoder does).
std::optional<std::string> byte_level_decode(std::string_view text);
// The same, appending to `out`; on failure returns false with `out` unchanged.
bool byte_level_decode_append(std::string_view text, std::string& out);

// Vocabulary strings to ids: the strings in one arena, open addressing with linear probing on a
// flat slot array (one cache miss per lookup, no allocation per entry), which matters for both
// load time (150k entries) and the merge loop.
class VocabTable {
 public:
  void reserve(size_t entries, size_t bytes);
  // Inserts `text` -> `id` unless `text` is present; returns whether it was inserted.
  bool insert(std::string_view text, TokenId id);
  std::optional<TokenId> find(std::string_view text) const;
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint32_t hash = 0;
    uint32_t offset = 0;  // into arena_
    uint32_t length = 0;
    TokenId id = -1;  // -1: empty
  };
  static uint32_t hash_of(std::string_view text);
  void grow();
  std::string arena_;
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

// (left id, right id) -> (rank, merged id), open addressing on a flat array.
class MergeTable {
 public:
  struct Merge {
    int32_t rank;
    TokenId merged;
  };
  void reserve(size_t merges);
  bool insert(TokenId left, TokenId right, Merge merge);  // keeps an existing entry
  const Merge* find(TokenId left, TokenId right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = key_of(left, right);
    for (size_t i = index_of(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.merge;
      if (s.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // ids are below 2^31, so no real key
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge{};
  };
  static uint64_t key_of(TokenId left, TokenId right) {
    return uint64_t{static_cast<uint32_t>(left)} << 32 | static_cast<uint32_t>(right);
  }
  size_t index_of(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  void grow();
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

class BpeModel {
 public:
  BpeModel();
  ~BpeModel();
  BpeModel(BpeModel&&) noexcept;
  BpeModel& operator=(BpeModel&&) noexcept;

  // Room for `tokens` vocabulary entries and `merges` merges (saves rehashing while loading).
  void reserve(size_t tokens, size_t merges);
  // Vocabulary entry; a repeated string keeps its first id. Call before add_merge().
  void add_token(std::string_view text, TokenId id) { vocab_.insert(text, id); }
  // The next merge in rank order. Throws FormatError naming `list`[`index`] when a side or the
  // merged string is not in the vocabulary (as tokenizers does).
  void add_merge(std::string_view left, std::string_view right, std::string_view list,
                 size_t index);
  // tokenizers' `ignore_merges`: a word that is a vocabulary entry as a whole is taken as is.
  void set_ignore_merges(bool on) { ignore_merges_ = on; }
  // Builds the byte table; call once all tokens are added.
  void finish();

  std::optional<TokenId> find(std::string_view text) const { return vocab_.find(text); }
  size_t vocab_entries() const { return vocab_.size(); }
  size_t merges() const { return merges_.size(); }

  // Per-call scratch (symbol list and heap), reused across the words of one encode call.
  struct Scratch {
    struct Symbol {
      TokenId id;
      int32_t prev;
      int32_t next;
    };
    struct Candidate {
      int32_t rank;
      int32_t pos;
      TokenId left;
      TokenId right;
      TokenId merged;
    };
    std::vector<Symbol> symbols;
    std::vector<Candidate> heap;
    std::string spelled;
  };

  // Appends the ids of one pre-tokenised word given as raw bytes. Bytes whose character is not
  // in the vocabulary are dropped, as tokenizers does for a BPE without an unknown token.
  void encode_word(std::string_view bytes, Scratch& scratch, std::vector<TokenId>& out) const;

 private:
  void merge_symbols(Scratch& scratch) const;

  VocabTable vocab_;
  MergeTable merges_;
  std::string join_buffer_;  // add_merge's scratch
  TokenId byte_ids_[256];    // id of each byte's single-character token, -1 when absent
  bool ignore_merges_ = false;

  struct Cache;
  std::unique_ptr<Cache> cache_;
};

}  // namespace hh
