# Runs libpcl test programs for ctest (cmake -P).
#
# Compare mode: -DPROGRAMS=a;b -DEXPECTED=file. Every program must exit 0
# and print exactly the expected file; so the programs print the same.
# Misuse mode: -DPROGRAMS=a -DARGS=case -DMESSAGE=regex. The program must
# fail (exit status or signal) with a stderr line matching the regex.
if(DEFINED MESSAGE)
  execute_process(COMMAND ${PROGRAMS} ${ARGS}
    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(status EQUAL 0)
    message(FATAL_ERROR "${PROGRAMS} ${ARGS} succeeded; expected a failure\n${out}${err}")
  endif()
  if(NOT err MATCHES "${MESSAGE}")
    message(FATAL_ERROR "${PROGRAMS} ${ARGS}: stderr does not match '${MESSAGE}':\n${err}")
  endif()
  return()
endif()

file(READ "${EXPECTED}" expected)
string(LENGTH "${expected}" expected_length)
if(expected_length LESS 100)
  message(FATAL_ERROR "${EXPECTED} is too short to prove anything")
endif()
set(asan_options "$ENV{ASAN_OPTIONS}")
foreach(program IN LISTS PROGRAMS)
  # Debian's libpcl leaks its thread state when co_thread_init is called
  # twice on one thread (it allocates a new one each time): in an ASan
  # build, LeakSanitizer must not fail the libpcl side for that.
  if(program MATCHES "_libpcl$")
    set(ENV{ASAN_OPTIONS} "${asan_options}:detect_leaks=0")
  else()
    set(ENV{ASAN_OPTIONS} "${asan_options}")
  endif()
  execute_process(COMMAND ${program}
    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${program} failed (${status}):\n${out}${err}")
  endif()
  if(NOT out STREQUAL expected)
    file(WRITE "${program}.out" "${out}")
    message(FATAL_ERROR "${program} printed something else than ${EXPECTED}; "
                        "see ${program}.out\n${err}")
  endif()
  message(STATUS "${program}: the expected ${expected_length} bytes")
endforeach()
