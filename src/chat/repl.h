#pragma once
// The chat's terminal front end: reads user lines (libedit line editing and history when stdin
// is a terminal, plain lines from a pipe), runs the commands (quit, clear, think, nothink, show,
// hide, report, help), sends everything else to the session, and prints the streamed answer
// (thinking dimmed on a colour terminal, prefixed with "think: " otherwise). Ctrl-C stops the
// answer being generated; Ctrl-D (end of input) or `quit` leaves.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "chat/session.h"

namespace hh::chat {

// ChatOutput for a terminal or a pipe.
class TerminalOutput final : public ChatOutput {
 public:
  TerminalOutput(std::FILE* out, std::FILE* err, bool colour);
  void text(TextKind kind, std::string_view text) override;
  void end_of_answer() override;
  void notice(std::string_view line) override;
  void error(std::string_view line) override;

  void set_show_thinking(bool show) { show_thinking_ = show; }
  bool show_thinking() const { return show_thinking_; }

 private:
  void write(std::string_view bytes);
  void finish_line();

  std::FILE* out_;
  std::FILE* err_;
  bool colour_;
  bool show_thinking_ = true;
  bool at_line_start_ = true;
  bool in_thinking_ = false;  // the last text printed was thinking
};

struct ReplOptions {
  std::string report_file = "report.json";
};

// Runs the read-answer loop until quit or end of input. `interrupt` is set by SIGINT (see
// install_interrupt_handler) and cleared here after each answer.
void run_repl(ChatSession& session, ChatEngine& engine, TerminalOutput& output,
              std::atomic<bool>& interrupt, const ReplOptions& options);

// While it lives, SIGINT sets `flag` instead of ending the program (the previous handler comes
// back when it goes). System calls it interrupts are not restarted.
class InterruptHandler {
 public:
  explicit InterruptHandler(std::atomic<bool>& flag);
  ~InterruptHandler();
  InterruptHandler(const InterruptHandler&) = delete;
  InterruptHandler& operator=(const InterruptHandler&) = delete;

 private:
  struct sigaction previous_ {};
};

// Writes the engine's profiling report to `path` and returns a line saying what was written.
std::string write_report(ChatEngine& engine, const std::string& path);

}  // namespace hh::chat
