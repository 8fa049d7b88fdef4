#include "bench/runner.h"

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "bench/inputs.h"
#include "bench/validate.h"
#include "server/client.h"
#include "values/text_format.h"

namespace hh::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Records nest a few levels at most (a tuple holding a Cache); a server claiming more is broken.
constexpr int kMaxRecordDepth = 16;
// The live progress line is redrawn at most this often.
constexpr auto kProgressInterval = std::chrono::milliseconds(100);

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string strip_star(const std::string& type) {
  return !type.empty() && type[0] == '*' ? type.substr(1) : type;
}

// A dataset failed for a reason of its own (bad data, wrong outputs); the server is fine.
class DatasetFailure : public Error {
 public:
  using Error::Error;
};

struct Signature {
  std::vector<EntryParam> inputs;
  std::vector<EntryParam> outputs;
};

// How a value of some type is taken apart for validation.
struct Layout {
  enum class Kind { Plain, Record, Opaque } kind = Kind::Opaque;
  std::string type;
  bool tuple = false;  // a tuple record ("(a, b)") is transparent in expected values
  std::vector<std::pair<std::string, const Layout*>> fields;
};

// One input of the benchmarked call and how it is made fresh again after a run consumed it.
struct InputSlot {
  std::string var;
  std::string type;
  bool consumed = false;
  const ScriptExpr* reevaluate = nullptr;  // a script sub-call or literal evaluated again
};

struct InputPlan {
  std::vector<InputSlot> slots;
  // Consumed inputs restored from a file stored once: (slot index) in file order.
  std::string stored_file;
  std::vector<size_t> stored_slots;
  std::vector<std::string> vars() const {
    std::vector<std::string> v;
    for (const auto& s : slots) v.push_back(s.var);
    return v;
  }
};

class Session {
 public:
  explicit Session(const RunnerOptions& options) : o_(options) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = (fs::path(tmp && *tmp ? tmp : "/tmp") / "hedgehog-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) fail_errno("cannot create a temporary folder");
    work_dir_ = pattern;
  }
  ~Session() {
    server_.reset();
    std::error_code ec;
    fs::remove_all(work_dir_, ec);
  }

  Results run(const std::vector<Spec>& specs);

 private:
  DatasetResult run_dataset(const Spec& spec, const std::string& entry, const DatasetSpec& ds,
                            const std::string& label);
  void measure(const std::string& entry, InputPlan& plan, DatasetResult& r,
               const std::string& label);
  void profile_run(const std::string& entry, InputPlan& plan, DatasetResult& r);
  std::map<std::string, int64_t> memory_in_use();
  std::vector<Array> load_expected(const Spec& spec, const ValuesSpec& out,
                                   const std::string& where);

  ServerClient& server();
  void drop_server();
  std::string fresh() { return fmt::format("hh_bench_{}", counter_++); }
  void track(const std::vector<std::string>& vars) { live_.insert(vars.begin(), vars.end()); }
  void free_vars(const std::vector<std::string>& vars);
  void free_all_quietly();

  const Signature& signature(const std::string& entry, const std::string& context);
  const Layout& layout(const std::string& type, int depth = 0);

  InputPlan prepare_inputs(const Spec& spec, const std::string& entry, const Signature& sig,
                           const DatasetSpec& ds, const std::string& stem);
  void restore_plain(const std::string& file, InputPlan& plan, const Signature& sig);
  std::vector<std::string> eval_call(const ScriptExpr& e, const Spec& spec);
  std::string eval_arg(const ScriptExpr& a, const std::string& type, const std::string& function,
                       size_t index, const Spec& spec);
  std::string literal_file(const ScriptExpr& a);
  void refresh(InputPlan& plan);
  void after_call(const std::vector<std::string>& outs, const InputPlan& plan);

  void validate(const std::vector<std::string>& outs, const Signature& sig,
                const std::vector<Array>& expected, const std::string& entry);

  void show_progress(const std::string& label, const std::vector<int64_t>& runtimes, bool force);
  void print_result(const DatasetResult& r);

  const RunnerOptions& o_;
  std::string work_dir_;
  std::optional<ServerClient> server_;
  std::optional<std::string> start_error_;
  std::set<std::string> entry_names_;
  std::map<std::string, Signature> signatures_;
  std::map<std::string, Layout> layouts_;
  std::map<const ScriptExpr*, std::string> literal_files_;
  std::set<std::string> live_;
  const Spec* spec_ = nullptr;  // of the dataset being run
  double other_calls_us_ = 0;   // its warm-up and profiled runs' runtimes
  uint64_t counter_ = 0;
  Clock::time_point last_progress_{};
};

