# Chooses the context-switch back end: one assembly file per
# architecture/ABI/binary format/assembler, named after that tuple, or the
# ucontext fallback. Sets COSYNC_CONTEXT_SOURCES and COSYNC_CONTEXT_BACKEND.

set(COSYNC_CONTEXT "auto" CACHE STRING "Context switch: auto, asm or ucontext")
set_property(CACHE COSYNC_CONTEXT PROPERTY STRINGS auto asm ucontext)

string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" _cosync_cpu)
if(_cosync_cpu MATCHES "^(x86_64|amd64)$")
  set(COSYNC_ARCH x86_64)
  set(COSYNC_ABI sysv)
elseif(_cosync_cpu MATCHES "^(aarch64|arm64)$")
  set(COSYNC_ARCH aarch64)
  set(COSYNC_ABI aapcs)
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

# The x86_64 System V back end's switch is also inlined by coroutine.hpp.
if(COSYNC_CONTEXT_BACKEND STREQUAL "switch_x86_64_sysv_elf_gas")
  set(COSYNC_INLINE_JUMP_X86_64_SYSV 1)
else()
  set(COSYNC_INLINE_JUMP_X86_64_SYSV 0)
endif()

message(STATUS "cosync: arch=${COSYNC_ARCH} abi=${COSYNC_ABI} binfmt=${COSYNC_BINFMT} "
               "context=${COSYNC_CONTEXT_BACKEND}")
