// Host/device basics shared by the heatmap and the frame-gathering kernels (CPU and CUDA): the
// PYMG_HD qualifier, float bit access and the missing-point rule.
//
// CPU and CUDA builds evaluate these formulas with the same IEEE float operations in the same
// order: CMakeLists.txt compiles C++ with -ffp-contract=off and CUDA with --fmad=false, so no
// compiler fuses a multiply and an add into one FMA on either side.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define PYMG_HD __host__ __device__ __forceinline__
#else
#define PYMG_HD inline
#endif

namespace pymg {

// Largest finite float32, as a double.
constexpr double kFloatMax = 3.4028234663852886e38;

PYMG_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint32_t>(__float_as_uint(f));
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
#endif
}

PYMG_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
#endif
}

// NaN/inf test on the bits (independent of -ffast-math and of the host/device math headers).
PYMG_HD bool finite_point(float x, float y) {
  return (float_bits(x) & 0x7f800000u) != 0x7f800000u &&
         (float_bits(y) & 0x7f800000u) != 0x7f800000u;
}

// A score keeps its point when it is finite and >= eps (the float32 value compared in double, so
// float32(1e-4) < 1e-4). NaN and +-inf scores mark the point missing.
PYMG_HD bool score_ok(float score, double eps) {
  const double s = static_cast<double>(score);
  return s >= eps && s <= kFloatMax;
}

}  // namespace pymg
