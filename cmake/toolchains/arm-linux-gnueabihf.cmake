# Cross build for 32-bit ARM, hard float (AAPCS with VFP) with Debian's cross compiler
# (g++-arm-linux-gnueabihf); tests run under qemu-arm.
set(COSYNC_CROSS_TRIPLE arm-linux-gnueabihf)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(COSYNC_CROSS_RUN qemu-arm -L /usr/arm-linux-gnueabihf)
include(${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake)
# GCC notes, on every std::vector iterator, that GCC 7.1 changed how such
# arguments are passed: not a warning, and nothing here mixes compilers.
set(CMAKE_CXX_FLAGS_INIT -Wno-psabi)
