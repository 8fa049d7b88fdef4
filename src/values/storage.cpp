#include "values/storage.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "util/error.h"

namespace hh {
namespace {

std::array<std::atomic<int64_t>, 3> g_in_use{};

class HostStorage final : public Storage {
 public:
  HostStorage(std::byte* data, size_t size) : Storage(data, size, MemorySpace::Host, true) {}
  ~HostStorage() override { std::free(data_); }
};

class MappedStorage final : public Storage {
 public:
  MappedStorage(std::byte* data, size_t size) : Storage(data, size, MemorySpace::Mapped, false) {}
  ~MappedStorage() override {
    if (size_ > 0) munmap(data_, size_);
  }
};

}  // namespace

const char* memory_space_name(MemorySpace space) {
  switch (space) {
    case MemorySpace::Host: return "host";
    case MemorySpace::Mapped: return "mapped";
    case MemorySpace::Device: return "device";
  }
  return "unknown";
}

Storage::Storage(std::byte* data, size_t size, MemorySpace space, bool writable)
    : data_(data), size_(size), space_(space), writable_(writable) {
  account_memory(space_, static_cast<int64_t>(size_));
}

Storage::~Storage() { account_memory(space_, -static_cast<int64_t>(size_)); }

void account_memory(MemorySpace space, int64_t delta_bytes) {
  g_in_use[static_cast<size_t>(space)] += delta_bytes;
}


std::shared_ptr<Storage> allocate_host(size_t bytes, bool zero) {
  constexpr size_t kAlign = 64;
  const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, rounded == 0 ? kAlign : rounded);
  if (p == nullptr) fail_usage("out of host memory allocating {} bytes", bytes);
  // Large buffers (weights, KV caches) benefit from transparent huge pages.
  if (rounded >= (size_t{2} << 20)) madvise(p, rounded, MADV_HUGEPAGE);
  if (zero) std::memset(p, 0, rounded == 0 ? kAlign : rounded);
  return std::make_shared<HostStorage>(static_cast<std::byte*>(p), bytes);
}

std::shared_ptr<Storage> map_file_readonly(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno("cannot open '" + path + "'");
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    fail_errno("cannot stat '" + path + "'");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw UsageError("'" + path + "' is not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* p = nullptr;
  if (size > 0) {
    p = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      fail_errno("cannot map '" + path + "'");
    }
  }
  ::close(fd);
  return std::make_shared<MappedStorage>(static_cast<std::byte*>(p), size);
}

std::map<std::string, int64_t> memory_in_use() {
  std::map<std::string, int64_t> out;
  for (auto space : {MemorySpace::Host, MemorySpace::Mapped, MemorySpace::Device}) {
    const int64_t bytes = g_in_use[static_cast<size_t>(space)].load();
    if (bytes != 0) out[memory_space_name(space)] = bytes;
  }
  return out;
}

}  // namespace hh
