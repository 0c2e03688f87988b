# Cross build for ppc64le (ELFv2) with Debian's cross compiler
# (g++-powerpc64le-linux-gnu); tests run under qemu-ppc64le.
set(COSYNC_CROSS_TRIPLE powerpc64le-linux-gnu)
set(CMAKE_SYSTEM_PROCESSOR ppc64le)
set(COSYNC_CROSS_RUN qemu-ppc64le -L /usr/powerpc64le-linux-gnu)
include(${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake)
