#include "server/server.h"

#include <charconv>
#include <cstring>
#include <istream>
#include <new>
#include <ostream>
#include <set>

#include "server/entry_points.h"
#include "server/records.h"
#include "values/value_reader.h"

namespace hh::server {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int64_t parse_int(std::string_view word, std::string_view what) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
  if (ec != std::errc() || end != word.data() + word.size() || word.empty()) {
    fail_usage("invalid {} '{}': expected an integer", what, word);
  }
  return v;
}

// Row-major element offset of `indices` (all checked against `shape`).
int64_t flat_index(const Shape& shape, std::span<const std::string> indices, std::string_view cmd) {
  if (indices.size() != shape.size()) {
    fail_usage("{}: an array of rank {} needs {} indices, got {}", cmd, shape.size(), shape.size(),
               indices.size());
  }
  int64_t flat = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t idx = parse_int(indices[i], "index");
    if (idx < 0 || idx >= shape[i]) {
      fail_usage("{}: index {} is out of bounds for dimension {} of size {}", cmd, idx, i + 1,
                 shape[i]);
    }
    flat = flat * shape[i] + idx;
  }
  return flat;
}

// A message line that began with "%%%" would read as framing to a client.
void append_message(std::string& out, std::string_view message) {
  size_t start = 0;
  for (;;) {
    const size_t nl = message.find('\n', start);
    const std::string_view line =
        message.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (line.substr(0, 3) == "%%%") out += ' ';
    out += line;
    out += '\n';
    if (nl == std::string_view::npos || nl + 1 == message.size()) break;
    start = nl + 1;
  }
}

}  // namespace

std::vector<std::string> split_words(std::string_view line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (true) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i >= line.size()) break;
    if (line[i] == '"') {
      const size_t open = i;
      size_t j = i + 1;
      while (j < line.size() && line[j] != '"') {
        if (line[j] == '\n') fail_format("newline inside the quoted word at column {}", open + 1);
        ++j;
      }
      if (j >= line.size()) fail_format("unterminated quoted word at column {}", open + 1);
      words.emplace_back(line.substr(open + 1, j - open - 1));
      i = j + 1;
      if (i < line.size() && !is_space(line[i])) {
        fail_format("the quoted word at column {} is followed by '{}' without a space", open + 1,
                    line[i]);
      }
    } else {
      const size_t start = i;
      while (i < line.size() && !is_space(line[i])) {
        if (line[i] == '"') {
          fail_format("a quote inside the word at column {}: quote whole words only", start + 1);
        }
        ++i;
      }
      words.emplace_back(line.substr(start, i - start));
    }
  }
  return words;
}

Server::Server(Backend& backend, ServerOptions options)
    : backend_(backend),
      types_(backend.dtype()),
      profiler_(options.profiler ? options.profiler : &own_profiler_) {}

const std::vector<Server::Command>& Server::commands() {
  static const std::vector<Command> table = {
      {"types", 0, 0, "types", &Server::cmd_types},
      {"entry_points", 0, 0, "entry_points", &Server::cmd_entry_points},
      {"call", 2, -1, "call ENTRY OUT IN...", &Server::cmd_call},
      {"restore", 1, -1, "restore FILE VAR TYPE...", &Server::cmd_restore},
      {"store", 1, -1, "store FILE VAR...", &Server::cmd_store},
      {"free", 0, -1, "free VAR...", &Server::cmd_free},
      {"rename", 2, 2, "rename OLD NEW", &Server::cmd_rename},
      {"inputs", 1, 1, "inputs ENTRY", &Server::cmd_inputs},
      {"output", 1, 1, "output ENTRY", &Server::cmd_output},
      // Futhark's own server answers to the plural as well.
      {"outputs", 1, 1, "outputs ENTRY", &Server::cmd_output},
      {"clear", 0, 0, "clear", &Server::cmd_clear},
      {"kind", 1, 1, "kind TYPE", &Server::cmd_kind},
      {"type", 1, 1, "type VAR", &Server::cmd_type},
      {"pause_profiling", 0, 0, "pause_profiling", &Server::cmd_pause_profiling},
      {"unpause_profiling", 0, 0, "unpause_profiling", &Server::cmd_unpause_profiling},
      {"report", 0, 0, "report", &Server::cmd_report},
      {"set_tuning_param", 2, 2, "set_tuning_param PARAM VALUE", &Server::cmd_set_tuning_param},
      {"tuning_params", 1, 1, "tuning_params ENTRY", &Server::cmd_tuning_params},
      {"tuning_param_class", 1, 1, "tuning_param_class PARAM", &Server::cmd_tuning_param_class},
      {"attributes", 1, 1, "attributes ENTRY", &Server::cmd_attributes},
      {"rank", 1, 1, "rank TYPE", &Server::cmd_rank},
      {"elemtype", 1, 1, "elemtype TYPE", &Server::cmd_elemtype},
      {"new_array", 2, -1, "new_array VAR TYPE SIZE... VALUE...", &Server::cmd_new_array},
      {"set", 2, -1, "set VAR VALUE INDEX...", &Server::cmd_set},
      {"shape", 1, 1, "shape VAR", &Server::cmd_shape},
      {"index", 2, -1, "index TO FROM INDEX...", &Server::cmd_index},
      {"fields", 1, 1, "fields TYPE", &Server::cmd_fields},
      {"new", 2, -1, "new VAR TYPE FIELD...", &Server::cmd_new},
      {"project", 3, 3, "project TO FROM FIELD", &Server::cmd_project},
  };
  return table;
}

