# Finds every external dependency of the components switched on, before any
# target exists, and stops the configure with one error that lists each
# missing one with its Debian package and the option that drops the
# component. Nothing is skipped silently: a component is either built or
# switched off by its option. A failed configure writes no build files, and
# pkg-config, find_path and find_library look again for what they did not
# find, so the same build directory configures fully once the packages are
# installed.
set(_cosync_missing "")
# cosync_require(<found> <what> <debian packages> <how to do without>)
function(cosync_require found what packages without)
  if(NOT ${found})
    list(APPEND _cosync_missing
      "  ${what}: apt-get install ${packages}  (or configure with ${without})")
    set(_cosync_missing "${_cosync_missing}" PARENT_SCOPE)
  endif()
endfunction()

# The core's stack registration for valgrind (src/support/sanitizer.hpp).
find_path(COSYNC_VALGRIND_INCLUDE_DIR valgrind/valgrind.h)
cosync_require(COSYNC_VALGRIND_INCLUDE_DIR "valgrind's client-request header (the core)"
  valgrind "nothing else: the core needs it")

# The USDT trace probes (include/cosync/impl/probes.hpp).
if(COSYNC_PROBES)
  find_path(COSYNC_SDT_INCLUDE_DIR sys/sdt.h)
  cosync_require(COSYNC_SDT_INCLUDE_DIR "sys/sdt.h (the USDT trace probes)" systemtap-sdt-dev
    "-DCOSYNC_PROBES=OFF")
endif()

# The io_uring loop, part of the core (src/loop/io_uring_loop_linux.cpp).
if(COSYNC_WITH_IO_URING)
  find_path(COSYNC_URING_INCLUDE_DIR liburing.h)
  find_library(COSYNC_URING_LIBRARY uring)
  set(_cosync_uring_found OFF)
  if(COSYNC_URING_INCLUDE_DIR AND COSYNC_URING_LIBRARY)
    set(_cosync_uring_found ON)
  endif()
  cosync_require(_cosync_uring_found "liburing (the io_uring loop)" liburing-dev
    "-DCOSYNC_WITH_IO_URING=OFF")
endif()

set(_cosync_adapter_options "")
foreach(host TEVENT LIBUV LIBEVENT)
  if(COSYNC_WITH_${host})
    list(APPEND _cosync_adapter_options "-DCOSYNC_WITH_${host}=OFF")
  endif()
endforeach()
if(_cosync_adapter_options)
  find_package(PkgConfig QUIET)
  list(JOIN _cosync_adapter_options " " _cosync_without_adapters)
  cosync_require(PKG_CONFIG_FOUND "pkg-config (finds the adapters' host loops)" pkg-config
    "${_cosync_without_adapters}")
endif()
if(PKG_CONFIG_FOUND)
  if(COSYNC_WITH_TEVENT)
    pkg_check_modules(COSYNC_TEVENT QUIET IMPORTED_TARGET tevent talloc)
    cosync_require(COSYNC_TEVENT_FOUND "tevent and talloc (the tevent adapter and glue)"
      "libtevent-dev libtalloc-dev" "-DCOSYNC_WITH_TEVENT=OFF")
  endif()
  if(COSYNC_WITH_LIBUV)
    pkg_check_modules(COSYNC_LIBUV QUIET IMPORTED_TARGET libuv)
    cosync_require(COSYNC_LIBUV_FOUND "libuv (the libuv adapter)" libuv1-dev
      "-DCOSYNC_WITH_LIBUV=OFF")
  endif()
  if(COSYNC_WITH_LIBEVENT)
    pkg_check_modules(COSYNC_LIBEVENT QUIET IMPORTED_TARGET libevent_core)
    cosync_require(COSYNC_LIBEVENT_FOUND "libevent (the libevent adapter)" libevent-dev
      "-DCOSYNC_WITH_LIBEVENT=OFF")
  endif()
endif()

