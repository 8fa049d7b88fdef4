#include "text/jinja_interp.h"

#include "text/jinja_lexer.h"

namespace hh::jinja {

// ---------------------------------------------------------------------------------------------
// Template

Template Template::parse(std::string_view source, std::string name) {
  Template t;
  t.parsed_ = std::make_shared<const ParsedTemplate>(parse_template(source, std::move(name)));
  return t;
}

std::string Template::render(const Variables& variables, const RenderLimits& limits) const {
  Interpreter in(*parsed_, limits);
  return in.render(variables);
}

const std::string& Template::name() const { return parsed_->name; }

// ---------------------------------------------------------------------------------------------
// Scope

const Value* Scope::find(std::string_view name) const {
  for (const Scope* s = this; s; s = s->parent.get()) {
    for (const auto& [k, v] : s->vars) {
      if (k == name) return &v;
    }
  }
  return nullptr;
}

void Scope::set(std::string_view name, Value value) {
  for (auto& [k, v] : vars) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  vars.emplace_back(std::string(name), std::move(value));
}

namespace {

// Jinja's LoopContext: one per for loop, advanced in place each iteration.
class LoopObject : public Object, public std::enable_shared_from_this<LoopObject> {
 public:
  explicit LoopObject(std::vector<Value> items) : items_(std::move(items)) {}
  void advance(size_t index) { index_ = index; }
  size_t size() const { return items_.size(); }
  const Value& item(size_t i) const { return items_[i]; }

  Value get_attr(std::string_view name) override {
    const auto n = static_cast<int64_t>(items_.size());
    const auto i = static_cast<int64_t>(index_);
    if (name == "index") return Value(i + 1);
    if (name == "index0") return Value(i);
    if (name == "revindex") return Value(n - i);
    if (name == "revindex0") return Value(n - i - 1);
    if (name == "first") return Value(i == 0);
    if (name == "last") return Value(i == n - 1);
    if (name == "length") return Value(n);
    if (name == "depth") return Value(int64_t{1});
    if (name == "depth0") return Value(int64_t{0});
    if (name == "previtem") {
      return i > 0 ? items_[index_ - 1] : Value::undefined("there is no previous item");
    }
    if (name == "nextitem") {
      return i + 1 < n ? items_[index_ + 1] : Value::undefined("there is no next item");
    }
    if (name == "cycle" || name == "changed") {
      auto f = std::make_shared<Function>();
      f->name = fmt::format("loop.{}", name);
      auto self = shared_from_this();
      if (name == "cycle") {
        f->call = [self](Interpreter&, CallArgs& args) {
          if (args.positional.empty()) fail_value("no items for cycling given");
          return args.positional[self->index_ % args.positional.size()];
        };
      } else {
        f->call = [self](Interpreter&, CallArgs& args) {
          Value current = Value::list(args.positional);
          const bool changed = !self->last_changed_ || !equals(*self->last_changed_, current);
          self->last_changed_ = std::move(current);
          return Value(changed);
        };
      }
      return Value(std::shared_ptr<const Function>(std::move(f)));
    }
    return Value::undefined(fmt::format("'LoopContext object' has no attribute '{}'", name));
  }

  std::string repr() const override {
    return fmt::format("<LoopContext {}/{}>", index_ + 1, items_.size());
  }