bool Server::handle_line(std::string_view line, std::string& out) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  std::string body;
  std::string error;
  try {
    if (line.find('\0') != std::string_view::npos) fail_format("the line contains a NUL byte");
    const std::vector<std::string> words = split_words(line);
    if (words.empty()) fail_format("Empty line");
    const Command* command = nullptr;
    for (const auto& c : commands()) {
      if (c.name == words[0]) command = &c;
    }
    if (!command) fail_usage("Unknown command: {}", words[0]);
    const auto argc = static_cast<int>(words.size() - 1);
    if (argc < command->min_args || (command->max_args >= 0 && argc > command->max_args)) {
      const std::string expected =
          command->min_args == command->max_args ? fmt::format("{}", command->min_args)
          : command->max_args < 0                ? fmt::format("at least {}", command->min_args)
                                  : fmt::format("{} to {}", command->min_args, command->max_args);
      fail_usage("{}: expected {} argument{}, got {} (usage: {})", command->name, expected,
                 command->max_args == 1 && command->min_args == 1 ? "" : "s", argc, command->usage);
    }
    (this->*command->run)(Args(words).subspan(1), body);
  } catch (const std::bad_alloc&) {
    error = "out of memory";
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "unknown error";
  }
  if (error.empty()) {
    out += body;
  } else {
    out += kFailureLine;
    append_message(out, error);
  }
  out += kOkLine;
  return error.empty();
}

void Server::run(std::istream& in, std::ostream& out) {
  out << kOkLine << std::flush;
  std::string line;
  std::string response;
  while (std::getline(in, line)) {
    response.clear();
    handle_line(line, response);
    out << response << std::flush;
  }
}

bool Server::has_variable(std::string_view name) const {
  return variables_.find(name) != variables_.end();
}

Array Server::get_array(std::string_view name) const {
  const Variable& v = get_live(name);
  if (!v.value.array()) fail_usage("variable {} holds a {}, not an array", name, v.value.type);
  return *v.value.array();
}

void Server::put_array(const std::string& name, Array value) {
  check_new_name(name);
  if (!value.valid()) fail_usage("variable {}: no array given", name);
  variables_.emplace(name, Variable{Value::of_array(backend_.to_host(value))});
}

const Server::Variable& Server::get_live(std::string_view name) const {
  const auto it = variables_.find(name);
  if (it == variables_.end()) fail_usage("Unknown variable: {}", name);
  if (it->second.consumed) {
    fail_usage("variable {} was consumed by an earlier call; it may only be freed", name);
  }
  return it->second;
}

void Server::check_new_name(std::string_view name) const {
  if (variables_.find(name) != variables_.end()) fail_usage("Variable already exists: {}", name);
}

std::string_view Server::known_type(std::string_view type) const {
  if (!types_.kind(type)) fail_usage("Unknown type: {}", type);
  return type;
}

ArrayType Server::array_type_of(std::string_view type) const {
  const auto kind = types_.kind(type);
  if (!kind) fail_usage("Unknown type: {}", type);
  if (*kind != Kind::Array) fail_usage("Not an array type: {}", type);
  return *parse_array_type(type);
}

const EntryPoint& Server::get_entry(std::string_view name) const {
  const EntryPoint* e = find_entry_point(name);
  if (!e) fail_usage("Unknown entry point: {}", name);
  return *e;
}

