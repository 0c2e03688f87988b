# Installing cosync (cmake --install, make install, the .deb packages):
# headers, libraries, the CMake package (find_package(cosync CONFIG)) and
# one pkg-config file per library. Every file belongs to one install
# component, one Debian package each (cmake/CosyncPackage.cmake):
#   runtime  libcosync.so.MAJOR              (libcosync0)
#   pcl      libcosync-pcl.so.MAJOR          (libcosync-pcl0)
#   hook     libcosync-hook.so.MAJOR         (libcosync-hook0)
#   dev      everything a build needs        (libcosync-dev)
include(CMakePackageConfigHelpers)
set(COSYNC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/cosync)

install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
  PATTERN "pcl*.h" EXCLUDE)
install(FILES ${PROJECT_BINARY_DIR}/include/cosync/config.h
  ${PROJECT_BINARY_DIR}/include/cosync/config.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cosync COMPONENT dev)

install(TARGETS cosync_shared EXPORT cosyncTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev)
set(_cosync_static_targets cosync)
foreach(component tevent libuv libevent tevent_glue)
  if(TARGET cosync_${component})
    list(APPEND _cosync_static_targets cosync_${component})
  endif()
endforeach()
if(COSYNC_WITH_HOOK)
  install(TARGETS cosync_hook EXPORT cosyncTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT hook NAMELINK_COMPONENT dev)
endif()
if(COSYNC_WITH_PCL)
  install(FILES include/cosync/pcl.h include/cosync/pcl_ext.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cosync COMPONENT dev)
  install(TARGETS cosync_pcl_shared EXPORT cosyncTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT pcl NAMELINK_COMPONENT dev)
  list(APPEND _cosync_static_targets cosync_pcl)
endif()
install(TARGETS ${_cosync_static_targets} EXPORT cosyncTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
# What `make install` and `make package` build: the installed libraries only.
add_custom_target(cosync-libraries)
add_dependencies(cosync-libraries cosync_shared ${_cosync_static_targets})
if(COSYNC_WITH_PCL)
  add_dependencies(cosync-libraries cosync_pcl_shared)
endif()
if(COSYNC_WITH_HOOK)
  add_dependencies(cosync-libraries cosync_hook)
endif()

install(EXPORT cosyncTargets NAMESPACE cosync:: DESTINATION ${COSYNC_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(cmake/cosyncConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cosyncConfig.cmake INSTALL_DESTINATION ${COSYNC_CMAKE_DIR})
# Before 1.0 a minor release may change the C ABI (and the SONAME with it).
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_cosync_compatibility SameMinorVersion)
else()
  set(_cosync_compatibility SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cosyncConfigVersion.cmake
  COMPATIBILITY ${_cosync_compatibility})
install(FILES ${PROJECT_BINARY_DIR}/cosyncConfig.cmake
  ${PROJECT_BINARY_DIR}/cosyncConfigVersion.cmake
  DESTINATION ${COSYNC_CMAKE_DIR} COMPONENT dev)

# pkg-config files, relocatable (prefix from ${pcfiledir}) so that
# `cmake --install --prefix <any>` and the packages' /usr both work. The
# adapters and the glue are static archives over the static core; C
# programs of the C API alone link the shared one (cosync.pc).
file(RELATIVE_PATH COSYNC_PC_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
string(REGEX REPLACE "/$" "" COSYNC_PC_PREFIX "\${pcfiledir}/${COSYNC_PC_PREFIX}")
list(JOIN COSYNC_USAGE_COMPILE_OPTIONS " " COSYNC_PC_CFLAGS)
list(JOIN COSYNC_USAGE_LINK_OPTIONS " " COSYNC_PC_LDFLAGS)
# A static link keeps src/request/join.cpp, which registers Task::join's wait
# and which no program names (the same option the CMake target carries).
# It also keeps, and exports, the bridge libcosync-hook finds the
# program's cosync through (the CMake target's options too).
# The libraries the static core needs besides the C++ runtime: liburing
# with the io_uring loop, libatomic where atomics are calls (riscv64).
set(COSYNC_PC_CORE_LIBS "")
if(COSYNC_WITH_IO_URING)
  string(APPEND COSYNC_PC_CORE_LIBS " -luring")
endif()
if(COSYNC_ATOMIC_LIBRARY)
  string(APPEND COSYNC_PC_CORE_LIBS " -latomic")
endif()
set(COSYNC_PC_STATIC_CORE "-Wl,--undefined=cosync_join_hook_anchor -Wl,--undefined=cosync_hook_bridge -Wl,--export-dynamic-symbol=cosync_hook_bridge -l:libcosync.a${COSYNC_PC_CORE_LIBS} -lstdc++ -lm -pthread ${COSYNC_PC_LDFLAGS}")
set(_cosync_pc_files cosync)
foreach(component tevent libuv libevent tevent-glue pcl hook)
  string(REPLACE "-" "_" target_suffix ${component})
  if(TARGET cosync::${target_suffix})
    list(APPEND _cosync_pc_files cosync-${component})
  endif()
endforeach()
foreach(pc ${_cosync_pc_files})
  configure_file(cmake/pkgconfig/${pc}.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endforeach()

include(cmake/CosyncPackage.cmake)
