# Cross build for aarch64 (AAPCS64) with Debian's cross compiler
# (g++-aarch64-linux-gnu); tests run under qemu-aarch64.
set(COSYNC_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(COSYNC_CROSS_RUN qemu-aarch64 -L /usr/aarch64-linux-gnu)
include(${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake)
