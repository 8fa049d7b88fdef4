#pragma once
// Where value files come from and go to. Readers take a ByteSource (a file read with pread, or
// bytes in memory) so one parser serves files, protocol payloads and fuzzing; writers take a
// ByteSink. Large file reads are split across threads: restoring a multi-GB capture is bounded
// by memory bandwidth, not by one core's copy speed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "values/storage.h"

namespace hh {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Used in error messages: the file path, or a caller-chosen label for memory.
  virtual const std::string& name() const = 0;
  virtual uint64_t size() const = 0;
  // Copies `n` bytes at `offset` to `dst`; throws FormatError naming the source and offset when
  // the bytes do not exist (a file shrunk under us), SystemError on an I/O error.
  virtual void read(uint64_t offset, void* dst, size_t n) const = 0;
  // Every byte as one view, for the text parser. Files map themselves on first use, so a binary
  // file never pays for a mapping.
  virtual std::string_view view() const = 0;
};

// Opens a regular file for reading; throws SystemError/UsageError naming the path.
std::unique_ptr<ByteSource> open_file_source(const std::string& path);
// A source over `bytes`, which must outlive it (no copy).
std::unique_ptr<ByteSource> memory_source(std::string_view bytes, std::string name);

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(const void* data, size_t n) = 0;
};

// Appends to a string.
class StringSink final : public ByteSink {
 public:
  explicit StringSink(std::string& out) : out_(out) {}
  void write(const void* data, size_t n) override;

 private:
  std::string& out_;
};

// Writes `path` atomically: bytes go to `path + ".tmp"`, and commit() renames it into place. If
// commit() is never reached (an exception), the destructor removes the temporary file, so a
// failed write never leaves a partial `path` behind.
class AtomicFileSink final : public ByteSink {
 public:
  explicit AtomicFileSink(std::string path);
  ~AtomicFileSink() override;
  AtomicFileSink(const AtomicFileSink&) = delete;
  AtomicFileSink& operator=(const AtomicFileSink&) = delete;

  void write(const void* data, size_t n) override;
  void commit();

 private:
  void flush_buffer();
  void write_fd(const void* data, size_t n);

  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  std::string buffer_;  // small writes (headers) are gathered; large ones go straight through
};

}  // namespace hh
