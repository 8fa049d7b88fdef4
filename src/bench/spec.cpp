#include "bench/spec.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "values/text_format.h"

namespace hh::bench {
namespace {

// Script expressions nest through parentheses; bounded so hostile input cannot exhaust the
// stack.
constexpr int kMaxScriptDepth = 200;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }
bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9') || c == '\''; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string show(char c) {
  if (c >= 0x21 && c < 0x7f) return fmt::format("'{}'", c);
  if (c == ' ') return "a space";
  if (c == '\n') return "the end of the line";
  return fmt::format("byte 0x{:02x}", static_cast<uint8_t>(c));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

class BlockParser {
 public:
  // Parses the block that spans [begin, end) of `text`.
  BlockParser(std::string_view text, const std::string& name, size_t begin, size_t end)
      : full_(text), text_(text.substr(0, end)), name_(name), pos_(begin) {}

  CaseSpec parse(SourcePos header) {
    CaseSpec c;
    c.pos = header;
    bool have_entry = false, have_tags = false;
    for (;;) {
      skip_blank();
      if (pos_ >= text_.size()) break;
      const size_t start = pos_;
      const std::string_view word = peek_ident();
      if (word == "entry") {
        pos_ += word.size();
        if (peek() != ':') error(pos_, "expected ':' after 'entry'");
        ++pos_;
        if (have_entry) error(start, "a second 'entry:' line in this block");
        have_entry = true;
        c.entries = parse_entry_names(start);
      } else if (word == "tags") {
        pos_ += word.size();
        if (have_tags) error(start, "a second 'tags' list in this block");
        have_tags = true;
        c.tags = parse_tags();
      } else if (peek() == '"' || word == "nobench" || word == "compiled" || word == "input" ||
                 word == "random" || word == "script") {
        c.datasets.push_back(parse_dataset(c.datasets.size()));
      } else if (word == "structure" || word == "warning") {
        error(start, fmt::format("'{}' blocks are for compiler tests; a benchmark spec has "
                                 "'entry:', 'tags' and datasets",
                                 word));
      } else if (!word.empty()) {
        error(start, fmt::format("unexpected '{}': expected 'entry:', 'tags', or a dataset "
                                 "('input', 'random input', 'script input', a quoted name)",
                                 word));
      } else {
        error(start,
              fmt::format("unexpected {}: expected 'entry:', 'tags' or a dataset", show(peek())));
      }
    }
    if (c.entries.empty()) c.entries.push_back(kDefaultEntry);
    std::set<std::string> names;
    for (const auto& d : c.datasets) {
      if (!names.insert(d.name).second) {
        error_at(d.pos, fmt::format("a second dataset named \"{}\" in this block", d.name));
      }
    }
    return c;
  }

  SourcePos position(size_t pos) const {
    SourcePos p{1, 1};
    size_t line_start = 0;
    for (size_t i = 0; i < pos && i < full_.size(); ++i) {
      if (full_[i] == '\n') {
        ++p.line;
        line_start = i + 1;
      }
    }
    p.column = static_cast<int>(pos - line_start + 1);
    return p;
  }

 private:
  [[noreturn]] void error(size_t pos, const std::string& what) const {
    error_at(position(pos), what);
  }
  [[noreturn]] void error_at(SourcePos p, const std::string& what) const {
    fail_format("{}:{}:{}: {}", name_, p.line, p.column, what);
  }

  char peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }

  // Skips white space and `--` comments; with `in_line`, stops at a line break.
  void skip_blank(bool in_line = false) {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (in_line && c == '\n') return;
      if (is_space(c)) {
        ++pos_;
      } else if (c == '-' && peek(1) == '-') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        return;
      }
    }
  }

  std::string_view peek_ident() const {
    if (pos_ >= text_.size() || !is_ident_start(text_[pos_])) return {};
    size_t end = pos_ + 1;
    while (end < text_.size() && is_ident_char(text_[end])) ++end;
    return text_.substr(pos_, end - pos_);
  }

  bool take_keyword(std::string_view word) {
    skip_blank();
    if (peek_ident() != word) return false;
    pos_ += word.size();
    return true;
  }

  void expect(char c, std::string_view context) {
    skip_blank();
    if (peek() != c) {
      error(pos_, fmt::format("expected '{}' {}, found {}", c, context,
                              pos_ >= text_.size() ? "the end of the block" : show(peek())));
    }
    ++pos_;
  }

  std::vector<std::string> parse_entry_names(size_t start) {
    std::vector<std::string> names;
    for (;;) {
      skip_blank(/*in_line=*/true);
      if (pos_ >= text_.size() || peek() == '\n') break;
      const std::string_view name = peek_ident();
      if (name.empty()) {
        error(pos_, fmt::format("expected an entry point name, found {}", show(peek())));
      }
      names.emplace_back(name);
      pos_ += name.size();
    }
    if (names.empty()) error(start, "'entry:' names no entry point");
    return names;
  }

  std::vector<std::string> parse_tags() {
    expect('{', "after 'tags'");
    std::vector<std::string> tags;
    for (;;) {
      skip_blank();
      if (peek() == '}') {
        ++pos_;
        return tags;
      }
      const std::string_view tag = peek_ident();
      if (tag.empty()) {
        error(pos_, fmt::format("expected a tag or '}}', found {}",
                                pos_ >= text_.size() ? "the end of the block" : show(peek())));
      }
      tags.emplace_back(tag);
      pos_ += tag.size();
    }
  }

  // A double-quoted string on one line; backslash escapes \" \\ \n \t.
  std::string parse_string() {
    const size_t open = pos_;
    ++pos_;
    std::string out;
    for (;;) {
      if (pos_ >= text_.size() || text_[pos_] == '\n') error(open, "unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      const char e = peek();
      ++pos_;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        default:
          error(pos_ - 2, fmt::format("unknown escape '\\{}' in a string", e));
      }
    }
  }

  // The file after `@`: a quoted string or the characters up to white space.
  std::string parse_path() {
    skip_blank();
    if (peek() == '"') {
      const size_t start = pos_;
      std::string path = parse_string();
      if (path.empty()) error(start, "empty file name after '@'");
      return path;
    }
    const size_t start = pos_;
    while (pos_ < text_.size() && !is_space(text_[pos_]) && text_[pos_] != '}') ++pos_;
    if (pos_ == start) error(start, "expected a file name after '@'");
    return std::string(text_.substr(start, pos_ - start));
  }

  DatasetSpec parse_dataset(size_t index) {
    DatasetSpec d;
    d.pos = position(pos_);
    // The quoted name and the modifiers may come in either order.
    for (;;) {
      skip_blank();
      if (peek() == '"' && !d.named) {
        const size_t start = pos_;
        d.name = parse_string();
        if (d.name.empty()) error(start, "empty dataset name");
        d.named = true;
      } else if (take_keyword("nobench")) {
        d.nobench = true;
      } else if (!take_keyword("compiled")) {  // Futhark's `compiled` means nothing to a server
        break;
      }
    }
    skip_blank();
    d.input.pos = position(pos_);
    if (take_keyword("random")) {
      d.input.kind = ValuesSpec::Kind::Random;
    } else if (take_keyword("script")) {
      d.input.kind = ValuesSpec::Kind::Script;
    }
    if (!take_keyword("input")) {
      skip_blank();
      error(pos_, fmt::format("expected 'input', found {}",
                              pos_ >= text_.size() ? "the end of the block" : show(peek())));
    }
    skip_blank();
    if (d.input.kind == ValuesSpec::Kind::Random) {
      expect('{', "after 'random input'");
      d.input.random = parse_random_items();
    } else if (d.input.kind == ValuesSpec::Kind::Script) {
      expect('{', "after 'script input'");
      skip_blank();
      const size_t expr_start = pos_;
      d.input.script = parse_script(0);
      skip_blank();
      if (peek() != '}') {
        error(pos_, fmt::format("expected '}}' after the script expression \"{}\", found {}",
                                trim(text_.substr(expr_start, pos_ - expr_start)),
                                pos_ >= text_.size() ? "the end of the block" : show(peek())));
      }
      ++pos_;
    } else {
      parse_values_or_file(d.input, "input");
    }
    skip_blank();
    const size_t after_input = pos_;
    if (take_keyword("output")) {
      ValuesSpec out;
      out.pos = position(after_input);
      parse_values_or_file(out, "output");
      d.output = std::move(out);
    } else if (peek_ident() == "error") {
      error(pos_, "expected-failure datasets ('error:') cannot be benchmarked");
    } else if (peek_ident() == "auto") {
      error(pos_, "'auto output' is not supported: give the expected values");
    }
    if (!d.named) {
      d.name = d.input.kind == ValuesSpec::Kind::File ? d.input.file : fmt::format("#{}", index);
    }
    return d;
  }

  void parse_values_or_file(ValuesSpec& spec, std::string_view what) {
    skip_blank();
    if (peek() == '@') {
      ++pos_;
      spec.kind = ValuesSpec::Kind::File;
      spec.file = parse_path();
      return;
    }
    if (peek() != '{') {
      error(pos_, fmt::format("expected '{{' or '@ FILE' after '{}', found {}", what,
                              pos_ >= text_.size() ? "the end of the block" : show(peek())));
    }
    ++pos_;
    spec.kind = ValuesSpec::Kind::Literal;
    for (;;) {
      skip_blank();
      if (pos_ >= text_.size())
        error(pos_, fmt::format("missing '}}' to close the {} values", what));
      if (peek() == '}') {
        ++pos_;
        return;
      }
      spec.values.push_back(parse_value());
    }
  }

  Array parse_value() {
    TextParser parser(text_, name_, pos_);
    Array value = parser.parse();
    pos_ = parser.position();
    return value;
  }

  std::vector<RandomItem> parse_random_items() {
    std::vector<RandomItem> items;
    for (;;) {
      skip_blank();
      if (pos_ >= text_.size()) error(pos_, "missing '}' to close the random input");
      if (peek() == '}') {
        ++pos_;
        return items;
      }
      const size_t start = pos_;
      RandomItem item;
      if (!parse_random_type(item)) {
        pos_ = start;
        item.is_literal = true;
        item.literal = parse_value();
      }
      item.text = std::string(trim(text_.substr(start, pos_ - start)));
      items.push_back(std::move(item));
    }
  }

  // `[n][m]t` or `t`; false (position unspecified) when the text is not a type.
  bool parse_random_type(RandomItem& item) {
    const size_t start = pos_;
    while (peek() == '[') {
      ++pos_;
      const size_t digits = pos_;
      int64_t n = 0;
      while (is_digit(peek())) {
        if (n > (INT64_MAX - 9) / 10) error(digits, "dimension too large");
        n = n * 10 + (peek() - '0');
        ++pos_;
      }
      if (pos_ == digits) {
        if (peek() == ']') error(start, "random input needs sizes: write [10]f32, not []f32");
        return false;
      }
      if (peek() != ']') return false;
      ++pos_;
      item.shape.push_back(n);
    }
    const std::string_view word = peek_ident();
    const auto type = parse_elem_name(word);
    if (!type) return false;
    pos_ += word.size();
    if (pos_ < text_.size() && !is_space(text_[pos_]) && text_[pos_] != '}') return false;
    try {
      shape_count(item.shape);
    } catch (const UsageError&) {
      error(start, fmt::format("random input {} has too many elements", shape_string(item.shape)));
    }
    item.type = *type;
    return true;
  }

  // Words that begin a value literal although they look like names.
  bool ident_starts_literal(std::string_view ident) const {
    if (ident == "true" || ident == "false") return true;
    const size_t after = pos_ + ident.size();
    if (ident == "empty" && after < text_.size() && text_[after] == '(') return true;
    return after < text_.size() && text_[after] == '.';  // f32.nan, f64.inf
  }

  ScriptExpr parse_script(int depth) {
    skip_blank();
    const size_t start = pos_;
    const std::string_view ident = peek_ident();
    if (ident.empty() || ident_starts_literal(ident)) return parse_script_atom(depth);
    ScriptExpr e;
    e.is_call = true;
    e.function = std::string(ident);
    e.pos = position(start);
    pos_ += ident.size();
    for (;;) {
      skip_blank();
      if (pos_ >= text_.size() || peek() == '}' || peek() == ')') break;
      e.args.push_back(parse_script_atom(depth));
    }
    e.text = std::string(trim(text_.substr(start, pos_ - start)));
    return e;
  }

  ScriptExpr parse_script_atom(int depth) {
    skip_blank();
    const size_t start = pos_;
    if (pos_ >= text_.size())
      error(pos_, "expected a script expression, found the end of the block");
    const char c = peek();
    if (c == '(') {
      if (depth >= kMaxScriptDepth) {
        error(start, fmt::format("script nested deeper than {} parentheses", kMaxScriptDepth));
      }
      ++pos_;
      skip_blank();
      if (peek() == ')') error(start, "empty parentheses in a script");
      ScriptExpr inner = parse_script(depth + 1);
      expect(')', "to close the parenthesis");
      return inner;
    }
    ScriptExpr e;
    e.pos = position(start);
    if (c == '"') {
      const std::string s = parse_string();
      e.value = Array::allocate(ElemType::U8, {static_cast<int64_t>(s.size())});
      if (!s.empty()) std::memcpy(e.value.raw(), s.data(), s.size());
    } else if (c == '}' || c == ')') {
      error(start, fmt::format("expected a script expression, found {}", show(c)));
    } else {
      const std::string_view ident = peek_ident();
      if (!ident.empty() && !ident_starts_literal(ident)) {
        // A name in argument position is an entry point called with no arguments.
        e.is_call = true;
        e.function = std::string(ident);
        pos_ += ident.size();
      } else {
        e.value = parse_value();
      }
    }
    e.text = std::string(trim(text_.substr(start, pos_ - start)));
    return e;
  }

  std::string_view full_;
  std::string_view text_;
  const std::string& name_;
  size_t pos_;
};

}  // namespace

