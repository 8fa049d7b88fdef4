#include "chat/repl.h"

#include <errno.h>
#include <histedit.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

namespace hh::chat {

namespace {

constexpr std::string_view kDim = "\x1b[2m";
constexpr std::string_view kCyan = "\x1b[36m";
constexpr std::string_view kRed = "\x1b[31m";
constexpr std::string_view kReset = "\x1b[0m";
constexpr std::string_view kThinkPrefix = "think: ";

std::atomic<bool>* g_interrupt_flag = nullptr;

extern "C" void on_interrupt(int) {
  if (g_interrupt_flag) g_interrupt_flag->store(true);
}

constexpr const char* kHelp =
    "Type a message to chat. Commands:\n"
    "  quit      leave (Ctrl-D too)\n"
    "  clear     forget the conversation and the cached tokens\n"
    "  think     let the model think before answering (enable_thinking)\n"
    "  nothink   answer without thinking\n"
    "  show      show the model's thinking\n"
    "  hide      hide the model's thinking\n"
    "  report    write the engine's profiling report to report.json\n"
    "  help      this text\n"
    "Ctrl-C stops the answer being written.";

// One line of user input at a time: libedit on a terminal, plain reads otherwise.
class LineReader {
 public:
  enum class Status { Line, Interrupted, End };

  explicit LineReader(std::atomic<bool>& interrupt) : interrupt_(interrupt) {
    if (!isatty(STDIN_FILENO)) return;
    editor_ = el_init("hedgehog", stdin, stdout, stderr);
    if (!editor_) return;
    history_ = history_init();
    HistEvent event;
    history(history_, &event, H_SETSIZE, 1000);
    el_set(editor_, EL_HIST, history, history_);
    el_set(editor_, EL_EDITOR, "emacs");
    el_set(editor_, EL_CLIENTDATA, this);
    el_set(editor_, EL_PROMPT, &LineReader::prompt_of);
  }
  ~LineReader() {
    if (editor_) el_end(editor_);
    if (history_) history_end(history_);
  }
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  Status read(const std::string& prompt, std::string& line) {
    prompt_ = prompt;
    if (!editor_) {
      std::fputs(prompt.c_str(), stdout);
      std::fflush(stdout);
      if (!std::getline(std::cin, line)) return Status::End;
      // The input is not echoed by a terminal: show it, so the transcript reads as a chat.
      std::printf("%s\n", line.c_str());
      return Status::Line;
    }
    int count = 0;
    errno = 0;
    const char* text = el_gets(editor_, &count);
    if (!text) {
      if (interrupt_.exchange(false) || (count < 0 && errno == EINTR)) {
        std::fputs("\n", stdout);
        return Status::Interrupted;
      }
      return Status::End;
    }
    line.assign(text, static_cast<size_t>(count));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (!line.empty()) {
      HistEvent event;
      history(history_, &event, H_ENTER, line.c_str());
    }
    return Status::Line;
  }

 private:
  static const char* prompt_of(EditLine* editor) {
    void* self = nullptr;
    el_get(editor, EL_CLIENTDATA, &self);
    return static_cast<LineReader*>(self)->prompt_.c_str();
  }

  std::atomic<bool>& interrupt_;
  EditLine* editor_ = nullptr;
  History* history_ = nullptr;
  std::string prompt_;
};

std::string trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

InterruptHandler::InterruptHandler(std::atomic<bool>& flag) {
  g_interrupt_flag = &flag;
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a read at the prompt returns, the line is dropped
  sigaction(SIGINT, &action, &previous_);
}

InterruptHandler::~InterruptHandler() {
  sigaction(SIGINT, &previous_, nullptr);
  g_interrupt_flag = nullptr;
}

TerminalOutput::TerminalOutput(std::FILE* out, std::FILE* err, bool colour)
    : out_(out), err_(err), colour_(colour) {}

void TerminalOutput::write(std::string_view bytes) {
  std::fwrite(bytes.data(), 1, bytes.size(), out_);
}

void TerminalOutput::finish_line() {
  if (!at_line_start_) write("\n");
  at_line_start_ = true;
}

void TerminalOutput::text(TextKind kind, std::string_view text) {
  const bool thinking = kind == TextKind::Thinking;
  if (thinking && !show_thinking_) return;
  if (thinking != in_thinking_) {
    finish_line();  // thinking and answer never share a line
    in_thinking_ = thinking;
  }
  if (!thinking) {
    write(text);
  } else if (colour_) {
    write(kDim);
    write(text);
    write(kReset);
  } else {
    // Prefix every line of thinking, so a transcript shows which text is which.
    while (!text.empty()) {
      if (at_line_start_) write(kThinkPrefix);
      const size_t end = text.find('\n');
      const std::string_view piece = text.substr(0, end == std::string_view::npos ? end : end + 1);
      write(piece);
      at_line_start_ = piece.back() == '\n';
      text.remove_prefix(piece.size());
    }
    std::fflush(out_);
    return;
  }
  if (!text.empty()) at_line_start_ = text.back() == '\n';
  std::fflush(out_);
}

void TerminalOutput::end_of_answer() {
  finish_line();
  in_thinking_ = false;
  std::fflush(out_);
}

void TerminalOutput::notice(std::string_view line) {
  finish_line();
  if (colour_) write(kCyan);
  write(line);
  if (colour_) write(kReset);
  write("\n");
  std::fflush(out_);
}

void TerminalOutput::error(std::string_view line) {
  finish_line();
  std::fflush(out_);
  const bool colour = colour_ && isatty(fileno(err_));
  std::fprintf(err_, "%serror: %.*s%s\n", colour ? kRed.data() : "", static_cast<int>(line.size()),
               line.data(), colour ? kReset.data() : "");
  std::fflush(err_);
}

std::string write_report(ChatEngine& engine, const std::string& path) {
  const std::string report = engine.report();
  const auto json = nlohmann::json::parse(report, nullptr, false);
  if (json.is_discarded()) fail_format("the server's report is not valid JSON");
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << report;
  out.close();
  if (!out) fail_errno("cannot write " + path);
  const size_t events =
      json.contains("events") && json["events"].is_array() ? json["events"].size() : 0;
  return fmt::format("wrote {} ({} events{})", path, events,
                     events == 0 ? "; start with --profile to record them" : "");
}

void run_repl(ChatSession& session, ChatEngine& engine, TerminalOutput& output,
              std::atomic<bool>& interrupt, const ReplOptions& options) {
  LineReader reader(interrupt);
  std::string line;
  while (true) {
    interrupt.store(false);
    const std::string prompt =
        fmt::format("(ctx: {}/{})> ", session.context_used(), session.context());
    const LineReader::Status status = reader.read(prompt, line);
    if (status == LineReader::Status::End) {
      std::fputs("\n", stdout);
      break;
    }
    if (status == LineReader::Status::Interrupted) continue;
    const std::string input = trim(line);
    if (input.empty()) continue;
    if (input == "quit") break;
    if (input == "help") {
      output.notice(kHelp);
    } else if (input == "clear") {
      session.clear();
      output.notice("conversation cleared");
    } else if (input == "think" || input == "nothink") {
      session.set_thinking(input == "think");
      output.notice(input == "think" ? "thinking on" : "thinking off");
    } else if (input == "show" || input == "hide") {
      output.set_show_thinking(input == "show");
      output.notice(input == "show" ? "thinking shown" : "thinking hidden");
    } else if (input == "report") {
      try {
        output.notice(write_report(engine, options.report_file));
      } catch (const Error& e) {
        output.error(e.what());
      }
    } else {
      session.send(input, &interrupt);
    }
  }
}

}  // namespace hh::chat
