#pragma once
// Values of the Jinja engine, with Python semantics: what `{{ x }}` prints is Python's str(x),
// `==` is Python's equality (1 == 1.0 == true), strings are sequences of code points, dicts keep
// insertion order. Containers are shared and immutable once built (the sandboxed environment
// transformers uses forbids mutating them); only a namespace() can change after creation.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "text/utf8.h"
#include "util/error.h"

namespace hh::jinja {

// A runtime error without a position yet; the evaluator adds the line and column of the
// expression that raised it and rethrows it as a TemplateError.
class ValueError : public Error {
 public:
  using Error::Error;
};

// A template that does not parse. The message reads "<name>:<line>:<column>: <what>".
class TemplateSyntaxError : public FormatError {
 public:
  TemplateSyntaxError(const std::string& message, uint32_t line, uint32_t column)
      : FormatError(message), line(line), column(column) {}
  uint32_t line, column;
};

// A template that fails while rendering: raise_exception(), an unknown filter or test, a call of
// something that is not callable, an undefined value used in arithmetic, a limit reached. The
// message reads "<name>:<line>:<column>: <what>".
class TemplateRuntimeError : public Error {
 public:
  TemplateRuntimeError(const std::string& message, uint32_t line, uint32_t column)
      : Error(message), line(line), column(column) {}
  uint32_t line, column;
};

template <typename... Args>
[[noreturn]] void fail_value(fmt::format_string<Args...> format, Args&&... args) {
  throw ValueError(fmt::format(format, std::forward<Args>(args)...));
}

class Value;
struct ListData;
struct DictData;
struct NamespaceData;
struct Function;
class Object;

// Jinja2's default Undefined: prints as "", is falsy, iterates as empty, and fails with
// `message` when used in arithmetic, called, or asked for an attribute.
struct Undefined {
  std::shared_ptr<const std::string> message;  // e.g. "'x' is undefined"
};
struct None {};

class Value {
 public:
  enum class Kind : uint8_t {
    Undefined,
    None,
    Bool,
    Int,
    Float,
    String,
    List,
    Dict,
    Namespace,
    Function,
    Object
  };

  Value() : v_(Undefined{}) {}
  static Value undefined(std::string message);
  static Value none() { return Value(None{}); }
  Value(bool b) : v_(b) {}                                           // NOLINT(runtime/explicit)
  Value(int64_t i) : v_(i) {}                                        // NOLINT
  Value(int i) : v_(static_cast<int64_t>(i)) {}                      // NOLINT
  Value(double f) : v_(f) {}                                         // NOLINT
  Value(std::string s);                                              // NOLINT
  Value(std::string_view s) : Value(std::string(s)) {}               // NOLINT
  Value(const char* s) : Value(std::string(s)) {}                    // NOLINT
  Value(std::shared_ptr<const std::string> s) : v_(std::move(s)) {}  // NOLINT
  Value(std::shared_ptr<const ListData> l) : v_(std::move(l)) {}     // NOLINT
  Value(std::shared_ptr<const DictData> d) : v_(std::move(d)) {}     // NOLINT
  Value(std::shared_ptr<NamespaceData> n) : v_(std::move(n)) {}      // NOLINT
  Value(std::shared_ptr<const Function> f) : v_(std::move(f)) {}     // NOLINT
  Value(std::shared_ptr<Object> o) : v_(std::move(o)) {}             // NOLINT

