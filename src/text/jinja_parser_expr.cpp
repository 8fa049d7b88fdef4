// Expressions of the Jinja parser, with jinja2's precedence (parser.py): conditional,
// or, and, not, comparisons, + -, ~, * / // %, **, unary, postfix (. [] ()), filters and tests.
#include "text/jinja_parser_impl.h"

namespace hh::jinja {

bool Parser::is_tuple_end(std::initializer_list<std::string_view> extra) const {
  if (cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || cur().type == Tok::Eof ||
      is_op(")")) {
    return true;
  }
  for (auto e : extra) {
    if (is_name(e)) return true;
  }
  return false;
}

ExprPtr Parser::parse_tuple(bool simplified, bool with_condexpr,
                            std::initializer_list<std::string_view> extra_end,
                            bool explicit_parens) {
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

ExprPtr Parser::parse_expression(bool with_condexpr) {
  DepthGuard guard(*this, cur().offset);
  return with_condexpr ? parse_condexpr() : parse_or();
}

ExprPtr Parser::parse_condexpr() {
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

ExprPtr Parser::parse_or() {
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

ExprPtr Parser::parse_and() {
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

ExprPtr Parser::parse_not() {
  if (is_name("not")) {
    DepthGuard guard(*this, cur().offset);
    auto e = make(ExprKind::Not, next().offset);
    e->args.push_back(parse_not());
    return e;
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
  const uint32_t offset = cur().offset;
  ExprPtr first = parse_math1();
  ExprPtr e;
  for (;;) {
    CmpOp op;
    if (cur().type == Tok::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                  cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
      const std::string& t = next().text;
      op = t == "=="   ? CmpOp::Eq
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

ExprPtr Parser::binary(BinOp op, uint32_t offset, ExprPtr left, ExprPtr right) {
  auto e = make(ExprKind::Binary, offset);
  e->bin_op = op;
  e->args.push_back(std::move(left));
  e->args.push_back(std::move(right));
  return e;
}

ExprPtr Parser::parse_math1() {
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

ExprPtr Parser::parse_concat() {
  const uint32_t offset = cur().offset;
  ExprPtr first = parse_math2();
  if (!is_op("~")) return first;
  auto e = make(ExprKind::Concat, offset);
  e->args.push_back(std::move(first));
  while (skip_op("~")) e->args.push_back(parse_math2());
  return e;
}

ExprPtr Parser::parse_math2() {
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

ExprPtr Parser::parse_pow() {
  ExprPtr left = parse_unary(true);
  ChainGuard chain(*this);
  while (is_op("**")) {
    const uint32_t offset = next().offset;
    chain.extend(offset);
    left = binary(BinOp::Pow, offset, std::move(left), parse_unary(true));
  }
  return left;
}

ExprPtr Parser::parse_unary(bool with_filter) {
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

ExprPtr Parser::parse_primary() {
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

ExprPtr Parser::parse_list() {
  auto e = make(ExprKind::List, next().offset);
  while (!is_op("]")) {
    if (!e->args.empty()) expect_op(",");
    if (is_op("]")) break;
    e->args.push_back(parse_expression(true));
  }
  expect_op("]");
  return e;
}

ExprPtr Parser::parse_dict() {
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

ExprPtr Parser::parse_postfix(ExprPtr node) {
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

ExprPtr Parser::parse_filter_expr(ExprPtr node) {
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

ExprPtr Parser::parse_subscript(ExprPtr node) {
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
ExprPtr Parser::parse_subscribed() {
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

void Parser::parse_call_args(Expr& e) {
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

ExprPtr Parser::parse_call(ExprPtr node) {
  DepthGuard guard(*this, cur().offset);
  auto e = make(ExprKind::Call, cur().offset);
  e->args.push_back(std::move(node));
  parse_call_args(*e);
  return e;
}

// `| name(args) | name ...`; with start_inline the first name has no leading '|'.
ExprPtr Parser::parse_filter(ExprPtr node, bool start_inline) {
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

ExprPtr Parser::parse_test(ExprPtr node) {
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

}  // namespace hh::jinja
