#pragma once
// Jinja parser: tokens -> syntax tree, with Jinja2's operator precedence and statements
// (if/elif/else, for/else with a filter, set incl. namespace attributes and block set, macro,
// call, filter and with blocks, break/continue, generation). Syntax errors throw
// TemplateSyntaxError naming the line and column.
#include <string>
#include <string_view>

#include "text/jinja_ast.h"

namespace hh::jinja {

struct ParsedTemplate {
  std::string name;
  std::string source;  // normalized (LF newlines); offsets in the tree point into it
  Body body;
};

// Nesting of blocks and expressions deeper than this is a syntax error (keeps the recursive
// parser and evaluator within the stack on hostile input).
inline constexpr int kMaxParseDepth = 128;

ParsedTemplate parse_template(std::string_view source, std::string name);

}  // namespace hh::jinja
