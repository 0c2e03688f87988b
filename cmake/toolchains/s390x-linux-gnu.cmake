# Cross build for s390x (z/Architecture ELF ABI) with Debian's cross compiler
# (g++-s390x-linux-gnu); tests run under qemu-s390x.
set(COSYNC_CROSS_TRIPLE s390x-linux-gnu)
set(CMAKE_SYSTEM_PROCESSOR s390x)
set(COSYNC_CROSS_RUN qemu-s390x -L /usr/s390x-linux-gnu)
include(${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake)
