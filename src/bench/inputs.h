#pragma once
// Turning a dataset's values into data files a protocol server can `restore`: literal values
// and script literals are written in the binary format, random inputs are generated once and
// cached under `data/` beside the spec, and a data file given with `input @ FILE` is used as
// it is when all of it is binary (a multi-GB capture is never copied) or converted otherwise.
// Type checks against the entry point's inputs happen here, before anything reaches the server,
// wherever the types are plain (primitives and arrays); records are checked by the server.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/spec.h"
#include "server/client.h"
#include "values/value_reader.h"

namespace hh::bench {

// The element type and rank of a primitive or array type name ("i64", "[][]f32").
struct PlainType {
  ElemType elem = ElemType::I32;
  int rank = 0;
};
std::optional<PlainType> parse_plain_type(std::string_view type);

// A file named in a spec, relative to the spec's folder (absolute paths stay as they are).
std::string resolve_spec_path(const Spec& spec, const std::string& file);

// Writes `values` to `path` in the binary format; the file appears complete or not at all.
void write_values_file(const std::string& path, const std::vector<Array>& values);
// Every value of a data file, read fully.
std::vector<Array> read_values_file(const std::string& path);
// The header of every value of a data file (no element data is read for binary values).
std::vector<ValueInfo> scan_values_file(const std::string& path);

// `path` itself when every value in it is binary; otherwise a binary copy `work_dir/stem.bin`.
// Throws UsageError naming the file when it does not exist.
std::string binary_data_file(const std::string& path, const std::string& work_dir,
                             const std::string& stem);

// When every input type is plain: checks that `values` (type names and shapes, as read from
// headers) are as many and of the types the entry point takes. `where` names the dataset.
void check_input_types(const std::vector<ValueInfo>& values, const std::vector<EntryParam>& inputs,
                       std::string_view entry, std::string_view where);
std::vector<ValueInfo> describe_values(const std::vector<Array>& values);

// The data file of a `random input`: `data/random-<hash>.in` beside the spec, generated with
// kDefaultRandomSeed when it does not exist yet (or, when that folder cannot be written, in
// `work_dir`).
std::string random_data_file(const Spec& spec, const ValuesSpec& input,
                             const std::string& work_dir);
// The values of a random input, generated in memory.
std::vector<Array> generate_random_values(const std::vector<RandomItem>& items, uint64_t seed);

}  // namespace hh::bench