  static Value list(std::vector<Value> items, bool tuple = false);
  static Value dict(std::vector<std::pair<Value, Value>> items);  // later duplicate keys win
  static Value from_json(const nlohmann::ordered_json& json);

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::Undefined; }
  bool is_none() const { return kind() == Kind::None; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }
  bool is_float() const { return kind() == Kind::Float; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }  // Python's Number
  bool is_string() const { return kind() == Kind::String; }
  bool is_list() const { return kind() == Kind::List; }
  bool is_dict() const { return kind() == Kind::Dict; }
  bool is_namespace() const { return kind() == Kind::Namespace; }
  bool is_function() const { return kind() == Kind::Function; }
  bool is_object() const { return kind() == Kind::Object; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  const std::string& str() const { return *std::get<std::shared_ptr<const std::string>>(v_); }
  const std::shared_ptr<const std::string>& str_ptr() const {
    return std::get<std::shared_ptr<const std::string>>(v_);
  }
  const ListData& list() const { return *std::get<std::shared_ptr<const ListData>>(v_); }
  const std::vector<Value>& items() const;  // a List's elements
  const DictData& dict() const { return *std::get<std::shared_ptr<const DictData>>(v_); }
  NamespaceData& ns() const { return *std::get<std::shared_ptr<NamespaceData>>(v_); }
  const Function& function() const { return *std::get<std::shared_ptr<const Function>>(v_); }
  Object& object() const { return *std::get<std::shared_ptr<Object>>(v_); }
  const std::string& undefined_message() const;

  // Numeric value of an Int, Float or Bool (for mixed arithmetic and comparisons).
  double to_double() const;
  // Nesting depth of containers (a scalar is 0); bounded so that printing, comparing and
  // freeing values never recurse without limit.
  uint32_t depth() const;
  // True when a namespace is reachable from this value (such values may not be stored in a
  // namespace, which rules out reference cycles).
  bool contains_namespace() const;

  bool truthy() const;
  std::string type_name() const;  // Python's type name: "str", "dict", "NoneType", ...
  // Jinja2's object_type_repr, used in undefined messages: "dict object", "None".
  std::string object_type_repr() const;

 private:
  using Variant = std::variant<Undefined, None, bool, int64_t, double,
                               std::shared_ptr<const std::string>, std::shared_ptr<const ListData>,
                               std::shared_ptr<const DictData>, std::shared_ptr<NamespaceData>,
                               std::shared_ptr<const Function>, std::shared_ptr<Object>>;
  explicit Value(None n) : v_(n) {}
  explicit Value(Undefined u) : v_(std::move(u)) {}
  Variant v_;
};

// The deepest nesting of lists, dicts and namespaces a value may have.
inline constexpr uint32_t kMaxValueDepth = 256;

struct ListData {
  std::vector<Value> items;
  bool tuple = false;  // printed as (a, b) instead of [a, b]
  uint32_t depth = 1;
};

struct DictData {
  std::vector<std::pair<Value, Value>> items;  // insertion order, unique keys
  uint32_t depth = 1;
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
};

struct NamespaceData {
  std::vector<std::pair<std::string, Value>> attrs;
  const Value* find(std::string_view name) const;
  void set(std::string_view name, Value value);  // ValueError when it would nest namespaces
};

// Arguments of a call: positional, then keyword in the order written.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

class Interpreter;

// A callable value: a global function (range, namespace, raise_exception...), a bound method
// ('a'.upper) or a macro.
struct Function {
  std::string name;
  std::function<Value(Interpreter&, CallArgs&)> call;
};

// Attribute-bearing helper objects (loop, cycler, joiner).
class Object {
 public:
  virtual ~Object() = default;
  virtual Value get_attr(std::string_view name) = 0;  // Undefined when absent
  virtual std::string repr() const = 0;
};

// Python's str(value); `repr` gives repr(value) (strings quoted).
std::string to_str(const Value& value);
std::string to_repr(const Value& value);
void append_str(std::string& out, const Value& value);
// Python's float repr: shortest round-trip digits, "1.0", "1e-05", "1e+16", "inf", "nan".
std::string float_repr(double value);

// Python's ==.
bool equals(const Value& a, const Value& b);
// Python's <, <=, >, >= for numbers, strings and lists; ValueError for other types.
int compare(const Value& a, const Value& b, std::string_view op);

struct JsonOptions {
  bool ensure_ascii = false;
  std::string indent;  // used only when has_indent
  bool has_indent = false;
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};
// Python's json.dumps(value, ...) with the given options; ValueError for values JSON cannot
// hold (undefined, namespace, functions).
std::string to_json(const Value& value, const JsonOptions& options);

// UTF-8 helpers: strings are sequences of code points; a byte that is not part of valid UTF-8
// counts as one code point of its own (kUtf8StrayByte | byte), so no input is rejected; such
// values go back out unchanged through append_utf8 (text/utf8.h).
size_t utf8_next(std::string_view s, size_t pos);  // position of the next code point
size_t utf8_length(std::string_view s);
uint32_t utf8_decode(std::string_view s, size_t pos, size_t* next);
bool is_py_space(uint32_t cp);  // Python's str.isspace()

}  // namespace hh::jinja
