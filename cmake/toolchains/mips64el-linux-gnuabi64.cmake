# Cross build for mips64el (n64) with Debian's cross compiler
# (g++-mips64el-linux-gnuabi64); tests run under qemu-mips64el, as a
# MIPS64 release 2 processor (Debian's baseline): qemu's default model, the
# 5KEf, ignores writes to the FCSR rounding mode.
set(COSYNC_CROSS_TRIPLE mips64el-linux-gnuabi64)
set(CMAKE_SYSTEM_PROCESSOR mips64el)
set(COSYNC_CROSS_RUN qemu-mips64el -cpu MIPS64R2-generic -L /usr/mips64el-linux-gnuabi64)
include(${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake)
