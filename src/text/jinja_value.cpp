#include "text/jinja_value.h"

#include <utf8proc.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace hh::jinja {

// ---------------------------------------------------------------------------------------------
// UTF-8

uint32_t utf8_decode(std::string_view s, size_t pos, size_t* next) {
  char32_t cp = 0;
  const size_t len = utf8_sequence_at(s, pos, &cp);
  if (len != 0) {
    *next = pos + len;
    return cp;
  }
  *next = pos + 1;
  return kUtf8StrayByte | static_cast<unsigned char>(s[pos]);
}

size_t utf8_next(std::string_view s, size_t pos) {
  size_t next;
  utf8_decode(s, pos, &next);
  return next;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i = utf8_next(s, i)) ++n;
  return n;
}

bool is_py_space(uint32_t cp) {
  switch (cp) {
    case ' ':
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case 0x1C:
    case 0x1D:
    case 0x1E:
    case 0x1F:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

// ---------------------------------------------------------------------------------------------
// Construction

Value::Value(std::string s) : v_(std::make_shared<const std::string>(std::move(s))) {}

Value Value::undefined(std::string message) {
  return Value(Undefined{std::make_shared<const std::string>(std::move(message))});
}

Value Value::list(std::vector<Value> items, bool tuple) {
  auto data = std::make_shared<ListData>();
  uint32_t depth = 0;
  for (const auto& v : items) depth = std::max(depth, v.depth());
  if (depth + 1 > kMaxValueDepth) fail_value("value nested deeper than {} levels", kMaxValueDepth);
  data->items = std::move(items);
  data->tuple = tuple;
  data->depth = depth + 1;
  return Value(std::shared_ptr<const ListData>(std::move(data)));
}

Value Value::dict(std::vector<std::pair<Value, Value>> items) {
  auto data = std::make_shared<DictData>();
  uint32_t depth = 0;
  for (auto& [k, v] : items) {
    switch (k.kind()) {
      case Kind::List:
      case Kind::Dict:
      case Kind::Namespace:
      case Kind::Undefined:
        fail_value("unhashable type: '{}'", k.type_name());
      default:
        break;
    }
    depth = std::max({depth, v.depth(), k.depth()});
    bool replaced = false;
    for (auto& existing : data->items) {
      if (equals(existing.first, k)) {  // Python keeps the first key and the last value
        existing.second = std::move(v);
        replaced = true;
        break;
      }
    }
    if (!replaced) data->items.emplace_back(std::move(k), std::move(v));
  }
  if (depth + 1 > kMaxValueDepth) fail_value("value nested deeper than {} levels", kMaxValueDepth);
  data->depth = depth + 1;
  return Value(std::shared_ptr<const DictData>(std::move(data)));
}

Value Value::from_json(const nlohmann::ordered_json& json) {
  // Depth is checked by Value::list / Value::dict as the recursion unwinds; the recursion
  // itself is bounded first so a hostile file cannot exhaust the stack.
  struct Walker {
    Value walk(const nlohmann::ordered_json& j, uint32_t level) {
      if (level > kMaxValueDepth) fail_value("JSON nested deeper than {} levels", kMaxValueDepth);
      switch (j.type()) {
        case nlohmann::json::value_t::null:
          return Value::none();
        case nlohmann::json::value_t::boolean:
          return Value(j.get<bool>());
        case nlohmann::json::value_t::number_integer:
          return Value(j.get<int64_t>());
        case nlohmann::json::value_t::number_unsigned: {
          const auto u = j.get<uint64_t>();
          if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
          return Value(static_cast<int64_t>(u));
        }
        case nlohmann::json::value_t::number_float:
          return Value(j.get<double>());
        case nlohmann::json::value_t::string:
          return Value(j.get<std::string>());
        case nlohmann::json::value_t::array: {
          std::vector<Value> items;
          items.reserve(j.size());
          for (const auto& e : j) items.push_back(walk(e, level + 1));
          return Value::list(std::move(items));
        }
        case nlohmann::json::value_t::object: {
          std::vector<std::pair<Value, Value>> items;
          items.reserve(j.size());
          for (const auto& [k, v] : j.items()) items.emplace_back(Value(k), walk(v, level + 1));
          return Value::dict(std::move(items));
        }
        default:
          fail_value("unsupported JSON value (binary)");
      }
    }
  };
  return Walker{}.walk(json, 0);
}

// ---------------------------------------------------------------------------------------------
// Queries

const std::vector<Value>& Value::items() const { return list().items; }

const std::string& Value::undefined_message() const {
  static const std::string kEmpty = "value is undefined";
  const auto& u = std::get<Undefined>(v_);
  return u.message ? *u.message : kEmpty;
}

double Value::to_double() const {
  switch (kind()) {
    case Kind::Int:
      return static_cast<double>(as_int());
    case Kind::Float:
      return as_float();
    case Kind::Bool:
      return as_bool() ? 1.0 : 0.0;
    default:
      return 0.0;
  }
}

uint32_t Value::depth() const {
  switch (kind()) {
    case Kind::List:
      return list().depth;
    case Kind::Dict:
      return dict().depth;
    case Kind::Namespace: {
      uint32_t d = 0;
      for (const auto& [k, v] : ns().attrs) d = std::max(d, v.depth());
      return d + 1;
    }
    default:
      return 0;
  }
}

bool Value::contains_namespace() const {
  switch (kind()) {
    case Kind::Namespace:
      return true;
    case Kind::Object:
      return true;  // a loop object can hold the items it walks
    case Kind::List:
      return std::any_of(items().begin(), items().end(),
                         [](const Value& v) { return v.contains_namespace(); });
    case Kind::Dict:
      for (const auto& [k, v] : dict().items) {
        if (v.contains_namespace()) return true;
      }
      return false;
    default:
      return false;
  }
}

bool Value::truthy() const {
  switch (kind()) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return as_bool();
    case Kind::Int:
      return as_int() != 0;
    case Kind::Float:
      return as_float() != 0.0;
    case Kind::String:
      return !str().empty();
    case Kind::List:
      return !items().empty();
    case Kind::Dict:
      return !dict().items.empty();
    default:
      return true;
  }
}

std::string Value::type_name() const {
  switch (kind()) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::List:
      return list().tuple ? "tuple" : "list";
    case Kind::Dict:
      return "dict";
    case Kind::Namespace:
      return "Namespace";
    case Kind::Function:
      return "function";
    case Kind::Object:
      return "object";
  }
  return "object";
}

