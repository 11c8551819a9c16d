// A parallel loop over independent work items for the CPU kernels.
// With num_threads <= 1 the loop runs inline and never enters the OpenMP runtime, so a forked
// DataLoader worker (torch sets 1 thread there) cannot hang on the parent's OpenMP thread pool.
// No exception leaves the OpenMP region: the first one thrown by `fn` is kept, the remaining items
// are skipped, and it is rethrown after the region (an escaping exception would abort the process).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>

#ifdef PYMG_WITH_OPENMP
#include <omp.h>
#endif

namespace pymg {

// Number of distinct `slot` values parallel_for(count, num_threads, fn) passes to fn: callers size
// their per-thread scratch with it before the loop.
inline int parallel_slots(int64_t count, int num_threads) {
#ifdef PYMG_WITH_OPENMP
  return (num_threads <= 1 || count <= 1) ? 1 : num_threads;
#else
  (void)count;
  (void)num_threads;
  return 1;
#endif
}

// Calls fn(i, slot) for i in [0, count); slot in [0, parallel_slots(count, num_threads)) is the
// calling thread's index, unique among the threads running at the same time.
template <typename Fn>
void parallel_for(int64_t count, int num_threads, Fn&& fn) {
  if (parallel_slots(count, num_threads) == 1) {
    for (int64_t i = 0; i < count; ++i) fn(i, 0);
    return;
  }
#ifdef PYMG_WITH_OPENMP
  std::exception_ptr error = nullptr;
  std::atomic<bool> failed{false};
#pragma omp parallel for schedule(static) num_threads(num_threads)
  for (int64_t i = 0; i < count; ++i) {
    if (failed.load(std::memory_order_relaxed)) continue;
    try {
      fn(i, omp_get_thread_num());
    } catch (...) {
#pragma omp critical(pymg_parallel_for_error)
      {
        if (!error) error = std::current_exception();
      }
      failed.store(true, std::memory_order_relaxed);
    }
  }
  if (error) std::rethrow_exception(error);
#endif
}

}  // namespace pymg
