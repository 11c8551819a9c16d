// CPU heatmap kernels: one work item per (n, c, t) plane. A plane is zeroed, then only the windows
// of its points are touched (separable gaussian for joints), persons combined with max. float32
// output is written in place; float16/bfloat16 planes are drawn into a per-thread float scratch
// plane and converted (round to nearest even) over the bounding box of the drawn windows. All
// scratch memory is allocated before the parallel loop and freed when the launch returns.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>
#include <vector>

#include "heatmap_math.h"
#include "kernels.h"
#include "parallel.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define PYMG_F16C_PATH 1
#endif

// The pixel loops get an AVX2 clone next to the baseline SSE2 one, picked at load time (GCC ifunc).
// Only AVX2, not FMA: results stay bit-identical across the two clones.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define PYMG_CPU_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PYMG_CPU_CLONES
#endif

namespace pymg {
namespace {

struct Box {
  int x0 = 0, x1 = 0, y0 = 0, y1 = 0;  // union of windows, [x0, x1) x [y0, y1)
  bool empty() const { return x0 >= x1 || y0 >= y1; }
  void add(Span sx, Span sy) {
    if (sx.lo >= sx.hi || sy.lo >= sy.hi) return;
    if (empty()) {
      *this = Box{sx.lo, sx.hi, sy.lo, sy.hi};
      return;
    }
    x0 = std::min(x0, sx.lo);
    x1 = std::max(x1, sx.hi);
    y0 = std::min(y0, sy.lo);
    y1 = std::max(y1, sy.hi);
  }
};

// Max-combines one joint gaussian at (mx, my) with score s into plane[H, W] (row stride W); `row`
// is scratch of at least W floats.
PYMG_CPU_CLONES void draw_joint(float* plane, int W, Span sx, Span sy, float mx, float my, float s,
                                float inv2s2, float* row) {
  const int nx = sx.hi - sx.lo;
  for (int i = 0; i < nx; ++i) row[i] = gauss1d(static_cast<float>(sx.lo + i) - mx, inv2s2);
  for (int y = sy.lo; y < sy.hi; ++y) {
    const float fy = gauss1d(static_cast<float>(y) - my, inv2s2) * s;
    float* dst = plane + static_cast<int64_t>(y) * W + sx.lo;
    for (int i = 0; i < nx; ++i) dst[i] = std::max(dst[i], row[i] * fy);
  }
}

// Writes plane windows into a 16-bit output plane over the box (the rest of out is already zero).
template <uint16_t (*Convert)(float)>
void convert_box(const float* plane, uint16_t* out, int W, const Box& b) {
  for (int y = b.y0; y < b.y1; ++y) {
    const int64_t off = static_cast<int64_t>(y) * W;
    for (int x = b.x0; x < b.x1; ++x) out[off + x] = Convert(plane[off + x]);
  }
}

#ifdef PYMG_F16C_PATH
// The same float -> binary16 rounding (IEEE round to nearest even, subnormals included) done by the
// F16C instruction, 8 values at a time; the software path above has data-dependent branches.
__attribute__((target("avx,f16c"))) void convert_box_f16c(const float* plane, uint16_t* out, int W,
                                                          const Box& b) {
  for (int y = b.y0; y < b.y1; ++y) {
    const int64_t off = static_cast<int64_t>(y) * W;
    int x = b.x0;
    for (; x + 8 <= b.x1; x += 8) {
      const __m256 v = _mm256_loadu_ps(plane + off + x);
      const __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + off + x), h);
    }
    for (; x < b.x1; ++x) out[off + x] = float_to_half_bits(plane[off + x]);
  }
}

bool cpu_has_f16c() {
  static const bool has = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
  return has;
}
#endif

