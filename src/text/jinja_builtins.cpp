// Jinja's built-in filters and tests, with jinja2's semantics (filters.py, tests.py) and
// transformers' tojson. The global functions are in jinja_globals.cpp.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "text/jinja_interp.h"

namespace hh::jinja {

namespace {

using FilterFn = Value (*)(Interpreter&, const Value&, CallArgs&);
using TestFn = bool (*)(Interpreter&, const Value&, CallArgs&);

// str() of a value the way jinja2's soft_str does it (undefined -> "").
std::string soft_str(const Value& v) { return v.is_string() ? v.str() : to_str(v); }

bool arg_true(const std::optional<Value>& v) { return v && v->truthy(); }

// Jinja's attribute getter for filters: "a.b.0" walks items/attributes part by part.
Value get_path(const Value& item, const Value& attribute) {
  if (!attribute.is_string()) return get_item(item, attribute);
  Value cur = item;
  const std::string& path = attribute.str();
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
    char* end = nullptr;
    const long long idx = std::strtoll(part.c_str(), &end, 10);
    if (!part.empty() && end && *end == '\0' && (part[0] != '-' && part[0] != '+')) {
      cur = get_item(cur, Value(static_cast<int64_t>(idx)));
    } else {
      cur = get_item(cur, Value(part));
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

Value lowered(const Value& v) { return v.is_string() ? Value(py_lower(v.str())) : v; }

Value list_of(std::vector<Value> items) { return Value::list(std::move(items)); }

// --- filters ---------------------------------------------------------------------------------

Value f_tojson(Interpreter& in, const Value& v, CallArgs& args) {
  // transformers: json.dumps(x, ensure_ascii=False, indent=None, separators=None,
  // sort_keys=False)
  auto a = bind_args(args, {"ensure_ascii", "indent", "separators", "sort_keys"}, "tojson");
  JsonOptions o;
  o.ensure_ascii = arg_true(a[0]);
  if (a[1] && !a[1]->is_none()) {
    o.has_indent = true;
    if (a[1]->is_string()) {
      o.indent = a[1]->str();
    } else {
      const int64_t n = py_int(*a[1]);
      if (n > 1024) fail_value("tojson indent too large");
      o.indent = std::string(static_cast<size_t>(std::max<int64_t>(n, 0)), ' ');
    }
    o.item_separator = ",";
  }
  if (a[2] && !a[2]->is_none()) {
    if (!a[2]->is_list() || a[2]->items().size() != 2 || !a[2]->items()[0].is_string() ||
        !a[2]->items()[1].is_string()) {
      fail_value("tojson separators must be a pair of strings");
    }
    o.item_separator = a[2]->items()[0].str();
    o.key_separator = a[2]->items()[1].str();
  }
  o.sort_keys = arg_true(a[3]);
  std::string out = to_json(v, o);
  in.check_size(out.size());
  in.step(out.size() / 256);
  return Value(std::move(out));
}

Value f_length(Interpreter&, const Value& v, CallArgs& args) {
  bind_args(args, {}, "length");
  switch (v.kind()) {
    case Value::Kind::String:
      return Value(static_cast<int64_t>(utf8_length(v.str())));
    case Value::Kind::List:
      return Value(static_cast<int64_t>(v.items().size()));
    case Value::Kind::Dict:
      return Value(static_cast<int64_t>(v.dict().items.size()));
    case Value::Kind::Undefined:
      return Value(int64_t{0});
    default:
      fail_value("object of type '{}' has no len()", v.type_name());
  }
}

Value f_default(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_args(args, {"default_value", "boolean"}, "default");
  if (v.is_undefined() || (arg_true(a[1]) && !v.truthy())) return a[0] ? *a[0] : Value("");
  return v;
}

Value f_trim(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_args(args, {"chars"}, "trim");
  std::optional<std::string> chars;
  if (a[0] && !a[0]->is_none()) chars = soft_str(*a[0]);
  return Value(py_strip(soft_str(v), chars, true, true));
}

Value f_lower(Interpreter&, const Value& v, CallArgs& args) {
  bind_args(args, {}, "lower");
  return Value(py_lower(soft_str(v)));
}
Value f_upper(Interpreter&, const Value& v, CallArgs& args) {
  bind_args(args, {}, "upper");
  return Value(py_upper(soft_str(v)));
}
Value f_title(Interpreter&, const Value& v, CallArgs& args) {
  bind_args(args, {}, "title");
  // jinja2's do_title, not str.title(): words start only after '-', whitespace, '(', '{',
  // '[' or '<'; each piece is its first character upper-cased, the rest lower-cased.
  const std::string s = soft_str(v);
  auto is_break = [](uint32_t cp) {
    return cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || is_py_space(cp);
  };
  std::string out, piece;
  bool piece_is_break = false;
  auto flush = [&] {
    if (piece.empty()) return;
    const size_t first = utf8_next(piece, 0);
    out += py_upper(piece.substr(0, first));
    out += py_lower(piece.substr(first));
    piece.clear();
  };
  for (size_t i = 0; i < s.size();) {
    size_t next;
    const bool brk = is_break(utf8_decode(s, i, &next));
    if (brk != piece_is_break) flush();
    piece_is_break = brk;
    piece.append(s, i, next - i);
    i = next;
  }
  flush();
  return Value(std::move(out));
}
Value f_capitalize(Interpreter&, const Value& v, CallArgs& args) {
  bind_args(args, {}, "capitalize");
  return Value(py_capitalize(soft_str(v)));
}
Value f_string(Interpreter&, const Value& v, CallArgs& args) {
  bind_args(args, {}, "string");
  return v.is_string() ? v : Value(soft_str(v));
}
Value f_safe(Interpreter&, const Value& v, CallArgs& args) {
  bind_args(args, {}, "safe");
  return v;
}

Value f_escape(Interpreter&, const Value& v, CallArgs& args) {
  bind_args(args, {}, "escape");
  std::string out;
  for (char c : soft_str(v)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return Value(std::move(out));
}

Value f_join(Interpreter& in, const Value& v, CallArgs& args) {
  auto a = bind_args(args, {"d", "attribute"}, "join");
  const std::string sep = a[0] ? soft_str(*a[0]) : "";
  std::string out;
  bool first = true;
  for (const auto& item : iterate(v)) {
    if (!first) out += sep;
    first = false;
    append_str(out, a[1] && !a[1]->is_none() ? get_path(item, *a[1]) : item);
    in.check_size(out.size());
  }
  in.step(out.size() / 256);
  return Value(std::move(out));
}

Value f_first(Interpreter&, const Value& v, CallArgs& args) {
  bind_args(args, {}, "first");
  auto items = iterate(v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(Interpreter&, const Value& v, CallArgs& args) {
  bind_args(args, {}, "last");
  auto items = iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_list(Interpreter& in, const Value& v, CallArgs& args) {
  bind_args(args, {}, "list");
  if (v.is_list() && !v.list().tuple) return v;
  auto items = iterate(v);
  in.step(items.size());
  return list_of(std::move(items));
}

Value f_items(Interpreter& in, const Value& v, CallArgs& args) {
  bind_args(args, {}, "items");
  if (v.is_undefined()) return list_of({});
  if (!v.is_dict()) fail_value("Can only get item pairs from a mapping.");
  CallArgs none;
  return *call_method(in, v, "items", none);
}

Value f_int(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_args(args, {"default", "base"}, "int");
  const Value dflt = a[0] ? *a[0] : Value(int64_t{0});
  if (v.is_string()) {
    const int64_t base = a[1] ? py_int(*a[1]) : 10;
    std::string s = py_strip(v.str(), std::nullopt, true, true);
    std::string digits;
    for (size_t i = 0; i < s.size(); ++i) {
      // Python allows single underscores between digits.
      if (s[i] == '_' && i > 0 && i + 1 < s.size() && s[i - 1] != '_') continue;
      digits.push_back(s[i]);
    }
    if (!digits.empty() && base >= 2 && base <= 36) {
      char* end = nullptr;
      errno = 0;
      const long long x = std::strtoll(digits.c_str(), &end, static_cast<int>(base));
      if (end && *end == '\0' && errno == 0 && digits.find_first_of(" \t") == std::string::npos) {
        return Value(static_cast<int64_t>(x));
      }
    }
    // "42.23"|int gives 42 through float().
    char* end = nullptr;
    const double f = std::strtod(digits.c_str(), &end);
    if (!digits.empty() && end && *end == '\0' && std::isfinite(f) && std::fabs(f) < 9.2e18 &&
        digits.find_first_of("xXpP") == std::string::npos) {
      return Value(static_cast<int64_t>(f));
    }
    return dflt;
  }
  if (v.is_number() || v.is_undefined()) {
    try {
      return Value(py_int(v));
    } catch (const ValueError&) {
      if (v.is_undefined()) throw;
      return dflt;
    }
  }
  return dflt;
}

Value f_float(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_args(args, {"default"}, "float");
  const Value dflt = a[0] ? *a[0] : Value(0.0);
  if (v.is_undefined()) fail_value("{}", v.undefined_message());
  if (v.is_number()) return Value(v.to_double());
  if (v.is_string()) {
    const std::string s = py_strip(v.str(), std::nullopt, true, true);
    char* end = nullptr;
    const double f = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0' && s.find_first_of("xXpP") == std::string::npos) {
      return Value(f);
    }
  }
  return dflt;
}

Value f_abs(Interpreter&, const Value& v, CallArgs& args) {
  bind_args(args, {}, "abs");
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  if (v.is_int() || v.is_bool()) {
    const int64_t i = v.is_bool() ? v.as_bool() : v.as_int();
    if (i == INT64_MIN) fail_value("integer overflow");
    return Value(i < 0 ? -i : i);
  }
  fail_value("bad operand type for abs(): '{}'", v.type_name());
}

Value f_round(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_args(args, {"precision", "method"}, "round");
  const int64_t precision = a[0] ? py_int(*a[0]) : 0;
  const std::string method = a[1] ? soft_str(*a[1]) : "common";
  if (!v.is_number()) fail_value("round() needs a number, not '{}'", v.type_name());
  if (precision < -300 || precision > 300) fail_value("round precision out of range");
  const double x = v.to_double();
  if (method == "common") {
    if (v.is_int() && precision >= 0) return v;
    if (precision < 0 || !std::isfinite(x)) {
      const double scale = std::pow(10.0, static_cast<double>(-precision));
      return Value(std::nearbyint(x / scale) * scale);
    }
    // printf rounds the exact binary value half-to-even, as Python's round() does.
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(precision), x);
    return Value(std::strtod(buf, nullptr));
  }
  if (method != "ceil" && method != "floor") fail_value("method must be common, ceil or floor");
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double r = method == "ceil" ? std::ceil(x * scale) : std::floor(x * scale);
  return Value(r / scale);
}

Value f_reverse(Interpreter&, const Value& v, CallArgs& args) {
  bind_args(args, {}, "reverse");
  if (v.is_string()) {
    std::vector<Value> chars = iterate(v);
    std::string out;
    for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += it->str();
    return Value(std::move(out));
  }
  auto items = iterate(v);
  std::reverse(items.begin(), items.end());
  return list_of(std::move(items));
}

Value f_replace(Interpreter& in, const Value& v, CallArgs& args) {
  auto a = bind_args(args, {"old", "new", "count"}, "replace");
  if (!a[0] || !a[1]) fail_value("replace() needs the old and new strings");
  std::string out = py_replace(soft_str(v), soft_str(*a[0]), soft_str(*a[1]),
                               a[2] && !a[2]->is_none() ? py_int(*a[2]) : -1);
  in.check_size(out.size());
  return Value(std::move(out));
}

Value f_indent(Interpreter& in, const Value& v, CallArgs& args) {
  auto a = bind_args(args, {"width", "first", "blank"}, "indent");
  std::string indention = "    ";
  if (a[0]) {
    if (a[0]->is_string()) {
      indention = a[0]->str();
    } else {
      const int64_t w = py_int(*a[0]);
      if (w > 1024) fail_value("indent width too large");
      indention = std::string(static_cast<size_t>(std::max<int64_t>(w, 0)), ' ');
    }
  }
  CallArgs none;
  const Value lines_v = *call_method(in, Value(soft_str(v) + "\n"), "splitlines", none);
  const auto& lines = lines_v.items();
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i].str();
    if (i > 0) out += "\n";
    if (i > 0 && (arg_true(a[2]) || !line.empty())) out += indention;
    out += line;
    in.check_size(out.size());
  }
  if (arg_true(a[1])) out = indention + out;
  return Value(std::move(out));
}

// Shared by map/select/reject/selectattr/rejectattr/sort/unique/min/max/sum/dictsort/attr.
Value f_attr(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_args(args, {"name"}, "attr");
  if (!a[0] || !a[0]->is_string()) fail_value("attr() needs an attribute name");
  // Python getattr only: a dict's keys are items, not attributes.
  if (v.is_dict() && !has_method(v, a[0]->str())) {
    return Value::undefined(fmt::format("'dict object' has no attribute '{}'", a[0]->str()));
  }
  return get_attr(v, a[0]->str());
}

Value f_map(Interpreter& in, const Value& v, CallArgs& args) {
  std::vector<Value> out;
  if (args.positional.empty()) {
    auto a = bind_args(args, {"attribute", "default"}, "map");
    if (!a[0]) fail_value("map requires a filter argument");
    for (const auto& item : iterate(v)) {
      Value x = get_path(item, *a[0]);
      if (a[1] && !a[1]->is_none() && x.is_undefined()) x = *a[1];
      out.push_back(std::move(x));
    }
  } else {
    const Value name = args.positional[0];
    if (!name.is_string()) fail_value("map filter name must be a string");
    CallArgs rest;
    rest.positional.assign(args.positional.begin() + 1, args.positional.end());
    rest.keyword = args.keyword;
    for (const auto& item : iterate(v)) {
      CallArgs call = rest;
      in.step();
      out.push_back(in.apply_filter(name.str(), item, call));
    }
  }
  return list_of(std::move(out));
}

Value select_impl(Interpreter& in, const Value& v, CallArgs& args, bool attr, bool keep_if) {
  size_t off = 0;
  Value attribute;
  if (attr) {
    if (args.positional.empty()) fail_value("Missing parameter for attribute name");
    attribute = args.positional[0];
    off = 1;
  }
  std::optional<std::string> test;
  if (args.positional.size() > off) {
    if (!args.positional[off].is_string()) fail_value("test name must be a string");
    test = args.positional[off].str();
  }
  CallArgs rest;
  if (args.positional.size() > off + 1) {
    rest.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(off + 1),
                           args.positional.end());
  }
  rest.keyword = args.keyword;
  std::vector<Value> out;
  for (const auto& item : iterate(v)) {
    in.step();
    const Value x = attr ? get_path(item, attribute) : item;
    bool r;
    if (test) {
      CallArgs call = rest;
      r = in.apply_test(*test, x, call);
    } else {
      r = x.truthy();
    }
    if (r == keep_if) out.push_back(item);
  }
  return list_of(std::move(out));
}
Value f_select(Interpreter& in, const Value& v, CallArgs& a) {
  return select_impl(in, v, a, false, true);
}
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) {
  return select_impl(in, v, a, false, false);
}
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) {
  return select_impl(in, v, a, true, true);
}
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) {
  return select_impl(in, v, a, true, false);
}

