#include "text/tokenizer_bpe.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <mutex>
#include <unordered_map>

#include "text/utf8.h"
#include "util/error.h"

namespace hh {

// ---- byte-level alphabet ----

namespace {

bool printable_latin1(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteTables {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, 324> to_byte{};    // indexed by character; 256 + 68 non-printable bytes
  std::array<std::string, 256> spelled;  // UTF-8 of each byte's character
  ByteTables() {
    to_byte.fill(-1);
    char32_t extra = 256;
    for (int b = 0; b < 256; ++b) {
      to_char[b] = printable_latin1(b) ? static_cast<char32_t>(b) : extra++;
      to_byte[to_char[b]] = static_cast<int16_t>(b);
      append_utf8(spelled[b], to_char[b]);
    }
  }
};

const ByteTables& tables() {
  static const ByteTables t;
  return t;
}

// Words longer than this are not cached (as in tokenizers): they are rare and would crowd it.
constexpr size_t kMaxCachedWord = 256;
constexpr size_t kMaxCacheEntries = size_t{1} << 16;

}  // namespace

char32_t byte_level_char(uint8_t byte) { return tables().to_char[byte]; }

int byte_level_byte(char32_t c) { return c < tables().to_byte.size() ? tables().to_byte[c] : -1; }

std::string byte_level_encode(std::string_view bytes) {
  const ByteTables& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) out.append(t.spelled[static_cast<uint8_t>(c)]);
  return out;
}

bool byte_level_decode_append(std::string_view text, std::string& out) {
  const size_t size_before = out.size();
  size_t pos = 0;
  while (pos < text.size()) {
    const auto lead = static_cast<uint8_t>(text[pos]);
    int b = -1;
    size_t len = 1;
    if (lead < 0x80) {
      b = tables().to_byte[lead];
    } else {
      char32_t cp = 0;
      len = utf8_sequence_at(text, pos, &cp);
      if (len > 0) b = byte_level_byte(cp);
    }
    if (b < 0) {
      out.resize(size_before);
      return false;
    }
    out.push_back(static_cast<char>(b));
    pos += len;
  }
  return true;
}

std::optional<std::string> byte_level_decode(std::string_view text) {
  std::string out;
  if (!byte_level_decode_append(text, out)) return std::nullopt;
  return out;
}

// ---- hash tables ----

uint32_t VocabTable::hash_of(std::string_view text) {
  uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a: tokens are short, and it mixes well enough
  for (const char c : text) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001B3ull;
  return static_cast<uint32_t>(h ^ (h >> 32));
}

void VocabTable::reserve(size_t entries, size_t bytes) {
  arena_.reserve(bytes);
  size_t capacity = 16;
  while (capacity < entries * 2) capacity *= 2;
  if (capacity <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    for (size_t i = s.hash & (capacity - 1);; i = (i + 1) & (capacity - 1)) {
      if (slots_[i].id < 0) {
        slots_[i] = s;
        break;
      }
    }
  }
}

void VocabTable::grow() { reserve(std::max<size_t>(size_ + 1, slots_.size()), 0); }

bool VocabTable::insert(std::string_view text, TokenId id) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  if (arena_.size() + text.size() > std::numeric_limits<uint32_t>::max()) {
    throw UsageError("tokenizer: vocabulary strings exceed 4 GiB");
  }
  const uint32_t hash = hash_of(text);
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.id < 0) {
      s = Slot{hash, static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(text.size()), id};
      arena_.append(text);
      ++size_;
      return true;
    }
    if (s.hash == hash && std::string_view(arena_).substr(s.offset, s.length) == text) return false;
  }
}

std::optional<TokenId> VocabTable::find(std::string_view text) const {
  if (slots_.empty()) return std::nullopt;
  const uint32_t hash = hash_of(text);
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.id < 0) return std::nullopt;
    if (s.hash == hash && s.length == text.size() &&
        std::memcmp(arena_.data() + s.offset, text.data(), text.size()) == 0) {
      return s.id;
    }
  }
}

