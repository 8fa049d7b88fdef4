#include "util/json_file.h"

#include <fstream>
#include <sstream>

#include "util/error.h"

namespace hh {

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_errno("cannot open '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    fail_format("{}: bad JSON: {}", path, e.what());
  }
}

}  // namespace hh
