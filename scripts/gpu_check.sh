#!/usr/bin/env bash
# Proves pymg's CUDA path on a bare GPU machine in one short call (about 8 minutes at most).
#
#   scripts/gpu_check.sh [OUTDIR]              build for this GPU, test, sanitize, time, report
#   scripts/gpu_check.sh --no-build [OUTDIR]   the same with the pymg already installed
#   scripts/gpu_check.sh --cpu-only [OUTDIR]   dry run without CUDA (CI): no build, no sanitizer, the
#                                              ops tests only collected, the workload and timings on
#                                              the CPU with small sizes
#
# Needs (no network): python with torch (CUDA build), numpy, pytest, pytest-benchmark,
# scikit-build-core, pybind11, ninja, cmake, nvcc and compute-sanitizer (CUDA toolkit).
# Steps: build (pip install --no-build-isolation --no-deps ., architectures of this GPU only), env
# facts, `pymg info`, the CUDA tests, compute-sanitizer memcheck on scripts/gpu_check.py's workload,
# heatmap/gather timings (CUDA events, medians), a PoseC3D training step (input share, sync check),
# the CPU ops tests, racecheck on the workload, then the report: OUTDIR/results.json and results.md, the markdown
# printed last. Every step has a time limit within GPU_CHECK_BUDGET seconds (default 450); a step
# that fails or times out does not stop the others. Exit status: 0 when every step that ran passed.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python}
BUDGET=${GPU_CHECK_BUDGET:-450}
CPU_ONLY=0
BUILD=1
OUT=""
for arg in "$@"; do
  case "$arg" in
    --cpu-only) CPU_ONLY=1; BUILD=0 ;;
    --no-build) BUILD=0 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "gpu_check.sh: unknown option '$arg'" >&2; exit 2 ;;
    *) OUT=$arg ;;
  esac
done
OUT=${OUT:-gpu_check_$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
# a rerun into the same folder must not report an earlier run's files
rm -f "$OUT"/{env,bench,train,results}.json "$OUT"/results.md "$OUT"/*-tests.xml \
  "$OUT"/{memcheck,racecheck}.log "$OUT"/*.out
: >"$OUT/steps.tsv"
CPU_FLAG=()
[[ $CPU_ONLY == 1 ]] && CPU_FLAG=(--cpu-only)
CHECK=("$PY" "$REPO/scripts/gpu_check.py")
failed=()

# step NAME LIMIT CMD...: runs CMD (cwd OUT) with a time limit cut to the budget left; the output
# goes to OUT/NAME.out, the status to OUT/steps.tsv.
step() {
  local name=$1 limit=$2 left status rc start
  shift 2
  left=$((BUDGET - SECONDS - 10))
  if ((left < 20)); then
    printf '%s\tskipped (budget)\t0\n' "$name" >>"$OUT/steps.tsv"
    echo "== $name: skipped, the ${BUDGET} s budget is spent"
    return 0
  fi
  ((limit > left)) && limit=$left
  echo "== $name (limit ${limit} s)"
  start=$SECONDS
  (cd "$OUT" && timeout --kill-after=10 "$limit" "$@") >"$OUT/$name.out" 2>&1
  rc=$?
  case $rc in
    0) status=ok ;;
    124 | 137) status="timeout (${limit} s)" ;;
    *) status="failed (exit $rc)" ;;
  esac
  printf '%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - start))" >>"$OUT/steps.tsv"
  echo "   $status in $((SECONDS - start)) s"
  if ((rc != 0)); then
    failed+=("$name")
    tail -n 15 "$OUT/$name.out" | sed 's/^/   | /'
  fi
}

skip() {
  printf '%s\tskipped (%s)\t0\n' "$1" "$2" >>"$OUT/steps.tsv"
  echo "== $1: skipped ($2)"
}

build() {
  local arch
  arch=$("$PY" -c 'import torch; print("%d%d" % torch.cuda.get_device_capability(0))') || return 1
  echo "building pymg for sm_$arch"
  PYMG_CUDA=ON CUDAARCHS="$arch" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$PY" -m pip install --no-build-isolation --no-deps --no-index --disable-pip-version-check \
    -C build-dir="$REPO/build/gpu-check-sm$arch" "$REPO"
}

# pytest from the repository, without the source tree on sys.path (-P), so the installed pymg runs
tests() {
  local name=$1
  shift
  if [[ $CPU_ONLY == 1 ]]; then
    (cd "$REPO" && "$PY" -P -m pytest -q -p no:cacheprovider --collect-only "$@")
  else
    (cd "$REPO" && "$PY" -P -m pytest -q -p no:cacheprovider -rfE --junitxml="$OUT/$name.xml" "$@")
  fi
}

sanitize() {
  local tool=$1 san
  san=$(command -v compute-sanitizer || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")
  [[ -x $san ]] || { echo "compute-sanitizer not found" >&2; return 1; }
  # every tensor its own cudaMalloc, so reads past a tensor are caught
  PYTORCH_NO_CUDA_MEMORY_CACHING=1 "$san" --tool "$tool" --error-exitcode 3 \
    --log-file "$OUT/$tool.log" "$PY" "$REPO/scripts/gpu_check.py" workload
}

export -f build tests sanitize
export REPO PY OUT CPU_ONLY

OPS_TESTS=(tests/test_native.py tests/test_native_cuda.py tests/test_ops_errors.py
  tests/test_ops_heatmap.py tests/test_ops_temporal.py tests/test_custom_ops.py
  tests/test_compile.py)

if ((BUILD)); then step build 200 bash -c build; else skip build "not asked"; fi
step env 60 "${CHECK[@]}" env --out "$OUT" "${CPU_FLAG[@]}"
step info 60 "$PY" -m pymg info
# Most telling first: a slow machine spends its budget on the CUDA tests and memcheck, not on the
# CPU tests (CI runs those) or racecheck (the kernels use no shared memory).
if [[ $CPU_ONLY == 1 ]]; then
  skip cuda-tests "--cpu-only"
  step workload 60 "${CHECK[@]}" workload --cpu-only
  skip memcheck "--cpu-only"
else
  step cuda-tests 120 bash -c 'tests cuda-tests -m cuda tests'
  step memcheck 120 bash -c 'sanitize memcheck'
fi
step bench 120 "${CHECK[@]}" bench --out "$OUT" "${CPU_FLAG[@]}"
step train 90 "${CHECK[@]}" train --out "$OUT" "${CPU_FLAG[@]}"
if [[ $CPU_ONLY == 1 ]]; then
  step ops-tests 60 bash -c 'tests ops-tests "$@"' _ "${OPS_TESTS[@]}"
  skip racecheck "--cpu-only"
else
  step ops-tests 150 bash -c 'tests ops-tests -m "not cuda" "$@"' _ "${OPS_TESTS[@]}"
  step racecheck 90 bash -c 'sanitize racecheck'
fi

echo "== report (${SECONDS} s so far; files in $OUT)"
(cd "$OUT" && "${CHECK[@]}" report --out "$OUT") || failed+=(report)
if ((${#failed[@]})); then
  echo "gpu_check: failed steps: ${failed[*]} (logs: $OUT/<step>.out)" >&2
  exit 1
fi
