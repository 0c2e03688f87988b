# Adapters that run cosync inside an application's own event loop: one
# static library per host (cosync_tevent, cosync_libuv, cosync_libevent),
# each built only when pkg-config finds the host's development package, so
# the core library never links against any of them. They share the
# host-independent half (src/loop_host/), compiled once.
find_package(PkgConfig)

set(COSYNC_ADAPTERS "" CACHE INTERNAL "The foreign-loop adapters built")
if(NOT PKG_CONFIG_FOUND)
  message(STATUS "cosync adapters: none (pkg-config not found)")
  return()
endif()

pkg_check_modules(COSYNC_TEVENT IMPORTED_TARGET tevent talloc)
pkg_check_modules(COSYNC_LIBUV IMPORTED_TARGET libuv)
pkg_check_modules(COSYNC_LIBEVENT IMPORTED_TARGET libevent_core)

if(NOT COSYNC_TEVENT_FOUND AND NOT COSYNC_LIBUV_FOUND AND NOT COSYNC_LIBEVENT_FOUND)
  message(STATUS "cosync adapters: none (no tevent, libuv or libevent development files)")
  return()
endif()

add_library(cosync_host_loop OBJECT src/loop_host/host_loop.cpp
  src/loop_host/caller_search_glibc.cpp)
target_include_directories(cosync_host_loop PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(cosync_host_loop PUBLIC cosync)
# Hidden, as the core is: under -fPIC a default-visibility function may be
# interposed, so the compiler would not inline the dispatch path's pieces.
set_target_properties(cosync_host_loop PROPERTIES
  CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)

# cosync_add_adapter(<name> <source> <pkg-config target>)
function(cosync_add_adapter name source host)
  add_library(${name} STATIC ${source} $<TARGET_OBJECTS:cosync_host_loop>)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  # dladdr1, for the caller search (src/loop_host/caller_search_glibc.cpp).
  target_link_libraries(${name} PUBLIC cosync ${host} ${CMAKE_DL_LIBS} ${ARGN})
  set_target_properties(${name} PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  add_library(cosync::${name} ALIAS ${name})
  list(APPEND COSYNC_ADAPTERS ${name})
  set(COSYNC_ADAPTERS ${COSYNC_ADAPTERS} CACHE INTERNAL "The foreign-loop adapters built")
endfunction()

if(COSYNC_TEVENT_FOUND)
  cosync_add_adapter(cosync_tevent src/loop_tevent/tevent_loop.cpp PkgConfig::COSYNC_TEVENT)
  # The errors tevent 0.14 does not report to a writer (src/loop_tevent/error_watch.hpp).
  target_sources(cosync_tevent PRIVATE src/loop_tevent/error_watch_linux.cpp)
endif()
if(COSYNC_LIBUV_FOUND)
  cosync_add_adapter(cosync_libuv src/loop_libuv/libuv_loop.cpp PkgConfig::COSYNC_LIBUV)
endif()
if(COSYNC_LIBEVENT_FOUND)
  cosync_add_adapter(cosync_libevent src/loop_libevent/libevent_loop.cpp
    PkgConfig::COSYNC_LIBEVENT)
endif()
message(STATUS "cosync adapters: ${COSYNC_ADAPTERS}")

# --- The tevent glue (issue 6, part 3): include/cosync/tevent.h, C ABI ----------
if(TARGET cosync_tevent)
  add_subdirectory(${PROJECT_SOURCE_DIR}/src/tevent_glue ${PROJECT_BINARY_DIR}/src/tevent_glue)
endif()
# --- end of the tevent glue -------------------------------------------------------
