# cmake -DSOURCE_DIR=... -DSCRATCH_DIR=... -DGENERATOR=... -P configure_error.cmake
# Configures cosync with pkg-config pointed at an empty directory, as on a
# machine without the adapters' packages.
file(REMOVE_RECURSE ${SCRATCH_DIR})
file(MAKE_DIRECTORY ${SCRATCH_DIR}/empty-pkgconfig)
set(no_packages ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=
  PKG_CONFIG_LIBDIR=${SCRATCH_DIR}/empty-pkgconfig)
set(quick -G ${GENERATOR} -DCOSYNC_BUILD_TESTS=OFF -DCOSYNC_BUILD_EXAMPLES=OFF)

function(configure name expect_success)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(expect_success AND NOT result EQUAL 0)
    message(FATAL_ERROR "${name}: the configure failed:\n${out}")
  elseif(NOT expect_success AND result EQUAL 0)
    message(FATAL_ERROR "${name}: the configure succeeded without the packages:\n${out}")
  endif()
  set(output "${out}" PARENT_SCOPE)
endfunction()

function(expect name pattern)
  if(NOT output MATCHES "${pattern}")
    message(FATAL_ERROR "${name}: the output does not match '${pattern}':\n${output}")
  endif()
endfunction()

configure("without packages" FALSE
  ${no_packages} ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${SCRATCH_DIR}/build ${quick})
expect("without packages" "apt-get install libtevent-dev libtalloc-dev  \\(or configure with -DCOSYNC_WITH_TEVENT=OFF\\)")
expect("without packages" "apt-get install libuv1-dev  \\(or configure with -DCOSYNC_WITH_LIBUV=OFF\\)")
expect("without packages" "apt-get install libevent-dev  \\(or configure with -DCOSYNC_WITH_LIBEVENT=OFF\\)")
if(EXISTS ${SCRATCH_DIR}/build/build.ninja OR EXISTS ${SCRATCH_DIR}/build/Makefile)
  message(FATAL_ERROR "the failed configure wrote build files")
endif()

configure("adapters off" TRUE
  ${no_packages} ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${SCRATCH_DIR}/build-off ${quick}
  -DCOSYNC_WITH_TEVENT=OFF -DCOSYNC_WITH_LIBUV=OFF -DCOSYNC_WITH_LIBEVENT=OFF)
expect("adapters off" "-- cosync components: core io_uring pcl hook\n")

configure("packages installed afterwards" TRUE
  ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${SCRATCH_DIR}/build)
expect("packages installed afterwards"
  "-- cosync components: core io_uring tevent libuv libevent tevent_glue pcl hook\n")
file(REMOVE_RECURSE ${SCRATCH_DIR})
