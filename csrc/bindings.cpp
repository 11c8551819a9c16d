// The only pybind11 file: exposes the CPU and CUDA kernels of pymg._C to Python.
#include <pybind11/pybind11.h>

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "pymg native kernels (skeleton build; kernels land with the kernel issue)";
  m.attr("__version__") = PYMG_VERSION_INFO;
#ifdef PYMG_WITH_CUDA
  m.attr("cuda_compiled") = true;
#else
  m.attr("cuda_compiled") = false;
#endif
}
