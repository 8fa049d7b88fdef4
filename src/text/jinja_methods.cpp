// Methods of built-in values ('x'.split(), d.items(), l.index()) with Python's semantics, and the
// Python string operations the filters share.
#include <utf8proc.h>

#include <cmath>
#include <cstdlib>

#include "text/jinja_interp.h"

namespace hh::jinja {

namespace {

std::vector<uint32_t> decode(std::string_view s) {
  std::vector<uint32_t> cps;
  cps.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t next;
    cps.push_back(utf8_decode(s, i, &next));
    i = next;
  }
  return cps;
}

bool is_valid_cp(uint32_t cp) { return (cp & kUtf8StrayByte) == 0; }

uint32_t map_case(uint32_t cp, bool upper) {
  if (!is_valid_cp(cp)) return cp;
  if (cp < 0x80) {
    if (upper && cp >= 'a' && cp <= 'z') return cp - 32;
    if (!upper && cp >= 'A' && cp <= 'Z') return cp + 32;
    return cp;
  }
  const auto c = static_cast<utf8proc_int32_t>(cp);
  return static_cast<uint32_t>(upper ? utf8proc_toupper(c) : utf8proc_tolower(c));
}

bool is_cased_letter(uint32_t cp) {
  if (!is_valid_cp(cp)) return false;
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

bool is_lower_cp(uint32_t cp) {
  return is_cased_letter(cp) && map_case(cp, true) != cp && map_case(cp, false) == cp;
}
bool is_upper_cp(uint32_t cp) {
  return is_cased_letter(cp) && map_case(cp, false) != cp && map_case(cp, true) == cp;
}

bool is_alpha_cp(uint32_t cp) {
  if (!is_valid_cp(cp)) return false;
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

bool is_digit_cp(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return is_valid_cp(cp) &&
         utf8proc_category(static_cast<utf8proc_int32_t>(cp)) == UTF8PROC_CATEGORY_ND;
}

// Python's str.splitlines() boundaries.
bool is_line_break(uint32_t cp) {
  switch (cp) {
    case '\n':
    case '\r':
    case 0x0B:
    case 0x0C:
    case 0x1C:
    case 0x1D:
    case 0x1E:
    case 0x85:
    case 0x2028:
    case 0x2029:
      return true;
    default:
      return false;
  }
}

std::string map_all(std::string_view s, bool upper) {
  std::string out;
  out.reserve(s.size());
  for (uint32_t cp : decode(s)) append_utf8(out, map_case(cp, upper));
  return out;
}

const std::string& need_string(const std::optional<Value>& v, std::string_view what) {
  if (!v || !v->is_string()) {
    fail_value("{} argument must be str, not {}", what, v ? v->type_name() : "nothing");
  }
  return v->str();
}

std::optional<std::string> optional_string(const std::optional<Value>& v, std::string_view what) {
  if (!v || v->is_none()) return std::nullopt;
  return need_string(v, what);
}

int64_t optional_int(const std::optional<Value>& v, int64_t dflt, std::string_view what) {
  if (!v || v->is_none()) return dflt;
  if (v->is_int()) return v->as_int();
  if (v->is_bool()) return v->as_bool();
  fail_value("{} must be an integer, not {}", what, v->type_name());
}

std::vector<std::string> py_rsplit(std::string_view s, const std::optional<std::string>& sep,
                                   int64_t maxsplit) {
  // rsplit == split of the reversed problem; done directly on code points.
  std::vector<std::string> parts;
  if (sep) {
    if (sep->empty()) fail_value("empty separator");
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      const size_t pos = end >= sep->size() ? s.rfind(*sep, end - sep->size()) : std::string::npos;
      if (pos == std::string::npos || end < sep->size()) break;
      parts.emplace_back(s.substr(pos + sep->size(), end - pos - sep->size()));
      end = pos;
    }
    parts.emplace_back(s.substr(0, end));
  } else {
    const auto cps = decode(s);
    std::vector<size_t> offsets;
    for (size_t i = 0; i < s.size(); i = utf8_next(s, i)) offsets.push_back(i);
    offsets.push_back(s.size());
    int64_t i = static_cast<int64_t>(cps.size()) - 1;
    while (i >= 0) {
      while (i >= 0 && is_py_space(cps[static_cast<size_t>(i)])) --i;
      if (i < 0) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        parts.emplace_back(s.substr(0, offsets[static_cast<size_t>(i) + 1]));
        break;
      }
      const int64_t end = i;
      while (i >= 0 && !is_py_space(cps[static_cast<size_t>(i)])) --i;
      const size_t b = offsets[static_cast<size_t>(i + 1)];
      parts.emplace_back(s.substr(b, offsets[static_cast<size_t>(end) + 1] - b));
    }
  }
  return {parts.rbegin(), parts.rend()};
}

std::vector<std::string> py_splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size();) {
    size_t next;
    const uint32_t cp = utf8_decode(s, i, &next);
    if (is_line_break(cp)) {
      size_t end = next;
      if (cp == '\r' && next < s.size() && s[next] == '\n') end = next + 1;
      lines.emplace_back(s.substr(start, (keepends ? end : i) - start));
      start = end;
      i = end;
    } else {
      i = next;
    }
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return lines;
}

