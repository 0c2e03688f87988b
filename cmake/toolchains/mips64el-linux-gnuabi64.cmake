# Cross build for mips64el (n64) with Debian's cross compiler
# (g++-mips64el-linux-gnuabi64); tests run under qemu-mips64el.
set(COSYNC_CROSS_TRIPLE mips64el-linux-gnuabi64)
set(CMAKE_SYSTEM_PROCESSOR mips64el)
set(COSYNC_CROSS_QEMU qemu-mips64el)
include(${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake)
