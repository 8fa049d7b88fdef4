#include "text/tokenizer_pretok.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>

#include "text/utf8.h"
#include "util/error.h"

namespace hh {

// ---- Normalizer ----

namespace {

utf8proc_option_t utf8proc_options(NormalForm form) {
  const int base = UTF8PROC_STABLE;
  switch (form) {
    case NormalForm::NFC:
      return static_cast<utf8proc_option_t>(base | UTF8PROC_COMPOSE);
    case NormalForm::NFD:
      return static_cast<utf8proc_option_t>(base | UTF8PROC_DECOMPOSE);
    case NormalForm::NFKC:
      return static_cast<utf8proc_option_t>(base | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
    case NormalForm::NFKD:
      return static_cast<utf8proc_option_t>(base | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  }
  return static_cast<utf8proc_option_t>(base);
}

// utf8proc on valid UTF-8 (NUL bytes are ordinary characters: explicit length, no NULLTERM).
std::string utf8proc_normalise(std::string_view text, NormalForm form) {
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &result, utf8proc_options(form));
  if (n < 0) {
    // Only valid UTF-8 reaches here, so this is an allocation failure.
    throw UsageError(
        fmt::format("tokenizer: normalising {} bytes failed: {}", text.size(), utf8proc_errmsg(n)));
  }
  std::string out(reinterpret_cast<const char*>(result), static_cast<size_t>(n));
  std::free(result);
  return out;
}

// For NFC, a character is *safe* when NFC keeps it as it is whatever surrounds it and nothing
// before it can combine with it or move past it: combining class 0, no canonical decomposition
// (which also rules out singletons, exclusions and decompositions that start with a combining
// mark, like U+0F73), and never the second character of a composition (Hangul vowel and
// trailing jamo compose algorithmically, so they are named here). NFC(A + B) = NFC(A) + NFC(B)
// when B starts with a safe character, so text is cut before each safe character and only the
// pieces holding an unsafe one go to utf8proc: English with the odd em dash, CJK and emoji never
// do. Precomposed letters above U+0300 count as unsafe; they are only normalised needlessly.
bool nfc_safe(char32_t cp) {
  if (cp < 0x300) return true;  // below the first combining mark: all NFC already
  if ((cp >= 0x1161 && cp <= 0x1175) || (cp >= 0x11A8 && cp <= 0x11C2)) return false;
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
#if UTF8PROC_VERSION_MAJOR == 2 && UTF8PROC_VERSION_MINOR < 9
  // Up to 2.8, comb_index >= 0x8000 (and not UINT16_MAX) marks a composition's second character.
  const bool second = p->comb_index != UINT16_MAX && p->comb_index >= 0x8000;
#else
  const bool second = p->comb_issecond;
#endif
  const bool canonical_decomposition = p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0;
  return p->combining_class == 0 && !second && !canonical_decomposition;
}

// NFC of valid UTF-8, normalising only the segments that need it; false when `text` is NFC.
bool apply_nfc(std::string_view text, std::string& out) {
  std::string result;
  bool changed = false;
  size_t copied = 0;   // text before this is in `result` (once `changed`)
  size_t segment = 0;  // start of the current segment (a safe character)
  bool dirty = false;  // the current segment holds an unsafe character
  size_t pos = 0;
  const auto flush = [&](size_t end) {
    if (!dirty) return;
    const std::string_view piece = text.substr(segment, end - segment);
    std::string normalised = utf8proc_normalise(piece, NormalForm::NFC);
    if (normalised == piece) return;
    if (!changed) result.reserve(text.size() + 16);
    result.append(text.substr(copied, segment - copied));
    result.append(normalised);
    copied = end;
    changed = true;
  };
  while (pos < text.size()) {
    const auto lead = static_cast<uint8_t>(text[pos]);
    if (lead < 0x80) {  // ASCII is safe
      if (dirty) {
        flush(pos);
        dirty = false;
      }
      segment = pos++;
      continue;
    }
    char32_t cp = 0;
    const size_t len = utf8_sequence_at(text, pos, &cp);
    if (nfc_safe(cp)) {
      if (dirty) flush(pos);
      segment = pos;
      dirty = false;
    } else {
      dirty = true;
    }
    pos += len;
  }
  flush(text.size());
  if (!changed) return false;
  result.append(text.substr(copied));
  out = std::move(result);
  return true;
}

}  // namespace

bool Normalizer::apply(std::string_view text, std::string& out) const {
  bool changed = false;
  std::string current;
  for (const NormalForm form : forms_) {
    const std::string_view input = changed ? std::string_view(current) : text;
    std::string normalised;
    if (form == NormalForm::NFC) {
      if (!apply_nfc(input, normalised)) continue;
    } else {
      // Only ASCII is known to be in every form without asking utf8proc.
      bool ascii = true;
      for (const char c : input) ascii = ascii && static_cast<uint8_t>(c) < 0x80;
      if (ascii) continue;
      normalised = utf8proc_normalise(input, form);
      if (normalised == input) continue;
    }
    current = std::move(normalised);
    changed = true;
  }
  if (changed) out = std::move(current);
  return changed;
}

// ---- Split behaviour ----

std::optional<SplitBehavior> parse_split_behavior(std::string_view name) {
  if (name == "Removed") return SplitBehavior::Removed;
  if (name == "Isolated") return SplitBehavior::Isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (name == "Contiguous") return SplitBehavior::Contiguous;
  return std::nullopt;
}

// ---- PreTokenizer ----

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

PreTokenizer::PreTokenizer() = default;
PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

void PreTokenizer::add_split(TokenizerRegex regex, SplitBehavior behavior, bool invert) {
  Step step;
  step.kind = Step::Kind::Split;
  step.regex = std::make_unique<TokenizerRegex>(std::move(regex));
  step.behavior = behavior;
  step.invert = invert;
  steps_.push_back(std::move(step));
}

void PreTokenizer::add_digits(bool individual, const std::string& where) {
  add_split(TokenizerRegex(R"(\p{N})", false, where),
            individual ? SplitBehavior::Isolated : SplitBehavior::Contiguous, false);
}

void PreTokenizer::add_byte_level(bool add_prefix_space, bool use_regex, const std::string& where) {
  if (add_prefix_space) {
    Step step;
    step.kind = Step::Kind::PrefixSpace;
    steps_.push_back(std::move(step));
  }
  if (use_regex)
    add_split(TokenizerRegex(kGpt2Pattern, false, where), SplitBehavior::Isolated, false);
}

PreTokenizer::Session::Session(const PreTokenizer& pre) {
  matchers_.reserve(pre.steps_.size());
  for (const Step& step : pre.steps_) {
    matchers_.push_back(step.regex ? std::make_unique<TokenizerRegex::Matcher>(*step.regex)
                                   : nullptr);
  }
}

PreTokenizer::Session::~Session() = default;

std::string_view PreTokenizer::split(std::string_view text, Session& session,
                                     std::vector<PieceSpan>& pieces) const {
  pieces.clear();
  if (text.empty()) return text;
  pieces.push_back({0, text.size()});
  std::string_view subject = text;
  int next_storage = 0;
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& step = steps_[i];
    if (step.kind == Step::Kind::PrefixSpace) {
      // tokenizers' ByteLevel prepends a space to every current piece that lacks one; the text
      // changes, so the pieces move to a new buffer.
      std::string& buffer = session.storage_[next_storage];
      next_storage ^= 1;
      buffer.clear();
      session.scratch_.clear();
      for (const PieceSpan& p : pieces) {
        const size_t begin = buffer.size();
        if (subject[p.begin] != ' ') buffer.push_back(' ');
        buffer.append(subject.substr(p.begin, p.end - p.begin));
        session.scratch_.push_back({begin, buffer.size()});
      }
      pieces.swap(session.scratch_);
      subject = buffer;
      continue;
    }
    session.scratch_.clear();
    split_step(step, *session.matchers_[i], subject, pieces, session.scratch_, session);
    pieces.swap(session.scratch_);
  }
  return subject;
}

void PreTokenizer::split_step(const Step& step, TokenizerRegex::Matcher& matcher,
                              std::string_view subject, const std::vector<PieceSpan>& in,
                              std::vector<PieceSpan>& out, Session& session) const {
  auto& marked = session.marked_;
  for (const PieceSpan& piece : in) {
    // Each piece is matched on its own, so lookahead never sees past its end (as in tokenizers).
    const std::string_view text = subject.substr(piece.begin, piece.end - piece.begin);
    marked.clear();
    size_t previous = 0;
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t b = 0;
      size_t e = 0;
      if (!matcher.find(text, pos, &b, &e)) break;
      if (b > previous) marked.push_back({{previous, b}, false});
      marked.push_back({{b, e}, true});
      previous = e;
      if (e > b) {
        pos = e;
      } else {
        // An empty match: step over one character so the search moves on.
        if (b >= text.size()) break;
        char32_t cp = 0;
        const size_t len = utf8_sequence_at(text, b, &cp);
        pos = b + (len == 0 ? 1 : len);
      }
    }
    if (previous < text.size()) marked.push_back({{previous, text.size()}, false});
    if (step.invert) {
      for (auto& m : marked) m.second = !m.second;
    }

    // Apply the delimiter behaviour to this piece's (span, is_match) list, the way
    // tokenizers' NormalizedString::split does, then drop empty spans.
    const size_t first_out = out.size();
    switch (step.behavior) {
      case SplitBehavior::Isolated:
        for (const auto& m : marked) out.push_back(m.first);
        break;
      case SplitBehavior::Removed:
        for (const auto& m : marked) {
          if (!m.second) out.push_back(m.first);
        }
        break;
      case SplitBehavior::MergedWithPrevious: {
        bool previous_match = false;
        for (const auto& m : marked) {
          if (m.second && !previous_match && out.size() > first_out) {
            out.back().end = m.first.end;
          } else {
            out.push_back(m.first);
          }
          previous_match = m.second;
        }
        break;
      }
      case SplitBehavior::MergedWithNext: {
        bool next_match = false;
        for (size_t k = marked.size(); k-- > 0;) {
          const auto& m = marked[k];
          if (m.second && !next_match && out.size() > first_out) {
            out.back().begin = m.first.begin;
          } else {
            out.push_back(m.first);
          }
          next_match = m.second;
        }
        std::reverse(out.begin() + static_cast<std::ptrdiff_t>(first_out), out.end());
        break;
      }
      case SplitBehavior::Contiguous: {
        bool previous_match = false;
        for (const auto& m : marked) {
          if (m.second == previous_match && out.size() > first_out) {
            out.back().end = m.first.end;
          } else {
            out.push_back(m.first);
          }
          previous_match = m.second;
        }
        break;
      }
    }
    // Back to subject offsets, without the empty spans.
    size_t kept = first_out;
    for (size_t k = first_out; k < out.size(); ++k) {
      if (out[k].end == out[k].begin) continue;
      out[kept++] = {piece.begin + out[k].begin, piece.begin + out[k].end};
    }
    out.resize(kept);
  }
}