Value string_list(std::vector<std::string> parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (auto& p : parts) items.emplace_back(std::move(p));
  return Value::list(std::move(items));
}

template <typename Pred>
Value all_chars(std::string_view s, Pred pred) {
  if (s.empty()) return Value(false);
  for (uint32_t cp : decode(s)) {
    if (!pred(cp)) return Value(false);
  }
  return Value(true);
}

// startswith/endswith take a string or a tuple of strings.
bool affix_match(std::string_view s, const Value& affix, bool prefix) {
  auto one = [&](const Value& a) {
    if (!a.is_string()) {
      fail_value("{} first arg must be str or a tuple of str, not {}",
                 prefix ? "startswith" : "endswith", a.type_name());
    }
    const std::string& x = a.str();
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0
                  : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is_list()) {
    for (const auto& a : affix.items()) {
      if (one(a)) return true;
    }
    return false;
  }
  return one(affix);
}

std::optional<Value> string_method(Interpreter& in, const std::string& s, std::string_view name,
                                   CallArgs& args) {
  const std::string what = fmt::format("str.{}", name);
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize" ||
      name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" ||
      name == "islower" || name == "isupper") {
    bind_args(args, {}, what);
    if (name == "upper") return Value(py_upper(s));
    if (name == "lower") return Value(py_lower(s));
    if (name == "title") return Value(py_title(s));
    if (name == "capitalize") return Value(py_capitalize(s));
    if (name == "isdigit") return all_chars(s, is_digit_cp);
    if (name == "isalpha") return all_chars(s, is_alpha_cp);
    if (name == "isalnum")
      return all_chars(s, [](uint32_t c) { return is_alpha_cp(c) || is_digit_cp(c); });
    if (name == "isspace") return all_chars(s, is_py_space);
    bool cased = false;
    for (uint32_t cp : decode(s)) {
      if (name == "islower" ? is_upper_cp(cp) : is_lower_cp(cp)) return Value(false);
      cased = cased || is_cased_letter(cp);
    }
    return Value(cased);
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    auto a = bind_args(args, {"chars"}, what);
    return Value(py_strip(s, optional_string(a[0], what), name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    auto a = bind_args(args, {"sep", "maxsplit"}, what);
    const auto sep = optional_string(a[0], what);
    const int64_t maxsplit = optional_int(a[1], -1, "maxsplit");
    auto parts = name == "split" ? py_split(s, sep, maxsplit) : py_rsplit(s, sep, maxsplit);
    in.step(parts.size());
    return string_list(std::move(parts));
  }
  if (name == "splitlines") {
    auto a = bind_args(args, {"keepends"}, what);
    return string_list(py_splitlines(s, a[0] && a[0]->truthy()));
  }
  if (name == "startswith" || name == "endswith") {
    auto a = bind_args(args, {"prefix"}, what);
    if (!a[0]) fail_value("{}() takes at least 1 argument (0 given)", what);
    return Value(affix_match(s, *a[0], name == "startswith"));
  }
  if (name == "replace") {
    auto a = bind_args(args, {"old", "new", "count"}, what);
    const std::string& old = need_string(a[0], what);
    const std::string& with = need_string(a[1], what);
    std::string out = py_replace(s, old, with, optional_int(a[2], -1, "count"));
    in.check_size(out.size());
    return Value(std::move(out));
  }
  if (name == "find" || name == "rfind" || name == "count" || name == "index" || name == "rindex") {
    auto a = bind_args(args, {"sub"}, what);
    const std::string& sub = need_string(a[0], what);
    if (name == "count") {
      if (sub.empty()) return Value(static_cast<int64_t>(utf8_length(s) + 1));
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return Value(n);
    }
    const size_t p = name[0] == 'r' ? s.rfind(sub) : s.find(sub);
    if (p == std::string::npos) {
      if (name == "index" || name == "rindex") fail_value("substring not found");
      return Value(int64_t{-1});
    }
    return Value(static_cast<int64_t>(utf8_length(std::string_view(s).substr(0, p))));
  }
  if (name == "join") {
    auto a = bind_args(args, {"iterable"}, what);
    if (!a[0]) fail_value("str.join() takes exactly one argument (0 given)");
    std::string out;
    bool first = true;
    for (const auto& item : iterate(*a[0])) {
      if (!item.is_string()) {
        fail_value("sequence item: expected str instance, {} found", item.type_name());
      }
      if (!first) out += s;
      first = false;
      out += item.str();
      in.check_size(out.size());
    }
    return Value(std::move(out));
  }
  if (name == "partition" || name == "rpartition") {
    auto a = bind_args(args, {"sep"}, what);
    const std::string& sep = need_string(a[0], what);
    if (sep.empty()) fail_value("empty separator");
    const size_t p = name == "partition" ? s.find(sep) : s.rfind(sep);
    if (p == std::string::npos) {
      return name == "partition" ? Value::list({Value(s), Value(""), Value("")}, true)
                                 : Value::list({Value(""), Value(""), Value(s)}, true);
    }
    return Value::list({Value(s.substr(0, p)), Value(sep), Value(s.substr(p + sep.size()))}, true);
  }
  if (name == "removeprefix" || name == "removesuffix") {
    auto a = bind_args(args, {"affix"}, what);
    const std::string& x = need_string(a[0], what);
    if (name == "removeprefix" && s.compare(0, x.size(), x) == 0) return Value(s.substr(x.size()));
    if (name == "removesuffix" && x.size() <= s.size() &&
        s.compare(s.size() - x.size(), x.size(), x) == 0) {
      return Value(s.substr(0, s.size() - x.size()));
    }
    return Value(s);
  }
  return std::nullopt;
}

std::optional<Value> dict_method(Interpreter& in, const Value& d, std::string_view name,
                                 CallArgs& args) {
  const std::string what = fmt::format("dict.{}", name);
  if (name == "items" || name == "keys" || name == "values" || name == "copy") {
    bind_args(args, {}, what);
    if (name == "copy") return d;
    std::vector<Value> out;
    out.reserve(d.dict().items.size());
    in.step(d.dict().items.size());
    for (const auto& [k, v] : d.dict().items) {
      if (name == "items") {
        out.push_back(Value::list({k, v}, true));
      } else {
        out.push_back(name == "keys" ? k : v);
      }
    }
    return Value::list(std::move(out));
  }
  if (name == "get") {
    auto a = bind_args(args, {"key", "default"}, what);
    if (!a[0]) fail_value("get expected at least 1 argument, got 0");
    const Value* v = d.dict().find(*a[0]);
    if (v) return *v;
    return a[1] ? *a[1] : Value::none();
  }
  return std::nullopt;
}

std::optional<Value> list_method(const Value& l, std::string_view name, CallArgs& args) {
  const std::string what = fmt::format("{}.{}", l.type_name(), name);
  if (name == "index" || name == "count") {
    auto a = bind_args(args, {"value"}, what);
    if (!a[0]) fail_value("{}() takes exactly one argument (0 given)", what);
    int64_t count = 0;
    for (size_t i = 0; i < l.items().size(); ++i) {
      if (!equals(l.items()[i], *a[0])) continue;
      if (name == "index") return Value(static_cast<int64_t>(i));
      ++count;
    }
    if (name == "index") fail_value("{} is not in list", to_repr(*a[0]));
    return Value(count);
  }
  return std::nullopt;
}

}  // namespace

