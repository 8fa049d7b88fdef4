#pragma once
// Where value files come from and go to. Readers take a ByteSource (a file read with pread, or
// bytes in memory) so one parser serves files, protocol payloads and fuzzing; writers take a
// ByteSink. A file source can also hand out a private mapping of itself, so restoring a multi-GB
// capture maps it instead of copying; large reads that do copy are split across threads.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
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
  // The whole source as one private, copy-on-write mapping (see map_file_private), made on first
  // use and shared by every array that views it; nullptr when the source is not a file or cannot
  // be mapped, and readers then copy with read().
  virtual std::shared_ptr<Storage> private_mapping() const { return nullptr; }
};

// Opens a regular file for reading; throws SystemError/UsageError naming the path.
std::unique_ptr<ByteSource> open_file_source(const std::string& path);
// A source over `bytes`, which must outlive it (no copy).
std::unique_ptr<ByteSource> memory_source(std::string_view bytes, std::string name);

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(const void* data, size_t n) = 0;
  // Bytes written so far, when the sink knows it (writers use it to align data in files).
  virtual std::optional<uint64_t> position() const { return std::nullopt; }
};

// Appends to a string.
class StringSink final : public ByteSink {
 public:
  explicit StringSink(std::string& out) : out_(out) {}
  void write(const void* data, size_t n) override;
  std::optional<uint64_t> position() const override { return out_.size(); }

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
  std::optional<uint64_t> position() const override { return written_; }
  void commit();

 private:
  void flush_buffer();
  void write_fd(const void* data, size_t n);

  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  uint64_t written_ = 0;  // bytes accepted by write(), buffered or not
  std::string buffer_;    // small writes (headers) are gathered; large ones go straight through
};

}  // namespace hh
