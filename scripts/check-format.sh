#!/usr/bin/env bash
# Checks, without changing anything, that every tracked C++ file of ours (common controlplane
# gateway cli tests bench fuzz; not build dirs or generated code) is formatted as .clang-format
# says. Lists the files that are not and exits non-zero; `clang-format -i <file>` fixes one,
# `clang-format --dry-run <file>` shows where it differs. scripts/test.sh runs it first.
# CLANG_FORMAT picks the binary (default clang-format, Debian's 14 in CI: other versions may
# format some lines differently).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
cd "$ROOT"

if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
  echo "check-format: no $CLANG_FORMAT (scripts/install-deps.sh installs it)" >&2
  exit 2
fi

mapfile -t files < <(git ls-files -- common controlplane gateway cli tests bench fuzz |
  grep -E '\.(cc|h|cpp)$')
unformatted=()
for file in "${files[@]}"; do
  if ! "$CLANG_FORMAT" --dry-run --Werror "$file" 2>/dev/null; then
    unformatted+=("$file")
  fi
done

if [[ ${#unformatted[@]} -gt 0 ]]; then
  echo "check-format: ${#unformatted[@]} of ${#files[@]} files differ from .clang-format:" >&2
  printf '  %s\n' "${unformatted[@]}" >&2
  exit 1
fi
echo "check-format: all ${#files[@]} files are formatted"
