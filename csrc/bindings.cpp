// The only pybind11 file: exposes the CPU and CUDA kernels of pymg._C to Python.
// Functions take raw data pointers (tensor.data_ptr()), shapes, a device index (-1 = CPU), a CUDA
// stream handle and an OpenMP thread count. What memory safety needs is checked here (ValueError:
// sizes, codes, limb indices); argument values (sigma, eps) are validated once, by pymg.ops at the
// public boundary. The caller (pymg.ops.backend_native) guarantees that the pointers address
// contiguous arrays of those shapes.
// The extension does not link libtorch.
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "gather_math.h"
#include "heatmap_math.h"
#include "kernels.h"

namespace py = pybind11;

#ifndef PYMG_CXX_COMPILER
#define PYMG_CXX_COMPILER "unknown"
#endif
#ifndef PYMG_CUDA_ARCHS
#define PYMG_CUDA_ARCHS ""
#endif
#ifndef PYMG_CUDA_COMPILER
#define PYMG_CUDA_COMPILER ""
#endif

namespace {

using pymg::GatherArgs;
using pymg::HeatmapArgs;

// Largest element count of any array a kernel touches (keeps every byte offset inside int64).
constexpr int64_t kMaxElements = std::numeric_limits<int64_t>::max() / 16;

void require_dim(const char* name, int64_t value, int64_t minimum) {
  if (value < minimum) {
    throw py::value_error(std::string(name) + " must be >= " + std::to_string(minimum) + ", got " +
                          std::to_string(value));
  }
}

// Product of dims, raising ValueError when it exceeds kMaxElements.
int64_t checked_count(const char* what, std::initializer_list<int64_t> dims) {
  int64_t total = 1;
  for (int64_t d : dims) {
    if (d == 0) return 0;
    if (total > kMaxElements / d) {
      throw py::value_error(std::string("the ") + what +
                            " array is too large (element count overflows)");
    }
    total *= d;
  }
  return total;
}

void require_ptr(const char* name, std::uintptr_t ptr, int64_t count) {
  if (count > 0 && ptr == 0) throw py::value_error(std::string(name) + " is a null pointer");
}

void check_device(int device, int num_threads) {
  if (device < -1)
    throw py::value_error("device must be -1 (CPU) or a CUDA device index, got " +
                          std::to_string(device));
  if (num_threads < 1)
    throw py::value_error("num_threads must be >= 1, got " + std::to_string(num_threads));
#ifndef PYMG_WITH_CUDA
  if (device >= 0)
    throw std::runtime_error("pymg._C was built without CUDA kernels (PYMG_CUDA=OFF or no nvcc)");
#endif
}

HeatmapArgs heatmap_args(std::uintptr_t kp, std::uintptr_t sc, std::uintptr_t out, int64_t N,
                         int64_t M, int64_t T, int64_t V, int64_t C, int64_t H, int64_t W,
                         double sigma, double window_sigmas, double eps, int dtype) {
  require_dim("N", N, 0);
  require_dim("M", M, 0);
  require_dim("T", T, 1);
  require_dim("V", V, 1);
  require_dim("H", H, 1);
  require_dim("W", W, 1);
  constexpr int64_t kMaxSide = int64_t{1} << 30;
  if (H > kMaxSide || W > kMaxSide) throw py::value_error("H and W must be <= 2**30");
  if (dtype != pymg::kFloat32 && dtype != pymg::kFloat16 && dtype != pymg::kBFloat16) {
    throw py::value_error("dtype must be a DTYPE_* code (0 float32, 1 float16, 2 bfloat16), got " +
                          std::to_string(dtype));
  }
  const int64_t n_in = checked_count("keypoint", {N, M, T, V, 2});
  const int64_t n_out = checked_count("output", {N, C, T, H, W});
  require_ptr("keypoints", kp, n_in);
  require_ptr("scores", sc, n_in);
  require_ptr("out", out, n_out);
  HeatmapArgs a;
  a.kp = reinterpret_cast<const float*>(kp);
  a.sc = reinterpret_cast<const float*>(sc);
  a.out = reinterpret_cast<void*>(out);
  a.N = N;
  a.M = M;
  a.T = T;
  a.V = V;
  a.C = C;
  a.H = static_cast<int>(H);
  a.W = static_cast<int>(W);
  a.sigma = sigma;
  a.window_sigmas = window_sigmas;
  a.eps = eps;
  a.dtype = dtype;
  return a;
}

void joint_heatmaps(std::uintptr_t kp, std::uintptr_t sc, std::uintptr_t out, int64_t N, int64_t M,
                    int64_t T, int64_t V, int64_t H, int64_t W, double sigma, double window_sigmas,
                    double eps, int dtype, int device, std::uintptr_t stream, int num_threads) {
  check_device(device, num_threads);
  const HeatmapArgs a =
      heatmap_args(kp, sc, out, N, M, T, V, V, H, W, sigma, window_sigmas, eps, dtype);
  py::gil_scoped_release release;
#ifdef PYMG_WITH_CUDA
  if (device >= 0) {
    pymg::joint_heatmaps_cuda(a, device, stream);
    return;
  }
#endif
  (void)stream;
  pymg::joint_heatmaps_cpu(a, num_threads);
}

void limb_heatmaps(std::uintptr_t kp, std::uintptr_t sc, std::uintptr_t limbs, int64_t L,
                   std::uintptr_t out, int64_t N, int64_t M, int64_t T, int64_t V, int64_t H,
                   int64_t W, double sigma, double window_sigmas, double eps, int dtype, int device,
                   std::uintptr_t stream, int num_threads) {
  check_device(device, num_threads);
  require_dim("L", L, 1);
  require_ptr("limbs", limbs, L);
  HeatmapArgs a = heatmap_args(kp, sc, out, N, M, T, V, L, H, W, sigma, window_sigmas, eps, dtype);
  a.limbs = reinterpret_cast<const int32_t*>(limbs);  // host memory, [L, 2]
  for (int64_t l = 0; l < L; ++l) {
    const int32_t ja = a.limbs[2 * l], jb = a.limbs[2 * l + 1];
    if (ja < 0 || ja >= V || jb < 0 || jb >= V) {
      throw py::value_error("limbs[" + std::to_string(l) + "] = (" + std::to_string(ja) + ", " +
                            std::to_string(jb) +
                            ") has a joint index outside [0, V=" + std::to_string(V) + ")");
    }
  }
  py::gil_scoped_release release;
#ifdef PYMG_WITH_CUDA
  if (device >= 0) {
    pymg::limb_heatmaps_cuda(a, device, stream);
    return;
  }
#endif
  (void)stream;
  pymg::limb_heatmaps_cpu(a, num_threads);
}

void gather_frames(std::uintptr_t kp, std::uintptr_t sc, std::uintptr_t lengths,
                   std::uintptr_t positions, std::uintptr_t out_kp, std::uintptr_t out_sc,
                   int64_t N, int64_t M, int64_t T, int64_t V, int64_t K, int64_t T2, int mode,
                   double eps, int device, std::uintptr_t stream, int num_threads) {
  check_device(device, num_threads);
  require_dim("N", N, 0);
  require_dim("M", M, 0);
  require_dim("T", T, 1);
  require_dim("V", V, 1);
  require_dim("K", K, 1);
  require_dim("T2", T2, 1);
  if (mode != pymg::kGatherLinear && mode != pymg::kGatherNearest) {
    throw py::value_error("mode must be GATHER_LINEAR (0) or GATHER_NEAREST (1), got " +
                          std::to_string(mode));
  }
  const int64_t n_in = checked_count("keypoint", {N, M, T, V, 2});
  const int64_t n_out = checked_count("output keypoint", {N, K, M, T2, V, 2});
  const int64_t n_pos = checked_count("positions", {N, K, T2});
  require_ptr("keypoints", kp, n_in);
  require_ptr("scores", sc, n_in);
  require_ptr("lengths", lengths, N);
  require_ptr("positions", positions, n_pos);
  require_ptr("out_kp", out_kp, n_out);
  require_ptr("out_sc", out_sc, n_out);
  GatherArgs a;
  a.kp = reinterpret_cast<const float*>(kp);
  a.sc = reinterpret_cast<const float*>(sc);
  a.lengths = reinterpret_cast<const int64_t*>(lengths);
  a.positions = reinterpret_cast<const float*>(positions);
  a.out_kp = reinterpret_cast<float*>(out_kp);
  a.out_sc = reinterpret_cast<float*>(out_sc);
  a.N = N;
  a.M = M;
  a.T = T;
  a.V = V;
  a.K = K;
  a.T2 = T2;
  a.mode = mode;
  a.eps = eps;
  py::gil_scoped_release release;
#ifdef PYMG_WITH_CUDA
  if (device >= 0) {
    pymg::gather_frames_cuda(a, device, stream);
    return;
  }
#endif
  (void)stream;
  pymg::gather_frames_cpu(a, num_threads);
}

// Test hook: the portable float -> float16/bfloat16 rounding of heatmap_math.h (the one the CUDA
// kernels use) applied to n host floats, so it can be checked against torch on any machine.
void convert_floats(std::uintptr_t src, std::uintptr_t dst, int64_t n, int dtype) {
  require_dim("n", n, 0);
  require_ptr("src", src, n);
  require_ptr("dst", dst, n);
  if (dtype != pymg::kFloat16 && dtype != pymg::kBFloat16) {
    throw py::value_error("dtype must be DTYPE_FLOAT16 or DTYPE_BFLOAT16, got " +
                          std::to_string(dtype));
  }
  const float* in = reinterpret_cast<const float*>(src);
  uint16_t* out = reinterpret_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    out[i] =
        dtype == pymg::kFloat16 ? pymg::float_to_half_bits(in[i]) : pymg::float_to_bf16_bits(in[i]);
  }
}

