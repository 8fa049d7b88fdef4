#include "engine/cuda/decode_trace.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_memory.h"
#include "util/error.h"

namespace hh::cuda {

namespace {

unsigned long long positive(const char* name, const char* text) {
  char* end = nullptr;
  const unsigned long long n = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || n == 0 || text[0] == '-') {
    fail_usage("{} is '{}': expected a positive number", name, text);
  }
  return n;
}

}  // namespace

std::unique_ptr<DecodeTrace> DecodeTrace::from_environment() {
  const char* path = std::getenv("HH_CUDA_TRACE");
  if (path == nullptr || *path == '\0') return nullptr;
  Settings s;
  s.path = path;
  if (const char* n = std::getenv("HH_CUDA_TRACE_RECORDS")) {
    s.capacity = positive("HH_CUDA_TRACE_RECORDS", n);
  }
  if (const char* n = std::getenv("HH_CUDA_TRACE_GENS")) {
    s.generations = positive("HH_CUDA_TRACE_GENS", n);
  }
  if (const char* steps = std::getenv("HH_CUDA_TRACE_STEPS")) {
    long long first = 0, end = 0;
    char tail = 0;
    if (std::sscanf(steps, "%lld:%lld%c", &first, &end, &tail) != 2 || first < 0 || end <= first) {
      fail_usage("HH_CUDA_TRACE_STEPS is '{}': expected FIRST:END positions, FIRST < END", steps);
    }
    s.first_step = first;
    s.end_step = end;
  }
  return std::make_unique<DecodeTrace>(std::move(s));
}

DecodeTrace::DecodeTrace(Settings settings)
    : settings_(std::move(settings)),
      records_(device_array(ElemType::U8,
                            {static_cast<int64_t>(settings_.capacity * sizeof(TraceRecord))},
                            "the decode timeline (HH_CUDA_TRACE)")),
      count_(device_array(ElemType::U8, {sizeof(unsigned long long)},
                          "the decode timeline's counter")) {}

TraceTag DecodeTrace::tag(uint32_t launch, const int64_t* step) const {
  TraceTag t;
  t.records = reinterpret_cast<TraceRecord*>(records_.raw());
  t.count = reinterpret_cast<unsigned long long*>(count_.raw());
  t.capacity = settings_.capacity;
  t.step = step;
  t.first_step = settings_.first_step;
  t.end_step = settings_.end_step;
  t.launch = launch;
  return t;
}

void DecodeTrace::flush(cudaStream_t stream) {
  unsigned long long count = 0;
  HH_CUDA_CHECK(cudaStreamSynchronize(stream));
  HH_CUDA_CHECK(cudaMemcpy(&count, count_.raw(), sizeof(count), cudaMemcpyDeviceToHost));
  if (count == 0) return;
  if (generation_ >= settings_.generations) {
    HH_CUDA_CHECK(cudaMemset(count_.raw(), 0, sizeof(count)));
    return;
  }
  const unsigned long long kept = std::min(count, settings_.capacity);
  std::vector<TraceRecord> records(kept);
  HH_CUDA_CHECK(cudaMemcpy(records.data(), records_.raw(), kept * sizeof(TraceRecord),
                           cudaMemcpyDeviceToHost));
  HH_CUDA_CHECK(cudaMemset(count_.raw(), 0, sizeof(count)));
  if (kept < count) {
    std::fprintf(stderr, "HH_CUDA_TRACE: %llu of %llu block records lost (buffer full)\n",
                 count - kept, count);
  }
  const bool fresh = !std::ifstream(settings_.path).good();
  std::ofstream out(settings_.path, std::ios::app);
  if (!out) fail_usage("HH_CUDA_TRACE: cannot write '{}'", settings_.path);
  if (fresh) out << "gen,launch,step,sm,block,start,waited,end\n";
  for (const TraceRecord& r : records) {
    out << generation_ << ',' << r.launch << ',' << r.step << ',' << r.sm << ',' << r.block << ','
        << r.start << ',' << r.waited << ',' << r.end << '\n';
  }
  if (!out) fail_usage("HH_CUDA_TRACE: writing '{}' failed", settings_.path);
  ++generation_;
}

}  // namespace hh::cuda