bool has_method(const Value& obj, std::string_view name) {
  static constexpr std::string_view kString[] = {
      "upper",   "lower",     "title",      "capitalize",   "isdigit",     "isalpha",
      "isalnum", "isspace",   "islower",    "isupper",      "strip",       "lstrip",
      "rstrip",  "split",     "rsplit",     "splitlines",   "startswith",  "endswith",
      "replace", "find",      "rfind",      "count",        "index",       "rindex",
      "join",    "partition", "rpartition", "removeprefix", "removesuffix"};
  static constexpr std::string_view kDict[] = {"items", "keys", "values", "copy", "get"};
  static constexpr std::string_view kList[] = {"index", "count"};
  auto in = [&](const auto& table) {
    for (auto n : table) {
      if (n == name) return true;
    }
    return false;
  };
  if (obj.is_string()) return in(kString);
  if (obj.is_dict()) return in(kDict);
  if (obj.is_list()) return in(kList);
  return false;
}

std::optional<Value> call_method(Interpreter& in, const Value& obj, std::string_view name,
                                 CallArgs& args) {
  if (obj.is_string()) return string_method(in, obj.str(), name, args);
  if (obj.is_dict()) return dict_method(in, obj, name, args);
  if (obj.is_list()) return list_method(obj, name, args);
  return std::nullopt;
}

