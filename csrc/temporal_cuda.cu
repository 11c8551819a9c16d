// CUDA frame gathering: one thread per output point (n*K + k, m, t2, v) of out_sc; it also writes
// the point's two coordinates in out_kp. Same rules as the CPU kernel (gather_math.h).
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_check.cuh"
#include "gather_math.h"
#include "kernels.h"

namespace pymg {
namespace {

constexpr int kThreads = 256;

__global__ void gather_kernel(GatherArgs a, int64_t total) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < total;
       o += stride) {
    const int64_t v = o % a.V;
    int64_t r = o / a.V;
    const int64_t t2 = r % a.T2;
    r /= a.T2;
    const int64_t m = r % a.M;
    const int64_t nk = r / a.M;
    const int64_t n = nk / a.K;
    int64_t length = a.lengths[n];
    if (length > a.T) length = a.T;
    int64_t i0 = 0, i1 = 0;
    float w = 0.0f;
    if (!frame_pair(a.positions[nk * a.T2 + t2], length, a.mode, &i0, &i1, &w)) {
      a.out_kp[2 * o] = 0.0f;
      a.out_kp[2 * o + 1] = 0.0f;
      a.out_sc[o] = 0.0f;
      continue;
    }
    const int64_t p0 = ((n * a.M + m) * a.T + i0) * a.V + v;
    const int64_t p1 = ((n * a.M + m) * a.T + i1) * a.V + v;
    blend_point(a.kp[2 * p0], a.kp[2 * p0 + 1], a.sc[p0], a.kp[2 * p1], a.kp[2 * p1 + 1], a.sc[p1],
                w, a.eps, &a.out_kp[2 * o], &a.out_kp[2 * o + 1], &a.out_sc[o]);
  }
}

}  // namespace

void gather_frames_cuda(const GatherArgs& a, int device, std::uintptr_t stream) {
  const int64_t total = a.N * a.K * a.M * a.T2 * a.V;
  if (total == 0) return;
  DeviceGuard guard(device);
  gather_kernel<<<grid_for(total, kThreads), kThreads, 0, as_stream(stream)>>>(a, total);
  PYMG_CUDA_CHECK(cudaGetLastError());
}

}  // namespace pymg
