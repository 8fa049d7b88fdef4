#pragma once
// Benchmark spec files: Futhark's test-block syntax without comment prefixes. Anything before
// the first line holding only `==` is free text; each `==` line starts a block:
//
//   ==
//   entry: gen logits                 -- entry points the datasets apply to (default: main)
//   tags { slow cpu }                 -- skipped with --exclude-case TAG
//   "capture" input @ data.in         -- a data file, relative to the spec's folder
//   input { 10i64 [1i64, 2i64] } output { 3i64 }
//   nobench random input { [100]f32 [10][10]i64 }
//   script input { gen 0i64 [1i64] (load "m.gguf") (init 2i64 2i64 64i64 32i64) (-1i64) 8i64 }
//
// Parsing never touches the file system: data files are resolved by the runner. Every error is
// a FormatError "FILE:LINE:COL: what".
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "values/array.h"

namespace hh::bench {

struct SourcePos {
  int line = 0;
  int column = 0;
};

// A script expression: a literal value (a string literal is a []u8) or an entry point applied
// to arguments.
struct ScriptExpr {
  bool is_call = false;
  Array value;           // when !is_call
  std::string function;  // when is_call
  std::vector<ScriptExpr> args;
  SourcePos pos;
  std::string text;  // the source text, for messages and dataset names
};

// One element of a `random input { ... }` block: a type to generate ([n][m]t, or a scalar
// type), or a fixed literal value.
struct RandomItem {
  bool is_literal = false;
  ElemType type = ElemType::I32;
  Shape shape;
  Array literal;
  std::string text;  // "[100]f32"
};

struct ValuesSpec {
  enum class Kind { Literal, File, Random, Script };
  Kind kind = Kind::Literal;
  std::vector<Array> values;       // Literal
  std::string file;                // File, as written in the spec
  std::vector<RandomItem> random;  // Random
  ScriptExpr script;               // Script
  SourcePos pos;
};

struct DatasetSpec {
  std::string name;  // the quoted name, else derived (file name as written, or "#N")
  bool named = false;
  bool nobench = false;
  ValuesSpec input;
  std::optional<ValuesSpec> output;  // Literal or File
  SourcePos pos;
};

struct CaseSpec {
  std::vector<std::string> entries;
  std::vector<std::string> tags;
  std::vector<DatasetSpec> datasets;
  SourcePos pos;  // of the `==` line
};

struct Spec {
  std::string path;  // as given; data files are relative to its folder
  std::vector<CaseSpec> cases;
};

// Parses spec text; `path` names it in messages and anchors relative data files.
Spec parse_spec(std::string_view text, const std::string& path);
// Reads and parses a spec file (SystemError when it cannot be read).
Spec read_spec_file(const std::string& path);

// The entry point the benchmarked block names when none is given, as in Futhark.
inline constexpr const char* kDefaultEntry = "main";

}  // namespace hh::bench
