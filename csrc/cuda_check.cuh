// Error checking and device selection for the CUDA launchers: every runtime call and every launch
// is checked, and a failure becomes std::runtime_error (pybind11 turns it into Python's
// RuntimeError).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace pymg {

inline void cuda_check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // clear a non-sticky error so later calls are not poisoned
    throw std::runtime_error(std::string("pymg CUDA error in ") + what + ": " +
                             cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
  }
}

#define PYMG_CUDA_CHECK(expr) ::pymg::cuda_check((expr), #expr)

// Makes `device` current for the scope and restores the previous device afterwards.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    PYMG_CUDA_CHECK(cudaGetDevice(&previous_));
    if (device != previous_) PYMG_CUDA_CHECK(cudaSetDevice(device));
    changed_ = device != previous_;
  }
  ~DeviceGuard() {
    if (changed_) (void)cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
  bool changed_ = false;
};

inline cudaStream_t as_stream(std::uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }

// Blocks for a grid-stride loop over `count` items (capped; the loop covers the rest).
inline unsigned int grid_for(int64_t count, int threads) {
  const int64_t blocks = (count + threads - 1) / threads;
  const int64_t cap = 65535LL * 16;
  return static_cast<unsigned int>(blocks < cap ? (blocks > 0 ? blocks : 1) : cap);
}

}  // namespace pymg