ServerClient& Session::server() {
  if (server_ && server_->usable()) return *server_;
  if (start_error_) throw Error(*start_error_);
  drop_server();
  try {
    server_ = o_.server_command.empty() ? ServerClient::spawn(o_.server_argv)
                                        : ServerClient::spawn_shell(o_.server_command);
    for (auto& name : server_->entry_points()) entry_names_.insert(name);
  } catch (const Error& e) {
    // A server that cannot start will not start for the next dataset either.
    start_error_ = fmt::format("cannot start the server: {}", e.what());
    server_.reset();
    throw Error(*start_error_);
  }
  return *server_;
}

void Session::drop_server() {
  if (server_) server_->kill();
  server_.reset();
  entry_names_.clear();
  signatures_.clear();
  layouts_.clear();
  live_.clear();
}

void Session::free_vars(const std::vector<std::string>& vars) {
  if (vars.empty()) return;
  server().free(vars);
  for (const auto& v : vars) live_.erase(v);
}

void Session::free_all_quietly() {
  if (!server_ || !server_->usable()) return live_.clear();
  server_->set_deadline(std::nullopt);
  for (const auto& v : live_) {
    try {
      server_->free({v});
    } catch (const ServerFailure&) {
      // Already gone (consumed by a failed call, say): nothing to release.
    } catch (const Error&) {
      break;
    }
  }
  live_.clear();
}

const Signature& Session::signature(const std::string& entry, const std::string& context) {
  if (auto it = signatures_.find(entry); it != signatures_.end()) return it->second;
  ServerClient& s = server();
  if (!entry_names_.empty() && !entry_names_.contains(entry)) {
    std::string known;
    for (const auto& n : entry_names_) known += (known.empty() ? "" : ", ") + n;
    throw DatasetFailure(
        fmt::format("{}unknown entry point '{}' (the server has: {})", context, entry, known));
  }
  Signature sig;
  sig.inputs = s.inputs(entry);
  sig.outputs = s.outputs(entry);
  return signatures_.emplace(entry, std::move(sig)).first->second;
}

const Layout& Session::layout(const std::string& type, int depth) {
  if (auto it = layouts_.find(type); it != layouts_.end()) return it->second;
  if (depth > kMaxRecordDepth) {
    throw DatasetFailure(
        fmt::format("type '{}' nests records deeper than {}", type, kMaxRecordDepth));
  }
  Layout l;
  l.type = type;
  if (parse_plain_type(type)) {
    l.kind = Layout::Kind::Plain;
  } else {
    std::string kind;
    try {
      kind = server().kind(type);
    } catch (const ServerFailure&) {
      kind = "opaque";  // a server without `kind`: treat the value as a black box
    }
    if (kind == "record") {
      l.kind = Layout::Kind::Record;
      l.tuple = type.starts_with("(");
      for (const auto& f : server().fields(type)) {
        l.fields.emplace_back(f.name, &layout(f.type, depth + 1));
      }
    }
  }
  return layouts_.emplace(type, std::move(l)).first->second;
}

std::string Session::literal_file(const ScriptExpr& a) {
  if (auto it = literal_files_.find(&a); it != literal_files_.end()) return it->second;
  const std::string path =
      (fs::path(work_dir_) / fmt::format("literal-{}.bin", counter_++)).string();
  write_values_file(path, {a.value});
  return literal_files_.emplace(&a, path).first->second;
}

std::string Session::eval_arg(const ScriptExpr& a, const std::string& type,
                              const std::string& function, size_t index, const Spec& spec) {
  const std::string where = fmt::format("{}:{}:{}: argument {} of '{}'", spec.path, a.pos.line,
                                        a.pos.column, index, function);
  if (!a.is_call) {
    if (parse_plain_type(type) && a.value.type_name() != type) {
      throw DatasetFailure(fmt::format("{} is a {} ({}), but '{}' takes {} there", where,
                                       a.value.type_name(), a.text, function, type));
    }
    const std::string var = fresh();
    server().restore(literal_file(a), {{var, type}});
    track({var});
    return var;
  }
  std::vector<std::string> outs = eval_call(a, spec);
  if (outs.size() != 1) {
    free_vars(outs);
    throw DatasetFailure(fmt::format("{}: '{}' returns {} values, an argument needs one", where,
                                     a.function, outs.size()));
  }
  const std::string got = strip_star(signature(a.function, "").outputs[0].type);
  if (got != type) {
    free_vars(outs);
    throw DatasetFailure(fmt::format("{}: '{}' returns a {}, but '{}' takes {} there", where,
                                     a.function, got, function, type));
  }
  return outs[0];
}

