#include "text/tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <limits>

#include "text/utf8.h"
#include "util/error.h"

namespace hh {

// ---- added-token matching ----

namespace {

// Unicode White_Space (Rust's char::is_whitespace, which tokenizers' lstrip/rstrip use).
bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// tokenizers' single_word test: a letter, digit or underscore continues a word.
bool is_word_char(char32_t c) {
  if (c == '_') return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

// The last character of s[0, end): its length, or 0 when none or not UTF-8.
size_t char_before(std::string_view s, size_t end, char32_t* cp) {
  for (size_t back = 1; back <= 4 && back <= end; ++back) {
    if (utf8_sequence_at(s, end - back, cp) == back) return back;
  }
  return 0;
}

char32_t char_at(std::string_view s, size_t pos) {
  char32_t cp = 0;
  return pos < s.size() && utf8_sequence_at(s, pos, &cp) > 0 ? cp : 0;
}

}  // namespace

// Finds added tokens leftmost-longest, like the Aho-Corasick automaton of tokenizers: at the
// leftmost position where any token matches, the longest one wins. Candidates are bucketed by
// their first byte, so text without those bytes is skipped at memchr-like speed.
class Tokenizer::AddedMatcher {
 public:
  explicit AddedMatcher(const std::vector<AddedToken>& tokens, bool normalized) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      const AddedToken& t = tokens[i];
      if (t.content.empty() || t.normalized != normalized) continue;
      buckets_[static_cast<uint8_t>(t.content[0])].push_back(i);
      ++count_;
    }
    for (auto& bucket : buckets_) {
      std::stable_sort(bucket.begin(), bucket.end(), [&](size_t a, size_t b) {
        return tokens[a].content.size() > tokens[b].content.size();
      });
    }
  }

  // Next match at or after `from`: index into the token list and [begin, end), or false.
  bool next(const std::vector<AddedToken>& tokens, std::string_view text, size_t from,
            size_t* index, size_t* begin, size_t* end) const {
    if (count_ == 0) return false;
    for (size_t pos = from; pos < text.size(); ++pos) {
      const auto& bucket = buckets_[static_cast<uint8_t>(text[pos])];
      for (const size_t i : bucket) {
        const std::string& content = tokens[i].content;
        if (text.compare(pos, content.size(), content) == 0) {
          *index = i;
          *begin = pos;
          *end = pos + content.size();
          return true;
        }
      }
    }
    return false;
  }

 private:
  std::array<std::vector<size_t>, 256> buckets_;
  size_t count_ = 0;
};

// Cuts `text` at the added tokens `matcher` finds (tokenizers' AddedVocabulary::find_matches):
// each token's id goes to `out`, the text between tokens to `gap`. A special token is skipped
// after matching when special tokens are not parsed, as in tokenizers: the text it covered
// stays plain text and no shorter token is sought inside it.
template <typename Matcher, typename Token, typename Gap>
void split_on_added(const Matcher& matcher, const std::vector<Token>& tokens, std::string_view text,
                    bool parse_special, std::vector<TokenId>& out, Gap&& gap) {
  size_t done = 0;  // text before this is tokenised
  size_t from = 0;  // where the next search starts
  size_t index = 0;
  size_t begin = 0;
  size_t end = 0;
  while (matcher.next(tokens, text, from, &index, &begin, &end)) {
    const Token& token = tokens[index];
    from = end;
    if (token.special && !parse_special) continue;
    if (token.single_word) {
      char32_t before = 0;
      const bool word_before = char_before(text, begin, &before) > 0 && is_word_char(before);
      const char32_t after = char_at(text, end);
      if (word_before || (after != 0 && is_word_char(after))) continue;
    }
    if (token.lstrip) {
      char32_t c = 0;
      size_t len = 0;
      while ((len = char_before(text, begin, &c)) > 0 && begin - len >= done && is_white_space(c)) {
        begin -= len;
      }
    }
    if (token.rstrip) {
      while (end < text.size()) {
        char32_t cp = 0;
        const size_t len = utf8_sequence_at(text, end, &cp);
        if (len == 0 || !is_white_space(cp)) break;
        end += len;
      }
      from = end;
    }
    if (begin > done) gap(text.substr(done, begin - done));
    out.push_back(token.id);
    done = end;
  }
  if (done < text.size()) gap(text.substr(done));
}

// ---- encoding ----

struct EncodeState {
  explicit EncodeState(const PreTokenizer& pre) : session(pre) {}
  PreTokenizer::Session session;
  BpeModel::Scratch scratch;
  std::vector<PieceSpan> pieces;
};

Tokenizer::Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool parse_special) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 8);
  encode_append(text, parse_special, out);
  return out;
}

void Tokenizer::encode_append(std::string_view text, bool parse_special,
                              std::vector<TokenId>& out) const {
  EncodeState state(pre_);
  split_on_added(*raw_matcher_, added_, text, parse_special, out,
                 [&](std::string_view gap) { encode_segment(gap, parse_special, state, out); });
}

