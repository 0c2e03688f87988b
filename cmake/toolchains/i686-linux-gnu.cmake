# Cross build for i686 (System V i386 ABI) with Debian's cross compiler
# (g++-i686-linux-gnu). The tests run on the build machine's own processor,
# through the i386 dynamic loader of the cross libraries: an x86_64 Linux
# kernel runs 32-bit programs (IA32 emulation), and qemu-i386 7.2 (Debian 12)
# hangs in the first pthread_create of any program here.
set(COSYNC_CROSS_TRIPLE i686-linux-gnu)
set(CMAKE_SYSTEM_PROCESSOR i686)
set(COSYNC_CROSS_RUN /usr/i686-linux-gnu/lib/ld-linux.so.2 --library-path /usr/i686-linux-gnu/lib)
include(${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake)
# gdb runs the target natively too, with Debian's 32-bit runtime
# (libc6-i386, lib32stdc++6) as the program's interpreter finds it.
set(COSYNC_CROSS_NATIVE_GDB ON)
