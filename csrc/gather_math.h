// Frame-gathering math (temporal alignment), compiled into the CPU and the CUDA kernels:
// * a position p selects frames of a clip of `length` frames; p < 0, p >= length or NaN gives
//   zeros;
// * "nearest" picks frame floor(p + 0.5) (round half up), clamped to length - 1;
// * "linear" blends frames floor(p) and floor(p) + 1 (clamped) with weight w = p - floor(p),
//   except when one of the two points is missing (point_math.h): then it takes the nearer frame's
//   point (w >= 0.5 -> the later frame, the rule of "nearest"), so a real point is never blended
//   with a missing one.
#pragma once

#include <cmath>
#include <cstdint>

#include "point_math.h"

namespace pymg {

// Frame gather modes, exposed to Python as pymg._C.GATHER_*.
enum GatherMode : int { kGatherLinear = 0, kGatherNearest = 1 };

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
