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

// A MAP_PRIVATE file mapping; see map_file_private.
class PrivateMappingStorage final : public Storage {
 public:
  PrivateMappingStorage(std::byte* data, size_t size)
      : Storage(data, size, MemorySpace::Mapped, true) {}
  ~PrivateMappingStorage() override {
    if (size_ > 0) munmap(data_, size_);
  }
};

class PrivateMappingView final : public Storage {
 public:
  PrivateMappingView(std::shared_ptr<Storage> mapping, size_t offset, size_t size)
      : Storage(mapping->data() + offset, size, MemorySpace::Mapped, true, /*counted=*/false),
        mapping_(std::move(mapping)) {}
  ~PrivateMappingView() override {
    // Pages this value wrote to are anonymous copies that would otherwise live as long as the
    // whole mapping (another value of the file may keep it for the session). Dropping them from
    // a private mapping only reverts those pages to the file's bytes; nothing else views them.
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<uintptr_t>(data_);
    const uintptr_t first = (begin + page - 1) / page * page;
    const uintptr_t last = (begin + size_) / page * page;
    // A failure only leaves the copies in place until the mapping goes.
    if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  }

 private:
  std::shared_ptr<Storage> mapping_;
};

}  // namespace

const char* memory_space_name(MemorySpace space) {
  switch (space) {
    case MemorySpace::Host:
      return "host";
    case MemorySpace::Mapped:
      return "mapped";
    case MemorySpace::Device:
      return "device";
  }
  return "unknown";
}

Storage::Storage(std::byte* data, size_t size, MemorySpace space, bool writable)
    : data_(data), size_(size), space_(space), writable_(writable) {
  account_memory(space_, static_cast<int64_t>(size_));
}

Storage::Storage(std::byte* data, size_t size, MemorySpace space, bool writable, bool counted)
    : data_(data), size_(size), space_(space), writable_(writable), counted_(counted) {
  if (counted_) account_memory(space_, static_cast<int64_t>(size_));
}

Storage::~Storage() {
  if (counted_) account_memory(space_, -static_cast<int64_t>(size_));
}

void account_memory(MemorySpace space, int64_t delta_bytes) {
  g_in_use[static_cast<size_t>(space)] += delta_bytes;
}

std::shared_ptr<Storage> allocate_host(size_t bytes, bool zero) {
  constexpr size_t kAlign = 64;
  const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, rounded == 0 ? kAlign : rounded);
  if (p == nullptr) fail_usage("out of host memory allocating {} bytes", bytes);
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

std::shared_ptr<Storage> map_file_private(int fd, size_t size, const std::string& name) {
  void* p = nullptr;
  if (size > 0) {
    p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) fail_errno("cannot map '" + name + "'");
  }
  return std::make_shared<PrivateMappingStorage>(static_cast<std::byte*>(p), size);
}

std::shared_ptr<Storage> private_mapping_view(std::shared_ptr<Storage> mapping, size_t offset,
                                              size_t size) {
  if (dynamic_cast<const PrivateMappingStorage*>(mapping.get()) == nullptr) {
    fail("private_mapping_view: the storage is not a private file mapping");
  }
  if (offset > mapping->size() || size > mapping->size() - offset) {
    fail("private_mapping_view: {} bytes at offset {} pass the end of a {}-byte mapping", size,
         offset, mapping->size());
  }
  return std::make_shared<PrivateMappingView>(std::move(mapping), offset, size);
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