Spec parse_spec(std::string_view text, const std::string& path) {
  Spec spec;
  spec.path = path;
  // Blocks: the lines after each `==` line, up to the next one.
  struct Block {
    size_t header, begin, end;
  };
  std::vector<Block> blocks;
  size_t line_start = 0;
  while (line_start <= text.size()) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    if (trim(text.substr(line_start, line_end - line_start)) == "==") {
      if (!blocks.empty()) blocks.back().end = line_start;
      blocks.push_back({line_start, std::min(line_end + 1, text.size()), text.size()});
    }
    if (line_end == text.size()) break;
    line_start = line_end + 1;
  }
  if (blocks.empty()) {
    fail_format(
        "{}:1:1: no '==' line: a spec starts its benchmark block with a line holding "
        "only '==' (then 'entry: NAME' and datasets such as 'input @ FILE')",
        path);
  }
  for (const auto& b : blocks) {
    BlockParser parser(text, path, b.begin, b.end);
    const SourcePos header = parser.position(b.header);
    spec.cases.push_back(parser.parse(header));
  }
  return spec;
}

Spec read_spec_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_errno(fmt::format("cannot open spec file '{}'", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail_errno(fmt::format("cannot read spec file '{}'", path));
  return parse_spec(text.str(), path);
}

}  // namespace hh::bench
