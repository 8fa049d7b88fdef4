#pragma once
// What a server variable holds, and the types the protocol names. A Value is a primitive or an
// array (hh::Array), or one of the opaque records: Params (the model's weights), Cache (the KV
// cache) and the tuples entry points return, `([]i64, Cache)` and `([][]f32, Cache)`, whose
// fields are `0` and `1`. Copying a Value shares its data; nothing here copies tensors.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/kv_cache.h"
#include "model/weights.h"
#include "values/array.h"

namespace hh::server {

inline constexpr std::string_view kParamsType = "Params";
inline constexpr std::string_view kCacheType = "Cache";
inline constexpr std::string_view kGenOutputType = "([]i64, Cache)";
inline constexpr std::string_view kLogitsOutputType = "([][]f32, Cache)";

struct Value;
using ValueList = std::vector<Value>;

struct Value {
  std::string type;  // the protocol type name
  std::variant<Array, std::shared_ptr<const Weights>, std::shared_ptr<KVCache>,
               std::shared_ptr<const ValueList>>
      data;

  static Value of_array(Array array);
  static Value of_params(std::shared_ptr<const Weights> weights);
  static Value of_cache(std::shared_ptr<KVCache> cache);
  static Value of_tuple(std::string_view type, ValueList fields);

  // Null when the value holds something else.
  const Array* array() const { return std::get_if<Array>(&data); }
  const Weights* params() const;
  const std::shared_ptr<KVCache>* cache() const {
    return std::get_if<std::shared_ptr<KVCache>>(&data);
  }
  const ValueList* tuple() const;
};

enum class Kind { Primitive, Array, Record };
std::string_view kind_name(Kind kind);  // "primitive", "array", "record"

struct FieldInfo {
  std::string name;
  std::string type;
};

// Element type and rank of "i32", "[][]f16", ...; nullopt for anything else.
struct ArrayType {
  ElemType elem;
  int rank;
};
std::optional<ArrayType> parse_array_type(std::string_view type);

// The types of a server whose model dtype is E: primitives and arrays of any rank, and the
// opaque records, whose field types depend on E.
class TypeTable {
 public:
  explicit TypeTable(ElemType dtype);
  ElemType dtype() const { return dtype_; }

  std::optional<Kind> kind(std::string_view type) const;
  // The fields of a record type in protocol order; null for other types.
  const std::vector<FieldInfo>* fields(std::string_view type) const;
  // Index of `field` in a record type, or nullopt.
  std::optional<size_t> field_index(std::string_view type, std::string_view field) const;

 private:
  ElemType dtype_;
  std::vector<FieldInfo> params_fields_;
  std::vector<FieldInfo> cache_fields_;
  std::vector<FieldInfo> gen_fields_;
  std::vector<FieldInfo> logits_fields_;
};

}  // namespace hh::server