// Sort key per jinja's make_multi_attrgetter / ignore_case.
Value sort_key(const Value& item, const std::optional<Value>& attribute, bool case_sensitive) {
  Value k = attribute && !attribute->is_none() ? get_path(item, *attribute) : item;
  return case_sensitive ? k : lowered(k);
}

Value f_sort(Interpreter& in, const Value& v, CallArgs& args) {
  auto a = bind_args(args, {"reverse", "case_sensitive", "attribute"}, "sort");
  const bool reverse = arg_true(a[0]), cs = arg_true(a[1]);
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& item : iterate(v)) keyed.emplace_back(sort_key(item, a[2], cs), item);
  in.step(keyed.size() * 8);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? compare(y.first, x.first, "<") < 0 : compare(x.first, y.first, "<") < 0;
  });
  std::vector<Value> out;
  for (auto& [k, item] : keyed) out.push_back(std::move(item));
  return list_of(std::move(out));
}

Value f_dictsort(Interpreter& in, const Value& v, CallArgs& args) {
  auto a = bind_args(args, {"case_sensitive", "by", "reverse"}, "dictsort");
  if (!v.is_dict()) fail_value("dictsort needs a mapping, not '{}'", v.type_name());
  const std::string by = a[1] ? soft_str(*a[1]) : "key";
  if (by != "key" && by != "value") fail_value("You can only sort by either \"key\" or \"value\"");
  const bool cs = arg_true(a[0]), reverse = arg_true(a[2]);
  std::vector<std::pair<Value, Value>> items = v.dict().items;
  in.step(items.size() * 8);
  auto key = [&](const std::pair<Value, Value>& p) {
    const Value& k = by == "key" ? p.first : p.second;
    return cs ? k : lowered(k);
  };
  std::stable_sort(items.begin(), items.end(), [&](const auto& x, const auto& y) {
    return reverse ? compare(key(y), key(x), "<") < 0 : compare(key(x), key(y), "<") < 0;
  });
  std::vector<Value> out;
  for (auto& [k, val] : items) out.push_back(Value::list({k, val}, true));
  return list_of(std::move(out));
}

