#pragma once
// The tree-walking evaluator behind Template::render, and the built-in filters, tests, globals
// and methods it dispatches to (jinja_builtins.cpp, jinja_methods.cpp).
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text/jinja.h"
#include "text/jinja_ast.h"
#include "text/jinja_parser.h"

namespace hh::jinja {

// Variables of one frame. Jinja gives each loop iteration and each macro call a frame of its
// own; `if` blocks share their parent's.
struct Scope {
  std::shared_ptr<Scope> parent;
  std::vector<std::pair<std::string, Value>> vars;

  const Value* find(std::string_view name) const;
  void set(std::string_view name, Value value);
};

class Interpreter {
 public:
  Interpreter(const ParsedTemplate& tmpl, const RenderLimits& limits);
  std::string render(const Variables& variables);

  // Calls a callable value (function, macro, bound method); ValueError when not callable.
  Value call(const Value& callee, CallArgs& args);
  Value apply_filter(std::string_view name, const Value& input, CallArgs& args);
  bool apply_test(std::string_view name, const Value& input, CallArgs& args);
  // Spends `n` units of the step budget; ValueError when it runs out.
  void step(uint64_t n = 1);
  // ValueError when a string of `bytes` would pass the output limit.
  void check_size(size_t bytes) const;
  const RenderLimits& limits() const { return limits_; }

 private:
  enum class Flow { Normal, Break, Continue };
  Flow exec(const Body& body, std::string& out, const std::shared_ptr<Scope>& scope);
  Flow exec_stmt(const Stmt& s, std::string& out, const std::shared_ptr<Scope>& scope);
  Flow exec_for(const Stmt& s, std::string& out, const std::shared_ptr<Scope>& scope);
  void exec_set(const Stmt& s, std::string& out, const std::shared_ptr<Scope>& scope);
  void define_macro(const Stmt& s, const std::shared_ptr<Scope>& scope);
  Value call_macro(const Stmt& macro, const std::weak_ptr<Scope>& defined_in, CallArgs& args,
                   const Value* caller);
  std::string render_body(const Body& body, const std::shared_ptr<Scope>& parent);
  void append_output(std::string& out, std::string_view text) const;

  Value eval(const Expr& e, Scope& scope);
  Value eval_inner(const Expr& e, Scope& scope);
  Value eval_call(const Expr& e, Scope& scope);
  Value eval_compare(const Expr& e, Scope& scope);
  CallArgs eval_args(const Expr& e, Scope& scope, size_t first);
  [[noreturn]] void fail_at(uint32_t offset, const std::string& what) const;

  // Nesting of statements and expressions being evaluated, macro calls included; bounded so a
  // template never overflows the stack, whatever it nests.
  struct DepthGuard {
    Interpreter& in;
    explicit DepthGuard(Interpreter& interp);
    ~DepthGuard() { --in.depth_; }
  };

  const ParsedTemplate& tmpl_;
  RenderLimits limits_;
  uint32_t depth_ = 0;
  uint64_t steps_ = 0;
  uint32_t call_depth_ = 0;
  std::optional<Value> filter_block_input_;  // the body text inside {% filter %}
};

// --- helpers shared by the evaluator and the builtins -------------------------------------

// The elements a for loop or filter walks: list items, dict keys, string characters; nothing for
// undefined; ValueError for values that are not iterable.
std::vector<Value> iterate(const Value& v);
// Python's `item in container`.
bool contains(const Value& container, const Value& item);
// Jinja's attribute lookup (a.b): methods and safe attributes first, then items.
Value get_attr(const Value& obj, std::string_view name);
// Jinja's item lookup (a[b]): items first, then attributes for string keys.
Value get_item(const Value& obj, const Value& key);
// Python slicing of lists, tuples and strings (code points).
Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// Python arithmetic (+ - * / // % **) on numbers, strings and lists.
Value binary_op(Interpreter& in, BinOp op, const Value& a, const Value& b);

// Built-in method call (`'x'.upper()`, `d.items()`); nullopt when `obj` has no such method.
std::optional<Value> call_method(Interpreter& in, const Value& obj, std::string_view name,
                                 CallArgs& args);
// True when `obj.name` is a built-in method (so attribute access yields a bound method).
bool has_method(const Value& obj, std::string_view name);
// Jinja's global functions (range, dict, namespace, cycler, joiner); nullptr when unknown.
const Value* find_global(std::string_view name);

// Binds call arguments to named parameters (filters, tests, methods), Python style. Throws
// ValueError naming `what` for unexpected, duplicate or too many arguments.
std::vector<std::optional<Value>> bind_args(const CallArgs& args,
                                            std::initializer_list<std::string_view> params,
                                            std::string_view what);

// Python string operations on UTF-8 text (code points).
std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left,
                     bool right);
std::string py_lower(std::string_view s);
std::string py_upper(std::string_view s);
std::string py_title(std::string_view s);
std::string py_capitalize(std::string_view s);
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep,
                                  int64_t maxsplit);
std::string py_replace(std::string_view s, std::string_view old, std::string_view with,
                       int64_t count);
int64_t py_int(const Value& v);  // int(): ValueError when not convertible

}  // namespace hh::jinja
