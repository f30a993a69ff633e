#!/usr/bin/env bash
# House style check (issue 18): every tracked C++/CUDA source (*.cc *.h *.cu *.cuh *.inc) is
# formatted as .clang-format says. Prints each file that is not, with clang-format's first
# complaint, and exits 1; exits 0 when all are. `--fix` formats them in place instead.
# Needs clang-format-14 (scripts/setup.sh installs it) and git; without either it prints
# "SKIPPED: ..." and exits 77 before checking anything (ctest counts that as a skip).
set -uo pipefail
cd "$(dirname "$0")/.."
cf="${CLANG_FORMAT:-clang-format-14}"
if ! command -v "$cf" >/dev/null; then echo "SKIPPED: $cf not found (scripts/setup.sh installs it)"; exit 77; fi
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then echo "SKIPPED: not a git checkout (the check covers tracked files)"; exit 77; fi
mapfile -t files < <(git ls-files -- '*.cc' '*.h' '*.cu' '*.cuh' '*.inc')
if [[ ${1:-} == --fix ]]; then
  printf '%s\0' "${files[@]}" | xargs -0 "$cf" -i
  exit 0
fi
out=$(printf '%s\0' "${files[@]}" | xargs -0 "$cf" --dry-run --Werror 2>&1)
rc=$?
bad=$(printf '%s\n' "$out" | grep -oE '^[^:]+:[0-9]+:[0-9]+: error' | cut -d: -f1 | sort -u)
if ((rc != 0)) || [[ -n $bad ]]; then
  [[ -z $bad ]] && { printf '%s\n' "$out" | head -5; echo "style: clang-format failed"; exit 1; }
  while read -r f; do
    echo "$f: not formatted (scripts/check_format.sh --fix): $(printf '%s\n' "$out" | grep -m1 "^$f:")"
  done <<<"$bad"
  echo "style: $(wc -l <<<"$bad") of ${#files[@]} files are not formatted"
  exit 1
fi
echo "style: ${#files[@]} files formatted as .clang-format says"
