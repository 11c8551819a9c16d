// CPU frame gathering (temporal alignment): one work item per output frame (n, k, t2); every point
// of every person of that frame is taken from one source frame or blended from two
// (gather_math.h).
#include "gather_math.h"
#include "kernels.h"
#include "parallel.h"

namespace pymg {

void gather_frames_cpu(const GatherArgs& a, int num_threads) {
  const int64_t frames = a.N * a.K * a.T2;
  parallel_for(frames, num_threads, [&](int64_t f, int /*slot*/) {
    const int64_t t2 = f % a.T2;
    const int64_t nk = f / a.T2;  // output row n * K + k
    const int64_t n = nk / a.K;
    int64_t length = a.lengths[n];
    if (length > a.T) length = a.T;  // never read past the padded input
    int64_t i0 = 0, i1 = 0;
    float w = 0.0f;
    const bool valid = frame_pair(a.positions[f], length, a.mode, &i0, &i1, &w);
    for (int64_t m = 0; m < a.M; ++m) {
      const int64_t out_base = ((nk * a.M + m) * a.T2 + t2) * a.V;
      if (!valid) {
        for (int64_t v = 0; v < a.V; ++v) {
          a.out_kp[2 * (out_base + v)] = 0.0f;
          a.out_kp[2 * (out_base + v) + 1] = 0.0f;
          a.out_sc[out_base + v] = 0.0f;
        }
        continue;
      }
      const int64_t base0 = ((n * a.M + m) * a.T + i0) * a.V;
      const int64_t base1 = ((n * a.M + m) * a.T + i1) * a.V;
      for (int64_t v = 0; v < a.V; ++v) {
        const int64_t p0 = base0 + v, p1 = base1 + v, o = out_base + v;
        blend_point(a.kp[2 * p0], a.kp[2 * p0 + 1], a.sc[p0], a.kp[2 * p1], a.kp[2 * p1 + 1],
                    a.sc[p1], w, a.eps, &a.out_kp[2 * o], &a.out_kp[2 * o + 1], &a.out_sc[o]);
      }
    }
  });
}

}  // namespace pymg
