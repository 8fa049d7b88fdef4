#include "profile/report.h"

#include <algorithm>

#include "util/error.h"

namespace hh::profile {
namespace {

double number_field(const nlohmann::ordered_json& e, const char* key, const std::string& where) {
  const auto it = e.find(key);
  if (it == e.end() || !it->is_number()) {
    fail_format("{}: missing or non-numeric \"{}\"", where, key);
  }
  return it->get<double>();
}

}  // namespace

Report parse_report(const nlohmann::ordered_json& json, const std::string& where) {
  if (!json.is_object()) fail_format("{}: a profiling report must be a JSON object", where);
  Report r;
  if (const auto mem = json.find("memory"); mem != json.end()) {
    if (!mem->is_object()) fail_format("{}: \"memory\" must be an object", where);
    for (const auto& [space, n] : mem->items()) {
      if (!n.is_number()) fail_format("{}: memory.{} is not a number", where, space);
      r.memory[space] = static_cast<int64_t>(n.get<double>());
    }
  }
  const auto events = json.find("events");
  if (events == json.end() || !events->is_array()) {
    fail_format("{}: missing \"events\" array", where);
  }
  r.events.reserve(events->size());
  for (size_t i = 0; i < events->size(); ++i) {
    const auto& e = (*events)[i];
    const std::string at = fmt::format("{}: events[{}]", where, i);
    if (!e.is_object()) fail_format("{}: not an object", at);
    Event ev;
    const auto name = e.find("name");
    if (name == e.end() || !name->is_string()) fail_format("{}: missing \"name\" string", at);
    ev.name = name->get<std::string>();
    ev.start_us = number_field(e, "start", at);
    ev.end_us = number_field(e, "end", at);
    if (ev.end_us < ev.start_us) {
      fail_format("{}: \"{}\" ends ({}) before it starts ({})", at, ev.name, ev.end_us,
                  ev.start_us);
    }
    if (const auto d = e.find("details"); d != e.end()) {
      ev.details = d->is_string() ? d->get<std::string>() : d->dump();
    }
    r.events.push_back(std::move(ev));
  }
  std::stable_sort(r.events.begin(), r.events.end(),
                   [](const Event& a, const Event& b) { return a.start_us < b.start_us; });
  return r;
}

std::vector<CostCentre> cost_centres(const Report& report) {
  std::map<std::string, CostCentre> by_name;
  double total = 0;
  for (const auto& e : report.events) {
    CostCentre& c = by_name[e.name];
    c.name = e.name;
    ++c.count;
    c.total_us += e.duration_us();
    total += e.duration_us();
  }
  std::vector<CostCentre> out;
  for (auto& [name, c] : by_name) {
    c.share = total > 0 ? c.total_us / total : 0;
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const CostCentre& a, const CostCentre& b) {
    return a.total_us != b.total_us ? a.total_us > b.total_us : a.name < b.name;
  });
  return out;
}

std::string human_bytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (std::abs(v) >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.2f} {}", v, units[u]);
}

std::string summary_text(const Report& report, const std::string& title) {
  const auto centres = cost_centres(report);
  double total = 0;
  for (const auto& c : centres) total += c.total_us;
  size_t width = 11;  // "Cost centre"
  for (const auto& c : centres) width = std::max(width, c.name.size());
  std::string out = fmt::format("Profile of {}\n", title);
  if (!report.events.empty()) {
    const double span = report.events.back().end_us - report.events.front().start_us;
    double last_end = report.events.front().end_us;
    for (const auto& e : report.events) last_end = std::max(last_end, e.end_us);
    out += fmt::format("{} events, {:.1f} µs in all, over a span of {:.1f} µs\n\n",
                       report.events.size(), total,
                       std::max(span, last_end - report.events.front().start_us));
    out += fmt::format("{:<{}}  {:>9}  {:>14}  {:>12}  {:>7}\n", "Cost centre", width, "Count",
                       "Total (µs)", "Mean (µs)", "Share");
    out += std::string(width + 52, '-') + "\n";
    for (const auto& c : centres) {
      out += fmt::format("{:<{}}  {:>9}  {:>14.1f}  {:>12.2f}  {:>6.1f}%\n", c.name, width, c.count,
                         c.total_us, c.mean_us(), 100 * c.share);
    }
  } else {
    out += "No events were recorded (was profiling on during the run?)\n";
  }
  out += "\nMemory in use:\n";
  if (report.memory.empty()) out += "  (none reported)\n";
  for (const auto& [space, bytes] : report.memory) {
    out += fmt::format("  {:<10} {:>16} bytes  ({})\n", space, bytes, human_bytes(bytes));
  }
  return out;
}

std::string log_text(const Report& report, const std::string& title) {
  std::string out = fmt::format("Events of {} (offsets from the first event, µs)\n", title);
  if (report.events.empty()) return out + "(no events)\n";
  const double t0 = report.events.front().start_us;
  size_t width = 4;
  for (const auto& e : report.events) width = std::max(width, e.name.size());
  for (const auto& e : report.events) {
    out += fmt::format("{:>14.1f}  {:>12.1f}  {:<{}}", e.start_us - t0, e.duration_us(), e.name,
                       width);
    if (!e.details.empty()) {
      std::string details = e.details;
      std::replace(details.begin(), details.end(), '\n', ' ');  // one line per event
      out += "  " + details;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += '\n';
  }
  return out;
}

}  // namespace hh::profile