std::string Value::object_type_repr() const {
  if (is_none()) return "None";
  return type_name() + " object";
}

const Value* DictData::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.str()));
  for (const auto& [k, v] : items) {
    if (equals(k, key)) return &v;
  }
  return nullptr;
}

const Value* DictData::find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k.is_string() && k.str() == key) return &v;
  }
  return nullptr;
}

const Value* NamespaceData::find(std::string_view name) const {
  for (const auto& [k, v] : attrs) {
    if (k == name) return &v;
  }
  return nullptr;
}

void NamespaceData::set(std::string_view name, Value value) {
  if (value.contains_namespace()) {
    fail_value("cannot store a namespace or loop object inside a namespace");
  }
  if (value.depth() + 1 > kMaxValueDepth) {
    fail_value("value nested deeper than {} levels", kMaxValueDepth);
  }
  for (auto& [k, v] : attrs) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  attrs.emplace_back(std::string(name), std::move(value));
}

// ---------------------------------------------------------------------------------------------
// Printing

std::string float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0) return std::signbit(value) ? "-0.0" : "0.0";
  char buf[64];
  // Shortest digits that round-trip, as Python's repr picks them; only the layout differs.
  const auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  const bool negative = sci.front() == '-';
  if (negative) sci.remove_prefix(1);
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+'), sci.data() + sci.size(),
                  exponent);
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out += digits[0];
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  } else if (exponent < 0) {
    out += "0.";
    out.append(static_cast<size_t>(-exponent - 1), '0');
    out += digits;
  } else {
    const auto int_digits = static_cast<size_t>(exponent) + 1;
    if (digits.size() <= int_digits) {
      out += digits;
      out.append(int_digits - digits.size(), '0');
      out += ".0";
    } else {
      out.append(digits, 0, int_digits);
      out += '.';
      out.append(digits, int_digits);
    }
  }
  return out;
}

