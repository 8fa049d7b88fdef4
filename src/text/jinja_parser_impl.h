#pragma once
// The parser's class, shared by jinja_parser.cpp (statements) and jinja_parser_expr.cpp
// (expressions). Internal to the Jinja engine.
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "text/jinja_lexer.h"
#include "text/jinja_parser.h"

namespace hh::jinja {

// Describes a token in messages ("end of print statement", a name, an operator).
std::string describe(const Token& t);

class Parser {
 public:
  Parser(ParsedTemplate& out, std::vector<Token> tokens) : out_(out), toks_(std::move(tokens)) {}

  Body parse_all() {
    std::string end;
    Body body = subparse({}, &end, 0);
    return body;
  }

 private:
  // --- token stream -------------------------------------------------------------------------
  const Token& cur() const { return toks_[pos_]; }
  const Token& look() const { return toks_[std::min(pos_ + 1, toks_.size() - 1)]; }
  const Token& next() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }
  bool is_name(std::string_view n) const { return cur().type == Tok::Name && cur().text == n; }
  bool is_op(std::string_view op) const { return cur().type == Tok::Op && cur().text == op; }
  bool skip_name(std::string_view n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }

  [[noreturn]] void fail_at(uint32_t offset, const std::string& what) const {
    const SourcePos p = source_pos(out_.source, offset);
    throw TemplateSyntaxError(
        fmt::format("{}:{}:{}: syntax error: {}", out_.name, p.line, p.column, what), p.line,
        p.column);
  }
  [[noreturn]] void fail_here(const std::string& what) const { fail_at(cur().offset, what); }

  void expect_op(std::string_view op) {
    if (!skip_op(op)) fail_here(fmt::format("expected '{}', got '{}'", op, describe(cur())));
  }
  std::string expect_name() {
    if (cur().type != Tok::Name)
      fail_here(fmt::format("expected a name, got '{}'", describe(cur())));
    return next().text;
  }
  void expect_block_end() {
    if (cur().type != Tok::BlockEnd) {
      fail_here(fmt::format("expected end of statement block, got '{}'", describe(cur())));
    }
    next();
  }

  struct DepthGuard {
    Parser& p;
    DepthGuard(Parser& parser, uint32_t offset) : p(parser) {
      if (++p.depth_ > kMaxParseDepth) p.fail_at(offset, "template nested too deeply");
    }
    ~DepthGuard() { --p.depth_; }
  };

  // Left-deep chains built by a loop (a.b.c, x|f|g, 1+2+3, a or b or c) nest the tree as deeply
  // as recursion would; each link counts towards the same depth limit.
  struct ChainGuard {
    Parser& p;
    int links = 0;
    explicit ChainGuard(Parser& parser) : p(parser) {}
    void extend(uint32_t offset) {
      ++links;
      if (++p.depth_ > kMaxParseDepth) p.fail_at(offset, "expression nested too deeply");
    }
    ~ChainGuard() { p.depth_ -= links; }
  };

  ExprPtr make(ExprKind kind, uint32_t offset) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->offset = offset;
    return e;
  }

  // --- statements (jinja_parser.cpp) ---------------------------------------------------------
  // Parses statements until a block whose first name is one of `ends` (left positioned after
  // that name, which is stored in *end). An empty `ends` means up to the end of the template.
  Body subparse(std::initializer_list<std::string_view> ends, std::string* end, uint32_t opened_at,
                std::string_view opened = {});
  // `offset` is where the tag's `{%` starts: errors about the block as a whole point there.
  StmtPtr parse_statement(uint32_t offset);
  // `{% if` (the keyword still to skip) or `{% elif` (already consumed by subparse).
  StmtPtr parse_if(StmtPtr s, bool skip_keyword = true);
  // Assignment target: a name, names separated by commas (optionally in parentheses).
  std::vector<std::string> parse_targets(std::initializer_list<std::string_view> end_names);
  StmtPtr parse_for(StmtPtr s);
  StmtPtr parse_set(StmtPtr s);
  void parse_signature(std::vector<MacroParam>& params);
  StmtPtr parse_macro(StmtPtr s);
  StmtPtr parse_call_block(StmtPtr s);
  StmtPtr parse_filter_block(StmtPtr s);
  StmtPtr parse_with(StmtPtr s);

  // --- expressions (jinja_parser_expr.cpp) ------------------------------------------------
  bool is_tuple_end(std::initializer_list<std::string_view> extra) const;
  ExprPtr parse_tuple(bool simplified, bool with_condexpr,
                      std::initializer_list<std::string_view> extra_end, bool explicit_parens);
  ExprPtr parse_expression(bool with_condexpr);
  ExprPtr parse_condexpr();
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr binary(BinOp op, uint32_t offset, ExprPtr left, ExprPtr right);
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr parse_list();
  ExprPtr parse_dict();
  ExprPtr parse_postfix(ExprPtr node);
  ExprPtr parse_filter_expr(ExprPtr node);
  ExprPtr parse_subscript(ExprPtr node);
  // An index expression or a slice (start:stop:step, each part optional).
  ExprPtr parse_subscribed();
  void parse_call_args(Expr& e);
  ExprPtr parse_call(ExprPtr node);
  // `| name(args) | name ...`; with start_inline the first name has no leading '|'.
  ExprPtr parse_filter(ExprPtr node, bool start_inline);
  ExprPtr parse_test(ExprPtr node);

  ParsedTemplate& out_;
  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace hh::jinja
