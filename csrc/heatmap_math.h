// Shared math of the pymg kernels: compiled into the CPU kernels (plain C++) and the CUDA kernels
// (__host__ __device__), so the two implementations cannot drift apart.
//
// Semantics follow PYSKL's GeneratePoseTarget (see docs/building.md and reference.md section 2):
// * pixel i sits at coordinate i (x = column, y = row, no +0.5 offset);
// * window bounds: lo = max(trunc(c - 3*sigma), 0), hi = min(trunc(c + 3*sigma) + 1, size),
// computed in
//   double (trunc toward zero, as Python int()); [lo, hi) may be empty; outside it the value is
//   exactly 0;
// * a point is missing (skipped) when a coordinate is NaN/inf or when its float32 score is not >=
// eps
//   (the comparison is done in double: float32(1e-4) < 1e-4, NaN scores are missing too);
// * joint value exp(-((x-mx)^2 + (y-my)^2) / (2 sigma^2)) * s, evaluated as a product of two 1-D
// factors;
// * limb value exp(-d2 / (2 sigma^2)) * min(s_a, s_b) with d2 the squared distance to the segment
// AB;
//   when |AB|^2 < 1 (float32 arithmetic) a joint gaussian is drawn at A with score s_a instead;
// * persons are combined with max (never summed).
// Frame gathering (temporal alignment):
// * a position p selects frames of a clip of `length` frames; p < 0, p >= length or NaN gives
// zeros;
// * "nearest" picks frame floor(p + 0.5) (round half up), clamped to length - 1;
// * "linear" blends frames floor(p) and floor(p) + 1 (clamped) with weight w = p - floor(p), except
// when
//   one of the two points is missing: then it takes the nearer frame's point (w >= 0.5 -> the later
//   frame, the same rule as "nearest"), so a real point is never blended with a missing one.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define PYMG_HD __host__ __device__ __forceinline__
#else
#define PYMG_HD inline
#endif

namespace pymg {

// Half-width of the drawing window, in units of sigma (PYSKL: 3 sigma).
constexpr double kWindowSigmas = 3.0;

// Output dtype codes shared with Python (pymg._C.DTYPE_*).
enum DType : int { kFloat32 = 0, kFloat16 = 1, kBFloat16 = 2 };

// Frame gather modes shared with Python (pymg._C.GATHER_*).
enum GatherMode : int { kGatherLinear = 0, kGatherNearest = 1 };

// A half-open index range [lo, hi); empty when lo >= hi.
struct Span {
  int lo;
  int hi;
};

// Window of pixels lit by a shape spanning [cmin, cmax] along one axis of `size` pixels.
PYMG_HD Span window_span(double cmin, double cmax, double radius, int size) {
  double lo = trunc(cmin - radius);
  double hi = trunc(cmax + radius) + 1.0;
  if (lo < 0.0) lo = 0.0;
  if (hi > static_cast<double>(size)) hi = static_cast<double>(size);
  Span s{0, 0};
  if (lo < hi) {  // false for NaN too
    s.lo = static_cast<int>(lo);
    s.hi = static_cast<int>(hi);
  }
  return s;
}

PYMG_HD bool span_contains(Span s, int i) { return i >= s.lo && i < s.hi; }

// 1 / (2 sigma^2) as float, the factor of every exponent.
PYMG_HD float inv_two_sigma_sq(double sigma) {
  return static_cast<float>(1.0 / (2.0 * sigma * sigma));
}

// A score keeps its point when score >= eps (float32 value compared in double; NaN fails).
PYMG_HD bool score_ok(float score, double eps) { return static_cast<double>(score) >= eps; }

// NaN/inf test on the bits (independent of -ffast-math and of the host/device math headers).
PYMG_HD bool finite_point(float x, float y);

// exp(-d^2 / (2 sigma^2)): one 1-D factor of the separable joint gaussian.
PYMG_HD float gauss1d(float d, float inv2s2) { return expf(-(d * d) * inv2s2); }

// expf(-x) for x >= 0, returning the exact 0 that expf gives anyway once x > 104 (the true value is
// then below half the smallest float32 subnormal), without calling it: far pixels of long limbs.
constexpr float kExpUnderflow = 104.0f;
PYMG_HD float exp_neg(float x) { return !(x <= kExpUnderflow) ? 0.0f : expf(-x); }  // NaN -> 0

// Products and sums rounded to float exactly as numpy's float32 does (no FMA contraction on
// device), used for the degenerate-limb decision, which must not flip between CPU and GPU.
PYMG_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
PYMG_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

// |AB|^2 in float32 arithmetic, as PYSKL computes it.
PYMG_HD float segment_len_sq(float ax, float ay, float bx, float by) {
  const float dx = ax - bx;
  const float dy = ay - by;
  return add_rn(mul_rn(dx, dx), mul_rn(dy, dy));
}

// A limb with |AB|^2 < 1 is drawn as a joint gaussian at A with A's score.
PYMG_HD bool limb_degenerate(float d2ab) { return d2ab < 1.0f; }

// 1 / (2 |AB|^2) in double: u = (...) * inv2ab rounded once to float equals PYSKL's float division
// (...) / 2 / |AB|^2 (the /2 is exact) up to rare double-rounding ties, without a per-pixel divide.
// Near AB the rounding of u shows up at ~1e-6 in the heatmap, so it is worth matching.
PYMG_HD double inv_two_len_sq(float d2ab) { return 1.0 / (2.0 * static_cast<double>(d2ab)); }

// Squared distance from pixel (px, py) to the segment AB (d2ab = |AB|^2 >= 1), with PYSKL's rule:
// u = (|PA|^2 - |PB|^2 + |AB|^2) / (2 |AB|^2); u <= 0 -> |PA|^2, u >= 1 -> |PB|^2, else the
// distance to the projection A + u (B - A). Branch-free so that the CPU row loop vectorises.
PYMG_HD float segment_dist_sq(float px, float py, float ax, float ay, float bx, float by,
                              float d2ab, double inv2ab) {
  const float dax = px - ax, day = py - ay;
  const float dbx = px - bx, dby = py - by;
  const float ds = dax * dax + day * day;
  const float de = dbx * dbx + dby * dby;
#if defined(__CUDA_ARCH__)
  const float u = (ds - de + d2ab) / 2.0f / d2ab;  // correctly rounded division on the GPU
  (void)inv2ab;
#else
  const float u = static_cast<float>(static_cast<double>(ds - de + d2ab) * inv2ab);
#endif
  const float qx = px - (ax + u * (bx - ax));
  const float qy = py - (ay + u * (by - ay));
  const float dl = qx * qx + qy * qy;
  return u <= 0.0f ? ds : (u >= 1.0f ? de : dl);
}

// exp(-d2 / (2 sigma^2)) of the limb AB at pixel (px, py); multiply by min(s_a, s_b) outside.
PYMG_HD float limb_factor(float px, float py, float ax, float ay, float bx, float by, float d2ab,
                          double inv2ab, float inv2s2) {
  return exp_neg(segment_dist_sq(px, py, ax, ay, bx, by, d2ab, inv2ab) * inv2s2);
}

// ---- 16-bit output conversion (round to nearest, ties to even), identical on host and device ----

PYMG_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint32_t>(__float_as_uint(f));
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
#endif
}