namespace {

bool py_printable(uint32_t cp) {
  if (cp == ' ') return true;
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp < 0x7F) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

void append_string_repr(std::string& out, std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  out.push_back(quote);
  for (size_t i = 0; i < s.size();) {
    size_t next;
    const uint32_t cp = utf8_decode(s, i, &next);
    if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp & kUtf8StrayByte) {
      out += fmt::format("\\x{:02x}", cp & 0xFF);  // Python's surrogateescape shows it so
    } else if (!py_printable(cp)) {
      if (cp < 0x100) {
        out += fmt::format("\\x{:02x}", cp);
      } else if (cp < 0x10000) {
        out += fmt::format("\\u{:04x}", cp);
      } else {
        out += fmt::format("\\U{:08x}", cp);
      }
    } else {
      out.append(s.substr(i, next - i));
    }
    i = next;
  }
  out.push_back(quote);
}

void append_repr(std::string& out, const Value& v);

void append_str_or_repr(std::string& out, const Value& v, bool repr) {
  using Kind = Value::Kind;
  switch (v.kind()) {
    case Kind::Undefined:
      return;
    case Kind::None:
      out += "None";
      return;
    case Kind::Bool:
      out += v.as_bool() ? "True" : "False";
      return;
    case Kind::Int:
      out += fmt::format("{}", v.as_int());
      return;
    case Kind::Float:
      out += float_repr(v.as_float());
      return;
    case Kind::String:
      if (repr) {
        append_string_repr(out, v.str());
      } else {
        out += v.str();
      }
      return;
    case Kind::List: {
      const bool tuple = v.list().tuple;
      out.push_back(tuple ? '(' : '[');
      const auto& items = v.items();
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        append_repr(out, items[i]);
      }
      if (tuple && items.size() == 1) out.push_back(',');
      out.push_back(tuple ? ')' : ']');
      return;
    }
    case Kind::Dict: {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, val] : v.dict().items) {
        if (!first) out += ", ";
        first = false;
        append_repr(out, k);
        out += ": ";
        append_repr(out, val);
      }
      out.push_back('}');
      return;
    }
    case Kind::Namespace: {
      out += "<Namespace {";
      bool first = true;
      for (const auto& [k, val] : v.ns().attrs) {
        if (!first) out += ", ";
        first = false;
        append_string_repr(out, k);
        out += ": ";
        append_repr(out, val);
      }
      out += "}>";
      return;
    }
    case Kind::Function:
      out += fmt::format("<function {}>", v.function().name);
      return;
    case Kind::Object:
      out += v.object().repr();
      return;
  }
}

void append_repr(std::string& out, const Value& v) {
  if (v.is_undefined()) return;  // repr of Undefined is "Undefined" in Jinja; never printed here
  append_str_or_repr(out, v, true);
}

}  // namespace

void append_str(std::string& out, const Value& value) { append_str_or_repr(out, value, false); }

std::string to_str(const Value& value) {
  std::string out;
  append_str(out, value);
  return out;
}

std::string to_repr(const Value& value) {
  std::string out;
  append_repr(out, value);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Equality and ordering

bool equals(const Value& a, const Value& b) {
  using Kind = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.to_double() == b.to_double();
    const int64_t x = a.is_bool() ? a.as_bool() : a.as_int();
    const int64_t y = b.is_bool() ? b.as_bool() : b.as_int();
    return x == y;
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::Undefined:
    case Kind::None:
      return true;
    case Kind::String:
      return a.str() == b.str();
    case Kind::List: {
      if (a.list().tuple != b.list().tuple) return false;
      const auto& x = a.items();
      const auto& y = b.items();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equals(x[i], y[i])) return false;
      }
      return true;
    }
    case Kind::Dict: {
      const auto& x = a.dict().items;
      const auto& y = b.dict();
      if (x.size() != y.items.size()) return false;
      for (const auto& [k, v] : x) {
        const Value* other = y.find(k);
        if (!other || !equals(v, *other)) return false;
      }
      return true;
    }
    case Kind::Namespace:
      return &a.ns() == &b.ns();
    case Kind::Function:
      return &a.function() == &b.function();
    case Kind::Object:
      return &a.object() == &b.object();
    default:
      return false;
  }
}