void Tokenizer::encode_segment(std::string_view text, bool parse_special, EncodeState& state,
                               std::vector<TokenId>& out) const {
  // Valid runs take the normal path; each invalid byte becomes its own byte token.
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t valid = utf8_valid_prefix(text.substr(pos));
    if (valid > 0) encode_normalized(text.substr(pos, valid), parse_special, state, out);
    pos += valid;
    if (pos < text.size()) {
      bpe_.encode_word(text.substr(pos, 1), state.scratch, out);
      ++pos;
    }
  }
}

void Tokenizer::encode_normalized(std::string_view text, bool parse_special, EncodeState& state,
                                  std::vector<TokenId>& out) const {
  std::string normalised;
  if (normalizer_.apply(text, normalised)) text = normalised;
  split_on_added(*normalized_matcher_, added_, text, parse_special, out,
                 [&](std::string_view gap) { encode_valid(gap, state, out); });
}

void Tokenizer::encode_valid(std::string_view text, EncodeState& state,
                             std::vector<TokenId>& out) const {
  const std::string_view subject = pre_.split(text, state.session, state.pieces);
  for (const PieceSpan& p : state.pieces) {
    bpe_.encode_word(subject.substr(p.begin, p.end - p.begin), state.scratch, out);
  }
}

// ---- decoding ----

const Tokenizer::Entry& Tokenizer::entry(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= entries_.size() || !entries_[id].present) {
    throw UsageError(fmt::format("{}: token id {} is not in the vocabulary (size {})", source_, id,
                                 entries_.size()));
  }
  return entries_[id];
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool skip_special) const {
  std::string out;
  for (const TokenId id : ids) {
    const Entry& e = entry(id);
    if (skip_special && e.kind == TokenKind::Special) continue;
    out.append(bytes_of(e));
  }
  return out;
}

std::string_view Tokenizer::token_bytes(TokenId id) const { return bytes_of(entry(id)); }
std::string_view Tokenizer::token_text(TokenId id) const { return text_of(entry(id)); }
TokenKind Tokenizer::kind(TokenId id) const { return entry(id).kind; }

std::optional<TokenId> Tokenizer::find(std::string_view text) const {
  for (const AddedToken& t : added_) {
    if (t.content == text) return t.id;
  }
  return bpe_.find(text);
}

void Tokenizer::set_entry(TokenId id, std::string_view text, TokenKind kind) {
  if (static_cast<size_t>(id) >= entries_.size()) entries_.resize(static_cast<size_t>(id) + 1);
  if (text_arena_.size() + text.size() > std::numeric_limits<uint32_t>::max()) {
    throw UsageError(fmt::format("{}: vocabulary strings exceed 4 GiB", source_));
  }
  Entry& e = entries_[id];
  e.text_offset = static_cast<uint32_t>(text_arena_.size());
  e.text_length = static_cast<uint32_t>(text.size());
  text_arena_.append(text);
  e.kind = kind;
  e.present = true;
}

void Tokenizer::finish() {
  for (const AddedToken& t : added_) {
    set_entry(t.id, t.content, t.special ? TokenKind::Special : TokenKind::Added);
  }
  bytes_arena_.clear();
  bytes_arena_.reserve(text_arena_.size());
  for (Entry& e : entries_) {
    if (!e.present) continue;
    const std::string_view text = text_of(e);
    e.bytes_offset = static_cast<uint32_t>(bytes_arena_.size());
    // Added tokens stand for their text; BPE tokens for the bytes their characters encode, or
    // for their own text when a character is outside the byte-level table (as tokenizers'
    // ByteLevel decoder does).
    if (e.kind == TokenKind::Special || e.kind == TokenKind::Added ||
        !byte_level_decode_append(text, bytes_arena_)) {
      bytes_arena_.append(text);
    }
    e.bytes_length = static_cast<uint32_t>(bytes_arena_.size() - e.bytes_offset);
  }
  raw_matcher_ = std::make_unique<AddedMatcher>(added_, false);
  normalized_matcher_ = std::make_unique<AddedMatcher>(added_, true);
  bpe_.finish();
}

// ---- streaming ----

std::string TokenStreamDecoder::feed(TokenId id) {
  if (skip_special_ && tokenizer_->is_special(id)) return {};
  pending_.append(tokenizer_->token_bytes(id));
  const size_t keep = utf8_incomplete_suffix(pending_);
  const size_t ready = pending_.size() - keep;
  std::string out = utf8_make_valid(std::string_view(pending_).substr(0, ready));
  pending_.erase(0, ready);
  return out;
}

std::string TokenStreamDecoder::flush() {
  std::string out = utf8_make_valid(pending_);
  pending_.clear();
  return out;
}

}  // namespace hh
