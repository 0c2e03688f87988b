# Cross build for riscv64 (LP64D) with Debian's cross compiler
# (g++-riscv64-linux-gnu); tests run under qemu-riscv64.
set(COSYNC_CROSS_TRIPLE riscv64-linux-gnu)
set(CMAKE_SYSTEM_PROCESSOR riscv64)
set(COSYNC_CROSS_RUN qemu-riscv64 -L /usr/riscv64-linux-gnu)
include(${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake)
