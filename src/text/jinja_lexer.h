#pragma once
// Jinja lexer with the environment transformers uses: trim_blocks and lstrip_blocks on,
// `{%-`/`-%}`/`{{-`/`-}}`/`{#-`/`-#}` strip all whitespace on that side, `{%+` and `+%}` turn
// lstrip/trim off for one tag, `{% raw %}` passes text through, CR and CRLF become LF and one
// trailing newline of the template is dropped (keep_trailing_newline off).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hh::jinja {

enum class Tok : uint8_t {
  Data,        // template text between tags (already whitespace-controlled)
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,
  String,
  Int,
  Float,
  Op,  // text holds the operator: + - * / // % ** ~ == != < <= > >= = . : | , ( ) [ ] { } ;
  Eof,
};

struct Token {
  Tok type = Tok::Eof;
  uint32_t offset = 0;  // byte offset in the normalized source
  std::string text;     // Data text, Name, decoded String, Op
  int64_t int_value = 0;
  double float_value = 0;
  bool int_overflow = false;  // an integer literal beyond 64 bits (an error when evaluated)
};

// CRLF/CR -> LF and the dropped trailing newline, as Jinja prepares a template.
std::string normalize_source(std::string_view source);

// Tokenizes normalized source. Throws FormatError "<name>:<line>:<col>: ..." on a lexical error
// (unterminated comment or string, unbalanced brackets, a stray character).
std::vector<Token> tokenize(const std::string& source, const std::string& name);

// 1-based line and column (in code points) of `offset` in `source`.
struct SourcePos {
  uint32_t line = 1;
  uint32_t column = 1;
};
SourcePos source_pos(std::string_view source, uint32_t offset);

}  // namespace hh::jinja