// ---- GGUF presets ----

namespace {

// Patterns as the models' own tokenizer.json files write them (llama.cpp rewrites some for its
// own regex engine; PCRE2 takes the originals).
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|)"
    R"(\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|)"
    R"(\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt2NoTrailingPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* kTekkenPattern =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|)"
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}|)"
    R"( ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt4oPattern =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|)"
    R"('ve|'m|'ll|'d)?|)"
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|)"
    R"('ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kCjkRunPattern = "[一-龥ࠀ-一가-퟿]+";
constexpr const char* kBloomPattern = R"( ?[^(\s|.,!?…。，、।۔،)]+)";

struct Preset {
  std::vector<const char*> names;
  std::vector<const char*> patterns;
  bool ignore_merges = false;
  bool nfc = false;
};

const std::vector<Preset>& presets() {
  static const std::vector<Preset> table = {
      {{"qwen2", "deepseek-r1-qwen"}, {kQwen2Pattern}, false, true},
      {{"stablelm2", "megrez", "kormo"}, {kQwen2Pattern}},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"},
       {kLlama3Pattern},
       true},
      {{"dbrx", "smaug-bpe", "chatglm-bpe", "glm4"}, {kLlama3Pattern}},
      {{"gpt-2", "phi-2", "mpt", "olmo", "jais", "jina-es", "jina-de", "jina-v1-en", "jina-v2-es",
        "jina-v2-de", "jina-v2-code", "roberta-bpe", "gigachat", "exaone4", "mellum", "a.x-4.0"},
       {kGpt2Pattern}},
      {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"},
       {R"(\p{N})", kGpt2Pattern}},
      {{"deepseek-llm"},
       {"[\r\n]",
        // Cased letters (Lu, Ll, Lt) of DeepSeek's tokenizer.json, escaped so that no editor
        // can normalise them (several are NFC singletons).
        R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF})"
        R"(\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D})"
        R"(\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-)"
        R"(\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5})"
        R"(\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-)"
        R"(\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45})"
        R"(\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D})"
        R"(\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC})"
        R"(\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-)"
        R"(\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124})"
        R"(\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F})"
        R"(\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
        R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-)"
        R"(\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06})"
        R"(\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F})"
        R"(\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
        R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)",
        R"(\s?[!-/:-~！-／：-～‘-‟　-。]+)", R"(\s+$)", kCjkRunPattern, R"(\p{N}+)"}},
      {{"deepseek-coder"}, {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjkRunPattern, R"(\p{N})"}},
      {{"deepseek-v3"},
       {R"(\p{N}{1,3})", "[一-龥぀-ゟ゠-ヿ]+",
        R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|)"
        R"([^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|)"
        R"(\s+(?!\S)|\s+)"}},
      {{"falcon"}, {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2NoTrailingPattern, "[0-9][0-9][0-9]"}},
      {{"poro-chat", "bloom", "gpt3-finnish"}, {kBloomPattern}},
      {{"viking"}, {kBloomPattern, R"(\p{N})"}},
      {{"tekken"}, {kTekkenPattern}, true},
      {{"gpt-4o", "llama4"}, {kGpt4oPattern}},
      // llama.cpp's fallback for BPE models without a known name.
      {{"default"},
       {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2NoTrailingPattern, R"(\p{N}+)", "[0-9][0-9][0-9]"}},
  };
  return table;
}

}  // namespace

GgufPreset gguf_pre_tokenizer(const std::string& name, const std::string& key) {
  for (const Preset& preset : presets()) {
    for (const char* n : preset.names) {
      if (name != n) continue;
      GgufPreset result;
      for (const char* pattern : preset.patterns) {
        result.pre.add_split(TokenizerRegex(pattern, false, fmt::format("{} '{}'", key, name)),
                             SplitBehavior::Isolated, false);
      }
      result.ignore_merges = preset.ignore_merges;
      result.nfc = preset.nfc;
      return result;
    }
  }
  std::string known;
  for (const Preset& preset : presets()) {
    for (const char* n : preset.names) known += fmt::format("{}{}", known.empty() ? "" : ", ", n);
  }
  fail_format("{}: unknown pre-tokenizer '{}' (known: {})", key, name, known);
}

}  // namespace hh
