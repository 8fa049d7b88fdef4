#pragma once
// Reading a JSON file (config.json, tokenizer.json, a safetensors index) with errors that name
// the file.
#include <nlohmann/json.hpp>
#include <string>

namespace hh {

// The parsed contents of the file at `path`: SystemError when it cannot be opened, FormatError
// naming the file when it is not valid JSON.
nlohmann::json read_json_file(const std::string& path);

}  // namespace hh