Value f_unique(Interpreter& in, const Value& v, CallArgs& args) {
  auto a = bind_args(args, {"case_sensitive", "attribute"}, "unique");
  std::vector<Value> seen, out;
  for (auto& item : iterate(v)) {
    const Value k = sort_key(item, a[1], arg_true(a[0]));
    in.step(1 + seen.size() / 16);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) {
      seen.push_back(k);
      out.push_back(item);
    }
  }
  return list_of(std::move(out));
}

Value min_max(const Value& v, CallArgs& args, bool want_max) {
  auto a = bind_args(args, {"case_sensitive", "attribute"}, want_max ? "max" : "min");
  auto items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  Value best_key = sort_key(items[0], a[1], arg_true(a[0]));
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = sort_key(items[i], a[1], arg_true(a[0]));
    const int c = compare(k, best_key, want_max ? ">" : "<");
    if (want_max ? c > 0 : c < 0) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}
Value f_min(Interpreter&, const Value& v, CallArgs& a) { return min_max(v, a, false); }
Value f_max(Interpreter&, const Value& v, CallArgs& a) { return min_max(v, a, true); }

Value f_sum(Interpreter& in, const Value& v, CallArgs& args) {
  auto a = bind_args(args, {"attribute", "start"}, "sum");
  Value total = a[1] ? *a[1] : Value(int64_t{0});
  for (const auto& item : iterate(v)) {
    total =
        binary_op(in, BinOp::Add, total, a[0] && !a[0]->is_none() ? get_path(item, *a[0]) : item);
  }
  return total;
}

