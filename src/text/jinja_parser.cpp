#include "text/jinja_parser.h"

#include <initializer_list>

#include "text/jinja_parser_impl.h"

namespace hh::jinja {

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::Data:
      return "template data";
    case Tok::VarBegin:
      return "begin of print statement";
    case Tok::VarEnd:
      return "end of print statement";
    case Tok::BlockBegin:
      return "begin of statement block";
    case Tok::BlockEnd:
      return "end of statement block";
    case Tok::Name:
      return t.text;
    case Tok::String:
      return "string";
    case Tok::Int:
      return "integer";
    case Tok::Float:
      return "float";
    case Tok::Op:
      return t.text;
    case Tok::Eof:
      return "end of template";
  }
  return "token";
}

// Parses statements until a block whose first name is one of `ends` (left positioned after
// that name, which is stored in *end). An empty `ends` means up to the end of the template.
Body Parser::subparse(std::initializer_list<std::string_view> ends, std::string* end,
                      uint32_t opened_at, std::string_view opened) {
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
          fail_here(
              fmt::format("unexpected end of template; looking for {} to close '{}' from "
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
StmtPtr Parser::parse_statement(uint32_t offset) {
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
  static constexpr std::string_view kUnsupported[] = {"extends", "block",      "include", "import",
                                                      "from",    "autoescape", "do"};
  for (auto u : kUnsupported) {
    if (tag == u) fail_here(fmt::format("tag '{}' is not supported", tag));
  }
  fail_here(fmt::format("encountered unknown tag '{}'", tag));
}

// `{% if` (the keyword still to skip) or `{% elif` (already consumed by subparse).
StmtPtr Parser::parse_if(StmtPtr s, bool skip_keyword) {
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
std::vector<std::string> Parser::parse_targets(std::initializer_list<std::string_view> end_names) {
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
    if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None") {
      fail_here(fmt::format("cannot assign to '{}'", n));
    }
  }
  return names;
}

StmtPtr Parser::parse_for(StmtPtr s) {
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

StmtPtr Parser::parse_set(StmtPtr s) {
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

void Parser::parse_signature(std::vector<MacroParam>& params) {
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

StmtPtr Parser::parse_macro(StmtPtr s) {
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

StmtPtr Parser::parse_call_block(StmtPtr s) {
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

StmtPtr Parser::parse_filter_block(StmtPtr s) {
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

StmtPtr Parser::parse_with(StmtPtr s) {
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
