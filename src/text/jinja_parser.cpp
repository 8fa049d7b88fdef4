#include "text/jinja_parser.h"

#include <initializer_list>

#include "text/jinja_lexer.h"

namespace hh::jinja {

namespace {

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::Data: return "template data";
    case Tok::VarBegin: return "begin of print statement";
    case Tok::VarEnd: return "end of print statement";
    case Tok::BlockBegin: return "begin of statement block";
    case Tok::BlockEnd: return "end of statement block";
    case Tok::Name: return t.text;
    case Tok::String: return "string";
    case Tok::Int: return "integer";
    case Tok::Float: return "float";
    case Tok::Op: return t.text;
    case Tok::Eof: return "end of template";
  }
  return "token";
}

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
    if (cur().type != Tok::Name) fail_here(fmt::format("expected a name, got '{}'", describe(cur())));
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

  // --- statements ---------------------------------------------------------------------------

  // Parses statements until a block whose first name is one of `ends` (left positioned after
  // that name, which is stored in *end). An empty `ends` means up to the end of the template.
  Body subparse(std::initializer_list<std::string_view> ends, std::string* end, uint32_t opened_at,
                std::string_view opened = {}) {
    Body body;
    for (;;) {
      const Token& t = cur();
      switch (t.type) {
        case Tok::Eof:
          if (ends.size() == 0) return body;
          {
            std::string wanted;
            for (auto e : ends) wanted += fmt::format("{}'{}'", wanted.empty() ? "" : " or ", e);
            const SourcePos p = source_pos(out_.source, opened_at);
            fail_here(fmt::format("unexpected end of template; looking for {} to close '{}' from "
                                  "line {}, column {}",
                                  wanted, opened, p.line, p.column));
          }
        case Tok::Data: {
          auto s = std::make_unique<Stmt>();
          s->kind = StmtKind::Output;
          s->offset = t.offset;
          s->text = t.text;
          next();
          body.push_back(std::move(s));
          break;
        }
        case Tok::VarBegin: {
          auto s = std::make_unique<Stmt>();
          s->kind = StmtKind::Print;
          s->offset = next().offset;
          s->expr = parse_tuple(false, true, {}, false);
          if (cur().type != Tok::VarEnd) {
            fail_here(fmt::format("expected end of print statement, got '{}'", describe(cur())));
          }
          next();
          body.push_back(std::move(s));
          break;
        }
        case Tok::BlockBegin: {
          const uint32_t tag_offset = t.offset;
          next();
          if (cur().type == Tok::Name) {
            for (auto e : ends) {
              if (cur().text == e) {
                *end = next().text;
                return body;
              }
            }
          }
          body.push_back(parse_statement(tag_offset));
          break;
        }
        default:
          fail_here(fmt::format("unexpected '{}'", describe(t)));
      }
    }
  }

  // `offset` is where the tag's `{%` starts: errors about the block as a whole point there.
  StmtPtr parse_statement(uint32_t offset) {
    DepthGuard guard(*this, offset);
    if (cur().type != Tok::Name) fail_here("tag name expected");
    const std::string tag = cur().text;
    auto s = std::make_unique<Stmt>();
    s->offset = offset;
    if (tag == "if") return parse_if(std::move(s));
    if (tag == "for") return parse_for(std::move(s));
    if (tag == "set") return parse_set(std::move(s));
    if (tag == "macro") return parse_macro(std::move(s));
    if (tag == "call") return parse_call_block(std::move(s));
    if (tag == "filter") return parse_filter_block(std::move(s));
    if (tag == "with") return parse_with(std::move(s));
    if (tag == "break" || tag == "continue") {
      next();
      if (loop_depth_ == 0) fail_at(offset, fmt::format("'{}' outside of a loop", tag));
      s->kind = tag == "break" ? StmtKind::Break : StmtKind::Continue;
      expect_block_end();
      return s;
    }
    if (tag == "generation") {  // transformers' assistant-mask marker: renders its body
      next();
      expect_block_end();
      s->kind = StmtKind::Scope;
      std::string end;
      s->body = subparse({"endgeneration"}, &end, offset, "generation");
      expect_block_end();
      return s;
    }
    static constexpr std::string_view kUnsupported[] = {
        "extends", "block", "include", "import", "from", "autoescape", "do"};
    for (auto u : kUnsupported) {
      if (tag == u) fail_here(fmt::format("tag '{}' is not supported", tag));
    }
    fail_here(fmt::format("encountered unknown tag '{}'", tag));
  }

  // `{% if` (the keyword still to skip) or `{% elif` (already consumed by subparse).
  StmtPtr parse_if(StmtPtr s, bool skip_keyword = true) {
    const uint32_t opened = s->offset;
    if (skip_keyword) next();
    s->kind = StmtKind::If;
    s->expr = parse_tuple(false, false, {}, false);
    expect_block_end();
    std::string end;
    s->body = subparse({"elif", "else", "endif"}, &end, opened, "if");
    if (end == "elif") {
      auto elif = std::make_unique<Stmt>();
      elif->offset = toks_[pos_ - 1].offset;
      DepthGuard guard(*this, elif->offset);
      s->else_body.push_back(parse_if(std::move(elif), false));  // consumes up to its endif
      return s;
    }
    if (end == "else") {
      expect_block_end();
      s->else_body = subparse({"endif"}, &end, opened, "if");
    }
    expect_block_end();
    return s;
  }

  // Assignment target: a name, names separated by commas (optionally in parentheses).
  std::vector<std::string> parse_targets(std::initializer_list<std::string_view> end_names) {
    std::vector<std::string> names;
    const bool paren = skip_op("(");
    for (;;) {
      names.push_back(expect_name());
      if (!skip_op(",")) break;
      if (paren ? is_op(")") : (cur().type == Tok::BlockEnd || is_op("="))) break;
      bool at_end = false;
      for (auto e : end_names) at_end = at_end || is_name(e);
      if (at_end) break;
    }
    if (paren) expect_op(")");
    for (const auto& n : names) {
      if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" ||
          n == "None") {
        fail_here(fmt::format("cannot assign to '{}'", n));
      }
    }
    return names;
  }

  StmtPtr parse_for(StmtPtr s) {
    const uint32_t opened = s->offset;
    next();
    s->kind = StmtKind::For;
    s->targets = parse_targets({"in"});
    if (!skip_name("in")) fail_here(fmt::format("expected 'in', got '{}'", describe(cur())));
    s->expr = parse_tuple(false, false, {"recursive"}, false);
    if (skip_name("if")) s->filter = parse_expression(true);
    if (is_name("recursive")) fail_here("recursive loops are not supported");
    expect_block_end();
    std::string end;
    ++loop_depth_;
    s->body = subparse({"endfor", "else"}, &end, opened, "for");
    --loop_depth_;
    if (end == "else") {
      expect_block_end();
      s->else_body = subparse({"endfor"}, &end, opened, "for");
    }
    expect_block_end();
    return s;
  }

  StmtPtr parse_set(StmtPtr s) {
    const uint32_t opened = s->offset;
    next();
    if (cur().type == Tok::Name && look().type == Tok::Op && look().text == ".") {
      s->kind = StmtKind::SetAttr;
      s->targets.push_back(next().text);
      next();
      s->text = expect_name();
    } else {
      s->kind = StmtKind::Set;
      s->targets = parse_targets({});
    }
    if (skip_op("=")) {
      s->expr = parse_tuple(false, true, {}, false);
      expect_block_end();
      return s;
    }
    if (s->targets.size() != 1) fail_here("expected '='");
    if (is_op("|")) s->filter = parse_filter(nullptr, false);
    expect_block_end();
    std::string end;
    s->body = subparse({"endset"}, &end, opened, "set");
    expect_block_end();
    return s;
  }

  void parse_signature(std::vector<MacroParam>& params) {
    expect_op("(");
    while (!is_op(")")) {
      if (!params.empty()) expect_op(",");
      if (is_op(")")) break;  // trailing comma
      MacroParam p;
      p.name = expect_name();
      if (skip_op("=")) p.default_value = parse_expression(true);
      params.push_back(std::move(p));
    }
    next();
  }

  StmtPtr parse_macro(StmtPtr s) {
    const uint32_t opened = s->offset;
    next();
    s->kind = StmtKind::Macro;
    s->text = expect_name();
    parse_signature(s->params);
    expect_block_end();
    std::string end;
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;  // a macro body is not inside the loop around its definition
    const size_t first_token = pos_;
    s->body = subparse({"endmacro"}, &end, opened, "macro");
    loop_depth_ = saved_loops;
    // Jinja lets a macro take extra arguments only when its body mentions varargs / kwargs.
    for (size_t i = first_token; i < pos_; ++i) {
      if (toks_[i].type != Tok::Name) continue;
      s->uses_varargs = s->uses_varargs || toks_[i].text == "varargs";
      s->uses_kwargs = s->uses_kwargs || toks_[i].text == "kwargs";
      s->uses_caller = s->uses_caller || toks_[i].text == "caller";
    }
    expect_block_end();
    return s;
  }

  StmtPtr parse_call_block(StmtPtr s) {
    const uint32_t opened = s->offset;
    next();
    s->kind = StmtKind::CallBlock;
    if (is_op("(")) parse_signature(s->params);
    s->expr = parse_expression(true);
    if (s->expr->kind != ExprKind::Call) fail_at(s->expr->offset, "expected call");
    expect_block_end();
    std::string end;
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    s->body = subparse({"endcall"}, &end, opened, "call");
    loop_depth_ = saved_loops;
    expect_block_end();
    return s;
  }

  StmtPtr parse_filter_block(StmtPtr s) {
    const uint32_t opened = s->offset;
    next();
    s->kind = StmtKind::FilterBlock;
    s->filter = parse_filter(nullptr, true);
    expect_block_end();
    std::string end;
    s->body = subparse({"endfilter"}, &end, opened, "filter");
    expect_block_end();
    return s;
  }

  StmtPtr parse_with(StmtPtr s) {
    const uint32_t opened = s->offset;
    next();
    s->kind = StmtKind::With;
    while (cur().type != Tok::BlockEnd) {
      if (!s->params.empty()) expect_op(",");
      MacroParam p;
      p.name = expect_name();
      expect_op("=");
      p.default_value = parse_expression(true);
      s->params.push_back(std::move(p));
    }
    expect_block_end();
    std::string end;
    s->body = subparse({"endwith"}, &end, opened, "with");
    expect_block_end();
    return s;
  }

  // --- expressions --------------------------------------------------------------------------

  bool is_tuple_end(std::initializer_list<std::string_view> extra) const {
    if (cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || cur().type == Tok::Eof ||
        is_op(")")) {
      return true;
    }
    for (auto e : extra) {
      if (is_name(e)) return true;
    }
    return false;
  }

  ExprPtr parse_tuple(bool simplified, bool with_condexpr,
                      std::initializer_list<std::string_view> extra_end, bool explicit_parens) {
    const uint32_t offset = cur().offset;
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    for (;;) {
      if (!args.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      args.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parens) {
        fail_here(fmt::format("expected an expression, got '{}'", describe(cur())));
      }
    }
    auto e = make(ExprKind::Tuple, offset);
    e->args = std::move(args);
    return e;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this, cur().offset);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    ExprPtr expr1 = parse_or();
    ChainGuard chain(*this);
    while (is_name("if")) {
      const uint32_t offset = next().offset;
      chain.extend(offset);
      auto e = make(ExprKind::CondExpr, offset);
      e->args.push_back(parse_or());
      e->args.push_back(std::move(expr1));
      e->args.push_back(skip_name("else") ? parse_condexpr() : nullptr);
      expr1 = std::move(e);
    }
    return expr1;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    ChainGuard chain(*this);
    while (is_name("or")) {
      auto e = make(ExprKind::Or, next().offset);
      chain.extend(e->offset);
      e->args.push_back(std::move(left));
      e->args.push_back(parse_and());
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    ChainGuard chain(*this);
    while (is_name("and")) {
      auto e = make(ExprKind::And, next().offset);
      chain.extend(e->offset);
      e->args.push_back(std::move(left));
      e->args.push_back(parse_not());
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this, cur().offset);
      auto e = make(ExprKind::Not, next().offset);
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const uint32_t offset = cur().offset;
    ExprPtr first = parse_math1();
    ExprPtr e;
    for (;;) {
      CmpOp op;
      if (cur().type == Tok::Op && (cur().text == "==" || cur().text == "!=" ||
                                    cur().text == "<" || cur().text == "<=" ||
                                    cur().text == ">" || cur().text == ">=")) {
        const std::string& t = next().text;
        op = t == "==" ? CmpOp::Eq
             : t == "!=" ? CmpOp::Ne
             : t == "<"  ? CmpOp::Lt
             : t == "<=" ? CmpOp::Le
             : t == ">"  ? CmpOp::Gt
                         : CmpOp::Ge;
      } else if (skip_name("in")) {
        op = CmpOp::In;
      } else if (is_name("not") && look().type == Tok::Name && look().text == "in") {
        next();
        next();
        op = CmpOp::NotIn;
      } else {
        break;
      }
      if (!e) {
        e = make(ExprKind::Compare, offset);
        e->args.push_back(std::move(first));
      }
      e->cmp_ops.push_back(op);
      e->args.push_back(parse_math1());
    }
    return e ? std::move(e) : std::move(first);
  }

  ExprPtr binary(BinOp op, uint32_t offset, ExprPtr left, ExprPtr right) {
    auto e = make(ExprKind::Binary, offset);
    e->bin_op = op;
    e->args.push_back(std::move(left));
    e->args.push_back(std::move(right));
    return e;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    ChainGuard chain(*this);
    while (is_op("+") || is_op("-")) {
      const Token& t = next();
      chain.extend(t.offset);
      const BinOp op = t.text == "+" ? BinOp::Add : BinOp::Sub;
      left = binary(op, t.offset, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    const uint32_t offset = cur().offset;
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto e = make(ExprKind::Concat, offset);
    e->args.push_back(std::move(first));
    while (skip_op("~")) e->args.push_back(parse_math2());
    return e;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    ChainGuard chain(*this);
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = next();
      chain.extend(t.offset);
      const BinOp op = t.text == "*"    ? BinOp::Mul
                       : t.text == "/"  ? BinOp::Div
                       : t.text == "//" ? BinOp::FloorDiv
                                        : BinOp::Mod;
      left = binary(op, t.offset, std::move(left), parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    ChainGuard chain(*this);
    while (is_op("**")) {
      const uint32_t offset = next().offset;
      chain.extend(offset);
      left = binary(BinOp::Pow, offset, std::move(left), parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this, cur().offset);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& t = next();
      node = make(t.text == "-" ? ExprKind::Neg : ExprKind::Pos, t.offset);
      node->args.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    switch (t.type) {
      case Tok::Name: {
        next();
        if (t.text == "true" || t.text == "True" || t.text == "false" || t.text == "False") {
          auto e = make(ExprKind::Const, t.offset);
          e->constant = Value(t.text == "true" || t.text == "True");
          return e;
        }
        if (t.text == "none" || t.text == "None") {
          auto e = make(ExprKind::Const, t.offset);
          e->constant = Value::none();
          return e;
        }
        auto e = make(ExprKind::Name, t.offset);
        e->name = t.text;
        return e;
      }
      case Tok::String: {
        const uint32_t offset = t.offset;
        std::string s;
        while (cur().type == Tok::String) s += next().text;  // adjacent literals concatenate
        auto e = make(ExprKind::Const, offset);
        e->constant = Value(std::move(s));
        return e;
      }
      case Tok::Int: {
        if (t.int_overflow) fail_here("integer literal does not fit in 64 bits");
        auto e = make(ExprKind::Const, t.offset);
        e->constant = Value(t.int_value);
        next();
        return e;
      }
      case Tok::Float: {
        auto e = make(ExprKind::Const, t.offset);
        e->constant = Value(t.float_value);
        next();
        return e;
      }
      case Tok::Op:
        if (t.text == "(") {
          next();
          ExprPtr e = parse_tuple(false, true, {}, true);
          expect_op(")");
          return e;
        }
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        [[fallthrough]];
      default:
        fail_here(fmt::format("unexpected '{}'", describe(t)));
    }
  }

  ExprPtr parse_list() {
    auto e = make(ExprKind::List, next().offset);
    while (!is_op("]")) {
      if (!e->args.empty()) expect_op(",");
      if (is_op("]")) break;
      e->args.push_back(parse_expression(true));
    }
    expect_op("]");
    return e;
  }

  ExprPtr parse_dict() {
    auto e = make(ExprKind::Dict, next().offset);
    while (!is_op("}")) {
      if (!e->args.empty()) expect_op(",");
      if (is_op("}")) break;
      e->args.push_back(parse_expression(true));
      expect_op(":");
      e->args.push_back(parse_expression(true));
    }
    expect_op("}");
    return e;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    ChainGuard chain(*this);
    for (;;) {
      if (is_op(".") || is_op("[") || is_op("(")) chain.extend(cur().offset);
      if (is_op(".") || is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    ChainGuard chain(*this);
    for (;;) {
      if (is_op("|") || is_name("is") || is_op("(")) chain.extend(cur().offset);
      if (is_op("|")) {
        node = parse_filter(std::move(node), false);
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    DepthGuard guard(*this, cur().offset);
    const Token& t = next();
    if (t.text == ".") {
      const Token& attr = next();
      if (attr.type == Tok::Name) {
        auto e = make(ExprKind::GetAttr, t.offset);
        e->name = attr.text;
        e->args.push_back(std::move(node));
        return e;
      }
      if (attr.type != Tok::Int) fail_at(attr.offset, "expected name or number");
      auto e = make(ExprKind::GetItem, t.offset);
      e->args.push_back(std::move(node));
      auto index = make(ExprKind::Const, attr.offset);
      index->constant = Value(attr.int_value);
      e->args.push_back(std::move(index));
      return e;
    }
    // '[': an index, a slice, or several (a tuple index)
    std::vector<ExprPtr> subs;
    while (!is_op("]")) {
      if (!subs.empty()) expect_op(",");
      subs.push_back(parse_subscribed());
    }
    expect_op("]");
    if (subs.empty()) fail_at(t.offset, "expected subscript expression");
    if (subs.size() == 1 && subs[0]->kind == ExprKind::Slice) {
      subs[0]->args.insert(subs[0]->args.begin(), std::move(node));
      return std::move(subs[0]);
    }
    auto e = make(ExprKind::GetItem, t.offset);
    e->args.push_back(std::move(node));
    if (subs.size() == 1) {
      e->args.push_back(std::move(subs[0]));
    } else {
      auto tuple = make(ExprKind::Tuple, t.offset);
      for (auto& s : subs) {
        if (s->kind == ExprKind::Slice) fail_at(s->offset, "slices inside a tuple index");
        tuple->args.push_back(std::move(s));
      }
      e->args.push_back(std::move(tuple));
    }
    return e;
  }

  // An index expression or a slice (start:stop:step, each part optional).
  ExprPtr parse_subscribed() {
    const uint32_t offset = cur().offset;
    ExprPtr start;
    if (!is_op(":")) {
      start = parse_expression(true);
      if (!is_op(":")) return start;
    }
    next();  // ':'
    auto e = make(ExprKind::Slice, offset);
    e->args.push_back(std::move(start));
    e->args.push_back(is_op(":") || is_op("]") || is_op(",") ? nullptr : parse_expression(true));
    if (skip_op(":")) {
      e->args.push_back(is_op("]") || is_op(",") ? nullptr : parse_expression(true));
    } else {
      e->args.push_back(nullptr);
    }
    return e;
  }

  void parse_call_args(Expr& e) {
    const uint32_t offset = cur().offset;
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) {
        expect_op(",");
        if (is_op(")")) break;
      }
      first = false;
      if (is_op("*") || is_op("**")) fail_here("*args and **kwargs in calls are not supported");
      if (cur().type == Tok::Name && look().type == Tok::Op && look().text == "=") {
        std::string key = next().text;
        next();
        e.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!e.kwargs.empty()) fail_at(offset, "invalid syntax for function call expression");
        e.args.push_back(parse_expression(true));
      }
    }
    next();
  }

  ExprPtr parse_call(ExprPtr node) {
    DepthGuard guard(*this, cur().offset);
    auto e = make(ExprKind::Call, cur().offset);
    e->args.push_back(std::move(node));
    parse_call_args(*e);
    return e;
  }

  // `| name(args) | name ...`; with start_inline the first name has no leading '|'.
  ExprPtr parse_filter(ExprPtr node, bool start_inline) {
    ChainGuard chain(*this);
    while (is_op("|") || start_inline) {
      chain.extend(cur().offset);
      if (!start_inline) next();
      start_inline = false;
      const uint32_t offset = cur().offset;
      std::string name = expect_name();
      while (skip_op(".")) {
      name.push_back('.');  // (not "." + name: GCC 12 warns falsely on that)
      name += expect_name();
    }
      auto e = make(ExprKind::Filter, offset);
      e->name = std::move(name);
      e->args.push_back(std::move(node));
      if (is_op("(")) parse_call_args(*e);
      node = std::move(e);
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    DepthGuard guard(*this, cur().offset);
    const uint32_t offset = next().offset;  // 'is'
    const bool negated = skip_name("not");
    std::string name = expect_name();
    while (skip_op(".")) {
      name.push_back('.');  // (not "." + name: GCC 12 warns falsely on that)
      name += expect_name();
    }
    auto e = make(ExprKind::Test, offset);
    e->name = std::move(name);
    e->args.push_back(std::move(node));
    if (is_op("(")) {
      parse_call_args(*e);
    } else if ((cur().type == Tok::Name || cur().type == Tok::String || cur().type == Tok::Int ||
                cur().type == Tok::Float || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail_here("you cannot chain multiple tests with is");
      e->args.push_back(parse_postfix(parse_primary()));
    }
    if (!negated) return e;
    auto n = make(ExprKind::Not, offset);
    n->args.push_back(std::move(e));
    return n;
  }

  ParsedTemplate& out_;
  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

ParsedTemplate parse_template(std::string_view source, std::string name) {
  ParsedTemplate t;
  t.name = std::move(name);
  t.source = normalize_source(source);
  if (t.source.size() > UINT32_MAX / 2) {
    throw FormatError(fmt::format("{}: template too large ({} bytes)", t.name, t.source.size()));
  }
  Parser parser(t, tokenize(t.source, t.name));
  t.body = parser.parse_all();
  return t;
}

}  // namespace hh::jinja