Value f_wordcount(Interpreter&, const Value& v, CallArgs& args) {
  bind_args(args, {}, "wordcount");
  const std::string s = soft_str(v);
  int64_t words = 0;
  bool in_word = false;
  for (size_t i = 0; i < s.size();) {
    size_t next;
    const uint32_t cp = utf8_decode(s, i, &next);
    // \w: letters, digits, underscore (non-ASCII counts as a word character)
    const bool w = cp == '_' || (cp >= '0' && cp <= '9') ||
                   ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') ||
                   (cp >= 0x80 && !(cp & kUtf8StrayByte) && !is_py_space(cp));
    if (w && !in_word) ++words;
    in_word = w;
    i = next;
  }
  return Value(words);
}

const std::unordered_map<std::string_view, FilterFn>& filters() {
  static const std::unordered_map<std::string_view, FilterFn> table = {
      {"abs", f_abs},           {"attr", f_attr},       {"capitalize", f_capitalize},
      {"count", f_length},      {"d", f_default},       {"default", f_default},
      {"dictsort", f_dictsort}, {"e", f_escape},        {"escape", f_escape},
      {"first", f_first},       {"float", f_float},     {"indent", f_indent},
      {"int", f_int},           {"items", f_items},     {"join", f_join},
      {"last", f_last},         {"length", f_length},   {"list", f_list},
      {"lower", f_lower},       {"map", f_map},         {"max", f_max},
      {"min", f_min},           {"reject", f_reject},   {"rejectattr", f_rejectattr},
      {"replace", f_replace},   {"reverse", f_reverse}, {"round", f_round},
      {"safe", f_safe},         {"select", f_select},   {"selectattr", f_selectattr},
      {"sort", f_sort},         {"string", f_string},   {"sum", f_sum},
      {"title", f_title},       {"tojson", f_tojson},   {"trim", f_trim},
      {"unique", f_unique},     {"upper", f_upper},     {"wordcount", f_wordcount},
  };
  return table;
}

