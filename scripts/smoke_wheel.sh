#!/usr/bin/env bash
# Smoke-test a built pymg wheel the way a user gets it: a fresh venv, `pip install WHEEL[test]`, and
# everything run from a temporary directory outside the repository.
#
#   scripts/smoke_wheel.sh WHEEL [--tests quick|full|none] [--expect cuda|cpu|auto] [--keep]
#
#   --tests quick  (default) the test suite minus tests marked `slow`: the full suite already ran on the
#                  editable install in CI; this run proves the *installed* package (compiled module,
#                  package data, entry point) passes the same tests. `full` runs everything, `none` skips.
#   --expect       whether `pymg info` must report CUDA compiled in (auto: cpu for a "+cpu" wheel)
#   --keep         keep the temporary directory (venv, copied tests)
# Environment:
#   PYTHON            interpreter for the venv (default python3)
#   PYMG_SMOKE_TORCH  torch requirement installed FIRST (default torch==2.13.0; never left unpinned)
#   PYMG_DEMO_ARGS    arguments of the demo run (default: "demo --quick")
#
# Checks, in order: import location (the venv, not the source tree), `pymg --version` equals the
# wheel's version, `pymg info` exits 0, the native module is loaded and CUDA is compiled in as
# expected, a single OpenMP runtime in the process (torch's libgomp, not a second copy), the tests,
# then `pymg demo` with small settings.
set -euo pipefail

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }

WHEEL=""
TESTS=quick
EXPECT=auto
KEEP=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tests) TESTS="${2:?--tests needs quick, full or none}"; shift ;;
    --expect) EXPECT="${2:?--expect needs cuda, cpu or auto}"; shift ;;
    --keep) KEEP=1 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "smoke_wheel.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) WHEEL="$1" ;;
  esac
  shift
done
if [[ -z $WHEEL || ! -f $WHEEL ]]; then
  echo "smoke_wheel.sh: give the path of a built wheel (got '${WHEEL}'); see --help" >&2
  exit 2
fi
case "$TESTS" in quick | full | none) ;; *) echo "smoke_wheel.sh: --tests quick|full|none" >&2; exit 2 ;; esac
WHEEL="$(cd "$(dirname "$WHEEL")" && pwd)/$(basename "$WHEEL")"
if [[ $EXPECT == auto ]]; then
  if [[ $(basename "$WHEEL") == *+cpu-* ]]; then EXPECT=cpu; else EXPECT=cuda; fi
fi
case "$EXPECT" in cuda | cpu) ;; *) echo "smoke_wheel.sh: --expect cuda|cpu|auto" >&2; exit 2 ;; esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${PYMG_SMOKE_TORCH:-torch==2.13.0}"
if [[ $TORCH_SPEC != *==* ]]; then
  echo "smoke_wheel.sh: PYMG_SMOKE_TORCH must pin a version (torch==X.Y.Z), got '$TORCH_SPEC'" >&2
  exit 2
fi
read -r -a DEMO_ARGS <<<"${PYMG_DEMO_ARGS:-demo --quick}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/pymg-smoke.XXXXXX")"
cleanup() { if [[ $KEEP == 1 ]]; then echo "smoke_wheel.sh: kept $TMP"; else rm -rf "$TMP"; fi; }
trap cleanup EXIT
step() { printf '\n== [%4ds] %s\n' "$SECONDS" "$*"; }
declare -A TIMES
timed() { # timed NAME CMD...: run CMD, record its duration under NAME
  local name=$1 t0=$SECONDS
  shift
  "$@"
  TIMES[$name]=$((SECONDS - t0))
}

VENV="$TMP/venv"
RUN="$TMP/run"
mkdir -p "$RUN"
# Nothing from the source tree may leak into the venv's imports.
unset PYTHONPATH PYTHONHOME
export PIP_DISABLE_PIP_VERSION_CHECK=1

step "fresh venv; $TORCH_SPEC first, then $(basename "$WHEEL")[test]"
quiet_pip() { # pip, minus the warnings about this machine's local index mirrors
  "$VENV/bin/python" -m pip install -q "$@" 2> >(grep -v 'is ignored: it is neither a file' >&2)
}
install() {
  "$PYTHON" -m venv "$VENV"
  quiet_pip "$TORCH_SPEC"
  quiet_pip "${WHEEL}[test]"
}
timed install install
PY="$VENV/bin/python"
cd "$RUN"

