# The part every cross toolchain file here shares: Debian's cross compiler
# for COSYNC_CROSS_TRIPLE, its libraries under /usr/<triple> as the sysroot,
# and COSYNC_CROSS_RUN as the command that runs the tests (qemu-user,
# package qemu-user, with that sysroot). A toolchain file sets
# COSYNC_CROSS_TRIPLE, CMAKE_SYSTEM_PROCESSOR and COSYNC_CROSS_RUN on one
# line each (tools/cross_test.sh reads the last one), then includes this
# file.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${COSYNC_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${COSYNC_CROSS_TRIPLE}-g++)
set(CMAKE_ASM_COMPILER ${COSYNC_CROSS_TRIPLE}-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/${COSYNC_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_CROSSCOMPILING_EMULATOR ${COSYNC_CROSS_RUN})
# pkg-config must see the target's .pc files only, never the build
# machine's: an adapter whose host library is not installed for the target
# is then simply not built.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${COSYNC_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_SYSROOT_DIR} /)