// Max-combines the limb AB (|AB|^2 = d2ab >= 1, strength c) into plane[H, W] over the window.
// Pixels are evaluated in fixed blocks of 8 along x (one AVX2 / two SSE vectors of the exp
// polynomial, no per-row remainder loops: windows are only ~5-20 pixels wide), then max-combined
// into the row.
PYMG_CPU_CLONES void draw_limb(float* plane, int W, Span sx, Span sy, float ax, float ay, float bx,
                               float by, float d2ab, float c, float inv2s2) {
  constexpr int kBlock = 8;
  for (int y = sy.lo; y < sy.hi; ++y) {
    const float py = static_cast<float>(y);
    float* dst = plane + static_cast<int64_t>(y) * W;
    for (int x0 = sx.lo; x0 < sx.hi; x0 += kBlock) {
      float v[kBlock];
      for (int j = 0; j < kBlock; ++j) {
        const float px = static_cast<float>(x0 + j);
        v[j] = limb_factor(px, py, ax, ay, bx, by, d2ab, inv2s2) * c;
      }
      const int n = std::min(kBlock, sx.hi - x0);
      for (int j = 0; j < n; ++j) dst[x0 + j] = std::max(dst[x0 + j], v[j]);
    }
  }
}

uint16_t to_half(float f) { return float_to_half_bits(f); }
uint16_t to_bf16(float f) { return float_to_bf16_bits(f); }

// Float scratch of each parallel slot: a plane [H, W] for 16-bit outputs, then a row of W floats.
// Allocated before the parallel loop, so an allocation failure is an ordinary exception of the
// launch (MemoryError in Python) and never happens inside an OpenMP region.
class Scratch {
 public:
  Scratch(int slots, int64_t plane_floats, int64_t row_floats)
      : per_slot_(plane_floats + row_floats), plane_floats_(plane_floats) {
    const size_t limit = static_cast<size_t>(PTRDIFF_MAX) / sizeof(float);
    if (static_cast<size_t>(per_slot_) > limit / static_cast<size_t>(slots)) {
      throw std::bad_alloc();
    }
    data_.resize(static_cast<size_t>(per_slot_) * static_cast<size_t>(slots));
  }
  float* plane(int slot) { return data_.data() + static_cast<int64_t>(slot) * per_slot_; }
  float* row(int slot) { return plane(slot) + plane_floats_; }

 private:
  int64_t per_slot_;
  int64_t plane_floats_;
  std::vector<float> data_;
};

// Fills every (n, c, t) plane of the output. `draw(n, c, t, plane, row)` draws a plane's windows
// into a zeroed float plane of stride W (row: W floats of scratch); `bounds(n, c, t, box)` adds
// those windows to box (16-bit outputs only: the float scratch plane is zeroed and converted over
// that box alone).
template <typename Bounds, typename Draw>
void for_each_plane(const HeatmapArgs& a, int num_threads, Bounds bounds, Draw draw) {
  const int64_t plane_size = static_cast<int64_t>(a.H) * a.W;
  const int64_t planes = a.N * a.C * a.T;
  if (planes == 0) return;
  const bool half = a.dtype != kFloat32;
  Scratch scratch(parallel_slots(planes, num_threads), half ? plane_size : 0, a.W);
  parallel_for(planes, num_threads, [&](int64_t p, int slot) {
    const int64_t t = p % a.T;
    const int64_t c = (p / a.T) % a.C;
    const int64_t n = p / (a.T * a.C);
    float* row = scratch.row(slot);
    if (!half) {
      float* plane = static_cast<float*>(a.out) + p * plane_size;
      std::memset(plane, 0, sizeof(float) * static_cast<size_t>(plane_size));
      draw(n, c, t, plane, row);
      return;
    }
    uint16_t* out = static_cast<uint16_t*>(a.out) + p * plane_size;
    std::memset(out, 0, sizeof(uint16_t) * static_cast<size_t>(plane_size));
    Box box;
    bounds(n, c, t, box);
    if (box.empty()) return;
    float* plane = scratch.plane(slot);
    for (int y = box.y0; y < box.y1; ++y) {
      std::fill_n(plane + static_cast<int64_t>(y) * a.W + box.x0, box.x1 - box.x0, 0.0f);
    }
    draw(n, c, t, plane, row);
    if (a.dtype == kFloat16) {
#ifdef PYMG_F16C_PATH
      if (cpu_has_f16c()) {
        convert_box_f16c(plane, out, a.W, box);
        return;
      }
#endif
      convert_box<to_half>(plane, out, a.W, box);
    } else {
      convert_box<to_bf16>(plane, out, a.W, box);
    }
  });
}

}  // namespace

