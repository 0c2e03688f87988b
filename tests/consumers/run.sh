#!/usr/bin/env bash
# Builds and runs the consumers of an installed cosync, outside the source
# tree: a C++ program through the CMake package (find_package), a
# Samba-style C program through pkg-config (cosync-tevent-glue), a libpcl
# program through pkg-config (cosync-pcl), and a C program with
# libcosync-hook through pkg-config (cosync-hook).
# Usage: tests/consumers/run.sh PREFIX   (/usr for the installed packages)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prefix=$(cd "${1:?usage: $0 PREFIX}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Only the given prefix answers pkg-config, besides the system's own
# directories (which /usr is).
if [ "$prefix" != /usr ]; then
  pc_dirs=$(find "$prefix" -type d -path '*/pkgconfig' -not -path '*/share/*' | paste -sd: -)
  export PKG_CONFIG_PATH="$pc_dirs"
  libdir=$(dirname "${pc_dirs%%:*}")
  export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

echo "--- C++ consumer: find_package(cosync CONFIG REQUIRED COMPONENTS tevent pcl)"
cp -r "$here/cxx" "$work/cxx"
cmake -S "$work/cxx" -B "$work/cxx/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/cxx.log" 2>&1 || { cat "$work/cxx.log"; exit 1; }
cmake --build "$work/cxx/build" >>"$work/cxx.log" 2>&1 || { cat "$work/cxx.log"; exit 1; }
"$work/cxx/build/consumer_cxx"

echo "--- Samba-style C consumer: pkg-config cosync-tevent-glue"
cp "$here/c/samba_style.c" "$here/c/pcl_program.c" "$work/"
# shellcheck disable=SC2046  # pkg-config's output is several words
cc -std=c11 -Wall -Wextra -Werror -o "$work/samba_style" "$work/samba_style.c" \
  $(pkg-config --cflags --libs cosync-tevent-glue)
"$work/samba_style"

echo "--- libpcl program: pkg-config cosync-pcl"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o "$work/pcl_program" "$work/pcl_program.c" \
  $(pkg-config --cflags --libs cosync-pcl)
"$work/pcl_program"
if ! readelf -d "$work/pcl_program" | grep -q 'NEEDED.*libcosync-pcl.so'; then
  echo "pcl_program is not linked against libcosync-pcl.so" >&2
  exit 1
fi
echo "--- hooked C program: pkg-config cosync cosync-hook"
if pkg-config --exists cosync-hook; then
  cp "$here/c/hooked.c" "$work/"
  # shellcheck disable=SC2046
  cc -std=c11 -Wall -Wextra -Werror -Wl,--as-needed -o "$work/hooked" "$work/hooked.c" \
    $(pkg-config --cflags --libs cosync cosync-hook)
  "$work/hooked"
fi
echo "consumers of $prefix: ok"
