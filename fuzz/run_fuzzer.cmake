# ctest's fuzz:<target>: runs one fuzz target for SECONDS over its seeds
# (SEEDS, '|'-separated directories) and every input that ever crashed it
# (REGRESSIONS), with a fresh, empty corpus directory first so that nothing
# it finds is written into the source tree. A crash fails the test; its
# input is left in WORK_DIR (crash-*) to be kept in fuzz/regressions/<target>/
# once fixed.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR}/corpus)
string(REPLACE "|" ";" seeds "${SEEDS}")
set(dirs ${WORK_DIR}/corpus)
foreach(dir IN LISTS seeds REGRESSIONS)
  if(IS_DIRECTORY ${dir})
    list(APPEND dirs ${dir})
  endif()
endforeach()
# First every regression input alone, so a crash names its file.
file(GLOB regressions ${REGRESSIONS}/*)
list(FILTER regressions EXCLUDE REGEX "README")
if(regressions)
  execute_process(COMMAND ${FUZZER} -rss_limit_mb=4096 -timeout=60 ${regressions}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message("${out}")
    message(FATAL_ERROR "${FUZZER}: a kept crash input crashes it again (above)")
  endif()
  list(LENGTH regressions n)
  message("${n} kept crash inputs: fine")
endif()
execute_process(COMMAND ${FUZZER} -max_total_time=${SECONDS} -rss_limit_mb=4096 -timeout=60
                        -print_final_stats=1 -artifact_prefix=${WORK_DIR}/ ${dirs}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
string(REGEX MATCHALL "stat::[a-z_]+: *[0-9]+" stats "${out}")
string(REGEX MATCHALL "#[0-9]+[ \t]+(DONE|INITED)[^\n]*" progress "${out}")
list(POP_BACK progress last)
message("${last}")
foreach(s IN LISTS stats)
  message("${s}")
endforeach()
if(NOT rc EQUAL 0)
  message("${out}")
  message(FATAL_ERROR "${FUZZER}: crashed (input in ${WORK_DIR})")
endif()