// An entry point updates a consumed cache in place. When anything else still sees the cache's
// memory (a tuple still holding it, a projected kcache view, arrays it was built from with
// `new`, a read-only mapping), the call gets its own copy first, so no other variable changes.
void Server::make_exclusive(Value& value) {
  auto* holder = std::get_if<std::shared_ptr<KVCache>>(&value.data);
  if (!holder) return;
  std::shared_ptr<KVCache>& cache = *holder;
  const long per_array = cache->k.storage() == cache->v.storage() ? 2 : 1;
  const auto exclusive = [&](const Array& a) {
    return a.storage().use_count() == per_array &&
           (a.storage()->writable() || a.space() == MemorySpace::Device);
  };
  if (cache.use_count() == 1 && exclusive(cache->k) && exclusive(cache->v)) return;
  KVCache copy{backend_.to_host(cache->k).clone(), backend_.to_host(cache->v).clone()};
  cache = backend_.adopt(std::move(copy));
}

void Server::cmd_types(Args, std::string& out) {
  std::vector<std::string> seen;
  const auto add = [&](auto&& self, const std::string& type) -> void {
    for (const auto& s : seen) {
      if (s == type) return;
    }
    seen.push_back(type);
    if (const auto* fields = types_.fields(type)) {
      for (const auto& f : *fields) self(self, f.type);
    }
  };
  for (const auto& e : entry_points()) {
    for (const auto& in : e.inputs) add(add, std::string(in.type));
    add(add, std::string(e.output));
  }
  for (const auto& t : seen) out += t + "\n";
}

void Server::cmd_entry_points(Args, std::string& out) {
  for (const auto& e : entry_points()) out += fmt::format("{}\n", e.name);
}

void Server::cmd_call(Args args, std::string& out) {
  const EntryPoint& e = get_entry(args[0]);
  const std::string& out_name = args[1];
  const Args in_names = args.subspan(2);
  if (in_names.size() != e.inputs.size()) {
    std::string expected;
    for (const auto& in : e.inputs) {
      expected += fmt::format("{}({}: {}{})", expected.empty() ? "" : " ", in.name,
                              in.consumed ? "*" : "", in.type);
    }
    fail_usage("call {}: expected {} inputs {}, got {}", e.name, e.inputs.size(), expected,
               in_names.size());
  }
  check_new_name(out_name);
  for (size_t i = 0; i < in_names.size(); ++i) {
    const Variable& v = get_live(in_names[i]);
    if (v.value.type != e.inputs[i].type) {
      fail_usage("call {}: input {} ({}) is variable {} of type {}, expected {}", e.name, i,
                 e.inputs[i].name, in_names[i], v.value.type, e.inputs[i].type);
    }
    if (!e.inputs[i].consumed) continue;
    for (size_t j = 0; j < in_names.size(); ++j) {
      if (j != i && in_names[j] == in_names[i]) {
        fail_usage("call {}: variable {} is consumed as input {} ({}) and cannot also be input {}",
                   e.name, in_names[i], i, e.inputs[i].name, j);
      }
    }
  }
  for (size_t i = 0; i < in_names.size(); ++i) {
    if (e.inputs[i].consumed) make_exclusive(variables_.find(in_names[i])->second.value);
  }
  ValueList inputs;
  inputs.reserve(in_names.size());
  for (const auto& name : in_names) inputs.push_back(variables_.find(name)->second.value);

  const auto consume = [&] {
    for (size_t i = 0; i < in_names.size(); ++i) {
      if (!e.inputs[i].consumed) continue;
      Variable& v = variables_.find(in_names[i])->second;
      v.consumed = true;
      v.value.data = Array();  // the memory now belongs to the output (or is released)
    }
  };
  CallContext ctx{backend_};
  Value result;
  try {
    result = e.run(ctx, inputs);
  } catch (...) {
    // Checks fail before the engine runs and leave every input as it was; a failure inside the
    // engine may have half-written a consumed cache, which must then not be used again.
    if (ctx.engine_entered) consume();
    throw;
  }
  inputs.clear();
  consume();
  variables_.emplace(out_name, Variable{std::move(result)});
  out += fmt::format("runtime: {}\n", ctx.runtime_us);
}

void Server::cmd_restore(Args args, std::string&) {
  const std::string& file = args[0];
  const Args pairs = args.subspan(1);
  if (pairs.size() % 2 != 0) {
    fail_usage("restore: expected VAR TYPE pairs after the file name, got {} words", pairs.size());
  }
  std::set<std::string_view> names;
  for (size_t i = 0; i < pairs.size(); i += 2) {
    check_new_name(pairs[i]);
    if (!names.insert(pairs[i]).second) fail_usage("restore: variable {} named twice", pairs[i]);
    known_type(pairs[i + 1]);
  }
  ValueReader reader = ValueReader::open(file);
  std::vector<Value> values;
  for (size_t i = 0; i < pairs.size(); i += 2) {
    try {
      values.push_back(restore_value(backend_, types_, reader, pairs[i + 1]));
    } catch (const FormatError& e) {
      fail_format("restore: variable {} ({}): {}", pairs[i], pairs[i + 1], e.what());
    } catch (const UsageError& e) {
      fail_usage("restore: variable {} ({}): {}", pairs[i], pairs[i + 1], e.what());
    }
  }
  if (!reader.at_end()) {
    fail_format(
        "restore: {}: expected the end of the file after {} values, found more at byte "
        "{}",
        file, values.size(), reader.offset());
  }
  for (size_t i = 0; i < values.size(); ++i) {
    variables_.emplace(pairs[2 * i], Variable{std::move(values[i])});
  }
}

