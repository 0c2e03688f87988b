#!/usr/bin/env bash
# Compiles every public header on its own, as a user's first include, with
# the given C++ and C compilers: the library is built with one compiler, but
# its headers are parsed by whatever the application uses.
# Usage: tools/check_headers.sh CXX CC BUILD_DIR   (BUILD_DIR holds cosync/config.hpp)
set -euo pipefail
cd "$(dirname "$0")/.."
cxx=$1 cc=$2 build=$3
hosts=$(pkg-config --cflags libuv libevent tevent talloc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for header in include/cosync/*.hpp; do
  printf '#include <cosync/%s>\n' "$(basename "$header")" >"$work/one.cpp"
  # shellcheck disable=SC2086  # the pkg-config flags are several words
  "$cxx" -std=c++20 -Wall -Wextra -Werror -fsyntax-only -Iinclude "-I$build/include" $hosts \
    "$work/one.cpp" || { echo "cosync: $header does not compile with $cxx" >&2; exit 1; }
done
for header in include/cosync.h include/cosync/*.h; do
  printf '#include "%s"\n' "$PWD/$header" >"$work/one.c"
  # shellcheck disable=SC2086
  "$cc" -std=c11 -Wall -Wextra -pedantic -Werror -fsyntax-only -Iinclude "-I$build/include" $hosts \
    "$work/one.c" || { echo "cosync: $header does not compile with $cc" >&2; exit 1; }
done
echo "public headers compile with $cxx and $cc"
