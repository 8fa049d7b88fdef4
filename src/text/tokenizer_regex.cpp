#include "text/tokenizer_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "util/error.h"

namespace hh {

namespace {

// The JIT's default stack (32 KiB) is ample for the tokenizer patterns, whose repeats are on
// single characters; a larger one is assigned so that unusual patterns from a tokenizer.json
// fail later rather than sooner. Memory is only touched when used.
constexpr size_t kJitStackStart = 32 * 1024;
constexpr size_t kJitStackMax = 4 * 1024 * 1024;

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) return "unknown PCRE2 error";
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

std::string translate_oniguruma(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 32);
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c != '\\' || i + 1 >= pattern.size()) {
      out.push_back(c);
      continue;
    }
    const char next = pattern[++i];
    if (next == 's') {
      out.append("\\p{White_Space}");
    } else if (next == 'S') {
      out.append("\\P{White_Space}");
    } else {
      // Any other escape (including "\\") is copied whole, so its second character is never
      // taken for the start of another escape.
      out.push_back('\\');
      out.push_back(next);
    }
  }
  return out;
}

struct TokenizerRegex::Code {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Code() { pcre2_code_free(code); }
};

TokenizerRegex::TokenizerRegex(const std::string& pattern, bool literal, const std::string& where)
    : pattern_(pattern), code_(std::make_unique<Code>()) {
  const std::string translated = literal ? pattern : translate_oniguruma(pattern);
  uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE;
  if (literal) options = PCRE2_UTF | PCRE2_LITERAL;
  int error = 0;
  PCRE2_SIZE offset = 0;
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                              options, &error, &offset, nullptr);
  if (code_->code == nullptr) {
    fail_format("{}: cannot compile the pattern /{}/: {} (at offset {} of the translated pattern)",
                where, pattern, pcre2_message(error), offset);
  }
  // Without the JIT (a platform without it) the interpreter gives the same results, slower.
  code_->jit = pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE) == 0;
}

TokenizerRegex::~TokenizerRegex() = default;
TokenizerRegex::TokenizerRegex(TokenizerRegex&&) noexcept = default;
TokenizerRegex& TokenizerRegex::operator=(TokenizerRegex&&) noexcept = default;

struct TokenizerRegex::Matcher::State {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
  ~State() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
  }
};

TokenizerRegex::Matcher::Matcher(const TokenizerRegex& regex)
    : regex_(&regex), state_(std::make_unique<State>()) {
  state_->data = pcre2_match_data_create_from_pattern(regex.code_->code, nullptr);
  state_->context = pcre2_match_context_create(nullptr);
  if (state_->data == nullptr || state_->context == nullptr) {
    throw UsageError("tokenizer: out of memory creating PCRE2 match data");
  }
  if (regex.code_->jit) {
    state_->stack = pcre2_jit_stack_create(kJitStackStart, kJitStackMax, nullptr);
    if (state_->stack != nullptr) pcre2_jit_stack_assign(state_->context, nullptr, state_->stack);
  }
}

TokenizerRegex::Matcher::~Matcher() = default;

bool TokenizerRegex::Matcher::find(std::string_view subject, size_t start, size_t* match_begin,
                                   size_t* match_end) {
  // The subject was validated once by the caller; PCRE2 need not check it again per call.
  const auto* bytes = reinterpret_cast<PCRE2_SPTR>(subject.data());
  const Code& code = *regex_->code_;
  const int rc = code.jit ? pcre2_jit_match(code.code, bytes, subject.size(), start,
                                            PCRE2_NO_UTF_CHECK, state_->data, state_->context)
                          : pcre2_match(code.code, bytes, subject.size(), start, PCRE2_NO_UTF_CHECK,
                                        state_->data, state_->context);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) {
    throw Error(fmt::format("tokenizer: matching /{}/ at byte {} of a {}-byte piece failed: {}",
                            regex_->pattern_, start, subject.size(), pcre2_message(rc)));
  }
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state_->data);
  if (ovector[0] < start || ovector[1] < ovector[0]) {
    // Only \K inside a lookaround can do this; such a match has no sensible piece.
    throw Error(
        fmt::format("tokenizer: /{}/ reported a match before its start (\\K in a "
                    "lookaround is not supported)",
                    regex_->pattern_));
  }
  *match_begin = ovector[0];
  *match_end = ovector[1];
  return true;
}

}  // namespace hh
