# Debian packages (make package: cpack -G DEB), one per install component:
#   libcosync0      the shared C library, libcosync.so.MAJOR
#   libcosync-pcl0  libcosync-pcl.so.MAJOR, the libpcl-compatible library
#   libcosync-hook0 libcosync-hook.so.MAJOR, the interposition of libc's
#                   blocking calls (linked, or loaded with LD_PRELOAD)
#   libcosync-dev   headers, static libraries, adapters, the tevent glue,
#                   the CMake package and the pkg-config files
# The runtime package names carry the SONAME's number, as Debian's do, so
# an incompatible release installs beside the old one.
set(CPACK_PACKAGE_NAME cosync)
set(CPACK_PACKAGE_VENDOR "cosync")
set(CPACK_PACKAGE_CONTACT "cosync maintainers <cosync@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "stackful coroutines on an event loop")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
if(COSYNC_WITH_PCL)
  list(APPEND CPACK_COMPONENTS_ALL pcl)
endif()
if(COSYNC_WITH_HOOK)
  list(APPEND CPACK_COMPONENTS_ALL hook)
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libcosync${PROJECT_VERSION_MAJOR})
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
  "cosync: stackful coroutines on an event loop (shared C library)")
set(CPACK_DEBIAN_PCL_PACKAGE_NAME libcosync-pcl${PROJECT_VERSION_MAJOR})
set(CPACK_COMPONENT_PCL_DESCRIPTION
  "cosync's libpcl-compatible library: libpcl programs relink against it")
set(CPACK_DEBIAN_HOOK_PACKAGE_NAME libcosync-hook${PROJECT_VERSION_MAJOR})
set(CPACK_COMPONENT_HOOK_DESCRIPTION
  "cosync's interposition of libc's blocking calls: unmodified code yields in coroutines")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libcosync-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "cosync development files: headers, static libraries, adapters, CMake and pkg-config files")
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
if(COSYNC_WITH_PCL)
  list(APPEND CPACK_COMPONENT_DEV_DEPENDS pcl)
endif()
if(COSYNC_WITH_HOOK)
  list(APPEND CPACK_COMPONENT_DEV_DEPENDS hook)
endif()
# What the installed adapters' CMake targets and pkg-config files need.
set(_cosync_dev_depends "pkg-config")
if(COSYNC_WITH_TEVENT)
  string(APPEND _cosync_dev_depends ", libtevent-dev, libtalloc-dev")
endif()
if(COSYNC_WITH_LIBUV)
  string(APPEND _cosync_dev_depends ", libuv1-dev")
endif()
if(COSYNC_WITH_LIBEVENT)
  string(APPEND _cosync_dev_depends ", libevent-dev")
endif()
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${_cosync_dev_depends}")
include(CPack)
