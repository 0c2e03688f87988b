# Adapters that run cosync inside an application's own event loop: one
# static library per host (cosync_tevent, cosync_libuv, cosync_libevent),
# each switched by its option (COSYNC_WITH_TEVENT, ...), so the core library
# never links against any of them. Their host libraries were found by
# cmake/CosyncDependencies.cmake. They share the host-independent half
# (src/loop_host/), compiled once.
if(NOT COSYNC_WITH_TEVENT AND NOT COSYNC_WITH_LIBUV AND NOT COSYNC_WITH_LIBEVENT)
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

# cosync_add_adapter(<host> <source> <pkg-config target>): cosync_<host>,
# libcosync-<host>.a, cosync::<host> here and in the installed package.
function(cosync_add_adapter host source pkg_target)
  set(name cosync_${host})
  add_library(${name} STATIC ${source} $<TARGET_OBJECTS:cosync_host_loop>)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  # dladdr1, for the caller search (src/loop_host/caller_search_glibc.cpp).
  target_link_libraries(${name} PUBLIC cosync ${pkg_target} ${CMAKE_DL_LIBS})
  set_target_properties(${name} PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
    OUTPUT_NAME cosync-${host} EXPORT_NAME ${host})
  add_library(cosync::${host} ALIAS ${name})
endfunction()

if(COSYNC_WITH_TEVENT)
  cosync_add_adapter(tevent src/loop_tevent/tevent_loop.cpp PkgConfig::COSYNC_TEVENT)
  # The errors tevent 0.14 does not report to a writer (src/loop_tevent/error_watch.hpp).
  target_sources(cosync_tevent PRIVATE src/loop_tevent/error_watch_linux.cpp)
endif()
if(COSYNC_WITH_LIBUV)
  cosync_add_adapter(libuv src/loop_libuv/libuv_loop.cpp PkgConfig::COSYNC_LIBUV)
endif()
if(COSYNC_WITH_LIBEVENT)
  cosync_add_adapter(libevent src/loop_libevent/libevent_loop.cpp PkgConfig::COSYNC_LIBEVENT)
endif()

# The tevent glue (include/cosync/tevent.h, C ABI), over the tevent adapter.
if(COSYNC_WITH_TEVENT_GLUE)
  add_subdirectory(${PROJECT_SOURCE_DIR}/src/tevent_glue ${PROJECT_BINARY_DIR}/src/tevent_glue)
endif()
