#!/usr/bin/env bash
# Checks that every C++ source of the tree obeys .clang-format (make format
# applies it). Lists the files that do not.
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
bad=0
while IFS= read -r f; do
  if ! "$CLANG_FORMAT" --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run: make format)"
    bad=$((bad + 1))
  fi
done < <(git ls-files 'src/*.h' 'src/*.cc' 'bench/*.h' 'bench/*.cc' 'fuzz/*.h' 'fuzz/*.cc')
echo "format: $bad file(s) not formatted"
[ "$bad" -eq 0 ]
