#pragma once
// The one exception family of the library. Messages name what is wrong and where
// (file, field, offset, line); only main() turns an Error into an exit code.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace hh {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Malformed input data: a file, a protocol line, a value literal.
class FormatError : public Error {
 public:
  using Error::Error;
};

// A valid request that cannot be honoured (out of range, wrong shape, no memory, no device).
class UsageError : public Error {
 public:
  using Error::Error;
};

// OS-level failure with errno text appended.
class SystemError : public Error {
 public:
  using Error::Error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void fail_format(fmt::format_string<Args...> format, Args&&... args) {
  throw FormatError(fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void fail_usage(fmt::format_string<Args...> format, Args&&... args) {
  throw UsageError(fmt::format(format, std::forward<Args>(args)...));
}

// Throws SystemError "<what>: <strerror(errno)>".
[[noreturn]] void fail_errno(const std::string& what);

}  // namespace hh
