#!/usr/bin/env bash
# The C ABI check: the C symbols that cosync's libraries export must be
# exactly those in tools/abi/cosync.symbols. A change fails until the list
# is updated with it (--update), which makes every ABI change a visible diff
# to review against the policy (a symbol is never removed or changed within
# one SONAME). C++ symbols (mangled) are not listed: the C++ API has no
# binary promise and links statically.
# Usage: tools/abi/check.sh [--update] libcosync.so libcosync-pcl.so libcosync-tevent-glue.a
set -euo pipefail
list="$(cd "$(dirname "$0")" && pwd)/cosync.symbols"
update=0
if [ "${1:-}" = "--update" ]; then
  update=1
  shift
fi
[ $# -gt 0 ] || { echo "usage: $0 [--update] LIBRARY..." >&2; exit 2; }

# Defined, default-visibility, global or weak symbols that are not mangled
# C++ or reserved names: the dynamic table of a shared library, the symbol
# tables of an archive's members.
c_symbols() {
  local library=$1 table=--syms
  case "$library" in *.so*) table=--dyn-syms ;; esac
  readelf -W "$table" "$library" |
    awk '($5 == "GLOBAL" || $5 == "WEAK") && $6 == "DEFAULT" && $7 != "UND" && $8 !~ /^_/ \
      { sub(/@.*/, "", $8); print $8 }' | sort -u |
    sed "s|^|$(basename "$library" | sed 's/\.so.*$/.so/'): |"
}

current=$(for library in "$@"; do c_symbols "$library"; done)
if [ $update -eq 1 ]; then
  printf '%s\n' "$current" >"$list"
  echo "cosync: wrote $(wc -l <"$list") symbols to $list"
  exit 0
fi
if ! diff -u "$list" <(printf '%s\n' "$current"); then
  echo "cosync: the exported C symbols changed (diff above: - listed, + built)." >&2
  echo "cosync: if intended, run tools/abi/check.sh --update $* and note it in CHANGELOG.md" >&2
  exit 1
fi
echo "cosync: the exported C symbols match $list ($(wc -l <"$list") symbols)"