std::vector<std::string> Session::eval_call(const ScriptExpr& e, const Spec& spec) {
  const std::string where = fmt::format("{}:{}:{}: ", spec.path, e.pos.line, e.pos.column);
  const Signature& sig = signature(e.function, where + "script: ");
  if (e.args.size() != sig.inputs.size()) {
    throw DatasetFailure(fmt::format("{}'{}' takes {} argument{}, the script gives {}", where,
                                     e.function, sig.inputs.size(),
                                     sig.inputs.size() == 1 ? "" : "s", e.args.size()));
  }
  std::vector<std::string> args;
  for (size_t i = 0; i < e.args.size(); ++i) {
    args.push_back(eval_arg(e.args[i], sig.inputs[i].type, e.function, i, spec));
  }
  std::vector<std::string> outs;
  for (size_t i = 0; i < sig.outputs.size(); ++i) outs.push_back(fresh());
  server().call(e.function, outs, args);
  track(outs);
  free_vars(args);  // made for this call alone (consumed ones must be freed too)
  return outs;
}

void Session::restore_plain(const std::string& file, InputPlan& plan, const Signature& sig) {
  std::vector<std::pair<std::string, std::string>> vars;
  for (const auto& in : sig.inputs) {
    InputSlot slot;
    slot.var = fresh();
    slot.type = in.type;
    slot.consumed = in.star;
    vars.emplace_back(slot.var, slot.type);
    plan.slots.push_back(std::move(slot));
  }
  server().restore(file, vars);
  track(plan.vars());
}

