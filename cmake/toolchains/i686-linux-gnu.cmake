# Cross build for i686 (System V i386 ABI) with Debian's cross compiler
# (g++-i686-linux-gnu); tests run under qemu-i386.
set(COSYNC_CROSS_TRIPLE i686-linux-gnu)
set(CMAKE_SYSTEM_PROCESSOR i686)
set(COSYNC_CROSS_QEMU qemu-i386)
include(${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake)
