// Python semantics of the operators and lookups: attribute and item access with Jinja's
// fallbacks, slicing, arithmetic, `in`, iteration.
#include <cmath>
#include <limits>

#include "text/jinja_interp.h"

namespace hh::jinja {

namespace {

// Code-point boundaries of a string: offsets[i] is where code point i starts; offsets.back() is
// the string's size.
std::vector<size_t> code_point_offsets(std::string_view s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size(); i = utf8_next(s, i)) offsets.push_back(i);
  offsets.push_back(s.size());
  return offsets;
}

bool is_index(const Value& v) { return v.is_int() || v.is_bool(); }
int64_t index_value(const Value& v) { return v.is_bool() ? v.as_bool() : v.as_int(); }

Value no_attribute(const Value& obj, std::string_view name) {
  return Value::undefined(fmt::format("'{}' has no attribute '{}'", obj.object_type_repr(), name));
}

// Attributes that exist but that the immutable sandbox refuses (they would mutate).
bool is_unsafe_method(const Value& obj, std::string_view name) {
  static constexpr std::string_view kList[] = {"append", "extend",  "insert", "pop",
                                               "remove", "reverse", "sort",   "clear"};
  static constexpr std::string_view kDict[] = {"pop", "popitem", "update", "setdefault", "clear"};
  if (obj.is_list() && !obj.list().tuple) {
    for (auto n : kList) {
      if (n == name) return true;
    }
  }
  if (obj.is_dict()) {
    for (auto n : kDict) {
      if (n == name) return true;
    }
  }
  return false;
}

Value bound_method(const Value& obj, std::string_view name) {
  auto f = std::make_shared<Function>();
  f->name = fmt::format("{}.{}", obj.type_name(), name);
  f->call = [obj, method = std::string(name)](Interpreter& in, CallArgs& args) {
    auto result = call_method(in, obj, method, args);
    return result ? std::move(*result) : Value();
  };
  return Value(std::shared_ptr<const Function>(std::move(f)));
}

}  // namespace

Value get_attr(const Value& obj, std::string_view name) {
  switch (obj.kind()) {
    case Value::Kind::Undefined:
      fail_value("{}", obj.undefined_message());
    case Value::Kind::Namespace: {
      const Value* v = obj.ns().find(name);
      if (v) return *v;
      return Value::undefined(fmt::format("'Namespace object' has no attribute '{}'", name));
    }
    case Value::Kind::Object:
      return obj.object().get_attr(name);
    default:
      break;
  }
  if (!name.empty() && name[0] == '_' && !obj.is_dict()) return no_attribute(obj, name);
  if (is_unsafe_method(obj, name)) {
    return Value::undefined(
        fmt::format("access to attribute '{}' of '{}' object is unsafe.", name, obj.type_name()));
  }
  if (has_method(obj, name)) return bound_method(obj, name);
  if (obj.is_dict()) {
    const Value* v = obj.dict().find(name);
    if (v) return *v;
  }
  return no_attribute(obj, name);
}

Value get_item(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::Undefined:
      fail_value("{}", obj.undefined_message());
    case Value::Kind::Dict: {
      const Value* v = obj.dict().find(key);
      if (v) return *v;
      break;
    }
    case Value::Kind::List:
      if (is_index(key)) {
        const auto& items = obj.items();
        int64_t i = index_value(key);
        if (i < 0) i += static_cast<int64_t>(items.size());
        if (i >= 0 && i < static_cast<int64_t>(items.size())) return items[static_cast<size_t>(i)];
      }
      break;
    case Value::Kind::String:
      if (is_index(key)) {
        const std::string& s = obj.str();
        const auto offsets = code_point_offsets(s);
        const auto n = static_cast<int64_t>(offsets.size() - 1);
        int64_t i = index_value(key);
        if (i < 0) i += n;
        if (i >= 0 && i < n) {
          const auto k = static_cast<size_t>(i);
          return Value(s.substr(offsets[k], offsets[k + 1] - offsets[k]));
        }
      }
      break;
    case Value::Kind::Namespace:
    case Value::Kind::Object:
      break;
    default:
      break;
  }
  // Jinja falls back to the attribute of that name (d['items'] is the method when no key).
  if (key.is_string()) return get_attr(obj, key.str());
  return Value::undefined(
      fmt::format("{} has no element {}", obj.object_type_repr(), to_repr(key)));
}