InputPlan Session::prepare_inputs(const Spec& spec, const std::string& entry, const Signature& sig,
                                  const DatasetSpec& ds, const std::string& stem) {
  InputPlan plan;
  const std::string where =
      fmt::format("{}:{}:{}: dataset \"{}\"", spec.path, ds.pos.line, ds.pos.column, ds.name);
  const ValuesSpec& in = ds.input;
  switch (in.kind) {
    case ValuesSpec::Kind::Literal: {
      check_input_types(describe_values(in.values), sig.inputs, entry, where);
      const std::string file = (fs::path(work_dir_) / (stem + ".bin")).string();
      write_values_file(file, in.values);
      restore_plain(file, plan, sig);
      break;
    }
    case ValuesSpec::Kind::Random: {
      const std::string file = random_data_file(spec, in, work_dir_);
      check_input_types(scan_values_file(file), sig.inputs, entry, where);
      restore_plain(file, plan, sig);
      break;
    }
    case ValuesSpec::Kind::File: {
      const std::string path = resolve_spec_path(spec, in.file);
      std::string file;
      try {
        file = binary_data_file(path, work_dir_, stem);
      } catch (const Error& e) {
        throw DatasetFailure(fmt::format("{}: {}", where, e.what()));
      }
      check_input_types(scan_values_file(file), sig.inputs, entry, where);
      restore_plain(file, plan, sig);
      break;
    }
    case ValuesSpec::Kind::Script: {
      const ScriptExpr& top = in.script;
      if (top.is_call && top.function == entry) {
        // The benchmarked call itself: its arguments are the inputs.
        if (top.args.size() != sig.inputs.size()) {
          throw DatasetFailure(fmt::format("{}: '{}' takes {} argument{}, the script gives {}",
                                           where, entry, sig.inputs.size(),
                                           sig.inputs.size() == 1 ? "" : "s", top.args.size()));
        }
        for (size_t i = 0; i < top.args.size(); ++i) {
          InputSlot slot;
          slot.type = sig.inputs[i].type;
          slot.consumed = sig.inputs[i].star;
          slot.var = eval_arg(top.args[i], slot.type, entry, i, spec);
          if (slot.consumed) slot.reevaluate = &top.args[i];
          plan.slots.push_back(std::move(slot));
        }
        return plan;
      }
      // A generator: the expression's values are the inputs.
      std::vector<std::string> values;
      std::vector<std::string> types;
      if (!top.is_call) {
        values.push_back(eval_arg(
            top, strip_star(sig.inputs.empty() ? top.value.type_name() : sig.inputs[0].type), entry,
            0, spec));
        types.push_back(top.value.type_name());
      } else {
        values = eval_call(top, spec);
        for (const auto& t : signature(top.function, "").outputs)
          types.push_back(strip_star(t.type));
      }
      if (values.size() == 1 && sig.inputs.size() > 1) {
        const Layout& l = layout(types[0]);
        if (l.kind == Layout::Kind::Record && l.fields.size() == sig.inputs.size()) {
          const std::string record = values[0];
          values.clear();
          types.clear();
          for (const auto& [field, fl] : l.fields) {
            values.push_back(fresh());
            server().project(values.back(), record, field);
            track({values.back()});
            types.push_back(fl->type);
          }
          free_vars({record});
        }
      }
      if (values.size() != sig.inputs.size()) {
        throw DatasetFailure(fmt::format("{}: the script gives {} value{}, '{}' takes {}", where,
                                         values.size(), values.size() == 1 ? "" : "s", entry,
                                         sig.inputs.size()));
      }
      for (size_t i = 0; i < values.size(); ++i) {
        if (types[i] != sig.inputs[i].type) {
          throw DatasetFailure(fmt::format("{}: script value {} is a {}, input {} of '{}' is {}",
                                           where, i, types[i], i, entry, sig.inputs[i].type));
        }
        plan.slots.push_back({values[i], sig.inputs[i].type, sig.inputs[i].star, nullptr});
      }
      break;
    }
  }
  // Consumed inputs not re-evaluated from a script are stored once now, while fresh, and
  // restored from that file before every later run.
  std::vector<std::string> to_store;
  for (size_t i = 0; i < plan.slots.size(); ++i) {
    if (plan.slots[i].consumed && plan.slots[i].reevaluate == nullptr) {
      plan.stored_slots.push_back(i);
      to_store.push_back(plan.slots[i].var);
    }
  }
  if (!to_store.empty()) {
    plan.stored_file = (fs::path(work_dir_) / (stem + "-consumed.bin")).string();
    server().store(plan.stored_file, to_store);
  }
  return plan;
}

void Session::refresh(InputPlan& plan) {
  if (!plan.stored_slots.empty()) {
    std::vector<std::pair<std::string, std::string>> vars;
    for (size_t i : plan.stored_slots) vars.emplace_back(plan.slots[i].var, plan.slots[i].type);
    server().restore(plan.stored_file, vars);
    for (const auto& v : vars) live_.insert(v.first);
  }
  for (size_t i = 0; i < plan.slots.size(); ++i) {
    InputSlot& slot = plan.slots[i];
    if (slot.reevaluate == nullptr) continue;
    slot.var = eval_arg(*slot.reevaluate, slot.type, "", i, *spec_);
  }
}

void Session::after_call(const std::vector<std::string>& outs, const InputPlan& plan) {
  std::vector<std::string> gone = outs;
  for (const auto& s : plan.slots) {
    if (s.consumed) gone.push_back(s.var);
  }
  free_vars(gone);
}

