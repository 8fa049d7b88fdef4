#pragma once
// The opaque records (Params, Cache, the entry points' tuples): building them from fields
// (`new`), taking them apart (`project`), and storing/restoring them. A stored record is, as
// DESIGN.md fixes, a []u8 value holding the type name and then every field in `fields` order,
// each in the binary data format (a tuple's Cache field nests the same way), so a capture stays
// a plain sequence of values that any reader of the format can walk.
#include <string_view>

#include "engine/backend.h"
#include "server/value.h"
#include "values/byte_io.h"
#include "values/value_reader.h"

namespace hh::server {

// `fields` in protocol order; each must have its field's type. Params go through
// weights_from_fields() (views, no copy) and Backend::adopt(); a Cache through adopt().
Value make_record(Backend& backend, const TypeTable& types, std::string_view type,
                  ValueList fields);
// Field `index` of a record value; arrays come back host-visible (Backend::to_host).
Value project_field(Backend& backend, const TypeTable& types, const Value& record, size_t index);

// Appends `value` to `sink` in the binary format (records as described above).
void store_value(Backend& backend, const TypeTable& types, ByteSink& sink, const Value& value);
// Reads the next value of type `type`; FormatError naming the file, value index and what was
// found when the stored value is not a `type`.
Value restore_value(Backend& backend, const TypeTable& types, ValueReader& reader,
                    std::string_view type);

// []u8 <-> string, for type names and `load` paths.
Array string_array(std::string_view text);
std::string array_string(const Array& bytes);

}  // namespace hh::server