void Server::cmd_store(Args args, std::string&) {
  const std::string& file = args[0];
  std::vector<const Value*> values;
  for (const auto& name : args.subspan(1)) values.push_back(&get_live(name).value);
  AtomicFileSink sink(file);
  for (const Value* v : values) store_value(backend_, types_, sink, *v);
  sink.commit();
}

void Server::cmd_free(Args args, std::string&) {
  std::set<std::string_view> names;
  for (const auto& name : args) {
    if (variables_.find(name) == variables_.end()) fail_usage("Unknown variable: {}", name);
    if (!names.insert(name).second) fail_usage("free: variable {} named twice", name);
  }
  for (const auto& name : args) variables_.erase(variables_.find(name));
}

void Server::cmd_rename(Args args, std::string&) {
  get_live(args[0]);
  check_new_name(args[1]);
  auto node = variables_.extract(variables_.find(args[0]));
  node.key() = args[1];
  variables_.insert(std::move(node));
}

void Server::cmd_inputs(Args args, std::string& out) {
  for (const auto& in : get_entry(args[0]).inputs) {
    out += fmt::format("{}{}\n", in.consumed ? "*" : "", in.type);
  }
}

void Server::cmd_output(Args args, std::string& out) {
  out += fmt::format("{}\n", get_entry(args[0]).output);
}

void Server::cmd_clear(Args, std::string&) { profiler_->clear(); }

void Server::cmd_kind(Args args, std::string& out) {
  const auto kind = types_.kind(args[0]);
  if (!kind) fail_usage("Unknown type: {}", args[0]);
  out += fmt::format("{}\n", kind_name(*kind));
}

void Server::cmd_type(Args args, std::string& out) { out += get_live(args[0]).value.type + "\n"; }

void Server::cmd_pause_profiling(Args, std::string&) { profiler_->set_active(false); }

void Server::cmd_unpause_profiling(Args, std::string&) { profiler_->set_active(true); }

void Server::cmd_report(Args, std::string& out) { out += profiler_->take_report_json() + "\n"; }

void Server::cmd_set_tuning_param(Args args, std::string&) {
  fail_usage("Unknown tuning parameter: {} (this server has no tuning parameters)", args[0]);
}

void Server::cmd_tuning_params(Args args, std::string&) { get_entry(args[0]); }

void Server::cmd_tuning_param_class(Args args, std::string&) {
  fail_usage("Unknown tuning parameter: {} (this server has no tuning parameters)", args[0]);
}

void Server::cmd_attributes(Args args, std::string&) { get_entry(args[0]); }

void Server::cmd_rank(Args args, std::string& out) {
  out += fmt::format("{}\n", array_type_of(args[0]).rank);
}

void Server::cmd_elemtype(Args args, std::string& out) {
  out += fmt::format("{}\n", elem_name(array_type_of(args[0]).elem));
}

void Server::cmd_new_array(Args args, std::string&) {
  const std::string& name = args[0];
  check_new_name(name);
  const ArrayType t = array_type_of(args[1]);
  if (args.size() < 2 + size_t(t.rank)) {
    fail_usage("new_array: type {} needs {} dimension sizes, got {}", args[1], t.rank,
               args.size() - 2);
  }
  Shape shape;
  for (int i = 0; i < t.rank; ++i) {
    const int64_t d = parse_int(args[2 + size_t(i)], "dimension size");
    if (d < 0) fail_usage("new_array: dimension {} has negative size {}", i + 1, d);
    shape.push_back(d);
  }
  const int64_t count = shape_count(shape);
  const Args elems = args.subspan(2 + size_t(t.rank));
  if (static_cast<uint64_t>(count) != elems.size()) {
    fail_usage("new_array: shape {} needs {} values, got {}", shape_string(shape), count,
               elems.size());
  }
  const std::string_view elem = elem_name(t.elem);
  Array a = Array::allocate(t.elem, shape, false);
  const size_t esize = elem_size(t.elem);
  for (size_t i = 0; i < elems.size(); ++i) {
    const Value& v = get_live(elems[i]).value;
    if (v.type != elem) {
      fail_usage("new_array: value {} is variable {} of type {}, expected {}", i, elems[i], v.type,
                 elem);
    }
    std::memcpy(a.raw() + i * esize, v.array()->raw(), esize);
  }
  variables_.emplace(name, Variable{Value::of_array(std::move(a))});
}