void Session::validate(const std::vector<std::string>& outs, const Signature& sig,
                       const std::vector<Array>& expected, const std::string& entry) {
  // Pass 1: walk the outputs' layouts against the expected values and collect the variables to
  // compare. A tuple is transparent; a named record (Params, Cache) is compared only when the
  // expected values hold it in stored form (its type name as a []u8, then its fields), which is
  // what `store` writes; otherwise it is skipped.
  struct Pair {
    size_t expected;
    std::string var;
    std::string label;
  };
  std::vector<Pair> pairs;
  std::vector<std::string> projected;
  size_t k = 0;
  const auto names = [&](const Array& a, const std::string& type) {
    return a.type() == ElemType::U8 && a.rank() == 1 &&
           std::string_view(reinterpret_cast<const char*>(a.raw()), a.bytes()) == type;
  };
  std::function<void(const std::string&, const Layout&, const std::string&)> walk =
      [&](const std::string& var, const Layout& l, const std::string& label) {
        if (l.kind == Layout::Kind::Plain) {
          if (k >= expected.size()) {
            throw DatasetFailure(
                fmt::format("validation: {} expected value{} given, but {} ({}) needs one more",
                            expected.size(), expected.size() == 1 ? "" : "s", label, l.type));
          }
          pairs.push_back({k++, var, label});
          return;
        }
        const bool header = k < expected.size() && names(expected[k], l.type);
        if (header) ++k;
        if (l.kind == Layout::Kind::Opaque) {
          if (header) {
            throw DatasetFailure(fmt::format(
                "validation: {} is an opaque {} and cannot be compared", label, l.type));
          }
          return;
        }
        if (!header && !l.tuple) return;
        for (const auto& [field, fl] : l.fields) {
          const std::string v = fresh();
          server().project(v, var, field);
          track({v});
          projected.push_back(v);
          walk(v, *fl, label + "." + field);
        }
      };
  for (size_t i = 0; i < outs.size(); ++i) {
    walk(outs[i], layout(strip_star(sig.outputs[i].type)), fmt::format("output {}", i));
  }
  if (k != expected.size()) {
    throw DatasetFailure(fmt::format(
        "validation: {} expected values given, but the outputs of '{}' hold only {} to compare",
        expected.size(), entry, k));
  }
  // Pass 2: fetch exactly the compared values and compare them.
  if (!pairs.empty()) {
    const std::string file =
        (fs::path(work_dir_) / fmt::format("outputs-{}.bin", counter_++)).string();
    std::vector<std::string> vars;
    for (const auto& p : pairs) vars.push_back(p.var);
    server().store(file, vars);
    const std::vector<Array> actual = read_values_file(file);
    fs::remove(file);
    if (actual.size() != pairs.size()) {
      throw DatasetFailure(fmt::format("validation: the server stored {} values for {} outputs",
                                       actual.size(), pairs.size()));
    }
    for (size_t i = 0; i < pairs.size(); ++i) {
      if (auto mismatch = compare_values(expected[pairs[i].expected], actual[i], pairs[i].label)) {
        throw DatasetFailure("validation failed: " + *mismatch);
      }
    }
  }
  free_vars(projected);
}

void Session::show_progress(const std::string& label, const std::vector<int64_t>& runtimes,
                            bool force) {
  if (o_.progress == nullptr || runtimes.empty()) return;
  const auto now = Clock::now();
  if (!force && now - last_progress_ < kProgressInterval) return;
  last_progress_ = now;
  double sum = 0;
  for (int64_t r : runtimes) sum += static_cast<double>(r);
  std::fprintf(o_.progress, "\r\033[K%s: run %zu, mean %.1f µs, last %lld µs", label.c_str(),
               runtimes.size(), sum / static_cast<double>(runtimes.size()),
               static_cast<long long>(runtimes.back()));
  std::fflush(o_.progress);
}

void Session::measure(const std::string& entry, InputPlan& plan, DatasetResult& r,
                      const std::string& label) {
  ServerClient& s = server();
  const size_t n_outputs = signature(entry, "").outputs.size();
  double wall_us = 0;
  const auto one_run = [&] {
    refresh(plan);  // untimed: only the `call` below is measured
    std::vector<std::string> outs;
    for (size_t i = 0; i < n_outputs; ++i) outs.push_back(fresh());
    const auto c0 = Clock::now();
    const auto result = s.call(entry, outs, plan.vars());
    wall_us += std::chrono::duration<double, std::micro>(Clock::now() - c0).count();
    track(outs);
    after_call(outs, plan);
    r.runtimes.push_back(result.runtime_us);
    show_progress(label, r.runtimes, false);
  };
  const auto m0 = Clock::now();
  while (static_cast<int>(r.runtimes.size()) < o_.min_runs || seconds_since(m0) < o_.min_seconds) {
    one_run();
  }
  if (o_.convergence_phase) {
    const auto c0 = Clock::now();
    // The statistics are recomputed after every ~6% more runs, which keeps their cost linear
    // overall even for an entry point run a million times.
    size_t next_check = r.runtimes.size();
    while (seconds_since(c0) < o_.convergence_max_seconds) {
      const size_t n = r.runtimes.size();
      if (n >= next_check) {
        if (has_converged(r.stats(), o_.rule)) break;
        next_check = n + std::max<size_t>(1, n / 16);
      }
      one_run();
    }
  }
  r.measure_seconds = seconds_since(m0);
  r.wall_per_call_us = wall_us / static_cast<double>(r.runtimes.size());
}