PYMG_HD bool finite_point(float x, float y) {
  return (float_bits(x) & 0x7f800000u) != 0x7f800000u &&
         (float_bits(y) & 0x7f800000u) != 0x7f800000u;
}

PYMG_HD uint16_t round_shift(uint32_t m, int shift) {
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  return static_cast<uint16_t>(q);
}

// IEEE binary16 bits of f.
PYMG_HD uint16_t float_to_half_bits(float f) {
  const uint32_t x = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u);  // NaN / inf
  if (ax >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to inf
  if (ax >= 0x38800000u) {                       // normal half: rebias the exponent by 127 - 15
    return sign | round_shift(ax - 0x38000000u, 13);
  }
  if (ax < 0x33000000u) return sign;  // below 2^-25: rounds to (signed) zero
  const int e = static_cast<int>(ax >> 23);
  const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
  return sign | round_shift(m, 126 - e);  // subnormal half, in units of 2^-24
}

// bfloat16 bits of f.
PYMG_HD uint16_t float_to_bf16_bits(float f) {
  const uint32_t x = float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  const uint32_t lsb = (x >> 16) & 1u;
  return static_cast<uint16_t>((x + 0x7fffu + lsb) >> 16);
}

// ---- frame gathering ----

// Source frames and weight for position p in a clip of `length` frames. Returns false for padding
// (p < 0, p >= length, NaN, length <= 0). For "nearest", i0 == i1 and w == 0.
PYMG_HD bool frame_pair(float p, int64_t length, int mode, int64_t* i0, int64_t* i1, float* w) {
  if (!(p >= 0.0f) || !(static_cast<double>(p) < static_cast<double>(length))) return false;
  if (mode == kGatherNearest) {
    int64_t i = static_cast<int64_t>(floorf(p + 0.5f));
    if (i > length - 1) i = length - 1;
    *i0 = i;
    *i1 = i;
    *w = 0.0f;
    return true;
  }
  const int64_t f = static_cast<int64_t>(floorf(p));
  *i0 = f;
  *i1 = f + 1 < length ? f + 1 : f;
  *w = (*i1 == f) ? 0.0f : p - static_cast<float>(f);
  return true;
}

// Combine point a (frame i0) and point b (frame i1) with weight w into out (x, y, score).
PYMG_HD void blend_point(float ax, float ay, float as, float bx, float by, float bs, float w,
                         double eps, float* ox, float* oy, float* os) {
  const bool a_ok = finite_point(ax, ay) && score_ok(as, eps);
  const bool b_ok = finite_point(bx, by) && score_ok(bs, eps);
  if (w == 0.0f || (!(a_ok && b_ok) && w < 0.5f)) {
    *ox = ax;
    *oy = ay;
    *os = as;
  } else if (!(a_ok && b_ok)) {
    *ox = bx;
    *oy = by;
    *os = bs;
  } else {
    const float v = 1.0f - w;
    *ox = v * ax + w * bx;
    *oy = v * ay + w * by;
    *os = v * as + w * bs;
  }
}

}  // namespace pymg
