#pragma once
// Memory behind arrays. A Storage is shared (shared_ptr) by every array that views it, so a
// weight tensor can point into an mmap'ed model file without a copy, and a record can hold
// slices of one allocation. Bytes in use are counted per memory space for profiling reports (every
// Storage counts itself from construction to destruction).
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace hh {

enum class MemorySpace : uint8_t { Host, Mapped, Device };
const char* memory_space_name(MemorySpace space);  // "host", "mapped", "device"

class Storage {
 public:
  virtual ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  MemorySpace space() const { return space_; }
  // True when the bytes may be written (host allocations and private mappings).
  bool writable() const { return writable_; }

 protected:
  Storage(std::byte* data, size_t size, MemorySpace space, bool writable);
  // `counted` false: the bytes belong to another Storage that already counts them (a view).
  Storage(std::byte* data, size_t size, MemorySpace space, bool writable, bool counted);
  std::byte* data_;
  size_t size_;
  MemorySpace space_;
  bool writable_;
  bool counted_ = true;
};

// 64-byte aligned host memory, zero-filled when `zero` is set. Throws UsageError naming the
// size when the allocation fails.
std::shared_ptr<Storage> allocate_host(size_t bytes, bool zero = true);

// A read-only shared mapping of a whole file (the page cache is used directly).
std::shared_ptr<Storage> map_file_readonly(const std::string& path);

// A private, copy-on-write mapping of the first `size` bytes of the open regular file `fd` (the
// caller keeps ownership of `fd`; the mapping outlives it). Reads come straight from the page
// cache; a write copies just the touched page into this process, so the file never changes and
// the storage is writable. Counted as "mapped". Unmodified pages still show the file's current
// bytes: whoever replaces such a file must write a new one and rename it over the old (as
// AtomicFileSink does), never rewrite or truncate it in place. `name` is used in messages.
std::shared_ptr<Storage> map_file_private(int fd, size_t size, const std::string& name);

// `size` bytes at byte `offset` of a map_file_private() storage, as a Storage of their own that
// keeps the mapping alive (counted once, by the mapping). One per restored value, so that
// use_count() still tells whether anything else sees a value's bytes. When the view goes, the
// private copies of the pages wholly inside it are dropped, so views of one mapping must not
// overlap. Throws if `mapping` is not such a storage or the range does not fit.
std::shared_ptr<Storage> private_mapping_view(std::shared_ptr<Storage> mapping, size_t offset,
                                              size_t size);

// Current bytes in use per memory space (only spaces with allocations appear).
std::map<std::string, int64_t> memory_in_use();

// For backends with their own memory (CUDA): account an allocation or release.
void account_memory(MemorySpace space, int64_t delta_bytes);

}  // namespace hh