Value slice(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
  if (obj.is_undefined()) fail_value("{}", obj.undefined_message());
  // Jinja compiles a slice to a plain Python subscript (no fallback to undefined).
  if (obj.is_dict()) fail_value("unhashable type: 'slice'");
  if (!obj.is_list() && !obj.is_string()) {
    fail_value("'{}' object is not subscriptable", obj.type_name());
  }
  auto part = [](const Value& v) -> std::optional<int64_t> {
    if (v.is_none() || v.is_undefined()) return std::nullopt;
    if (!is_index(v)) fail_value("slice indices must be integers or None");
    return index_value(v);
  };
  const std::optional<int64_t> start = part(start_v), stop = part(stop_v), step_opt = part(step_v);
  const int64_t step = step_opt.value_or(1);
  if (step == 0) fail_value("slice step cannot be zero");

  std::vector<size_t> offsets;
  int64_t length;
  if (obj.is_string()) {
    offsets = code_point_offsets(obj.str());
    length = static_cast<int64_t>(offsets.size() - 1);
  } else {
    length = static_cast<int64_t>(obj.items().size());
  }
  // Python's PySlice_AdjustIndices.
  auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += length;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= length) {
      x = step < 0 ? length - 1 : length;
    }
    return x;
  };
  const int64_t lo = adjust(start, step < 0 ? length - 1 : 0);
  const int64_t hi = adjust(stop, step < 0 ? -1 : length);
  std::vector<int64_t> picks;
  if (step > 0) {
    for (int64_t i = lo; i < hi; i += step) picks.push_back(i);
  } else {
    for (int64_t i = lo; i > hi; i += step) picks.push_back(i);
  }
  if (obj.is_string()) {
    const std::string& s = obj.str();
    std::string out;
    if (step == 1 && !picks.empty()) {
      out = s.substr(offsets[static_cast<size_t>(lo)],
                     offsets[static_cast<size_t>(hi)] - offsets[static_cast<size_t>(lo)]);
    } else {
      for (int64_t i : picks) {
        const auto k = static_cast<size_t>(i);
        out.append(s, offsets[k], offsets[k + 1] - offsets[k]);
      }
    }
    return Value(std::move(out));
  }
  std::vector<Value> items;
  items.reserve(picks.size());
  for (int64_t i : picks) items.push_back(obj.items()[static_cast<size_t>(i)]);
  return Value::list(std::move(items), obj.list().tuple);
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return {};
    case Value::Kind::List:
      return v.items();
    case Value::Kind::Dict: {
      std::vector<Value> keys;
      keys.reserve(v.dict().items.size());
      for (const auto& [k, val] : v.dict().items) keys.push_back(k);
      return keys;
    }
    case Value::Kind::String: {
      std::vector<Value> chars;
      const std::string& s = v.str();
      for (size_t i = 0; i < s.size();) {
        const size_t next = utf8_next(s, i);
        chars.emplace_back(s.substr(i, next - i));
        i = next;
      }
      return chars;
    }
    default:
      fail_value("'{}' object is not iterable", v.type_name());
  }
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::String:
      if (!item.is_string()) {
        fail_value("'in <string>' requires string as left operand, not {}", item.type_name());
      }
      return container.str().find(item.str()) != std::string::npos;
    case Value::Kind::List:
      for (const auto& v : container.items()) {
        if (equals(v, item)) return true;
      }
      return false;
    case Value::Kind::Dict:
      if (item.is_list() || item.is_dict() || item.is_namespace()) {
        fail_value("unhashable type: '{}'", item.type_name());
      }
      return container.dict().find(item) != nullptr;
    case Value::Kind::Undefined:
      return false;  // Undefined iterates as empty
    default:
      fail_value("argument of type '{}' is not iterable", container.type_name());
  }
}

namespace {

[[noreturn]] void unsupported(std::string_view op, const Value& a, const Value& b) {
  fail_value("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name());
}

int64_t as_i64(const Value& v) { return v.is_bool() ? v.as_bool() : v.as_int(); }

Value repeat(Interpreter& in, const Value& seq, int64_t times) {
  if (times <= 0) return seq.is_string() ? Value("") : Value::list({}, seq.list().tuple);
  if (seq.is_string()) {
    const size_t unit = seq.str().size();
    if (unit && static_cast<uint64_t>(times) > in.limits().max_output_bytes / unit + 1) {
      in.check_size(SIZE_MAX);
    }
    in.check_size(unit * static_cast<size_t>(times));
    in.step(unit * static_cast<uint64_t>(times) / 64);
    std::string out;
    out.reserve(unit * static_cast<size_t>(times));
    for (int64_t i = 0; i < times; ++i) out += seq.str();
    return Value(std::move(out));
  }
  const auto& items = seq.items();
  if (!items.empty() && static_cast<uint64_t>(times) > in.limits().max_steps / items.size()) {
    in.step(UINT64_MAX / 2);
  }
  in.step(items.size() * static_cast<uint64_t>(times));
  std::vector<Value> out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), seq.list().tuple);
}

