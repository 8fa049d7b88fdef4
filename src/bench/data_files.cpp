#include "bench/data_files.h"

#include <cerrno>
#include <memory>

#include "profile/report.h"
#include "server/value.h"
#include "values/binary_format.h"
#include "values/text_format.h"
#include "values/value_reader.h"

namespace hh::bench {
namespace {

// A []u8 longer than this is data, not a record's type name, and is not read by `inspect`.
constexpr uint64_t kMaxTypeNameBytes = 256;
// Records nest (a tuple holds a Cache); a deeper chain of names means a corrupt file.
constexpr int kMaxRecordDepth = 16;

class Inspector {
 public:
  explicit Inspector(const std::string& path)
      : source_(open_file_source(path)), reader_(source_), types_(ElemType::F32) {}

  std::string run() {
    std::string body;
    size_t count = 0;
    while (!reader_.at_end()) {
      const ValueInfo v = reader_.skip();
      describe(v, fmt::format("{}", count), "", 0, body);
      ++count;
    }
    return fmt::format("{}: {} value{}, {} bytes ({})\n", source_->name(), count,
                       count == 1 ? "" : "s", source_->size(),
                       profile::human_bytes(static_cast<int64_t>(source_->size()))) +
           fmt::format("{:>5}  {:>14}  {:<34}  {:<24}  {:>14}\n", "value", "offset", "type",
                       "shape", "bytes") +
           body;
  }

 private:
  // The type name a []u8 value holds when it names a record the server stores, else empty.
  std::string record_name(const ValueInfo& v) {
    if (v.type != ElemType::U8 || v.shape.size() != 1 || v.bytes == 0 ||
        v.bytes > kMaxTypeNameBytes) {
      return {};
    }
    std::string name(v.bytes, '\0');
    if (v.binary) {
      source_->read(v.offset + binary_header_bytes(1), name.data(), name.size());
    } else {
      return {};  // records are only ever stored in binary
    }
    return types_.fields(name) ? name : std::string();
  }

  static std::string line(const std::string& label, uint64_t offset, const std::string& type,
                          const std::string& shape, uint64_t bytes) {
    return fmt::format("{:>5}  {:>14}  {:<34}  {:<24}  {:>14}\n", label, offset, type, shape,
                       bytes);
  }

  // `field` is the record field this value fills (empty at the top level).
  void describe(const ValueInfo& v, const std::string& label, const std::string& field, int depth,
                std::string& out) {
    const std::string prefix =
        field.empty() ? "" : std::string(2 * depth, ' ') + "." + field + ": ";
    const std::string record = record_name(v);
    if (record.empty()) {
      total_ += v.bytes;
      out +=
          line(label, v.offset, prefix + array_type_name(v.type, static_cast<int>(v.shape.size())),
               v.shape.empty() ? "scalar" : shape_string(v.shape), v.bytes);
      return;
    }
    if (depth >= kMaxRecordDepth) {
      fail_format("{}: value at byte {}: records nested deeper than {}", source_->name(), v.offset,
                  kMaxRecordDepth);
    }
    const auto& fields = *types_.fields(record);
    std::string body;
    const uint64_t before = total_;
    for (const auto& f : fields) {
      if (reader_.at_end()) {
        fail_format(
            "{}: the {} stored at byte {} is truncated: it has {} fields, the file ends "
            "before field '{}'",
            source_->name(), record, v.offset, fields.size(), f.name);
      }
      describe(reader_.skip(), "", f.name, depth + 1, body);
    }
    out += line(label, v.offset, prefix + record, fmt::format("record of {} fields", fields.size()),
                total_ - before);
    out += body;
  }

  std::shared_ptr<const ByteSource> source_;
  ValueReader reader_;
  // Field names of the records the server stores (the same for every dtype).
  server::TypeTable types_;
  uint64_t total_ = 0;  // element bytes of every plain value described so far
};

}  // namespace

void StdioSink::write(const void* data, size_t n) {
  if (n > 0 && std::fwrite(data, 1, n, f_) != n) fail_errno("cannot write the output");
}

SizedType parse_sized_type(std::string_view text) {
  SizedType t;
  std::string_view rest = text;
  while (!rest.empty() && rest[0] == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) fail_usage("\"{}\": missing ']'", text);
    const std::string_view digits = rest.substr(1, close - 1);
    if (digits.empty()) fail_usage("\"{}\": give every dimension a size, as in [10]f32", text);
    int64_t n = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') fail_usage("\"{}\": \"{}\" is not a size", text, digits);
      if (n > (INT64_MAX - 9) / 10) fail_usage("\"{}\": size too large", text);
      n = n * 10 + (c - '0');
    }
    t.shape.push_back(n);
    rest.remove_prefix(close + 1);
  }
  const auto type = parse_elem_name(rest);
  if (!type)
    fail_usage("\"{}\": \"{}\" is not an element type (i8..u64, f16, bf16, f32, f64, bool)", text,
               rest);
  t.type = *type;
  shape_count(t.shape);  // rejects overflowing sizes
  return t;
}

std::vector<Array> generate_values(const std::vector<std::string>& args, uint64_t seed,
                                   const RandomRanges& ranges) {
  Rng rng(seed);
  std::vector<Array> values;
  for (const auto& a : args) {
    // A type is dimension brackets (with sizes or, wrongly, without) and an element name;
    // anything else is a value literal.
    std::string_view rest = a;
    while (rest.starts_with("[")) {
      const size_t close = rest.find(']');
      if (close == std::string_view::npos ||
          rest.substr(1, close - 1).find_first_not_of("0123456789") != std::string_view::npos) {
        break;
      }
      rest.remove_prefix(close + 1);
    }
    // "[10]f128" is a type with a bad element name, not a literal.
    const bool word =
        !rest.empty() && rest.size() < a.size() &&
        rest.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") == std::string_view::npos;
    const bool literal = !parse_elem_name(rest).has_value() && !word;
    if (literal) {
      values.push_back(parse_text_value(a, "argument \"" + a + "\""));
    } else {
      const SizedType t = parse_sized_type(a);
      values.push_back(random_array(t.type, t.shape, rng, ranges));
    }
  }
  return values;
}

void write_values(ByteSink& sink, const std::vector<Array>& values, bool binary) {
  for (const auto& v : values) {
    if (binary) {
      write_binary(sink, v);
    } else {
      const std::string text = format_value(v) + "\n";
      sink.write(text.data(), text.size());
    }
  }
}

void convert_data_file(const std::string& in, ByteSink& sink, bool to_binary) {
  ValueReader reader = ValueReader::open(in);
  while (!reader.at_end()) write_values(sink, {reader.read()}, to_binary);
}

std::string inspect_data_file(const std::string& path) { return Inspector(path).run(); }

}  // namespace hh::bench