void joint_heatmaps_cpu(const HeatmapArgs& a, int num_threads) {
  const double radius = a.window_sigmas * a.sigma;
  const float inv2s2 = inv_two_sigma_sq(a.sigma);
  // Point of person m for plane (n, v, t): index into sc; kp index is twice that.
  auto point = [&](int64_t n, int64_t m, int64_t t, int64_t v) {
    return ((n * a.M + m) * a.T + t) * a.V + v;
  };
  auto bounds = [&](int64_t n, int64_t v, int64_t t, Box& box) {
    for (int64_t m = 0; m < a.M; ++m) {
      const int64_t i = point(n, m, t, v);
      const float x = a.kp[2 * i], y = a.kp[2 * i + 1];
      if (!finite_point(x, y) || !score_ok(a.sc[i], a.eps)) continue;
      box.add(window_span(x, x, radius, a.W), window_span(y, y, radius, a.H));
    }
  };
  auto draw = [&](int64_t n, int64_t v, int64_t t, float* plane, float* row) {
    for (int64_t m = 0; m < a.M; ++m) {
      const int64_t i = point(n, m, t, v);
      const float x = a.kp[2 * i], y = a.kp[2 * i + 1], s = a.sc[i];
      if (!finite_point(x, y) || !score_ok(s, a.eps)) continue;
      const Span sx = window_span(x, x, radius, a.W), sy = window_span(y, y, radius, a.H);
      if (sx.lo >= sx.hi || sy.lo >= sy.hi) continue;
      draw_joint(plane, a.W, sx, sy, x, y, s, inv2s2, row);
    }
  };
  for_each_plane(a, num_threads, bounds, draw);
}

void limb_heatmaps_cpu(const HeatmapArgs& a, int num_threads) {
  const double radius = a.window_sigmas * a.sigma;
  const float inv2s2 = inv_two_sigma_sq(a.sigma);
  struct Limb {
    float ax, ay, sa, bx, by, sb;
    bool ok;
  };
  auto limb = [&](int64_t n, int64_t m, int64_t t, int64_t l) {
    const int64_t base = ((n * a.M + m) * a.T + t) * a.V;
    const int64_t ia = base + a.limbs[2 * l], ib = base + a.limbs[2 * l + 1];
    Limb r{a.kp[2 * ia],     a.kp[2 * ia + 1], a.sc[ia], a.kp[2 * ib],
           a.kp[2 * ib + 1], a.sc[ib],         false};
    // min(s_a, s_b) >= eps, with a NaN score on either side counting as missing
    r.ok = finite_point(r.ax, r.ay) && finite_point(r.bx, r.by) && score_ok(r.sa, a.eps) &&
           score_ok(r.sb, a.eps);
    return r;
  };
  auto spans = [&](const Limb& r, Span& sx, Span& sy) {
    if (limb_degenerate(segment_len_sq(r.ax, r.ay, r.bx, r.by))) {
      sx = window_span(r.ax, r.ax, radius, a.W);
      sy = window_span(r.ay, r.ay, radius, a.H);
    } else {
      sx = window_span(std::min(r.ax, r.bx), std::max(r.ax, r.bx), radius, a.W);
      sy = window_span(std::min(r.ay, r.by), std::max(r.ay, r.by), radius, a.H);
    }
  };
  auto bounds = [&](int64_t n, int64_t l, int64_t t, Box& box) {
    for (int64_t m = 0; m < a.M; ++m) {
      const Limb r = limb(n, m, t, l);
      if (!r.ok) continue;
      Span sx, sy;
      spans(r, sx, sy);
      box.add(sx, sy);
    }
  };
  auto draw = [&](int64_t n, int64_t l, int64_t t, float* plane, float* row) {
    for (int64_t m = 0; m < a.M; ++m) {
      const Limb r = limb(n, m, t, l);
      if (!r.ok) continue;
      Span sx, sy;
      spans(r, sx, sy);
      if (sx.lo >= sx.hi || sy.lo >= sy.hi) continue;
      const float d2ab = segment_len_sq(r.ax, r.ay, r.bx, r.by);
      if (limb_degenerate(d2ab)) {
        draw_joint(plane, a.W, sx, sy, r.ax, r.ay, r.sa, inv2s2, row);
        continue;
      }
      draw_limb(plane, a.W, sx, sy, r.ax, r.ay, r.bx, r.by, d2ab, std::min(r.sa, r.sb), inv2s2);
    }
  };
  for_each_plane(a, num_threads, bounds, draw);
}

int openmp_max_threads() {
#ifdef PYMG_WITH_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace pymg