double float_mod(double x, double y) {
  double m = std::fmod(x, y);
  if (m != 0 && ((y < 0) != (m < 0))) m += y;
  if (m == 0) m = std::copysign(0.0, y);
  return m;
}

}  // namespace

Value binary_op(Interpreter& in, BinOp op, const Value& a, const Value& b) {
  if (a.is_undefined()) fail_value("{}", a.undefined_message());
  if (b.is_undefined()) fail_value("{}", b.undefined_message());
  const bool ints = (a.is_int() || a.is_bool()) && (b.is_int() || b.is_bool());
  const bool nums = a.is_number() && b.is_number();
  int64_t r;
  switch (op) {
    case BinOp::Add:
      if (ints) {
        if (__builtin_add_overflow(as_i64(a), as_i64(b), &r)) fail_value("integer overflow");
        return Value(r);
      }
      if (nums) return Value(a.to_double() + b.to_double());
      if (a.is_string() && b.is_string()) {
        in.check_size(a.str().size() + b.str().size());
        in.step(1 + (a.str().size() + b.str().size()) / 256);
        std::string s;
        s.reserve(a.str().size() + b.str().size());
        s += a.str();
        s += b.str();
        return Value(std::move(s));
      }
      if (a.is_list() && b.is_list() && a.list().tuple == b.list().tuple) {
        in.step(1 + a.items().size() + b.items().size());
        std::vector<Value> items = a.items();
        items.insert(items.end(), b.items().begin(), b.items().end());
        return Value::list(std::move(items), a.list().tuple);
      }
      if (a.is_string()) {
        fail_value("can only concatenate str (not \"{}\") to str", b.type_name());
      }
      unsupported("+", a, b);
    case BinOp::Sub:
      if (ints) {
        if (__builtin_sub_overflow(as_i64(a), as_i64(b), &r)) fail_value("integer overflow");
        return Value(r);
      }
      if (nums) return Value(a.to_double() - b.to_double());
      unsupported("-", a, b);
    case BinOp::Mul:
      if (ints) {
        if (__builtin_mul_overflow(as_i64(a), as_i64(b), &r)) fail_value("integer overflow");
        return Value(r);
      }
      if (nums) return Value(a.to_double() * b.to_double());
      if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) {
        return repeat(in, a, as_i64(b));
      }
      if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) {
        return repeat(in, b, as_i64(a));
      }
      unsupported("*", a, b);
    case BinOp::Div:
      if (!nums) unsupported("/", a, b);
      if (b.to_double() == 0) fail_value("division by zero");
      return Value(a.to_double() / b.to_double());
    case BinOp::FloorDiv:
      if (!nums) unsupported("//", a, b);
      if (ints) {
        const int64_t x = as_i64(a), y = as_i64(b);
        if (y == 0) fail_value("integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) fail_value("integer overflow");
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
        return Value(q);
      }
      if (b.to_double() == 0) fail_value("float floor division by zero");
      return Value(std::floor(a.to_double() / b.to_double()));
    case BinOp::Mod:
      if (a.is_string()) fail_value("printf-style string formatting (%) is not supported");
      if (!nums) unsupported("%", a, b);
      if (ints) {
        const int64_t x = as_i64(a), y = as_i64(b);
        if (y == 0) fail_value("integer division or modulo by zero");
        if (y == -1) return Value(int64_t{0});
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return Value(m);
      }
      if (b.to_double() == 0) fail_value("float modulo");
      return Value(float_mod(a.to_double(), b.to_double()));
    case BinOp::Pow:
      if (!nums) unsupported("** or pow()", a, b);
      if (ints && as_i64(b) >= 0) {
        int64_t base = as_i64(a), e = as_i64(b), result = 1;
        while (e > 0) {
          if ((e & 1) && __builtin_mul_overflow(result, base, &result)) {
            fail_value("integer overflow");
          }
          e >>= 1;
          if (e > 0 && __builtin_mul_overflow(base, base, &base)) fail_value("integer overflow");
        }
        return Value(result);
      }
      {
        const double x = a.to_double(), y = b.to_double();
        if (x == 0 && y < 0) fail_value("0.0 cannot be raised to a negative power");
        const double p = std::pow(x, y);
        if (std::isnan(p) && !std::isnan(x) && !std::isnan(y)) {
          fail_value("complex results are not supported");
        }
        return Value(p);
      }
  }
  unsupported("?", a, b);
}

}  // namespace hh::jinja