void MergeTable::reserve(size_t merges) {
  size_t capacity = 16;
  while (capacity < merges * 2) capacity *= 2;
  if (capacity <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  shift_ = 64 - std::countr_zero(capacity);
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    size_t i = index_of(s.key);
    while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void MergeTable::grow() { reserve(std::max<size_t>(size_ + 1, slots_.size())); }

bool MergeTable::insert(TokenId left, TokenId right, Merge merge) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  const uint64_t key = key_of(left, right);
  size_t i = index_of(key);
  while (slots_[i].key != kEmpty) {
    if (slots_[i].key == key) return false;
    i = (i + 1) & mask_;
  }
  slots_[i] = Slot{key, merge};
  ++size_;
  return true;
}

// ---- model ----

namespace {
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
}  // namespace

struct BpeModel::Cache {
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<TokenId>, StringHash, std::equal_to<>> words;
};

BpeModel::BpeModel() : cache_(std::make_unique<Cache>()) { std::fill_n(byte_ids_, 256, -1); }
BpeModel::~BpeModel() = default;
BpeModel::BpeModel(BpeModel&&) noexcept = default;
BpeModel& BpeModel::operator=(BpeModel&&) noexcept = default;

void BpeModel::reserve(size_t tokens, size_t merges) {
  vocab_.reserve(tokens, tokens * 8);
  merges_.reserve(merges);
}

void BpeModel::add_merge(std::string_view left, std::string_view right, std::string_view list,
                         size_t index) {
  const auto l = find(left);
  const auto r = find(right);
  if (!l || !r) {
    fail_format("{}[{}]: merge \"{} {}\" names a token that is not in the vocabulary ('{}')", list,
                index, left, right, l ? right : left);
  }
  std::string& joined = join_buffer_;
  joined.assign(left).append(right);
  const auto merged = find(joined);
  if (!merged) {
    fail_format("{}[{}]: merge \"{} {}\" gives '{}', which is not in the vocabulary", list, index,
                left, right, joined);
  }
  // A repeated merge keeps its first (better) rank.
  merges_.insert(*l, *r, {static_cast<int32_t>(merges_.size()), *merged});
}

void BpeModel::finish() {
  const ByteTables& t = tables();
  for (int b = 0; b < 256; ++b) {
    const auto id = find(t.spelled[b]);
    byte_ids_[b] = id ? *id : -1;
  }
}

void BpeModel::encode_word(std::string_view bytes, Scratch& scratch,
                           std::vector<TokenId>& out) const {
  if (bytes.empty()) return;
  if (bytes.size() == 1) {
    const TokenId id = byte_ids_[static_cast<uint8_t>(bytes[0])];
    if (id >= 0) out.push_back(id);
    return;
  }
  const bool cacheable = bytes.size() <= kMaxCachedWord;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    const auto it = cache_->words.find(bytes);
    if (it != cache_->words.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = out.size();
  bool done = false;
  if (ignore_merges_) {
    scratch.spelled = byte_level_encode(bytes);
    if (const auto id = find(scratch.spelled)) {
      out.push_back(*id);
      done = true;
    }
  }
  if (!done) {
    auto& symbols = scratch.symbols;
    symbols.clear();
    for (const char c : bytes) {
      const TokenId id = byte_ids_[static_cast<uint8_t>(c)];
      if (id < 0) continue;
      const auto index = static_cast<int32_t>(symbols.size());
      symbols.push_back({id, index - 1, index + 1});
    }
    if (!symbols.empty()) symbols.back().next = -1;
    merge_symbols(scratch);
    for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
      out.push_back(symbols[i].id);
    }
  }
  if (cacheable) {
    std::vector<TokenId> ids(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (cache_->words.size() >= kMaxCacheEntries) cache_->words.clear();
    cache_->words.try_emplace(std::string(bytes), std::move(ids));
  }
}

void BpeModel::merge_symbols(Scratch& scratch) const {
  // Repeatedly merge the adjacent pair of lowest rank, leftmost first on ties: the order in
  // which tokenizers merges. Symbols form a linked list (a merge keeps the left one); the heap
  // holds candidate pairs, and a candidate whose symbols changed since it was pushed is stale.
  auto& symbols = scratch.symbols;
  auto& heap = scratch.heap;
  heap.clear();
  const auto worse = [](const Scratch::Candidate& a, const Scratch::Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  const auto push_pair = [&](int32_t pos) {
    if (pos < 0) return;
    const int32_t next = symbols[pos].next;
    if (next < 0) return;
    const MergeTable::Merge* m = merges_.find(symbols[pos].id, symbols[next].id);
    if (m == nullptr) return;
    heap.push_back({m->rank, pos, symbols[pos].id, symbols[next].id, m->merged});
    std::push_heap(heap.begin(), heap.end(), worse);
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) push_pair(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), worse);
    const Scratch::Candidate c = heap.back();
    heap.pop_back();
    Scratch::Symbol& left = symbols[c.pos];
    if (left.id != c.left || left.next < 0) continue;
    Scratch::Symbol& right = symbols[left.next];
    if (right.id != c.right) continue;
    left.id = c.merged;
    right.id = -1;  // dead: never matches a candidate again
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = c.pos;
    push_pair(left.prev);
    push_pair(c.pos);
  }
}

}  // namespace hh