std::vector<std::optional<Value>> bind_args(const CallArgs& args,
                                            std::initializer_list<std::string_view> params,
                                            std::string_view what) {
  std::vector<std::optional<Value>> out(params.size());
  if (args.positional.size() > params.size()) {
    fail_value("{}() takes at most {} argument(s) ({} given)", what, params.size(),
               args.positional.size());
  }
  for (size_t i = 0; i < args.positional.size(); ++i) out[i] = args.positional[i];
  for (const auto& [key, value] : args.keyword) {
    size_t i = 0;
    for (auto p : params) {
      if (p == key) break;
      ++i;
    }
    if (i == params.size()) fail_value("{}() got an unexpected keyword argument '{}'", what, key);
    if (out[i]) fail_value("{}() got multiple values for argument '{}'", what, key);
    out[i] = value;
  }
  return out;
}

std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left,
                     bool right) {
  const auto cps = decode(s);
  std::vector<uint32_t> set;
  if (chars) set = decode(*chars);
  auto strip_it = [&](uint32_t cp) {
    if (!chars) return is_py_space(cp);
    for (uint32_t c : set) {
      if (c == cp) return true;
    }
    return false;
  };
  size_t b = 0, e = cps.size();
  if (left) {
    while (b < e && strip_it(cps[b])) ++b;
  }
  if (right) {
    while (e > b && strip_it(cps[e - 1])) --e;
  }
  std::string out;
  for (size_t i = b; i < e; ++i) append_utf8(out, cps[i]);
  return out;
}

std::string py_lower(std::string_view s) { return map_all(s, false); }
std::string py_upper(std::string_view s) { return map_all(s, true); }

std::string py_title(std::string_view s) {
  // Python's str.title(): a cased letter after an uncased character starts a word.
  std::string out;
  bool prev_cased = false;
  for (uint32_t cp : decode(s)) {
    const bool cased = is_cased_letter(cp);
    if (cased) {
      append_utf8(out, prev_cased ? map_case(cp, false)
                                  : (is_valid_cp(cp) && cp >= 0x80
                                         ? static_cast<uint32_t>(
                                               utf8proc_totitle(static_cast<utf8proc_int32_t>(cp)))
                                         : map_case(cp, true)));
    } else {
      append_utf8(out, cp);
    }
    prev_cased = cased;
  }
  return out;
}

std::string py_capitalize(std::string_view s) {
  std::string out;
  bool first = true;
  for (uint32_t cp : decode(s)) {
    if (first && is_valid_cp(cp) && cp >= 0x80) {
      append_utf8(out, static_cast<uint32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(cp))));
    } else {
      append_utf8(out, map_case(cp, first));
    }
    first = false;
  }
  return out;
}

std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep,
                                  int64_t maxsplit) {
  std::vector<std::string> parts;
  if (sep) {
    if (sep->empty()) fail_value("empty separator");
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      const size_t pos = s.find(*sep, start);
      if (pos == std::string::npos) break;
      parts.emplace_back(s.substr(start, pos - start));
      start = pos + sep->size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
  }
  size_t i = 0;
  auto space_at = [&](size_t p, size_t* next) { return is_py_space(utf8_decode(s, p, next)); };
  for (;;) {
    size_t next;
    while (i < s.size() && space_at(i, &next)) i = next;
    if (i >= s.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
      // The rest, with its trailing whitespace removed, is the last part.
      parts.push_back(py_strip(s.substr(i), std::nullopt, false, true));
      break;
    }
    const size_t begin = i;
    while (i < s.size() && !space_at(i, &next)) i = next;
    parts.emplace_back(s.substr(begin, i - begin));
  }
  return parts;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view with,
                       int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts `with` before every code point and at the end.
    int64_t done = 0;
    size_t i = 0;
    for (; i < s.size() && (count < 0 || done < count); i = utf8_next(s, i), ++done) {
      out += with;
      out.append(s.substr(i, utf8_next(s, i) - i));
    }
    if (i >= s.size() && (count < 0 || done < count)) out += with;
    out.append(s.substr(std::min(i, s.size())));
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t pos = s.find(old, start);
    if (pos == std::string_view::npos) break;
    out.append(s.substr(start, pos - start));
    out += with;
    start = pos + old.size();
    ++done;
  }
  out.append(s.substr(start));
  return out;
}

int64_t py_int(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Int:
      return v.as_int();
    case Value::Kind::Bool:
      return v.as_bool();
    case Value::Kind::Float: {
      const double f = v.as_float();
      if (!std::isfinite(f) || std::fabs(f) >= 9.2e18) fail_value("cannot convert float to int");
      return static_cast<int64_t>(f);
    }
    case Value::Kind::Undefined:
      fail_value("{}", v.undefined_message());
    default:
      fail_value("int() argument must be a string or a number, not '{}'", v.type_name());
  }
}

}  // namespace hh::jinja
