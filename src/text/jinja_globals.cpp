// Jinja's global functions: range (capped as the sandbox caps it), dict, namespace, cycler and
// joiner.
#include "text/jinja_interp.h"

namespace hh::jinja {

namespace {

std::string soft_str(const Value& v) { return v.is_string() ? v.str() : to_str(v); }

// --- globals ---------------------------------------------------------------------------------

Value make_function(std::string name, std::function<Value(Interpreter&, CallArgs&)> fn) {
  auto f = std::make_shared<Function>();
  f->name = std::move(name);
  f->call = std::move(fn);
  return Value(std::shared_ptr<const Function>(std::move(f)));
}

Value g_range(Interpreter& in, CallArgs& args) {
  if (!args.keyword.empty()) fail_value("range() takes no keyword arguments");
  const auto& p = args.positional;
  if (p.empty() || p.size() > 3) fail_value("range expected 1 to 3 arguments, got {}", p.size());
  int64_t start = 0, stop, step = 1;
  for (const auto& v : p) {
    if (!v.is_int() && !v.is_bool()) {
      if (v.is_undefined()) fail_value("{}", v.undefined_message());
      fail_value("'{}' object cannot be interpreted as an integer", v.type_name());
    }
  }
  if (p.size() == 1) {
    stop = py_int(p[0]);
  } else {
    start = py_int(p[0]);
    stop = py_int(p[1]);
    if (p.size() == 3) step = py_int(p[2]);
  }
  if (step == 0) fail_value("range() arg 3 must not be zero");
  // The sandbox caps ranges (MAX_RANGE = 100000); so does the step budget here.
  const long double count_ld = step > 0
                                   ? (static_cast<long double>(stop) - start + step - 1) / step
                                   : (static_cast<long double>(start) - stop - step - 1) / -step;
  const int64_t count = count_ld > 0 ? static_cast<int64_t>(count_ld) : 0;
  if (count > 100000)
    fail_value("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  in.step(static_cast<uint64_t>(count));
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) items.emplace_back(start + i * step);
  return Value::list(std::move(items));
}

Value g_dict(Interpreter&, CallArgs& args) {
  std::vector<std::pair<Value, Value>> items;
  if (args.positional.size() > 1) fail_value("dict expected at most 1 argument");
  if (!args.positional.empty()) {
    const Value& src = args.positional[0];
    if (!src.is_dict()) fail_value("dict() argument must be a mapping");
    items = src.dict().items;
  }
  for (auto& [k, v] : args.keyword) items.emplace_back(Value(k), v);
  return Value::dict(std::move(items));
}

Value g_namespace(Interpreter&, CallArgs& args) {
  auto ns = std::make_shared<NamespaceData>();
  if (args.positional.size() > 1) fail_value("namespace expected at most 1 positional argument");
  if (!args.positional.empty()) {
    const Value& src = args.positional[0];
    if (!src.is_dict()) fail_value("namespace() argument must be a mapping");
    for (const auto& [k, v] : src.dict().items) {
      if (!k.is_string()) fail_value("namespace keys must be strings");
      ns->set(k.str(), v);
    }
  }
  for (auto& [k, v] : args.keyword) ns->set(k, v);
  return Value(std::move(ns));
}

class Cycler : public Object, public std::enable_shared_from_this<Cycler> {
 public:
  explicit Cycler(std::vector<Value> items) : items_(std::move(items)) {}
  Value get_attr(std::string_view name) override {
    if (name == "current") return items_[pos_];
    auto self = shared_from_this();
    if (name == "next") {
      return make_function("cycler.next", [self](Interpreter&, CallArgs&) {
        Value v = self->items_[self->pos_];
        self->pos_ = (self->pos_ + 1) % self->items_.size();
        return v;
      });
    }
    if (name == "reset") {
      return make_function("cycler.reset", [self](Interpreter&, CallArgs&) {
        self->pos_ = 0;
        return Value::none();
      });
    }
    return Value::undefined(fmt::format("'Cycler object' has no attribute '{}'", name));
  }
  std::string repr() const override { return "<Cycler>"; }

 private:
  std::vector<Value> items_;
  size_t pos_ = 0;
};

Value g_cycler(Interpreter&, CallArgs& args) {
  if (args.positional.empty()) fail_value("at least one item has to be provided");
  return Value(std::static_pointer_cast<Object>(std::make_shared<Cycler>(args.positional)));
}

Value g_joiner(Interpreter&, CallArgs& args) {
  auto a = bind_args(args, {"sep"}, "joiner");
  const std::string sep = a[0] ? soft_str(*a[0]) : ", ";
  auto used = std::make_shared<bool>(false);
  return make_function("joiner", [sep, used](Interpreter&, CallArgs&) {
    if (!*used) {
      *used = true;
      return Value("");
    }
    return Value(sep);
  });
}

}  // namespace

const Value* find_global(std::string_view name) {
  static const std::vector<std::pair<std::string_view, Value>> globals = {
      {"range", make_function("range", g_range)},
      {"dict", make_function("dict", g_dict)},
      {"namespace", make_function("namespace", g_namespace)},
      {"cycler", make_function("cycler", g_cycler)},
      {"joiner", make_function("joiner", g_joiner)},
  };
  for (const auto& [n, v] : globals) {
    if (n == name) return &v;
  }
  return nullptr;
}

}  // namespace hh::jinja