int compare(const Value& a, const Value& b, std::string_view op) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      const double x = a.to_double(), y = b.to_double();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    const int64_t x = a.is_bool() ? a.as_bool() : a.as_int();
    const int64_t y = b.is_bool() ? b.as_bool() : b.as_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    // Byte order of UTF-8 is code point order, which is what Python compares.
    const int c = a.str().compare(b.str());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list() && a.list().tuple == b.list().tuple) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equals(x[i], y[i])) return compare(x[i], y[i], op);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  fail_value("'{}' not supported between instances of '{}' and '{}'", op, a.type_name(),
             b.type_name());
}

// ---------------------------------------------------------------------------------------------
// JSON (Python's json.dumps)

namespace {

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    size_t next;
    const uint32_t cp = utf8_decode(s, i, &next);
    switch (cp) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (cp < 0x20 || (ensure_ascii && cp == 0x7F)) {
          out += fmt::format("\\u{:04x}", cp);
        } else if (ensure_ascii && cp >= 0x80) {
          const uint32_t c = cp & kUtf8StrayByte ? 0xDC00 | (cp & 0xFF) : cp;  // surrogateescape
          if (c >= 0x10000) {
            const uint32_t v = c - 0x10000;
            out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
          } else {
            out += fmt::format("\\u{:04x}", c);
          }
        } else {
          out.append(s.substr(i, next - i));
        }
    }
    i = next;
  }
  out.push_back('"');
}

void append_json_float(std::string& out, double f) {
  if (std::isnan(f)) {
    out += "NaN";
  } else if (std::isinf(f)) {
    out += f > 0 ? "Infinity" : "-Infinity";
  } else {
    out += float_repr(f);
  }
}

struct JsonWriter {
  const JsonOptions& options;
  std::string& out;

  void newline(int level) {
    out.push_back('\n');
    for (int i = 0; i < level; ++i) out += options.indent;
  }

  std::string key_text(const Value& k) {
    switch (k.kind()) {
      case Value::Kind::String:
        return k.str();
      case Value::Kind::Int:
        return fmt::format("{}", k.as_int());
      case Value::Kind::Bool:
        return k.as_bool() ? "true" : "false";
      case Value::Kind::None:
        return "null";
      case Value::Kind::Float: {
        std::string s;
        append_json_float(s, k.as_float());
        return s;
      }
      default:
        fail_value("keys must be str, int, float, bool or None, not {}", k.type_name());
    }
  }

  void write(const Value& v, int level) {
    using Kind = Value::Kind;
    switch (v.kind()) {
      case Kind::None:
        out += "null";
        return;
      case Kind::Bool:
        out += v.as_bool() ? "true" : "false";
        return;
      case Kind::Int:
        out += fmt::format("{}", v.as_int());
        return;
      case Kind::Float:
        append_json_float(out, v.as_float());
        return;
      case Kind::String:
        append_json_string(out, v.str(), options.ensure_ascii);
        return;
      case Kind::List: {
        const auto& items = v.items();
        if (items.empty()) {
          out += "[]";
          return;
        }
        out.push_back('[');
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += options.item_separator;
          if (options.has_indent) newline(level + 1);
          write(items[i], level + 1);
        }
        if (options.has_indent) newline(level);
        out.push_back(']');
        return;
      }
      case Kind::Dict: {
        std::vector<const std::pair<Value, Value>*> items;
        for (const auto& item : v.dict().items) items.push_back(&item);
        if (items.empty()) {
          out += "{}";
          return;
        }
        if (options.sort_keys) {
          std::stable_sort(items.begin(), items.end(), [](const auto* x, const auto* y) {
            return compare(x->first, y->first, "<") < 0;
          });
        }
        out.push_back('{');
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += options.item_separator;
          if (options.has_indent) newline(level + 1);
          append_json_string(out, key_text(items[i]->first), options.ensure_ascii);
          out += options.key_separator;
          write(items[i]->second, level + 1);
        }
        if (options.has_indent) newline(level);
        out.push_back('}');
        return;
      }
      default:
        fail_value("Object of type {} is not JSON serializable", v.type_name());
    }
  }
};

}  // namespace

std::string to_json(const Value& value, const JsonOptions& options) {
  std::string out;
  JsonWriter{options, out}.write(value, 0);
  return out;
}

}  // namespace hh::jinja