// --- tests -----------------------------------------------------------------------------------

const Value& one_arg(const CallArgs& args, std::string_view test) {
  if (args.positional.size() != 1 || !args.keyword.empty()) {
    fail_value("test '{}' takes exactly one argument", test);
  }
  return args.positional[0];
}

bool t_defined(Interpreter&, const Value& v, CallArgs&) { return !v.is_undefined(); }
bool t_undefined(Interpreter&, const Value& v, CallArgs&) { return v.is_undefined(); }
bool t_none(Interpreter&, const Value& v, CallArgs&) { return v.is_none(); }
bool t_boolean(Interpreter&, const Value& v, CallArgs&) { return v.is_bool(); }
bool t_true(Interpreter&, const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }
bool t_false(Interpreter&, const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }
bool t_integer(Interpreter&, const Value& v, CallArgs&) { return v.is_int(); }
bool t_float(Interpreter&, const Value& v, CallArgs&) { return v.is_float(); }
bool t_number(Interpreter&, const Value& v, CallArgs&) { return v.is_number(); }
bool t_string(Interpreter&, const Value& v, CallArgs&) { return v.is_string(); }
bool t_mapping(Interpreter&, const Value& v, CallArgs&) { return v.is_dict(); }
bool t_sequence(Interpreter&, const Value& v, CallArgs&) {
  return v.is_string() || v.is_list() || v.is_dict();
}
bool t_iterable(Interpreter&, const Value& v, CallArgs&) {
  return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined() || v.is_object();
}
bool t_callable(Interpreter&, const Value& v, CallArgs&) {
  return v.is_function() || v.is_undefined() || v.is_object();
}
bool t_escaped(Interpreter&, const Value&, CallArgs&) { return false; }
bool t_lower(Interpreter& in, const Value& v, CallArgs&) {
  CallArgs none;
  return v.is_string() && call_method(in, v, "islower", none)->as_bool();
}
bool t_upper(Interpreter& in, const Value& v, CallArgs&) {
  CallArgs none;
  return v.is_string() && call_method(in, v, "isupper", none)->as_bool();
}
int64_t int_of(const Value& v, std::string_view test) {
  if (!v.is_int() && !v.is_bool()) {
    if (v.is_undefined()) fail_value("{}", v.undefined_message());
    fail_value("test '{}' needs an integer, not '{}'", test, v.type_name());
  }
  return py_int(v);
}
bool t_odd(Interpreter&, const Value& v, CallArgs&) { return int_of(v, "odd") % 2 != 0; }
bool t_even(Interpreter&, const Value& v, CallArgs&) { return int_of(v, "even") % 2 == 0; }
bool t_divisibleby(Interpreter&, const Value& v, CallArgs& a) {
  const int64_t d = int_of(one_arg(a, "divisibleby"), "divisibleby");
  if (d == 0) fail_value("integer division or modulo by zero");
  if (d == -1) return true;
  return int_of(v, "divisibleby") % d == 0;
}
bool t_eq(Interpreter&, const Value& v, CallArgs& a) { return equals(v, one_arg(a, "eq")); }
bool t_ne(Interpreter&, const Value& v, CallArgs& a) { return !equals(v, one_arg(a, "ne")); }
bool t_lt(Interpreter&, const Value& v, CallArgs& a) {
  return compare(v, one_arg(a, "lt"), "<") < 0;
}
bool t_le(Interpreter&, const Value& v, CallArgs& a) {
  return compare(v, one_arg(a, "le"), "<=") <= 0;
}
bool t_gt(Interpreter&, const Value& v, CallArgs& a) {
  return compare(v, one_arg(a, "gt"), ">") > 0;
}
bool t_ge(Interpreter&, const Value& v, CallArgs& a) {
  return compare(v, one_arg(a, "ge"), ">=") >= 0;
}
bool t_in(Interpreter&, const Value& v, CallArgs& a) { return contains(one_arg(a, "in"), v); }
bool t_sameas(Interpreter&, const Value& v, CallArgs& a) {
  const Value& o = one_arg(a, "sameas");
  if (v.kind() != o.kind()) return false;
  switch (v.kind()) {
    case Value::Kind::List:
      return &v.list() == &o.list();
    case Value::Kind::Dict:
      return &v.dict() == &o.dict();
    case Value::Kind::String:
      return v.str_ptr() == o.str_ptr();
    default:
      return equals(v, o);
  }
}
bool t_filter(Interpreter&, const Value& v, CallArgs&) {
  return v.is_string() && filters().count(v.str()) > 0;
}
bool t_test(Interpreter&, const Value& v, CallArgs&);

