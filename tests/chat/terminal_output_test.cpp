// How the terminal front end shows thinking, answers, notices and errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "chat/repl.h"

namespace hh::chat {
namespace {

// A FILE* whose bytes land in a string (open_memstream), read after each check.
class Captured {
 public:
  Captured() : file_(open_memstream(&buffer_, &size_)) {}
  ~Captured() {
    std::fclose(file_);
    std::free(buffer_);
  }
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(buffer_, size_);
  }

 private:
  char* buffer_ = nullptr;
  size_t size_ = 0;
  std::FILE* file_;
};

TEST(ChatTerminalOutput, PlainThinkingIsPrefixedPerLine) {
  Captured out, err;
  TerminalOutput o(out.file(), err.file(), /*colour=*/false);
  o.text(TextKind::Thinking, "\nfirst");
  o.text(TextKind::Thinking, " line\nsecond\n");
  o.text(TextKind::Answer, "Answer");
  o.text(TextKind::Answer, " text");
  o.end_of_answer();
  o.notice("[stats]");
  o.error("bad");
  EXPECT_EQ(out.text(), "think: \nthink: first line\nthink: second\nAnswer text\n[stats]\n");
  EXPECT_EQ(err.text(), "error: bad\n");
}

TEST(ChatTerminalOutput, HiddenThinkingAndColour) {
  Captured out, err;
  TerminalOutput o(out.file(), err.file(), /*colour=*/true);
  o.set_show_thinking(false);
  o.text(TextKind::Thinking, "secret");
  o.text(TextKind::Answer, "Hi");
  o.end_of_answer();
  EXPECT_EQ(out.text(), "Hi\n");
  o.set_show_thinking(true);
  o.text(TextKind::Thinking, "hmm");
  o.text(TextKind::Answer, "Yes");
  o.end_of_answer();
  o.notice("n");
  // Thinking dimmed, never on the answer's line; notices in colour.
  EXPECT_EQ(out.text(), "Hi\n\x1b[2mhmm\x1b[0m\nYes\n\x1b[36mn\x1b[0m\n");
}

}  // namespace
}  // namespace hh::chat
