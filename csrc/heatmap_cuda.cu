// CUDA heatmap kernels: one thread per output element of out[N, C, T, H, W] (grid-stride loop,
// coalesced writes, every element written, so the output may be uninitialised). Each thread loops
// over the persons of its plane and tests the same windows as the CPU kernels (heatmap_math.h).
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "cuda_check.cuh"
#include "heatmap_math.h"
#include "kernels.h"

namespace pymg {
namespace {

constexpr int kThreads = 256;

template <int DT>
__device__ __forceinline__ void store(void* out, int64_t i, float v) {
  if constexpr (DT == kFloat32) {
    static_cast<float*>(out)[i] = v;
  } else if constexpr (DT == kFloat16) {
    static_cast<uint16_t*>(out)[i] = float_to_half_bits(v);
  } else {
    static_cast<uint16_t*>(out)[i] = float_to_bf16_bits(v);
  }
}

struct Geometry {
  int64_t N, M, T, V, C;
  int H, W;
  double radius;
  float inv2s2;
  double eps;
};

// Splits a flat output index into (n, c, t, y, x).
__device__ __forceinline__ void decode(const Geometry& g, int64_t i, int64_t& n, int64_t& c,
                                       int64_t& t, int& y, int& x) {
  x = static_cast<int>(i % g.W);
  int64_t r = i / g.W;
  y = static_cast<int>(r % g.H);
  r /= g.H;
  t = r % g.T;
  r /= g.T;
  c = r % g.C;
  n = r / g.C;
}

// Joint gaussian at (mx, my) with score s evaluated at pixel (x, y), 0 outside its window.
__device__ __forceinline__ float joint_at(const Geometry& g, int x, int y, float mx, float my,
                                          float s) {
  const Span sx = window_span(mx, mx, g.radius, g.W);
  const Span sy = window_span(my, my, g.radius, g.H);
  if (!span_contains(sx, x) || !span_contains(sy, y)) return 0.0f;
  const float gx = gauss1d(static_cast<float>(x) - mx, g.inv2s2);
  const float gy = gauss1d(static_cast<float>(y) - my, g.inv2s2) * s;
  return gx * gy;
}

template <int DT>
__global__ void joint_kernel(const float* __restrict__ kp, const float* __restrict__ sc, void* out,
                             Geometry g, int64_t total) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    int64_t n, c, t;
    int y, x;
    decode(g, i, n, c, t, y, x);
    float best = 0.0f;
    for (int64_t m = 0; m < g.M; ++m) {
      const int64_t p = ((n * g.M + m) * g.T + t) * g.V + c;
      const float mx = kp[2 * p], my = kp[2 * p + 1], s = sc[p];
      if (!finite_point(mx, my) || !score_ok(s, g.eps)) continue;
      best = fmaxf(best, joint_at(g, x, y, mx, my, s));
    }
    store<DT>(out, i, best);
  }
}

template <int DT>
__global__ void limb_kernel(const float* __restrict__ kp, const float* __restrict__ sc,
                            const int32_t* __restrict__ limbs, void* out, Geometry g,
                            int64_t total) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    int64_t n, c, t;
    int y, x;
    decode(g, i, n, c, t, y, x);
    const int32_t ja = limbs[2 * c], jb = limbs[2 * c + 1];
    float best = 0.0f;
    for (int64_t m = 0; m < g.M; ++m) {
      const int64_t base = ((n * g.M + m) * g.T + t) * g.V;
      const int64_t pa = base + ja, pb = base + jb;
      const float ax = kp[2 * pa], ay = kp[2 * pa + 1], sa = sc[pa];
      const float bx = kp[2 * pb], by = kp[2 * pb + 1], sb = sc[pb];
      if (!finite_point(ax, ay) || !finite_point(bx, by)) continue;
      if (!score_ok(sa, g.eps) || !score_ok(sb, g.eps)) continue;
      const float d2ab = segment_len_sq(ax, ay, bx, by);
      if (limb_degenerate(d2ab)) {
        best = fmaxf(best, joint_at(g, x, y, ax, ay, sa));
        continue;
      }
      const Span sx = window_span(fminf(ax, bx), fmaxf(ax, bx), g.radius, g.W);
      const Span sy = window_span(fminf(ay, by), fmaxf(ay, by), g.radius, g.H);
      if (!span_contains(sx, x) || !span_contains(sy, y)) continue;
      const float v = limb_factor(static_cast<float>(x), static_cast<float>(y), ax, ay, bx, by,
                                  d2ab, g.inv2s2) *
                      fminf(sa, sb);
      best = fmaxf(best, v);
    }
    store<DT>(out, i, best);
  }
}

Geometry geometry(const HeatmapArgs& a) {
  return Geometry{
      a.N,  a.M, a.T, a.V, a.C, a.H, a.W, a.window_sigmas * a.sigma, inv_two_sigma_sq(a.sigma),
      a.eps};
}

int64_t total_elements(const HeatmapArgs& a) {
  return a.N * a.C * a.T * static_cast<int64_t>(a.H) * a.W;
}

template <typename Launch>
void dispatch_dtype(int dtype, Launch launch) {
  switch (dtype) {
    case kFloat32:
      launch(std::integral_constant<int, kFloat32>{});
      break;
    case kFloat16:
      launch(std::integral_constant<int, kFloat16>{});
      break;
    case kBFloat16:
      launch(std::integral_constant<int, kBFloat16>{});
      break;
    default:
      throw std::runtime_error("pymg: unknown output dtype code " + std::to_string(dtype));
  }
}

}  // namespace

void joint_heatmaps_cuda(const HeatmapArgs& a, int device, std::uintptr_t stream) {
  const int64_t total = total_elements(a);
  if (total == 0) return;
  DeviceGuard guard(device);
  const Geometry g = geometry(a);
  const cudaStream_t s = as_stream(stream);
  dispatch_dtype(a.dtype, [&](auto dt) {
    joint_kernel<decltype(dt)::value>
        <<<grid_for(total, kThreads), kThreads, 0, s>>>(a.kp, a.sc, a.out, g, total);
  });
  PYMG_CUDA_CHECK(cudaGetLastError());
}

void limb_heatmaps_cuda(const HeatmapArgs& a, int device, std::uintptr_t stream) {
  const int64_t total = total_elements(a);
  if (total == 0) return;
  DeviceGuard guard(device);
  const Geometry g = geometry(a);
  const cudaStream_t s = as_stream(stream);
  // The [L, 2] limb table lives in host memory: copy it into a stream-ordered device buffer.
  const size_t bytes = sizeof(int32_t) * 2 * static_cast<size_t>(a.C);
  void* limbs = nullptr;
  PYMG_CUDA_CHECK(cudaMallocAsync(&limbs, bytes, s));
  try {
    PYMG_CUDA_CHECK(cudaMemcpyAsync(limbs, a.limbs, bytes, cudaMemcpyHostToDevice, s));
    dispatch_dtype(a.dtype, [&](auto dt) {
      limb_kernel<decltype(dt)::value><<<grid_for(total, kThreads), kThreads, 0, s>>>(
          a.kp, a.sc, static_cast<const int32_t*>(limbs), a.out, g, total);
    });
    PYMG_CUDA_CHECK(cudaGetLastError());
  } catch (...) {
    (void)cudaFreeAsync(limbs, s);
    throw;
  }
  PYMG_CUDA_CHECK(cudaFreeAsync(limbs, s));
}

}  // namespace pymg
