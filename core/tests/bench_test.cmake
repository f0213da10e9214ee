# ctest -L bench: `ezone bench` completes, prints its table and writes valid
# JSON. Timings are not asserted: on a shared 2-core TCG host they are noise.
#   cmake -DEZONE=<ezone> -DWORK_DIR=<dir> -P bench_test.cmake
include(${CMAKE_CURRENT_LIST_DIR}/../../cmake/TestScriptHelpers.cmake)
require_vars(EZONE WORK_DIR)

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(json ${WORK_DIR}/bench.json)
file(GLOB temp_before /tmp/ezone-bench-*)

execute_process(
  COMMAND ${EZONE} bench --rounds 2 --parallel --parallel-checks 2 --json ${json}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(rc EQUAL 77)
  return()  # no qemu here: the output says "ezone bench: skipped" (SKIP_REGULAR_EXPRESSION)
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ezone bench exited ${rc}")
endif()

foreach(expected "medians, ms" "ready \\(VMM start" "fault -> detection" "teardown"
                 "whole check" "detection latency beyond" "target: whole check within"
                 "target: detection within" "-j1: " "-j2: " "runner peak RSS \\(VmHWM\\)")
  if(NOT out MATCHES "${expected}")
    message(FATAL_ERROR "the output lacks '${expected}'")
  endif()
endforeach()

# string(JSON) fails the script on malformed JSON or a missing member.
file(READ ${json} text)
foreach(phase setup boot ready detection teardown whole)
  string(JSON bare GET "${text}" median ${phase} bare_ms)
  string(JSON ezone GET "${text}" median ${phase} ezone_ms)
  message("${phase}: bare ${bare} ms, ezone ${ezone} ms")
endforeach()
string(JSON ratio GET "${text}" median whole ratio)
if(ratio STREQUAL "null" OR ratio STREQUAL "")
  message(FATAL_ERROR "no whole-check ratio in ${json}")
endif()
string(JSON latency GET "${text}" detection_latency_ms ezone_minus_bare)
string(JSON met TYPE "${text}" targets whole_check_ratio met)
string(JSON rss GET "${text}" runner_peak_rss_kib)
string(JSON pools LENGTH "${text}" parallel)
string(JSON rounds LENGTH "${text}" round_results)
if(NOT pools EQUAL 2 OR NOT rounds EQUAL 2 OR NOT met STREQUAL "BOOLEAN" OR rss LESS_EQUAL 0)
  message(FATAL_ERROR "unexpected JSON: ${pools} pools, ${rounds} rounds, met is ${met}, rss ${rss}")
endif()

# The bench removes its work directory.
require_no_new_files(/tmp/ezone-bench-* ${temp_before})
