// Runtime queries that never throw on a machine without a driver or device.
#include <cuda_runtime.h>

#include <string>

#include "kernels.h"

namespace pymg {

int cuda_device_count() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return count;
}

std::string cuda_runtime_version() {
  const int v = CUDART_VERSION;  // compile-time version of the (static) runtime
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

}  // namespace pymg
