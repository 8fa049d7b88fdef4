#include "bench/inputs.h"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

#include "bench/random_values.h"
#include "values/binary_format.h"

namespace hh::bench {
namespace {

namespace fs = std::filesystem;

uint64_t fnv1a(std::string_view bytes, uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string value_type_name(const ValueInfo& v) {
  return array_type_name(v.type, int(v.shape.size()));
}

std::string list_types(const std::vector<EntryParam>& inputs) {
  std::string out;
  for (const auto& in : inputs) {
    if (!out.empty()) out += ", ";
    out += (in.star ? "*" : "") + in.type;
  }
  return out.empty() ? "nothing" : out;
}

}  // namespace

std::optional<PlainType> parse_plain_type(std::string_view type) {
  PlainType t;
  while (type.starts_with("[]")) {
    ++t.rank;
    type.remove_prefix(2);
  }
  const auto elem = parse_elem_name(type);
  if (!elem) return std::nullopt;
  t.elem = *elem;
  return t;
}

std::string resolve_spec_path(const Spec& spec, const std::string& file) {
  const fs::path p(file);
  if (p.is_absolute()) return file;
  const fs::path dir = fs::path(spec.path).parent_path();
  return (dir / p).lexically_normal().string();
}

void write_values_file(const std::string& path, const std::vector<Array>& values) {
  AtomicFileSink sink(path);
  for (const auto& v : values) write_binary(sink, v);
  sink.commit();
}

std::vector<Array> read_values_file(const std::string& path) {
  ValueReader reader = ValueReader::open(path);
  std::vector<Array> values;
  while (!reader.at_end()) values.push_back(reader.read());
  return values;
}

std::vector<ValueInfo> scan_values_file(const std::string& path) {
  ValueReader reader = ValueReader::open(path);
  std::vector<ValueInfo> values;
  while (!reader.at_end()) values.push_back(reader.skip());
  return values;
}

std::string binary_data_file(const std::string& path, const std::string& work_dir,
                             const std::string& stem) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail_usage("data file '{}' does not exist", path);
  if (fs::is_directory(path, ec)) fail_usage("data file '{}' is a directory", path);
  bool all_binary = true;
  for (const auto& v : scan_values_file(path)) all_binary = all_binary && v.binary;
  if (all_binary) return path;
  const std::string copy = (fs::path(work_dir) / (stem + ".bin")).string();
  write_values_file(copy, read_values_file(path));
  return copy;
}

std::vector<ValueInfo> describe_values(const std::vector<Array>& values) {
  std::vector<ValueInfo> out;
  for (size_t i = 0; i < values.size(); ++i) {
    ValueInfo v;
    v.index = i;
    v.type = values[i].type();
    v.shape = values[i].shape();
    v.bytes = values[i].bytes();
    out.push_back(std::move(v));
  }
  return out;
}

void check_input_types(const std::vector<ValueInfo>& values, const std::vector<EntryParam>& inputs,
                       std::string_view entry, std::string_view where) {
  for (const auto& in : inputs) {
    if (!parse_plain_type(in.type)) return;  // records: the server checks them on restore
  }
  if (values.size() != inputs.size()) {
    fail_usage("{}: {} value{} given, but entry point '{}' takes {} input{} ({})", where,
               values.size(), values.size() == 1 ? "" : "s", entry, inputs.size(),
               inputs.size() == 1 ? "" : "s", list_types(inputs));
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string got = value_type_name(values[i]);
    if (got != inputs[i].type) {
      fail_usage("{}: value {} is a {} of shape {}, but input {} of entry point '{}' is {}", where,
                 i, got, shape_string(values[i].shape), i, entry, inputs[i].type);
    }
  }
}

std::vector<Array> generate_random_values(const std::vector<RandomItem>& items, uint64_t seed) {
  Rng rng(seed);
  std::vector<Array> values;
  for (const auto& item : items) {
    values.push_back(item.is_literal ? item.literal : random_array(item.type, item.shape, rng));
  }
  return values;
}

std::string random_data_file(const Spec& spec, const ValuesSpec& input,
                             const std::string& work_dir) {
  // The key covers everything the bytes depend on, so a changed spec line gets a new file and
  // an unchanged one reuses the old file.
  std::string key = fmt::format("v{} seed {}", kRandomGeneratorVersion, kDefaultRandomSeed);
  for (const auto& item : input.random) {
    key += '|';
    key += item.is_literal ? to_binary(item.literal)
                           : shape_string(item.shape) + std::string(elem_name(item.type));
  }
  const std::string file = fmt::format("random-{:016x}.in", fnv1a(key));
  const fs::path data_dir = fs::path(resolve_spec_path(spec, "data"));
  const fs::path cached = data_dir / file;
  std::error_code ec;
  if (fs::exists(cached, ec)) return cached.string();
  const auto values = generate_random_values(input.random, kDefaultRandomSeed);
  fs::create_directories(data_dir, ec);
  try {
    if (ec) fail_errno(fmt::format("cannot create '{}'", data_dir.string()));
    write_values_file(cached.string(), values);
    return cached.string();
  } catch (const SystemError&) {
    // A read-only spec folder: generate for this run only.
    const std::string fallback = (fs::path(work_dir) / file).string();
    write_values_file(fallback, values);
    return fallback;
  }
}

}  // namespace hh::bench