std::vector<Array> Session::load_expected(const Spec& spec, const ValuesSpec& out,
                                          const std::string& where) {
  if (out.kind == ValuesSpec::Kind::Literal) return out.values;
  const std::string path = resolve_spec_path(spec, out.file);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw DatasetFailure(fmt::format("{}: expected-output file '{}' does not exist", where, path));
  }
  try {
    return read_values_file(path);
  } catch (const Error& e) {
    throw DatasetFailure(fmt::format("{}: {}", where, e.what()));
  }
}

void Session::profile_run(const std::string& entry, InputPlan& plan, DatasetResult& r) {
  ServerClient& s = server();
  refresh(plan);
  std::vector<std::string> outs;
  for (size_t i = 0; i < signature(entry, "").outputs.size(); ++i) outs.push_back(fresh());
  try {
    s.report();  // drops whatever was recorded before, so the report covers this run alone
    s.unpause_profiling();
  } catch (const ServerFailure& e) {
    r.stderr_text += fmt::format("hedgehog bench: profiling unavailable: {}\n", e.what());
    after_call({}, plan);
    return;
  }
  other_calls_us_ += static_cast<double>(s.call(entry, outs, plan.vars()).runtime_us);
  track(outs);
  s.pause_profiling();
  after_call(outs, plan);
  const std::string report = s.report();
  try {
    r.profiling = nlohmann::ordered_json::parse(report);
  } catch (const nlohmann::json::exception&) {
    throw DatasetFailure(
        fmt::format("the server's profiling report is not JSON: {}", report.substr(0, 200)));
  }
}

std::map<std::string, int64_t> Session::memory_in_use() {
  std::map<std::string, int64_t> bytes;
  std::string report;
  try {
    report = server().report();
  } catch (const ServerFailure&) {
    return bytes;  // a server without `report`: no memory figures
  }
  try {
    const auto j = nlohmann::json::parse(report);
    if (const auto m = j.find("memory"); m != j.end() && m->is_object()) {
      for (const auto& [space, n] : m->items()) {
        if (n.is_number()) bytes[space] = static_cast<int64_t>(n.get<double>());
      }
    }
  } catch (const nlohmann::json::exception&) {
  }
  return bytes;
}

DatasetResult Session::run_dataset(const Spec& spec, const std::string& entry,
                                   const DatasetSpec& ds, const std::string& label) {
  DatasetResult r;
  r.name = ds.name;
  spec_ = &spec;
  other_calls_us_ = 0;
  const auto t0 = Clock::now();
  const std::string where =
      fmt::format("{}:{}:{}: dataset \"{}\"", spec.path, ds.pos.line, ds.pos.column, ds.name);
  try {
    ServerClient& s = server();
    s.take_stderr();  // what earlier datasets left behind is not this one's
    if (o_.timeout_seconds) {
      s.set_deadline(t0 + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(*o_.timeout_seconds)));
    } else {
      s.set_deadline(std::nullopt);
    }
    const Signature& sig = signature(entry, "");
    std::optional<std::vector<Array>> expected;
    if (ds.output) expected = load_expected(spec, *ds.output, where);
    InputPlan plan = prepare_inputs(spec, entry, sig, ds, fmt::format("dataset-{}", counter_++));

    // Warm-up; its outputs are the ones validated.
    std::vector<std::string> outs;
    for (size_t i = 0; i < sig.outputs.size(); ++i) outs.push_back(fresh());
    other_calls_us_ += static_cast<double>(s.call(entry, outs, plan.vars()).runtime_us);
    track(outs);
    if (expected) validate(outs, sig, *expected, entry);
    after_call(outs, plan);

    measure(entry, plan, r, label);
    r.bytes = memory_in_use();
    if (o_.profile) profile_run(entry, plan, r);
  } catch (const ServerTimeout& e) {
    r.error = o_.timeout_seconds
                  ? fmt::format("timed out: the dataset needed more than --timeout {} s ({})",
                                *o_.timeout_seconds, e.what())
                  : std::string(e.what());
    if (server_) r.stderr_text += server_->take_stderr();
    drop_server();  // in an unknown state: the next dataset gets a fresh one
  } catch (const ServerDied& e) {
    r.error = e.what();
    drop_server();
  } catch (const Error& e) {
    r.error = e.what();
  } catch (const std::exception& e) {  // out of memory, say: still only this dataset's failure
    r.error = fmt::format("internal error: {}", e.what());
  }
  if (r.error && r.error->find(spec.path) != 0) r.error = where + ": " + *r.error;
  if (server_ && server_->usable()) {
    r.stderr_text += server_->take_stderr();
    free_all_quietly();
  }
  show_progress("", {}, true);
  if (o_.progress) {
    std::fprintf(o_.progress, "\r\033[K");
    std::fflush(o_.progress);
  }
  r.dataset_seconds = seconds_since(t0);
  double timed_us = 0;
  for (int64_t t : r.runtimes) timed_us += static_cast<double>(t);
  const double calls_us = other_calls_us_ + timed_us;
  r.timed_fraction = r.dataset_seconds > 0 ? timed_us / 1e6 / r.dataset_seconds : 0;
  r.call_fraction = r.dataset_seconds > 0 ? calls_us / 1e6 / r.dataset_seconds : 0;
  return r;
}