if(COSYNC_BUILD_TESTS)
  set(COSYNC_GTEST_SOURCE_DIR "/usr/src/googletest" CACHE PATH "GoogleTest sources")
  set(_cosync_gtest_found OFF)
  if(EXISTS "${COSYNC_GTEST_SOURCE_DIR}/CMakeLists.txt")
    set(_cosync_gtest_found ON)
  endif()
  cosync_require(_cosync_gtest_found "GoogleTest sources in ${COSYNC_GTEST_SOURCE_DIR} (the tests)"
    googletest "-DCOSYNC_BUILD_TESTS=OFF")
  if(COSYNC_WITH_LIBEVENT AND PKG_CONFIG_FOUND)
    pkg_check_modules(COSYNC_LIBEVENT_PTHREADS QUIET IMPORTED_TARGET libevent_pthreads)
    cosync_require(COSYNC_LIBEVENT_PTHREADS_FOUND "libevent_pthreads (the libevent adapter's tests)"
      libevent-dev "-DCOSYNC_WITH_LIBEVENT=OFF or -DCOSYNC_BUILD_TESTS=OFF")
  endif()
  # libcosync-pcl's tests run each program against Debian's libpcl too.
  if(COSYNC_WITH_PCL)
    find_path(COSYNC_PCL_INCLUDE_DIR pcl.h)
    find_library(COSYNC_PCL_LIBRARY pcl)
    set(_cosync_libpcl_found OFF)
    if(COSYNC_PCL_INCLUDE_DIR AND COSYNC_PCL_LIBRARY)
      set(_cosync_libpcl_found ON)
    endif()
    cosync_require(_cosync_libpcl_found "libpcl (libcosync-pcl's tests compare against it)"
      libpcl1-dev "-DCOSYNC_WITH_PCL=OFF or -DCOSYNC_BUILD_TESTS=OFF")
  endif()
  # The gdb helper's test (tests/CMakeLists.txt): it reads the assembly
  # switch's frame, so not for ucontext, and not under ASan or emulation
  # (a cross target the build machine runs natively, i686, sets
  # COSYNC_CROSS_NATIVE_GDB in its toolchain file).
  set(COSYNC_TEST_GDB OFF)
  if((NOT CMAKE_CROSSCOMPILING OR COSYNC_CROSS_NATIVE_GDB) AND NOT COSYNC_ASAN
     AND NOT COSYNC_CONTEXT_BACKEND STREQUAL "ucontext")
    set(COSYNC_TEST_GDB ON)
    find_program(COSYNC_GDB gdb)
    cosync_require(COSYNC_GDB "gdb (the gdb helper's test)" gdb "-DCOSYNC_BUILD_TESTS=OFF")
  endif()
endif()

# The hooked-client tests and example: real hiredis, libpq and libcurl
# clients under libcosync-hook against real redis-server, PostgreSQL and
# Python HTTP servers; native builds only (Debian's clients are not
# installed for a cross target).
set(_cosync_hook_clients OFF)
if(COSYNC_WITH_HOOK AND (COSYNC_BUILD_TESTS OR COSYNC_BUILD_EXAMPLES) AND NOT CMAKE_CROSSCOMPILING)
  set(_cosync_hook_clients ON)
  set(_cosync_without_clients
    "-DCOSYNC_WITH_HOOK=OFF, or -DCOSYNC_BUILD_TESTS=OFF -DCOSYNC_BUILD_EXAMPLES=OFF")
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(COSYNC_HOOK_CLIENTS QUIET IMPORTED_TARGET
      hiredis>=0.14 libpq>=15 libcurl>=7.88)
    cosync_require(COSYNC_HOOK_CLIENTS_FOUND
      "hiredis 0.14, libpq 15 and libcurl 7.88 (the hooked-client tests and example)"
      "libhiredis-dev libpq-dev libcurl4-openssl-dev" "${_cosync_without_clients}")
  else()
    cosync_require(PKG_CONFIG_FOUND "pkg-config (finds hiredis, libpq and libcurl)" pkg-config
      "${_cosync_without_clients}")
  endif()
endif()
if(_cosync_hook_clients AND COSYNC_BUILD_TESTS)
  set(_cosync_without_servers "-DCOSYNC_WITH_HOOK=OFF or -DCOSYNC_BUILD_TESTS=OFF")
  find_program(COSYNC_REDIS_SERVER redis-server)
  cosync_require(COSYNC_REDIS_SERVER "redis-server (the hooked-client tests)" redis-server
    "${_cosync_without_servers}")
  find_program(COSYNC_PG_INITDB initdb PATHS /usr/lib/postgresql/15/bin NO_DEFAULT_PATH)
  cosync_require(COSYNC_PG_INITDB "PostgreSQL 15's initdb (the hooked-client tests)" postgresql
    "${_cosync_without_servers}")
  find_program(COSYNC_PYTHON3 python3)
  cosync_require(COSYNC_PYTHON3 "python3 (the hooked-client tests' HTTP server)" python3
    "${_cosync_without_servers}")
endif()

if(_cosync_missing)
  list(JOIN _cosync_missing "\n" _cosync_missing_lines)
  message(FATAL_ERROR "cosync: missing dependencies (make demo and make test install them all "
    "through tools/deps.sh):\n${_cosync_missing_lines}\n")
endif()