 private:
  std::vector<Value> items_;
  size_t index_ = 0;
  std::optional<Value> last_changed_;
};

// Assigns `value` to one name or unpacks it over several (for a, b in ...).
void assign_targets(Scope& scope, const std::vector<std::string>& targets, const Value& value) {
  if (targets.size() == 1) {
    scope.set(targets[0], value);
    return;
  }
  if (!value.is_list() && !value.is_string()) {
    fail_value("cannot unpack non-iterable {} object", value.type_name());
  }
  const std::vector<Value> parts = iterate(value);
  if (parts.size() != targets.size()) {
    if (parts.size() > targets.size()) {
      fail_value("too many values to unpack (expected {})", targets.size());
    }
    fail_value("not enough values to unpack (expected {}, got {})", targets.size(), parts.size());
  }
  for (size_t i = 0; i < targets.size(); ++i) scope.set(targets[i], parts[i]);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Interpreter

Interpreter::Interpreter(const ParsedTemplate& tmpl, const RenderLimits& limits)
    : tmpl_(tmpl), limits_(limits) {}

std::string Interpreter::render(const Variables& variables) {
  auto root = std::make_shared<Scope>();
  root->vars = variables;
  std::string out;
  exec(tmpl_.body, out, root);
  return out;
}

void Interpreter::fail_at(uint32_t offset, const std::string& what) const {
  const SourcePos p = source_pos(tmpl_.source, offset);
  throw TemplateRuntimeError(fmt::format("{}:{}:{}: {}", tmpl_.name, p.line, p.column, what),
                             p.line, p.column);
}

// Python's own recursion limit is 1000 frames; a template here may nest about as deeply.
constexpr uint32_t kMaxEvalDepth = 1000;

Interpreter::DepthGuard::DepthGuard(Interpreter& interp) : in(interp) {
  if (++in.depth_ > kMaxEvalDepth) {
    --in.depth_;
    fail_value("template nested deeper than {} levels while rendering", kMaxEvalDepth);
  }
}

void Interpreter::step(uint64_t n) {
  steps_ += n;
  if (steps_ > limits_.max_steps) {
    fail_value("template exceeded its step budget of {} (runaway loop?)", limits_.max_steps);
  }
}

void Interpreter::check_size(size_t bytes) const {
  if (bytes > limits_.max_output_bytes) {
    fail_value("output larger than the limit of {} bytes", limits_.max_output_bytes);
  }
}

void Interpreter::append_output(std::string& out, std::string_view text) const {
  check_size(out.size() + text.size());
  out.append(text);
}

Interpreter::Flow Interpreter::exec(const Body& body, std::string& out,
                                    const std::shared_ptr<Scope>& scope) {
  for (const auto& s : body) {
    const Flow f = exec_stmt(*s, out, scope);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

std::string Interpreter::render_body(const Body& body, const std::shared_ptr<Scope>& parent) {
  auto scope = std::make_shared<Scope>();
  scope->parent = parent;
  std::string out;
  exec(body, out, scope);
  return out;
}

Interpreter::Flow Interpreter::exec_stmt(const Stmt& s, std::string& out,
                                         const std::shared_ptr<Scope>& scope) {
  try {
    DepthGuard guard(*this);
    switch (s.kind) {
      case StmtKind::Output:
        append_output(out, s.text);
        return Flow::Normal;
      case StmtKind::Print: {
        const Value v = eval(*s.expr, *scope);
        if (v.is_string()) {
          append_output(out, v.str());
        } else {
          append_output(out, to_str(v));
        }
        return Flow::Normal;
      }
      case StmtKind::If:
        return exec(eval(*s.expr, *scope).truthy() ? s.body : s.else_body, out, scope);
      case StmtKind::For:
        return exec_for(s, out, scope);
      case StmtKind::Set:
      case StmtKind::SetAttr:
        exec_set(s, out, scope);
        return Flow::Normal;
      case StmtKind::Macro:
        define_macro(s, scope);
        return Flow::Normal;
      case StmtKind::CallBlock: {
        // caller() renders the block body in a frame below the current one.
        auto f = std::make_shared<Function>();
        f->name = "caller";
        std::weak_ptr<Scope> weak = scope;
        f->call = [this, &s, weak](Interpreter&, CallArgs& args) {
          return call_macro(s, weak, args, nullptr);
        };
        const Value caller(std::shared_ptr<const Function>(std::move(f)));
        const Expr& call = *s.expr;
        const Value callee = eval(*call.args[0], *scope);
        CallArgs args = eval_args(call, *scope, 1);
        args.keyword.emplace_back("caller", caller);
        try {
          append_output(out, to_str(this->call(callee, args)));
        } catch (const ValueError& e) {
          fail_at(call.offset, e.what());
        }
        return Flow::Normal;
      }
      case StmtKind::FilterBlock: {
        const std::string text = render_body(s.body, scope);
        const std::optional<Value> saved = filter_block_input_;
        filter_block_input_ = Value(text);
        const Value v = eval(*s.filter, *scope);
        filter_block_input_ = saved;
        append_output(out, to_str(v));
        return Flow::Normal;
      }
      case StmtKind::With: {
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        for (const auto& p : s.params) inner->set(p.name, eval(*p.default_value, *scope));
        return exec(s.body, out, inner);
      }
      case StmtKind::Scope: {
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        return exec(s.body, out, inner);
      }
      case StmtKind::Break:
        return Flow::Break;
      case StmtKind::Continue:
        return Flow::Continue;
    }
  } catch (const ValueError& e) {
    fail_at(s.offset, e.what());
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec_for(const Stmt& s, std::string& out,
                                        const std::shared_ptr<Scope>& scope) {
  std::vector<Value> items;
  try {
    items = iterate(eval(*s.expr, *scope));
  } catch (const ValueError& e) {
    fail_at(s.expr->offset, e.what());
  }
  if (s.filter) {
    // The loop filter runs before the loop, so loop.length counts only what passes it.
    std::vector<Value> kept;
    for (auto& item : items) {
      step();
      auto probe = std::make_shared<Scope>();
      probe->parent = scope;
      try {
        assign_targets(*probe, s.targets, item);
      } catch (const ValueError& e) {
        fail_at(s.offset, e.what());
      }
      if (eval(*s.filter, *probe).truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec(s.else_body, out, scope);
  auto loop = std::make_shared<LoopObject>(std::move(items));
  const Value loop_value(std::static_pointer_cast<Object>(loop));
  for (size_t i = 0; i < loop->size(); ++i) {
    step();
    loop->advance(i);
    auto iteration = std::make_shared<Scope>();
    iteration->parent = scope;
    try {
      assign_targets(*iteration, s.targets, loop->item(i));
    } catch (const ValueError& e) {
      fail_at(s.offset, e.what());
    }
    iteration->set("loop", loop_value);
    if (exec(s.body, out, iteration) == Flow::Break) break;
  }
  return Flow::Normal;
}

void Interpreter::exec_set(const Stmt& s, std::string& out, const std::shared_ptr<Scope>& scope) {
  Value value;
  if (s.expr) {
    value = eval(*s.expr, *scope);
  } else {
    value = Value(render_body(s.body, scope));
    if (s.filter) {
      const std::optional<Value> saved = filter_block_input_;
      filter_block_input_ = value;
      value = eval(*s.filter, *scope);
      filter_block_input_ = saved;
    }
  }
  if (s.kind == StmtKind::Set) {
    assign_targets(*scope, s.targets, value);
    return;
  }
  const Value* target = scope->find(s.targets[0]);
  if (!target || !target->is_namespace()) {
    fail_value("cannot assign attribute on non-namespace object '{}'", s.targets[0]);
  }
  target->ns().set(s.text, std::move(value));
}

void Interpreter::define_macro(const Stmt& s, const std::shared_ptr<Scope>& scope) {
  auto f = std::make_shared<Function>();
  f->name = s.text;
  // A weak reference: the defining frame holds the macro, so a strong one would be a cycle.
  std::weak_ptr<Scope> weak = scope;
  f->call = [&s, weak](Interpreter& in, CallArgs& args) {
    return in.call_macro(s, weak, args, nullptr);
  };
  scope->set(s.text, Value(std::shared_ptr<const Function>(std::move(f))));
}

Value Interpreter::call_macro(const Stmt& macro, const std::weak_ptr<Scope>& defined_in,
                              CallArgs& args, const Value*) {
  auto parent = defined_in.lock();
  if (!parent) fail_value("macro '{}' called after its frame ended", macro.text);
  if (call_depth_ >= limits_.max_call_depth) {
    fail_value("macro calls nested deeper than {}", limits_.max_call_depth);
  }
  step();
  auto frame = std::make_shared<Scope>();
  frame->parent = parent;
  const auto& params = macro.params;
  std::vector<bool> bound(params.size(), false);
  std::vector<Value> extra_positional;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < params.size()) {
      frame->set(params[i].name, std::move(args.positional[i]));
      bound[i] = true;
    } else {
      extra_positional.push_back(std::move(args.positional[i]));
    }
  }
  if (!extra_positional.empty() && !macro.uses_varargs) {
    fail_value("macro '{}' takes not more than {} argument(s)", macro.text, params.size());
  }
  std::vector<std::pair<Value, Value>> extra_keyword;
  Value caller;
  for (auto& [key, value] : args.keyword) {
    size_t i = 0;
    while (i < params.size() && params[i].name != key) ++i;
    if (i < params.size()) {
      if (bound[i]) fail_value("macro '{}' got multiple values for argument '{}'", macro.text, key);
      frame->set(key, std::move(value));
      bound[i] = true;
    } else if (key == "caller" && (macro.uses_caller || macro.kind == StmtKind::CallBlock)) {
      caller = std::move(value);
    } else if (macro.uses_kwargs) {
      extra_keyword.emplace_back(Value(key), std::move(value));
    } else {
      fail_value("macro '{}' takes no keyword argument '{}'", macro.text, key);
    }
  }
  ++call_depth_;
  struct DepthRestore {
    uint32_t& depth;
    ~DepthRestore() { --depth; }
  } restore{call_depth_};
  for (size_t i = 0; i < params.size(); ++i) {
    if (bound[i]) continue;
    if (params[i].default_value) {
      frame->set(params[i].name, eval(*params[i].default_value, *frame));
    } else {
      frame->set(params[i].name,
                 Value::undefined(fmt::format("parameter '{}' was not provided", params[i].name)));
    }
  }
  if (macro.kind == StmtKind::Macro) {
    frame->set("varargs", Value::list(std::move(extra_positional), /*tuple=*/true));
    frame->set("kwargs", Value::dict(std::move(extra_keyword)));
    if (macro.uses_caller && !caller.is_undefined()) frame->set("caller", caller);
  }
  std::string out;
  exec(macro.body, out, frame);
  return Value(std::move(out));
}

// ---------------------------------------------------------------------------------------------
// Expressions

Value Interpreter::eval(const Expr& e, Scope& scope) {
  try {
    DepthGuard guard(*this);
    return eval_inner(e, scope);
  } catch (const ValueError& err) {
    fail_at(e.offset, err.what());
  }
}

CallArgs Interpreter::eval_args(const Expr& e, Scope& scope, size_t first) {
  CallArgs args;
  args.positional.reserve(e.args.size() - first);
  for (size_t i = first; i < e.args.size(); ++i) args.positional.push_back(eval(*e.args[i], scope));
  for (const auto& [key, expr] : e.kwargs) args.keyword.emplace_back(key, eval(*expr, scope));
  return args;
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_function()) return callee.function().call(*this, args);
  if (callee.is_undefined()) fail_value("{}", callee.undefined_message());
  fail_value("'{}' object is not callable", callee.type_name());
}

Value Interpreter::eval_call(const Expr& e, Scope& scope) {
  const Expr& target = *e.args[0];
  if (target.kind == ExprKind::GetAttr) {
    // Method calls go straight to the method, without building a bound-method value.
    const Value obj = eval(*target.args[0], scope);
    if (has_method(obj, target.name)) {
      CallArgs args = eval_args(e, scope, 1);
      step();
      auto result = call_method(*this, obj, target.name, args);
      if (result) return std::move(*result);
    }
    const Value callee = get_attr(obj, target.name);
    CallArgs args = eval_args(e, scope, 1);
    step();
    return call(callee, args);
  }
  const Value callee = eval(target, scope);
  CallArgs args = eval_args(e, scope, 1);
  step();
  return call(callee, args);
}

Value Interpreter::eval_compare(const Expr& e, Scope& scope) {
  Value left = eval(*e.args[0], scope);
  for (size_t i = 0; i < e.cmp_ops.size(); ++i) {
    Value right = eval(*e.args[i + 1], scope);
    bool ok;
    switch (e.cmp_ops[i]) {
      case CmpOp::Eq:
        ok = equals(left, right);
        break;
      case CmpOp::Ne:
        ok = !equals(left, right);
        break;
      case CmpOp::Lt:
        ok = compare(left, right, "<") < 0;
        break;
      case CmpOp::Le:
        ok = compare(left, right, "<=") <= 0;
        break;
      case CmpOp::Gt:
        ok = compare(left, right, ">") > 0;
        break;
      case CmpOp::Ge:
        ok = compare(left, right, ">=") >= 0;
        break;
      case CmpOp::In:
        ok = contains(right, left);
        break;
      case CmpOp::NotIn:
        ok = !contains(right, left);
        break;
      default:
        ok = false;
    }
    if (!ok) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

Value Interpreter::eval_inner(const Expr& e, Scope& scope) {
  switch (e.kind) {
    case ExprKind::Const:
      return e.constant;
    case ExprKind::Name: {
      if (const Value* v = scope.find(e.name)) return *v;
      if (const Value* g = find_global(e.name)) return *g;
      return Value::undefined(fmt::format("'{}' is undefined", e.name));
    }
    case ExprKind::List:
    case ExprKind::Tuple: {
      std::vector<Value> items;
      items.reserve(e.args.size());
      for (const auto& a : e.args) items.push_back(eval(*a, scope));
      return Value::list(std::move(items), e.kind == ExprKind::Tuple);
    }
    case ExprKind::Dict: {
      std::vector<std::pair<Value, Value>> items;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value k = eval(*e.args[i], scope);
        items.emplace_back(std::move(k), eval(*e.args[i + 1], scope));
      }
      return Value::dict(std::move(items));
    }
    case ExprKind::GetAttr:
      return get_attr(eval(*e.args[0], scope), e.name);
    case ExprKind::GetItem: {
      const Value obj = eval(*e.args[0], scope);
      return get_item(obj, eval(*e.args[1], scope));
    }
    case ExprKind::Slice: {
      const Value obj = eval(*e.args[0], scope);
      Value parts[3];
      for (int i = 0; i < 3; ++i) {
        if (e.args[1 + i]) parts[i] = eval(*e.args[1 + i], scope);
      }
      const Value s = slice(obj, parts[0], parts[1], parts[2]);
      step(1 + (s.is_list() ? s.items().size() : 0));
      return s;
    }
    case ExprKind::Call:
      return eval_call(e, scope);
    case ExprKind::Filter: {
      Value input;
      if (e.args[0]) {
        input = eval(*e.args[0], scope);
      } else if (filter_block_input_) {
        input = *filter_block_input_;
      }
      CallArgs args = eval_args(e, scope, 1);
      step();
      return apply_filter(e.name, input, args);
    }
    case ExprKind::Test: {
      const Value input = eval(*e.args[0], scope);
      CallArgs args = eval_args(e, scope, 1);
      step();
      return Value(apply_test(e.name, input, args));
    }
    case ExprKind::Not:
      return Value(!eval(*e.args[0], scope).truthy());
    case ExprKind::Neg:
    case ExprKind::Pos: {
      const Value v = eval(*e.args[0], scope);
      if (v.is_undefined()) fail_value("{}", v.undefined_message());
      if (!v.is_number()) {
        fail_value("bad operand type for unary {}: '{}'", e.kind == ExprKind::Neg ? '-' : '+',
                   v.type_name());
      }
      if (e.kind == ExprKind::Pos) return v.is_bool() ? Value(int64_t{v.as_bool()}) : v;
      if (v.is_float()) return Value(-v.as_float());
      const int64_t i = v.is_bool() ? v.as_bool() : v.as_int();
      if (i == INT64_MIN) fail_value("integer overflow");
      return Value(-i);
    }
    case ExprKind::And: {
      Value left = eval(*e.args[0], scope);
      return left.truthy() ? eval(*e.args[1], scope) : left;
    }
    case ExprKind::Or: {
      Value left = eval(*e.args[0], scope);
      return left.truthy() ? left : eval(*e.args[1], scope);
    }
    case ExprKind::Binary: {
      const Value a = eval(*e.args[0], scope);
      const Value b = eval(*e.args[1], scope);
      return binary_op(*this, e.bin_op, a, b);
    }
    case ExprKind::Concat: {
      std::string s;
      for (const auto& a : e.args) {
        append_str(s, eval(*a, scope));
        check_size(s.size());
      }
      step(1 + s.size() / 256);
      return Value(std::move(s));
    }
    case ExprKind::Compare:
      return eval_compare(e, scope);
    case ExprKind::CondExpr:
      if (eval(*e.args[0], scope).truthy()) return eval(*e.args[1], scope);
      if (e.args[2]) return eval(*e.args[2], scope);
      return Value::undefined(
          "the inline if-expression evaluated to false and no else section was defined");
  }
  return Value();
}

}  // namespace hh::jinja