int cuda_device_count() {
#ifdef PYMG_WITH_CUDA
  return pymg::cuda_device_count();
#else
  return 0;
#endif
}

py::dict build_info() {
  py::dict d;
  d["version"] = PYMG_VERSION_INFO;
#ifdef PYMG_WITH_CUDA
  d["cuda_compiled"] = true;
  d["cuda_runtime"] = pymg::cuda_runtime_version();
#else
  d["cuda_compiled"] = false;
  d["cuda_runtime"] = py::none();
#endif
  d["cuda_archs"] = PYMG_CUDA_ARCHS;
  d["cuda_compiler"] = PYMG_CUDA_COMPILER;
#ifdef PYMG_WITH_OPENMP
  d["openmp"] = true;
#else
  d["openmp"] = false;
#endif
  d["compiler"] = PYMG_CXX_COMPILER;
  return d;
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() =
      "pymg native kernels: joint/limb heatmap volumes and frame gathering on CPU (OpenMP) and "
      "CUDA";
  m.attr("__version__") = PYMG_VERSION_INFO;
#ifdef PYMG_WITH_CUDA
  m.attr("cuda_compiled") = true;
#else
  m.attr("cuda_compiled") = false;
#endif
  m.attr("DTYPE_FLOAT32") = static_cast<int>(pymg::kFloat32);
  m.attr("DTYPE_FLOAT16") = static_cast<int>(pymg::kFloat16);
  m.attr("DTYPE_BFLOAT16") = static_cast<int>(pymg::kBFloat16);
  m.attr("GATHER_LINEAR") = static_cast<int>(pymg::kGatherLinear);
  m.attr("GATHER_NEAREST") = static_cast<int>(pymg::kGatherNearest);

  m.def("joint_heatmaps", &joint_heatmaps, py::arg("keypoints"), py::arg("scores"), py::arg("out"),
        py::arg("N"), py::arg("M"), py::arg("T"), py::arg("V"), py::arg("H"), py::arg("W"),
        py::arg("sigma"), py::arg("window_sigmas"), py::arg("eps"), py::arg("dtype"),
        py::arg("device"), py::arg("stream"), py::arg("num_threads"),
        "Joint heatmaps out[N, V, T, H, W] from keypoints[N, M, T, V, 2] and scores[N, M, T, V] "
        "(float32 "
        "pointers). device -1 = CPU (num_threads OpenMP threads), >= 0 = CUDA device (stream = "
        "cudaStream_t).");
  m.def("limb_heatmaps", &limb_heatmaps, py::arg("keypoints"), py::arg("scores"), py::arg("limbs"),
        py::arg("L"), py::arg("out"), py::arg("N"), py::arg("M"), py::arg("T"), py::arg("V"),
        py::arg("H"), py::arg("W"), py::arg("sigma"), py::arg("window_sigmas"), py::arg("eps"),
        py::arg("dtype"), py::arg("device"), py::arg("stream"), py::arg("num_threads"),
        "Limb heatmaps out[N, L, T, H, W]; limbs is a host pointer to int32 [L, 2] joint index "
        "pairs.");
  m.def("gather_frames", &gather_frames, py::arg("keypoints"), py::arg("scores"),
        py::arg("lengths"), py::arg("positions"), py::arg("out_keypoints"), py::arg("out_scores"),
        py::arg("N"), py::arg("M"), py::arg("T"), py::arg("V"), py::arg("K"), py::arg("T2"),
        py::arg("mode"), py::arg("eps"), py::arg("device"), py::arg("stream"),
        py::arg("num_threads"),
        "Frame gathering: out_keypoints[N*K, M, T2, V, 2], out_scores[N*K, M, T2, V] from "
        "keypoints, scores, "
        "lengths int64 [N] and positions float32 [N, K, T2].");
  m.def("_convert_floats", &convert_floats, py::arg("src"), py::arg("dst"), py::arg("n"),
        py::arg("dtype"),
        "Test hook: the kernels' portable float32 -> float16/bfloat16 rounding on host arrays.");
  m.def("cuda_device_count", &cuda_device_count,
        "Number of CUDA devices the runtime sees; 0 without a driver/device or without CUDA "
        "kernels.");
  m.def("openmp_max_threads", &pymg::openmp_max_threads,
        "OpenMP's default thread count (1 without OpenMP).");
  m.def("build_info", &build_info,
        "Build facts: version, cuda_compiled, cuda_runtime, cuda_archs, openmp, compiler.");
}