void Server::cmd_set(Args args, std::string&) {
  const Variable& target = get_live(args[0]);
  const Array* dst = target.value.array();
  if (!dst || dst->rank() == 0)
    fail_usage("set: variable {} of type {} is not an array", args[0], target.value.type);
  const int64_t flat = flat_index(dst->shape(), args.subspan(2), "set");
  const Value& src = get_live(args[1]).value;
  const std::string_view elem = elem_name(dst->type());
  if (src.type != elem) {
    fail_usage("set: value {} has type {}, expected {}", args[1], src.type, elem);
  }
  // In place only when nothing else sees these bytes; otherwise the variable gets its own copy
  // first, so the update never shows through another variable or the model's weights.
  Array updated = *dst;
  // (A restored array views a private mapping: writable host memory, updated in place too.)
  if (updated.storage().use_count() != 2 || !updated.storage()->writable() ||
      updated.space() == MemorySpace::Device) {
    updated = updated.clone();
  }
  const size_t esize = elem_size(updated.type());
  std::memcpy(updated.raw() + static_cast<size_t>(flat) * esize, src.array()->raw(), esize);
  variables_.find(args[0])->second.value = Value::of_array(std::move(updated));
}

void Server::cmd_shape(Args args, std::string& out) {
  const Value& v = get_live(args[0]).value;
  const Array* a = v.array();
  if (!a || a->rank() == 0)
    fail_usage("shape: variable {} of type {} is not an array", args[0], v.type);
  for (int64_t d : a->shape()) out += fmt::format("{}\n", d);
}

void Server::cmd_index(Args args, std::string&) {
  check_new_name(args[0]);
  const Value& v = get_live(args[1]).value;
  const Array* a = v.array();
  if (!a || a->rank() == 0)
    fail_usage("index: variable {} of type {} is not an array", args[1], v.type);
  const int64_t flat = flat_index(a->shape(), args.subspan(2), "index");
  const size_t esize = elem_size(a->type());
  Array element = Array::allocate(a->type(), {}, false);
  std::memcpy(element.raw(), a->raw() + static_cast<size_t>(flat) * esize, esize);
  variables_.emplace(args[0], Variable{Value::of_array(std::move(element))});
}

void Server::cmd_fields(Args args, std::string& out) {
  known_type(args[0]);
  const auto* fields = types_.fields(args[0]);
  if (!fields) fail_usage("Not a record type: {}", args[0]);
  for (const auto& f : *fields) out += fmt::format("{} {}\n", f.name, f.type);
}

void Server::cmd_new(Args args, std::string&) {
  const std::string& name = args[0];
  check_new_name(name);
  known_type(args[1]);
  const auto* fields = types_.fields(args[1]);
  if (!fields) fail_usage("Not a record type: {}", args[1]);
  const Args field_vars = args.subspan(2);
  if (field_vars.size() != fields->size()) {
    fail_usage("new: {} has {} fields, {} values given", args[1], fields->size(),
               field_vars.size());
  }
  ValueList values;
  for (size_t i = 0; i < field_vars.size(); ++i) {
    const Value& v = get_live(field_vars[i]).value;
    if (v.type != (*fields)[i].type) {
      fail_usage("new: field {} of {} is variable {} of type {}, expected {}", (*fields)[i].name,
                 args[1], field_vars[i], v.type, (*fields)[i].type);
    }
    values.push_back(v);
  }
  Value record = make_record(backend_, types_, args[1], std::move(values));
  variables_.emplace(name, Variable{std::move(record)});
}

void Server::cmd_project(Args args, std::string&) {
  check_new_name(args[0]);
  const Value& from = get_live(args[1]).value;
  const auto* fields = types_.fields(from.type);
  if (!fields) fail_usage("project: variable {} of type {} is not a record", args[1], from.type);
  const auto index = types_.field_index(from.type, args[2]);
  if (!index) {
    std::string names;
    for (const auto& f : *fields) names += (names.empty() ? "" : ", ") + f.name;
    fail_usage("project: {} has no field '{}' (fields: {})", from.type, args[2], names);
  }
  Value field = project_field(backend_, types_, from, *index);
  variables_.emplace(args[0], Variable{std::move(field)});
}

}  // namespace hh::server
