# Chooses the context-switch back end: one assembly file per
# architecture/ABI/binary format/assembler, named after that tuple, or the
# ucontext fallback. Sets COSYNC_CONTEXT_SOURCES and COSYNC_CONTEXT_BACKEND,
# and COSYNC_SIGNAL_CONTEXT_SOURCE, the overflow handler's one
# architecture-specific file.

set(COSYNC_CONTEXT "auto" CACHE STRING "Context switch: auto, asm or ucontext")
set_property(CACHE COSYNC_CONTEXT PROPERTY STRINGS auto asm ucontext)

string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" _cosync_cpu)
# The processor name does not tell every ABI apart (armel from armhf, n32
# from n64): those two are asked of the compiler.
include(CheckCSourceCompiles)
if(_cosync_cpu MATCHES "^(x86_64|amd64)$")
  set(COSYNC_ARCH x86_64)
  set(COSYNC_ABI sysv)
elseif(_cosync_cpu MATCHES "^(aarch64|arm64)$")
  set(COSYNC_ARCH aarch64)
  set(COSYNC_ABI aapcs)
elseif(_cosync_cpu STREQUAL "riscv64")
  set(COSYNC_ARCH riscv64)
  set(COSYNC_ABI lp64d)
elseif(_cosync_cpu MATCHES "^arm")
  set(COSYNC_ARCH arm)
  check_c_source_compiles("int vfp = __ARM_PCS_VFP; int main(void) { return 0; }"
    COSYNC_ARM_PCS_VFP)
  if(COSYNC_ARM_PCS_VFP)
    set(COSYNC_ABI aapcs_vfp)
  else()
    set(COSYNC_ABI aapcs_soft)
  endif()
elseif(_cosync_cpu MATCHES "^i[3-6]86$")
  set(COSYNC_ARCH i386)
  set(COSYNC_ABI sysv)
elseif(_cosync_cpu MATCHES "^(ppc64le|powerpc64le)$")
  set(COSYNC_ARCH ppc64le)
  set(COSYNC_ABI elfv2)
elseif(_cosync_cpu STREQUAL "s390x")
  set(COSYNC_ARCH s390x)
  set(COSYNC_ABI sysv)
elseif(_cosync_cpu MATCHES "^mips64")
  set(COSYNC_ARCH mips64)
  check_c_source_compiles("#include <sgidefs.h>
    int n64[_MIPS_SIM == _ABI64 ? 1 : -1]; int main(void) { return 0; }" COSYNC_MIPS_N64)
  if(COSYNC_MIPS_N64)
    set(COSYNC_ABI n64)
  else()
    set(COSYNC_ABI n32)
  endif()
else()
  set(COSYNC_ARCH "${_cosync_cpu}")
  set(COSYNC_ABI unknown)
endif()
set(COSYNC_BINFMT elf)

set(_cosync_asm_name "switch_${COSYNC_ARCH}_${COSYNC_ABI}_${COSYNC_BINFMT}_gas")
set(_cosync_asm_file "${PROJECT_SOURCE_DIR}/src/context/${_cosync_asm_name}.S")

if(COSYNC_CONTEXT STREQUAL "ucontext")
  set(_cosync_use_asm OFF)
elseif(EXISTS "${_cosync_asm_file}")
  set(_cosync_use_asm ON)
elseif(COSYNC_CONTEXT STREQUAL "asm")
  message(FATAL_ERROR "cosync: no assembly context switch for ${_cosync_asm_name}")
else()
  set(_cosync_use_asm OFF)
endif()

if(_cosync_use_asm)
  set(COSYNC_CONTEXT_SOURCES "${_cosync_asm_file}")
  set(COSYNC_CONTEXT_BACKEND "${_cosync_asm_name}")
else()
  set(COSYNC_CONTEXT_SOURCES "${PROJECT_SOURCE_DIR}/src/context/switch_ucontext.cpp")
  set(COSYNC_CONTEXT_BACKEND "ucontext")
endif()

# The overflow handler's reader of the interrupted stack pointer.
set(COSYNC_SIGNAL_CONTEXT_SOURCE
  "${PROJECT_SOURCE_DIR}/src/stack/signal_context_${COSYNC_ARCH}_linux.cpp")
if(NOT EXISTS "${COSYNC_SIGNAL_CONTEXT_SOURCE}")
  set(COSYNC_SIGNAL_CONTEXT_SOURCE "${PROJECT_SOURCE_DIR}/src/stack/signal_context_unknown_linux.cpp")
endif()

# The x86_64 System V back end's switch is also inlined by coroutine.hpp.
if(COSYNC_CONTEXT_BACKEND STREQUAL "switch_x86_64_sysv_elf_gas")
  set(COSYNC_INLINE_JUMP_X86_64_SYSV 1)
else()
  set(COSYNC_INLINE_JUMP_X86_64_SYSV 0)
endif()

message(STATUS "cosync: arch=${COSYNC_ARCH} abi=${COSYNC_ABI} binfmt=${COSYNC_BINFMT} "
               "context=${COSYNC_CONTEXT_BACKEND}")
