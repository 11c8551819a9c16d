// A parallel loop over independent work items for the CPU kernels.
// With num_threads <= 1 the loop runs inline and never enters the OpenMP runtime, so a forked
// DataLoader worker (torch sets 1 thread there) cannot hang on the parent's OpenMP thread pool.
#pragma once

#include <cstdint>

namespace pymg {

template <typename Fn>
void parallel_for(int64_t count, int num_threads, Fn&& fn) {
  if (num_threads <= 1 || count <= 1) {
    for (int64_t i = 0; i < count; ++i) fn(i);
    return;
  }
#ifdef PYMG_WITH_OPENMP
#pragma omp parallel for schedule(static) num_threads(num_threads)
  for (int64_t i = 0; i < count; ++i) fn(i);
#else
  for (int64_t i = 0; i < count; ++i) fn(i);
#endif
}

}  // namespace pymg