void Session::print_result(const DatasetResult& r) {
  std::FILE* out = o_.out;
  if (r.error) {
    std::fprintf(out, "  %-24s FAILED: %s\n", r.name.c_str(), r.error->c_str());
  } else {
    const SampleStats st = r.stats();
    std::fprintf(
        out, "  %-24s %12.1f µs ± %.1f (95%% CI [%.1f, %.1f]); min %.0f, max %.0f; %zu runs\n",
        r.name.c_str(), st.mean, st.ci_half_width(), st.ci_low, st.ci_high, st.min, st.max, st.n);
    if (o_.verbose) {
      std::fprintf(out,
                   "  %-24s wall per call %.1f µs (protocol overhead %.1f µs); of %.2f s, %.1f%% "
                   "in measured runs, %.1f%% in all calls; autocorrelation time %.2f\n",
                   "", r.wall_per_call_us, r.wall_per_call_us - st.mean, r.dataset_seconds,
                   100 * r.timed_fraction, 100 * r.call_fraction, st.tau);
    }
  }
  std::fflush(out);
}

Results Session::run(const std::vector<Spec>& specs) {
  Results results;
  for (const Spec& spec : specs) {
    for (const CaseSpec& c : spec.cases) {
      const bool excluded = std::any_of(c.tags.begin(), c.tags.end(), [&](const std::string& t) {
        return t == "nobench" || std::find(o_.exclude_tags.begin(), o_.exclude_tags.end(), t) !=
                                     o_.exclude_tags.end();
      });
      if (excluded) continue;
      for (const std::string& entry : c.entries) {
        if (o_.entry_point && *o_.entry_point != entry) continue;
        const std::string program = spec.path + ":" + entry;
        auto it = std::find_if(results.begin(), results.end(),
                               [&](const ProgramResult& p) { return p.name == program; });
        if (it == results.end()) {
          ProgramResult p;
          p.name = program;
          RunDescription d = o_.description;
          d.spec = spec.path;
          d.entry = entry;
          p.metadata = collect_metadata(d);
          p.metadata["start_time"] = utc_timestamp();
          results.push_back(std::move(p));
          it = results.end() - 1;
          std::fprintf(o_.out, "Results for %s:\n", program.c_str());
        }
        for (const DatasetSpec& ds : c.datasets) {
          if (ds.nobench) continue;
          DatasetResult r = run_dataset(spec, entry, ds, program + " " + ds.name);
          // Names repeat across blocks of one spec ("#0"); the results need them unique.
          const auto taken = [&](const std::string& n) {
            return std::any_of(it->datasets.begin(), it->datasets.end(),
                               [&](const DatasetResult& x) { return x.name == n; });
          };
          for (int k = 2; taken(r.name); ++k) r.name = fmt::format("{} ({})", ds.name, k);
          print_result(r);
          it->datasets.push_back(std::move(r));
          it->metadata["end_time"] = utc_timestamp();
        }
      }
    }
  }
  return results;
}

}  // namespace

Results run_benchmarks(const std::vector<Spec>& specs, const RunnerOptions& options) {
  Session session(options);
  return session.run(specs);
}

bool any_failed(const Results& results) {
  for (const auto& p : results) {
    for (const auto& d : p.datasets) {
      if (d.error) return true;
    }
  }
  return false;
}

}  // namespace hh::bench
