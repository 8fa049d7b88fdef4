#pragma once
// The pre-tokenizer's regular expressions, run with PCRE2 (UTF + UCP, JIT-compiled).
//
// Patterns come from tokenizer.json, where they are written for Oniguruma (what Hugging Face
// `tokenizers` runs). The two engines agree on the constructs these patterns use (\p{..}
// classes, (?i:...) with Unicode case folding, lookahead, greedy backtracking) but for one
// thing: PCRE2's \s (with UCP) also matches U+180E MONGOLIAN VOWEL SEPARATOR, a format
// character since Unicode 6.3, while Oniguruma's \s is exactly the White_Space property (the
// reference case unicode_space_edges fails without the fix). translate_oniguruma() therefore
// rewrites \s and \S to \p{White_Space} and \P{White_Space}. `^` and `$` are line anchors in
// Oniguruma's default (Ruby) syntax, so patterns are compiled with PCRE2_MULTILINE.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace hh {

class TokenizerRegex {
 public:
  // Compiles `pattern` (Oniguruma syntax, or a plain string when `literal`); throws
  // FormatError naming `where` and the offset of the error in the pattern.
  TokenizerRegex(const std::string& pattern, bool literal, const std::string& where);
  ~TokenizerRegex();
  TokenizerRegex(TokenizerRegex&&) noexcept;
  TokenizerRegex& operator=(TokenizerRegex&&) noexcept;

  const std::string& pattern() const { return pattern_; }

  // Per-thread state for matching (PCRE2 match data and JIT stack); make one per encode call.
  class Matcher {
   public:
    explicit Matcher(const TokenizerRegex& regex);
    ~Matcher();
    Matcher(const Matcher&) = delete;
    Matcher& operator=(const Matcher&) = delete;

    // Finds the leftmost match in `subject` at or after `start`; returns false when there is
    // none. `subject` must be valid UTF-8 and `start` a character boundary. Empty matches are
    // reported like any other; callers step past them.
    bool find(std::string_view subject, size_t start, size_t* match_begin, size_t* match_end);

   private:
    const TokenizerRegex* regex_;
    struct State;
    std::unique_ptr<State> state_;
  };

 private:
  std::string pattern_;
  struct Code;
  std::unique_ptr<Code> code_;
};

// Rewrites \s and \S (inside and outside character classes) to the White_Space property so that
// PCRE2 matches what Oniguruma matches; everything else is passed through unchanged.
std::string translate_oniguruma(std::string_view pattern);

}  // namespace hh
