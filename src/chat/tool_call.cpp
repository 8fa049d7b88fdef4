#include "chat/tool_call.h"

#include <cmath>

namespace hh::chat {

namespace {

constexpr std::string_view kOpen = "<tool_call>";
constexpr std::string_view kClose = "</tool_call>";
constexpr std::string_view kToolPrefix = "tool_";

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Fills name and n of `call` from its raw JSON, or its error.
void read_call(ToolCall& call) {
  const auto json = nlohmann::json::parse(call.raw, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    call.error = "the tool call is not valid JSON";
    return;
  }
  if (!json.is_object()) {
    call.error = "the tool call is not a JSON object";
    return;
  }
  const auto name = json.find("name");
  if (name == json.end() || !name->is_string() || name->get<std::string>().empty()) {
    call.error = "the tool call has no \"name\" string";
    return;
  }
  call.name = name->get<std::string>();
  auto args_it = json.find("arguments");
  if (args_it == json.end()) {
    call.error = "the tool call has no \"arguments\"";
    return;
  }
  nlohmann::json args = *args_it;
  if (args.is_string()) {  // some models send the arguments as a JSON string
    args = nlohmann::json::parse(args.get<std::string>(), nullptr, false);
  }
  if (!args.is_object()) {
    call.error = "the tool call's \"arguments\" is not a JSON object";
    return;
  }
  const auto n = args.find("n");
  if (n == args.end()) {
    call.error = "the tool call's arguments have no \"n\"";
    return;
  }
  if (n->is_number_integer()) {
    if (n->is_number_unsigned() && n->get<uint64_t>() > uint64_t(INT64_MAX)) {
      call.error = "the argument n is too large";
      return;
    }
    call.n = n->get<int64_t>();
    return;
  }
  if (n->is_number_float()) {
    const double v = n->get<double>();
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.0e18) {
      call.n = static_cast<int64_t>(v);
      return;
    }
  }
  call.error = "the argument n is not an integer";
}

}  // namespace

std::vector<ToolSpec> tools_from_entry_points(const std::vector<std::string>& entry_points) {
  std::vector<ToolSpec> tools;
  for (const auto& e : entry_points) {
    if (!e.starts_with(kToolPrefix)) continue;
    const std::string_view rest = std::string_view(e).substr(kToolPrefix.size());
    const size_t cut = rest.find('_');
    if (cut == 0 || cut == std::string_view::npos || cut + 1 == rest.size()) continue;
    ToolSpec t;
    t.entry_point = e;
    t.name = std::string(rest.substr(0, cut));
    t.description = std::string(rest.substr(cut + 1));
    for (char& c : t.description) {
      if (c == '_') c = ' ';
    }
    tools.push_back(std::move(t));
  }
  return tools;
}

nlohmann::ordered_json tool_schemas(const std::vector<ToolSpec>& tools) {
  auto list = nlohmann::ordered_json::array();
  for (const auto& t : tools) {
    nlohmann::ordered_json n = {{"type", "integer"}, {"description", "the integer n"}};
    nlohmann::ordered_json parameters = {
        {"type", "object"}, {"properties", {{"n", n}}}, {"required", {"n"}}};
    list.push_back(
        {{"type", "function"},
         {"function",
          {{"name", t.name}, {"description", t.description}, {"parameters", parameters}}}});
  }
  return list;
}

ParsedAnswer parse_tool_calls(std::string_view answer) {
  ParsedAnswer parsed;
  std::string content;
  size_t at = 0;
  while (true) {
    const size_t open = answer.find(kOpen, at);
    if (open == std::string_view::npos) {
      content.append(answer.substr(at));
      break;
    }
    content.append(answer.substr(at, open - at));
    const size_t body = open + kOpen.size();
    const size_t close = answer.find(kClose, body);
    ToolCall call;
    if (close == std::string_view::npos) {
      call.raw = std::string(trim(answer.substr(body)));
      call.error = "the tool call has no closing </tool_call>";
      parsed.calls.push_back(std::move(call));
      break;
    }
    call.raw = std::string(trim(answer.substr(body, close - body)));
    read_call(call);
    parsed.calls.push_back(std::move(call));
    at = close + kClose.size();
  }
  parsed.content = std::string(trim(content));
  return parsed;
}

}  // namespace hh::chat
