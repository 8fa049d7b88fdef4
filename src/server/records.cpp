#include "server/records.h"

#include <cstring>

#include "model/convert.h"
#include "values/binary_format.h"

namespace hh::server {
namespace {

const std::vector<FieldInfo>& record_fields(const TypeTable& types, std::string_view type) {
  const auto* fields = types.fields(type);
  if (!fields) fail_usage("{} is not a record type", type);
  return *fields;
}

// A Params or Cache field held in the model dtype E (as opposed to the f32 norms and scalars).
bool is_dtype_field(const TypeTable& types, const FieldInfo& field) {
  const auto a = parse_array_type(field.type);
  return a && a->rank > 0 && a->elem == types.dtype();
}

}  // namespace

Array string_array(std::string_view text) {
  Array a = Array::allocate(ElemType::U8, {static_cast<int64_t>(text.size())}, false);
  if (!text.empty()) std::memcpy(a.raw(), text.data(), text.size());
  return a;
}

std::string array_string(const Array& bytes) {
  if (bytes.type() != ElemType::U8 || bytes.rank() != 1) {
    fail_usage("expected a []u8 string, got {}", bytes.type_name());
  }
  return std::string(reinterpret_cast<const char*>(bytes.raw()), bytes.bytes());
}

Value make_record(Backend& backend, const TypeTable& types, std::string_view type,
                  ValueList fields) {
  const auto& infos = record_fields(types, type);
  if (fields.size() != infos.size()) {
    fail_usage("{} has {} fields, {} given", type, infos.size(), fields.size());
  }
  for (size_t i = 0; i < infos.size(); ++i) {
    if (fields[i].type != infos[i].type) {
      fail_usage("{} field {}: expected type {}, got {}", type, infos[i].name, infos[i].type,
                 fields[i].type);
    }
  }
  if (type == kParamsType) {
    std::vector<Array> arrays;
    arrays.reserve(fields.size());
    for (const auto& f : fields) arrays.push_back(*f.array());
    return Value::of_params(backend.adopt(weights_from_fields(arrays, types.dtype())));
  }
  if (type == kCacheType) {
    KVCache cache{*fields[0].array(), *fields[1].array()};
    validate_kv_cache(cache);
    return Value::of_cache(backend.adopt(std::move(cache)));
  }
  return Value::of_tuple(type, std::move(fields));
}

Value project_field(Backend& backend, const TypeTable& types, const Value& record, size_t index) {
  const auto& infos = record_fields(types, record.type);
  if (index >= infos.size()) fail("field index {} out of range for {}", index, record.type);
  if (const Weights* w = record.params()) {
    return Value::of_array(backend.to_host(params_field(*w, infos[index].name)));
  }
  if (const auto* cache = record.cache()) {
    return Value::of_array(backend.to_host(index == 0 ? (*cache)->k : (*cache)->v));
  }
  if (const ValueList* tuple = record.tuple()) return (*tuple)[index];
  fail("variable of type {} holds no record", record.type);
}

void store_value(Backend& backend, const TypeTable& types, ByteSink& sink, const Value& value) {
  if (const Array* a = value.array()) {
    write_binary(sink, backend.to_host(*a));
    return;
  }
  write_binary(sink, string_array(value.type));
  const auto& infos = record_fields(types, value.type);
  for (size_t i = 0; i < infos.size(); ++i) {
    store_value(backend, types, sink, project_field(backend, types, value, i));
  }
}

Value restore_value(Backend& backend, const TypeTable& types, ValueReader& reader,
                    std::string_view type) {
  const size_t index = reader.index();
  const uint64_t offset = reader.offset();
  const auto* infos = types.fields(type);
  if (!infos) {
    Array a = reader.read();
    if (a.type_name() != type) {
      fail_format("{}: value {} (near byte {}): expected {}, found {}", reader.name(), index,
                  offset, type, a.type_name());
    }
    return Value::of_array(std::move(a));
  }

  const Array name = reader.read();
  if (name.type() != ElemType::U8 || name.rank() != 1) {
    fail_format(
        "{}: value {} (near byte {}): expected the type name of a stored {} (a []u8), "
        "found {}",
        reader.name(), index, offset, type, name.type_name());
  }
  const std::string stored = array_string(name);
  if (stored != type) {
    fail_format("{}: value {} (near byte {}): the stored value is a '{}', not a '{}'",
                reader.name(), index, offset, stored, type);
  }
  const bool convertible = type == kParamsType || type == kCacheType;
  ValueList fields;
  for (const auto& field : *infos) {
    if (convertible && is_dtype_field(types, field)) {
      // A capture from a server of another dtype (an f32 cache restored into an f16 server, say)
      // is converted once here; in the server's own dtype the array is used as read.
      const size_t field_index = reader.index();
      const Array a = reader.read();
      const auto want = parse_array_type(field.type);
      if (a.rank() != want->rank || !is_model_dtype(a.type())) {
        fail_format("{}: value {}: {} field {} must be a rank-{} f32, f16 or bf16 array, found {}",
                    reader.name(), field_index, type, field.name, want->rank, a.type_name());
      }
      fields.push_back(Value::of_array(convert_array(a, types.dtype())));
    } else {
      fields.push_back(restore_value(backend, types, reader, field.type));
    }
  }
  if (type == kParamsType) {
    // A tied output projection is stored twice (store writes every field); give both fields the
    // same view again so the restored weights are tied and held once.
    const auto embd = types.field_index(type, "token_embd");
    const auto out = types.field_index(type, "output");
    const Array& e = *fields[*embd].array();
    const Array& o = *fields[*out].array();
    if (e.shape() == o.shape() && e.type() == o.type() &&
        std::memcmp(e.raw(), o.raw(), e.bytes()) == 0) {
      fields[*out] = fields[*embd];
    }
  }
  try {
    return make_record(backend, types, type, std::move(fields));
  } catch (const UsageError& e) {
    fail_format("{}: value {} (near byte {}): invalid {}: {}", reader.name(), index, offset, type,
                e.what());
  }
}

}  // namespace hh::server
