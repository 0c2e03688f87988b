#!/usr/bin/env bash
# Fails when a public declaration has no doc comment, or a doc comment is
# malformed: runs Doxygen over include/ (docs/Doxyfile, WARN_IF_UNDOCUMENTED)
# and reports its warnings per header. namespace cosync::impl and
# include/cosync/impl/ are implementation, not API, and are not checked.
#
#   tools/check_docs.sh                      every public header
#   tools/check_docs.sh include/cosync/io.hpp include/cosync.h
#                                            only these (a header still
#                                            being written can wait)
#   tools/check_docs.sh --summary            counts per header, exit 0
set -euo pipefail
cd "$(dirname "$0")/.."

summary_only=0
if [[ "${1:-}" == "--summary" ]]; then
  summary_only=1
  shift
fi

out=${COSYNC_DOCS_OUT:-build/docs-check}
mkdir -p "$out"
version=$(sed -n 's/^project(cosync VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
log="$out/warnings.log"
COSYNC_VERSION="$version" COSYNC_DOCS_OUT="$out" doxygen docs/Doxyfile 2>"$out/doxygen.stderr" || {
  cat "$out/doxygen.stderr" >&2
  exit 2
}

# Warnings name headers by absolute path; report them from the repository
# root. Doxygen's "internal inconsistency" notes are about its own parser
# (a specialisation in namespace std), not about missing documentation.
root="$(pwd)/"
warnings=$(sed "s|^$root||" "$log" | grep -E '^include/' | grep -v 'Internal inconsistency' || true)

if [[ $# -gt 0 ]]; then
  headers=("$@")
else
  mapfile -t headers < <(find include -path include/cosync/impl -prune -o \
    \( -name '*.h' -o -name '*.hpp' \) -print | sort)
fi

failed=0
for header in "${headers[@]}"; do
  header=${header#./}
  found=$(grep -F "$header:" <<<"$warnings" || true)
  count=$(grep -c . <<<"$found" || true)
  printf '%4d  %s\n' "$count" "$header"
  if [[ "$count" -gt 0 ]]; then
    failed=1
    if [[ "$summary_only" -eq 0 ]]; then
      sed 's/^/        /' <<<"$found"
    fi
  fi
done

if [[ "$summary_only" -eq 1 ]]; then
  exit 0
fi
if [[ "$failed" -ne 0 ]]; then
  echo "check_docs: undocumented or malformed declarations above (comment convention: tools/doxygen_filter.py)" >&2
  exit 1
fi
echo "check_docs: every public declaration is documented"
