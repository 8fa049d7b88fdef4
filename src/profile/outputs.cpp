#include "profile/outputs.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "profile/html.h"
#include "util/error.h"
#include "values/byte_io.h"

namespace hh::profile {
namespace {

namespace fs = std::filesystem;

void write_text(const std::string& path, const std::string& text) {
  AtomicFileSink sink(path);
  sink.write(text.data(), text.size());
  sink.commit();
}

}  // namespace

std::string safe_file_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("._#()+,=@-").find(c) != std::string_view::npos;
    out += ok ? c : '_';
  }
  if (out.empty()) out = "_";
  if (out[0] == '.') out[0] = '_';
  return out;
}

std::string output_dir_for(const std::string& path) {
  fs::path p(path);
  if (p.extension() == ".json") p.replace_extension();
  return p.string() + ".prof";
}

std::vector<NamedReport> read_profile_inputs(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_errno(fmt::format("cannot open '{}'", path));
  std::ostringstream text;
  text << in.rdbuf();
  // Ordered, so reports come out in the order of the file.
  nlohmann::ordered_json json;
  try {
    json = nlohmann::ordered_json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    fail_format("{}: not valid JSON (truncated or corrupt?): {}", path, e.what());
  }
  if (!json.is_object()) fail_format("{}: expected a JSON object", path);

  std::vector<NamedReport> out;
  if (json.contains("events")) {  // a raw report
    const std::string stem = fs::path(path).stem().string();
    out.push_back({safe_file_name(stem), stem, parse_report(json, path)});
    return out;
  }
  std::set<std::string> used;
  size_t datasets = 0;
  for (const auto& [program, body] : json.items()) {
    const std::string where = fmt::format("{}: program \"{}\"", path, program);
    if (!body.is_object() || !body.contains("datasets") || !body["datasets"].is_object()) {
      fail_format(
          "{}: neither a profiling report (no \"events\") nor a results file (no "
          "\"datasets\" object)",
          where);
    }
    const std::string entry = program.substr(program.rfind(':') + 1);
    for (const auto& [dataset, result] : body["datasets"].items()) {
      ++datasets;
      if (!result.is_object() || !result.contains("profiling") || result["profiling"].is_null()) {
        continue;  // failed, or run without --profile
      }
      std::string name = safe_file_name(dataset);
      if (used.contains(name)) name = safe_file_name(entry + "-" + dataset);
      for (int k = 2; used.contains(name); ++k)
        name = safe_file_name(fmt::format("{}-{}", dataset, k));
      used.insert(name);
      out.push_back({name, fmt::format("{}, dataset {}", program, dataset),
                     parse_report(result["profiling"],
                                  fmt::format("{}, dataset \"{}\", profiling", where, dataset))});
    }
  }
  if (out.empty()) {
    fail_usage(
        "{}: none of its {} datasets has a profiling report (run `hedgehog bench "
        "--profile --json {}`)",
        path, datasets, path);
  }
  return out;
}

std::vector<std::string> write_profile_outputs(const std::string& path,
                                               const std::string& out_dir) {
  const auto inputs = read_profile_inputs(path);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) fail_usage("cannot create the folder '{}': {}", out_dir, ec.message());
  std::vector<std::string> written;
  for (const auto& r : inputs) {
    const fs::path base = fs::path(out_dir) / r.name;
    const std::pair<std::string, std::string> files[] = {
        {base.string() + ".summary", summary_text(r.report, r.title)},
        {base.string() + ".log", log_text(r.report, r.title)},
        {base.string() + ".html", html_page(r.report, r.title)},
    };
    for (const auto& [file, text] : files) {
      write_text(file, text);
      written.push_back(file);
    }
  }
  return written;
}

}  // namespace hh::profile
