#!/usr/bin/env bash
# The style checks CI runs: clang-format over every C and C++ file of the
# tree (src include tests examples bench tools), then clang-tidy (.clang-tidy)
# over every file of src/ in the compile database.
# Usage: tools/lint.sh [BUILD_DIR]   (default: build, configured with
#        -DCMAKE_EXPORT_COMPILE_COMMANDS=ON and built, so that the generated
#        headers exist)
# Runs both and exits non-zero when a file is off format or clang-tidy
# reports anything; every clang-tidy finding is printed once, the full output
# of each file is kept in BUILD_DIR/clang-tidy/.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
jobs=$(nproc)

mapfile -t formatted < <(find src include tests examples bench tools -type f \
  \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \) | sort)
status=0
if clang-format --dry-run --Werror "${formatted[@]}"; then
  echo "clang-format: ${#formatted[@]} files formatted"
else
  echo "clang-format: files off format (above); clang-format -i them" >&2
  status=1
fi

database="$build/compile_commands.json"
if [ ! -f "$database" ]; then
  echo "lint: $database is missing: configure $build with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON" >&2
  exit 1
fi
mapfile -t tidied < <(grep -oE '"file": *"[^"]*\.cpp"' "$database" \
  | sed -E 's/"file": *"(.*)"/\1/' | grep -F "$PWD/src/" | sort -u)
logs="$build/clang-tidy"
rm -rf "$logs"
mkdir -p "$logs"
# One clang-tidy per file, its output kept whole in its own log.
printf '%s\n' "${tidied[@]}" | xargs -P "$jobs" -I{} sh -c \
  'clang-tidy -p "$1" --quiet "$2" >"$3/$(echo "$2" | tr / _).log" 2>&1 || true' \
  _ "$build" {} "$logs"
# A header's finding shows in every file that includes it: print it once.
findings=$(cat "$logs"/*.log | grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' \
  | sed "s|^$PWD/||" | sort -u || true)
if [ -n "$findings" ]; then
  echo "$findings"
  echo "clang-tidy: $(echo "$findings" | wc -l) finding(s) in ${#tidied[@]} files (logs: $logs)" >&2
  exit 1
fi
if grep -l -E 'error: |Error while processing' "$logs"/*.log; then
  echo "clang-tidy: failed on the files above (logs: $logs)" >&2
  exit 1
fi
echo "clang-tidy: ${#tidied[@]} files, no findings"
exit "$status"
