#include "server/value.h"

namespace hh::server {

Value Value::of_array(Array array) {
  std::string type = array.type_name();
  return Value{std::move(type), std::move(array)};
}

Value Value::of_params(std::shared_ptr<const Weights> weights) {
  return Value{std::string(kParamsType), std::move(weights)};
}

Value Value::of_cache(std::shared_ptr<KVCache> cache) {
  return Value{std::string(kCacheType), std::move(cache)};
}

Value Value::of_tuple(std::string_view type, ValueList fields) {
  return Value{std::string(type), std::make_shared<const ValueList>(std::move(fields))};
}

const Weights* Value::params() const {
  const auto* p = std::get_if<std::shared_ptr<const Weights>>(&data);
  return p ? p->get() : nullptr;
}

const ValueList* Value::tuple() const {
  const auto* p = std::get_if<std::shared_ptr<const ValueList>>(&data);
  return p ? p->get() : nullptr;
}

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::Primitive:
      return "primitive";
    case Kind::Array:
      return "array";
    case Kind::Record:
      return "record";
  }
  return "unknown";
}

std::optional<ArrayType> parse_array_type(std::string_view type) {
  int rank = 0;
  while (type.substr(0, 2) == "[]") {
    type.remove_prefix(2);
    ++rank;
  }
  const auto elem = parse_elem_name(type);
  // The binary format's rank field is an i8.
  if (!elem || rank > 127) return std::nullopt;
  return ArrayType{*elem, rank};
}

TypeTable::TypeTable(ElemType dtype) : dtype_(dtype) {
  for (const auto& name : params_field_names()) {
    params_fields_.push_back({name, params_field_type(name, dtype)});
  }
  const std::string cache_array = array_type_name(dtype, 4);
  cache_fields_ = {{"kcache", cache_array}, {"vcache", cache_array}};
  gen_fields_ = {{"0", "[]i64"}, {"1", std::string(kCacheType)}};
  logits_fields_ = {{"0", "[][]f32"}, {"1", std::string(kCacheType)}};
}

std::optional<Kind> TypeTable::kind(std::string_view type) const {
  if (fields(type)) return Kind::Record;
  const auto a = parse_array_type(type);
  if (!a) return std::nullopt;
  return a->rank == 0 ? Kind::Primitive : Kind::Array;
}

const std::vector<FieldInfo>* TypeTable::fields(std::string_view type) const {
  if (type == kParamsType) return &params_fields_;
  if (type == kCacheType) return &cache_fields_;
  if (type == kGenOutputType) return &gen_fields_;
  if (type == kLogitsOutputType) return &logits_fields_;
  return nullptr;
}

std::optional<size_t> TypeTable::field_index(std::string_view type, std::string_view field) const {
  const auto* f = fields(type);
  if (!f) return std::nullopt;
  for (size_t i = 0; i < f->size(); ++i) {
    if ((*f)[i].name == field) return i;
  }
  return std::nullopt;
}

}  // namespace hh::server
