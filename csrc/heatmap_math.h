// Heatmap math of the pymg kernels: compiled into the CPU kernels (plain C++) and the CUDA kernels
// (__host__ __device__). Every formula exists once, so the two implementations cannot drift apart.
//
// Semantics follow PYSKL's GeneratePoseTarget (see docs/ops.md):
// * pixel i sits at coordinate i (x = column, y = row, no +0.5 offset);
// * window bounds: lo = max(trunc(c - r), 0), hi = min(trunc(c + r) + 1, size) with the radius
//   r = window_sigmas * sigma (window_sigmas comes from Python: pymg.ops.constants.WINDOW_SIGMAS),
//   computed in double (trunc toward zero, as Python int()); [lo, hi) may be empty; outside it
//   the value is exactly 0;
// * a point is missing (skipped) when a coordinate or its score is NaN/inf or the score is below
//   eps (point_math.h);
// * joint value exp(-((x-mx)^2 + (y-my)^2) / (2 sigma^2)) * s, a product of two 1-D factors;
// * limb value exp(-d2 / (2 sigma^2)) * min(s_a, s_b) with d2 the squared distance to the segment
//   AB; when |AB|^2 < 1 a joint gaussian is drawn at A with score s_a instead;
// * persons are combined with max (never summed).
#pragma once

#include <cmath>
#include <cstdint>

#include "point_math.h"

namespace pymg {

// Output dtype codes, exposed to Python as pymg._C.DTYPE_*.
enum DType : int { kFloat32 = 0, kFloat16 = 1, kBFloat16 = 2 };

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

// exp(-x) for x >= 0, the only exponential of the kernels, in plain float arithmetic that the CPU
// compiler vectorises (glibc's expf does not) and that CUDA evaluates bit for bit the same:
// exp(-x) = 2^k exp(r) with k = round(-x / ln 2), r = -x - k ln 2 (two-part ln 2), |r| <= ln(2)/2,
// exp(r) by its degree-6 Taylor polynomial (relative error about 1e-7). Returns 0 for x > 87
// (the value is then below FLT_MIN, 1.2e-38) and for NaN (overflowed distances).
PYMG_HD float exp_neg(float x) {
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding and subtracting rounds to an integer
  const float xc = x <= 88.0f ? x : 88.0f;  // keeps k in int range (and NaN out of the cast)
  const float t = -xc * 1.44269504088896341f;
  const float k = (t + kRound) - kRound;
  const float r = (-xc - k * 0.693145751953125f) - k * 1.428606765330187e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float scale = bits_float(static_cast<uint32_t>(static_cast<int32_t>(k) + 127) << 23);
  return !(x <= 87.0f) ? 0.0f : p * scale;
}

// exp(-d^2 / (2 sigma^2)): one 1-D factor of the separable joint gaussian.
PYMG_HD float gauss1d(float d, float inv2s2) { return exp_neg(d * d * inv2s2); }

// |AB|^2 in float32 arithmetic, as PYSKL computes it.
PYMG_HD float segment_len_sq(float ax, float ay, float bx, float by) {
  const float dx = ax - bx;
  const float dy = ay - by;
  return dx * dx + dy * dy;
}

// A limb with |AB|^2 < 1 is drawn as a joint gaussian at A with A's score.
PYMG_HD bool limb_degenerate(float d2ab) { return d2ab < 1.0f; }

// Squared distance from pixel (px, py) to the segment AB (d2ab = |AB|^2 >= 1), PYSKL's float32
// formula: u = (|PA|^2 - |PB|^2 + |AB|^2) / 2 / |AB|^2; u <= 0 -> |PA|^2, u >= 1 -> |PB|^2, else
// the distance to the projection A + u (B - A). Branch-free so that the CPU row loop vectorises.
PYMG_HD float segment_dist_sq(float px, float py, float ax, float ay, float bx, float by,
                              float d2ab) {
  const float dax = px - ax, day = py - ay;
  const float dbx = px - bx, dby = py - by;
  const float ds = dax * dax + day * day;
  const float de = dbx * dbx + dby * dby;
  const float u = (ds - de + d2ab) * 0.5f / d2ab;  // * 0.5f is exact: PYSKL's "/ 2."
  const float qx = px - (ax + u * (bx - ax));
  const float qy = py - (ay + u * (by - ay));
  const float dl = qx * qx + qy * qy;
  return u <= 0.0f ? ds : (u >= 1.0f ? de : dl);
}

// exp(-d2 / (2 sigma^2)) of the limb AB at pixel (px, py); multiply by min(s_a, s_b) outside.
PYMG_HD float limb_factor(float px, float py, float ax, float ay, float bx, float by, float d2ab,
                          float inv2s2) {
  return exp_neg(segment_dist_sq(px, py, ax, ay, bx, by, d2ab) * inv2s2);
}

// ---- 16-bit output conversion (round to nearest, ties to even), identical on host and device ----

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

}  // namespace pymg