step "import location, version, native module"
check_install() {
  "$PY" - "$VENV" "$WHEEL" "$EXPECT" <<'EOF'
import importlib.metadata as md
import os
import sys

venv, wheel, expect = sys.argv[1:4]
import torch  # noqa: F401  (first, as users do: its libgomp is then the process's OpenMP)

import pymg

here = os.path.realpath(pymg.__file__)
if not here.startswith(os.path.realpath(venv) + os.sep):
    sys.exit(f"FAIL: pymg imported from {here}, not from the venv {venv}")
version = md.version("pymg-microgesture")  # the distribution's name; `import pymg` stays
if pymg.__version__ != version:
    sys.exit(f"FAIL: pymg.__version__ {pymg.__version__!r} != installed metadata {version!r}")
if f"-{version}-" not in os.path.basename(wheel):
    sys.exit(f"FAIL: installed version {version} is not the wheel's ({os.path.basename(wheel)})")
info = pymg.build_info()
print("build_info:", info)
if not info.get("native_loaded"):
    sys.exit("FAIL: the compiled extension pymg._C did not load from the wheel")
if bool(info.get("cuda_compiled")) != (expect == "cuda"):
    sys.exit(f"FAIL: cuda_compiled={info.get('cuda_compiled')} but this is a {expect} wheel")
import pymg._C as ext

if not os.path.realpath(ext.__file__).startswith(os.path.realpath(venv) + os.sep):
    sys.exit(f"FAIL: pymg._C loaded from {ext.__file__}")
with open("/proc/self/maps") as fh:
    gomp = sorted({line.split()[-1] for line in fh if "libgomp" in line})
print("OpenMP runtimes in the process:", gomp)
if len(gomp) > 1:
    sys.exit(f"FAIL: more than one OpenMP runtime is loaded: {gomp}")
print(f"OK: pymg {version} from {os.path.dirname(here)}")
EOF
  # The extension loaded BEFORE torch must not bring a second OpenMP runtime either.
  "$PY" -c '
import sys
import pymg._C
import torch
maps = open("/proc/self/maps").read().splitlines()
gomp = sorted({line.split()[-1] for line in maps if "libgomp" in line})
print("OpenMP runtimes, extension imported first:", gomp)
sys.exit(0 if len(gomp) <= 1 else "FAIL: two OpenMP runtimes")
'
  "$VENV/bin/pymg" --version
  [[ "$("$VENV/bin/pymg" --version)" == *"$("$PY" -c 'import pymg; print(pymg.__version__)')"* ]] || {
    echo "FAIL: pymg --version does not print the package version" >&2
    return 1
  }
  local info want_cuda=False
  info="$("$VENV/bin/pymg" info)"
  printf '%s\n' "$info"
  [[ $EXPECT == cuda ]] && want_cuda=True
  grep -qiE '^\s*native_loaded\W+true\b' <<<"$info" || {
    echo "FAIL: pymg info does not report the native module loaded" >&2
    return 1
  }
  grep -qiE "^\\s*cuda_compiled\\W+${want_cuda}\\b" <<<"$info" || {
    echo "FAIL: pymg info does not report cuda_compiled ${want_cuda}" >&2
    return 1
  }
}
timed checks check_install

if [[ $TESTS != none ]]; then
  step "test suite ($TESTS) against the installed wheel"
  # tests/ plus what a few tests of the repository's tooling and docs read by path (tests/../scripts,
  # tests/../docs, README.md, pyproject.toml).
  cp -r "$ROOT/tests" "$RUN/tests"
  for extra in scripts docs README.md pyproject.toml; do
    if [[ -e $ROOT/$extra ]]; then cp -r "$ROOT/$extra" "$RUN/$extra"; fi
  done
  find "$RUN" -name __pycache__ -prune -exec rm -rf {} +
  # The repository's pytest options ([tool.pytest.ini_options] in pyproject.toml) as a pytest.ini.
  "$PY" - "$ROOT/pyproject.toml" "$RUN/pytest.ini" <<'EOF'
import sys
import tomllib

with open(sys.argv[1], "rb") as fh:
    opts = tomllib.load(fh)["tool"]["pytest"]["ini_options"]
lines = ["[pytest]"]
for key, value in opts.items():
    if isinstance(value, list):
        lines.append(f"{key} =")
        lines.extend(f"    {item}" for item in value)
    else:
        lines.append(f"{key} = {value}")
with open(sys.argv[2], "w") as fh:
    fh.write("\n".join(lines) + "\n")
EOF
  select=()
  if [[ $TESTS == quick ]]; then select=(-m "not slow"); fi
  timed tests "$PY" -m pytest -p no:cacheprovider -c "$RUN/pytest.ini" --rootdir "$RUN" -q \
    "${select[@]}" tests
fi

step "pymg ${DEMO_ARGS[*]}"
timed demo "$VENV/bin/pymg" "${DEMO_ARGS[@]}"

step "smoke test passed"
for name in install checks tests demo; do
  [[ -n ${TIMES[$name]:-} ]] && printf '%-8s %4ss\n' "$name" "${TIMES[$name]}"
done
printf 'total    %4ss\n' "$SECONDS"
