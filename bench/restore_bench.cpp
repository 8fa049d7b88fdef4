// Restoring a capture-sized f32 file from the page cache (issue 2's goal: a 0.6B f32 `gen`
// input, about 4 GB, in under 2 s):
//   hh_bench --benchmark_filter=Restore
//   RestoreCapture/mapped          a file hedgehog wrote (data 64-aligned): arrays view a private
//                                  mapping of the file, nothing is copied
//   RestoreCapture/mapped_touched  the same, then one read per 4 KiB page, i.e. the page-fault
//                                  cost that mapping moves from restore to first use
//   RestoreCapture/copied          the same arrays written unpadded, each after a [2]i8 value, so
//                                  every f32 starts at an odd offset: pread into fresh host memory
//                                  (what restore did for every file before mapping)
// HH_RESTORE_BENCH_MIB sets the data size (default 4096 MiB). Each case writes its file to the
// temporary directory, reads it once so it is in the page cache, and removes it afterwards.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "values/binary_format.h"
#include "values/value_reader.h"

namespace hh {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kArrays = 8;

int64_t data_mib() {
  const char* env = std::getenv("HH_RESTORE_BENCH_MIB");
  return env ? std::max<int64_t>(kArrays, std::atoll(env)) : 4096;
}

// kArrays rank-1 f32 arrays of data_mib() MiB in all; `aligned` is hedgehog's padded layout.
std::string write_capture(bool aligned) {
  const std::string path =
      (fs::temp_directory_path() / fmt::format("hh_restore_bench_{}.bin", getpid())).string();
  const int64_t n = (data_mib() << 20) / kArrays / 4;  // [n]f32 per array
  Array a = Array::allocate(ElemType::F32, {n});
  for (int64_t i = 0; i < n; i += 1024) a.data<float>()[i] = static_cast<float>(i);
  AtomicFileSink sink(path);
  // 17 bytes each: the first puts the data of the first f32 at byte 49, and one before every
  // f32 keeps each later one at 1 mod 4.
  const Array tag = Array::allocate(ElemType::I8, {2});
  if (!aligned) write_binary(sink, tag, false);
  for (int64_t i = 0; i < kArrays; ++i) {
    if (!aligned) write_binary(sink, tag, false);
    write_binary(sink, a, aligned);
  }
  sink.commit();
  // Into the page cache, as after a capture was written or read once.
  ValueReader warm = ValueReader::open(path);
  while (!warm.at_end()) warm.skip();
  std::vector<char> buf(size_t{1} << 24);
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f) {
    while (std::fread(buf.data(), 1, buf.size(), f) > 0) {
    }
    std::fclose(f);
  }
  return path;
}

void BM_RestoreCapture(benchmark::State& state, bool aligned, bool touch) {
  const std::string path = write_capture(aligned);
  for (auto _ : state) {
    ValueReader reader = ValueReader::open(path);
    std::vector<Array> values;
    while (!reader.at_end()) values.push_back(reader.read());
    if (touch) {
      float sum = 0;
      for (const Array& v : values) {
        const auto* p = reinterpret_cast<const volatile char*>(v.raw());
        for (size_t i = 0; i < v.bytes(); i += 4096) sum += static_cast<float>(p[i]);
      }
      benchmark::DoNotOptimize(sum);
    }
    benchmark::DoNotOptimize(values.data());
    state.counters["GB"] = static_cast<double>(fs::file_size(path)) / 1e9;
    int64_t mapped = 0;  // of the f32 arrays
    for (const Array& v : values)
      mapped += v.type() == ElemType::F32 && v.space() == MemorySpace::Mapped;
    state.counters["mapped"] = static_cast<double>(mapped);
  }
  fs::remove(path);
}

BENCHMARK_CAPTURE(BM_RestoreCapture, mapped, true, false)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK_CAPTURE(BM_RestoreCapture, mapped_touched, true, true)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK_CAPTURE(BM_RestoreCapture, copied, false, false)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
}  // namespace hh