const std::unordered_map<std::string_view, TestFn>& tests() {
  static const std::unordered_map<std::string_view, TestFn> table = {
      {"boolean", t_boolean},
      {"callable", t_callable},
      {"defined", t_defined},
      {"divisibleby", t_divisibleby},
      {"eq", t_eq},
      {"equalto", t_eq},
      {"==", t_eq},
      {"escaped", t_escaped},
      {"even", t_even},
      {"false", t_false},
      {"filter", t_filter},
      {"float", t_float},
      {"ge", t_ge},
      {">=", t_ge},
      {"gt", t_gt},
      {">", t_gt},
      {"greaterthan", t_gt},
      {"in", t_in},
      {"integer", t_integer},
      {"iterable", t_iterable},
      {"le", t_le},
      {"<=", t_le},
      {"lower", t_lower},
      {"lt", t_lt},
      {"<", t_lt},
      {"lessthan", t_lt},
      {"mapping", t_mapping},
      {"ne", t_ne},
      {"!=", t_ne},
      {"none", t_none},
      {"number", t_number},
      {"odd", t_odd},
      {"sameas", t_sameas},
      {"sequence", t_sequence},
      {"string", t_string},
      {"test", t_test},
      {"true", t_true},
      {"undefined", t_undefined},
      {"upper", t_upper},
  };
  return table;
}

bool t_test(Interpreter&, const Value& v, CallArgs&) {
  return v.is_string() && tests().count(v.str()) > 0;
}

}  // namespace

Value Interpreter::apply_filter(std::string_view name, const Value& input, CallArgs& args) {
  const auto& table = filters();
  const auto it = table.find(name);
  if (it == table.end()) fail_value("no filter named '{}'", name);
  return it->second(*this, input, args);
}

bool Interpreter::apply_test(std::string_view name, const Value& input, CallArgs& args) {
  const auto& table = tests();
  const auto it = table.find(name);
  if (it == table.end()) fail_value("no test named '{}'", name);
  return it->second(*this, input, args);
}

}  // namespace hh::jinja
