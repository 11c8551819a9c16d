// Launchers of the pymg kernels (CPU: heatmap_cpu.cpp, temporal_cpu.cpp; CUDA: *_cuda.cu).
// Arguments are raw pointers to contiguous arrays; bindings.cpp validates shapes before calling.
#pragma once

#include <cstdint>
#include <string>

namespace pymg {

// Heatmap volumes out[N, C, T, H, W] from keypoints kp[N, M, T, V, 2] and scores sc[N, M, T, V].
// For joints C == V; for limbs C == L and limbs[L, 2] holds joint index pairs (host memory).
struct HeatmapArgs {
  const float* kp = nullptr;
  const float* sc = nullptr;
  void* out = nullptr;
  const int32_t* limbs = nullptr;
  int64_t N = 0, M = 0, T = 0, V = 0, C = 0;
  int H = 0, W = 0;
  double sigma = 0.6;
  double window_sigmas = 0.0;  // window half-width in sigmas (from Python's WINDOW_SIGMAS)
  double eps = 1e-3;
  int dtype = 0;  // DType code of out
};

// Frame gathering: out_kp[N*K, M, T2, V, 2], out_sc[N*K, M, T2, V] from kp[N, M, T, V, 2], sc[N, M,
// T, V], lengths[N] (int64) and positions[N, K, T2] (float32).
struct GatherArgs {
  const float* kp = nullptr;
  const float* sc = nullptr;
  const int64_t* lengths = nullptr;
  const float* positions = nullptr;
  float* out_kp = nullptr;
  float* out_sc = nullptr;
  int64_t N = 0, M = 0, T = 0, V = 0, K = 0, T2 = 0;
  int mode = 0;  // GatherMode code
  double eps = 1e-3;
};

void joint_heatmaps_cpu(const HeatmapArgs& a, int num_threads);
void limb_heatmaps_cpu(const HeatmapArgs& a, int num_threads);
void gather_frames_cpu(const GatherArgs& a, int num_threads);

// Number of OpenMP threads available (1 without OpenMP).
int openmp_max_threads();

#ifdef PYMG_WITH_CUDA
// Pointers are device pointers on `device`, except HeatmapArgs::limbs (host); stream is a
// cudaStream_t. Errors raise std::runtime_error carrying the CUDA error string.
void joint_heatmaps_cuda(const HeatmapArgs& a, int device, std::uintptr_t stream);
void limb_heatmaps_cuda(const HeatmapArgs& a, int device, std::uintptr_t stream);
void gather_frames_cuda(const GatherArgs& a, int device, std::uintptr_t stream);
// Number of CUDA devices visible to the runtime; 0 (never an exception) without a driver or device.
int cuda_device_count();
// CUDA runtime version the extension was built against, e.g. "13.0".
std::string cuda_runtime_version();
#endif

}  // namespace pymg
