#include "values/byte_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "util/error.h"

namespace hh {
namespace {

// Reads below this size use the calling thread only; above it, chunks of at least this size are
// handed to up to kMaxReadThreads threads (a single core copies page-cache data at a few GB/s,
// which alone would miss the 4 GB-in-under-2-s restore target).
constexpr size_t kParallelChunk = size_t{32} << 20;
constexpr unsigned kMaxReadThreads = 8;

class FileSource final : public ByteSource {
 public:
  FileSource(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~FileSource() override { ::close(fd_); }

  const std::string& name() const override { return path_; }
  uint64_t size() const override { return size_; }

  void read(uint64_t offset, void* dst, size_t n) const override {
    if (offset > size_ || n > size_ - offset) {
      fail_format("{}: read of {} bytes at offset {} passes the end of the file ({} bytes)", path_,
                  n, offset, size_);
    }
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    const size_t threads = std::min<size_t>({hw, kMaxReadThreads, n / kParallelChunk});
    if (threads <= 1) {
      read_range(offset, static_cast<std::byte*>(dst), n);
      return;
    }
    // Equal contiguous ranges, one per thread; errors are collected and rethrown here.
    const size_t per = (n + threads - 1) / threads;
    std::vector<std::thread> pool;
    std::mutex error_mutex;
    std::string error;
    for (size_t t = 0; t < threads; ++t) {
      const size_t begin = t * per;
      if (begin >= n) break;
      const size_t len = std::min(per, n - begin);
      pool.emplace_back([&, begin, len] {
        try {
          read_range(offset + begin, static_cast<std::byte*>(dst) + begin, len);
        } catch (const std::exception& e) {
          std::lock_guard lock(error_mutex);
          if (error.empty()) error = e.what();
        }
      });
    }
    for (auto& th : pool) th.join();
    if (!error.empty()) throw FormatError(error);
  }

  std::string_view view() const override {
    std::call_once(map_once_, [this] { mapping_ = map_file_readonly(path_); });
    // The file may have changed size since open; only what both agree on is visible.
    const size_t n = std::min<size_t>(mapping_->size(), size_);
    return {reinterpret_cast<const char*>(mapping_->data()), n};
  }

  std::shared_ptr<Storage> private_mapping() const override {
    std::call_once(private_once_, [this] {
      try {
        // Mapped from the descriptor opened at the start, so a file renamed over the path since
        // then is not mixed in; size_ is what every header was checked against.
        private_mapping_ = map_file_private(fd_, size_, path_);
      } catch (const SystemError&) {
        // Some file systems cannot map files: the data is then copied with read() instead.
        private_mapping_ = nullptr;
      }
    });
    return private_mapping_;
  }

 private:
  void read_range(uint64_t offset, std::byte* dst, size_t n) const {
    while (n > 0) {
      // pread moves at most ~2 GB per call on Linux; ask for at most 1 GiB at a time.
      const size_t want = std::min(n, size_t{1} << 30);
      const ssize_t got = ::pread(fd_, dst, want, static_cast<off_t>(offset));
      if (got < 0) {
        if (errno == EINTR) continue;
        fail_errno(fmt::format("{}: read at offset {}", path_, offset));
      }
      if (got == 0) {
        fail_format("{}: file ended at offset {} while {} more bytes were expected", path_, offset,
                    n);
      }
      dst += got;
      offset += static_cast<uint64_t>(got);
      n -= static_cast<size_t>(got);
    }
  }

  std::string path_;
  int fd_;
  uint64_t size_;
  mutable std::once_flag map_once_;
  mutable std::shared_ptr<Storage> mapping_;
  mutable std::once_flag private_once_;
  mutable std::shared_ptr<Storage> private_mapping_;
};

class MemorySource final : public ByteSource {
 public:
  MemorySource(std::string_view bytes, std::string name) : bytes_(bytes), name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  uint64_t size() const override { return bytes_.size(); }
  void read(uint64_t offset, void* dst, size_t n) const override {
    if (offset > bytes_.size() || n > bytes_.size() - offset) {
      fail_format("{}: read of {} bytes at offset {} passes the end ({} bytes)", name_, n, offset,
                  bytes_.size());
    }
    if (n > 0) std::memcpy(dst, bytes_.data() + offset, n);
  }
  std::string_view view() const override { return bytes_; }

 private:
  std::string_view bytes_;
  std::string name_;
};

}  // namespace

std::unique_ptr<ByteSource> open_file_source(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno("cannot open '" + path + "'");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    fail_errno("cannot stat '" + path + "'");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail_usage("'{}' is not a regular file", path);
  }
  return std::make_unique<FileSource>(path, fd, static_cast<uint64_t>(st.st_size));
}

std::unique_ptr<ByteSource> memory_source(std::string_view bytes, std::string name) {
  return std::make_unique<MemorySource>(bytes, std::move(name));
}

void StringSink::write(const void* data, size_t n) {
  out_.append(static_cast<const char*>(data), n);
}

AtomicFileSink::AtomicFileSink(std::string path)
    : path_(std::move(path)), tmp_path_(path_ + ".tmp") {
  // A fresh inode every time: a leftover temporary might be mapped by someone (a restore of it),
  // and truncating a mapped file in place would change or fault its pages.
  if (::unlink(tmp_path_.c_str()) != 0 && errno != ENOENT) {
    fail_errno("cannot remove the old '" + tmp_path_ + "'");
  }
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail_errno("cannot create '" + tmp_path_ + "'");
}

AtomicFileSink::~AtomicFileSink() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_path_.c_str());
  }
}

void AtomicFileSink::write(const void* data, size_t n) {
  if (fd_ < 0) fail("write to '{}' after it was committed", path_);
  written_ += n;
  constexpr size_t kBufferLimit = size_t{1} << 16;
  if (buffer_.size() + n <= kBufferLimit) {
    buffer_.append(static_cast<const char*>(data), n);
    return;
  }
  flush_buffer();
  if (n <= kBufferLimit) {
    buffer_.append(static_cast<const char*>(data), n);
  } else {
    write_fd(data, n);
  }
}

void AtomicFileSink::commit() {
  flush_buffer();
  if (::close(fd_) != 0) {
    fd_ = -1;
    ::unlink(tmp_path_.c_str());
    fail_errno("cannot close '" + tmp_path_ + "'");
  }
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    const int saved = errno;
    ::unlink(tmp_path_.c_str());
    errno = saved;
    fail_errno("cannot rename '" + tmp_path_ + "' to '" + path_ + "'");
  }
}

void AtomicFileSink::flush_buffer() {
  if (buffer_.empty()) return;
  write_fd(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void AtomicFileSink::write_fd(const void* data, size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t put = ::write(fd_, p, std::min(n, size_t{1} << 30));
    if (put < 0) {
      if (errno == EINTR) continue;
      fail_errno("cannot write '" + tmp_path_ + "'");
    }
    p += put;
    n -= static_cast<size_t>(put);
  }
}

}  // namespace hh
