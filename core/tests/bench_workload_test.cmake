# ctest -L bench: `ezone bench --workload` really runs the workload natively
# and in a qemu (TCG) guest, writes valid performance JSON into a report
# directory, and the HTML report of a real check in that directory (and the
# one `ezone report` rebuilds from its journal) draws the continuum chart
# with a qemu point. No figure is asserted beyond "measured and positive".
#   cmake -DEZONE=<ezone> -DSUITE=<paper.xml> -DWORK_DIR=<dir> -P bench_workload_test.cmake
include(${CMAKE_CURRENT_LIST_DIR}/../../cmake/TestScriptHelpers.cmake)
require_vars(EZONE SUITE WORK_DIR)

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR}/report)
set(json ${WORK_DIR}/report/performance.json)
file(GLOB temp_before /tmp/ezone-bench-*)

execute_process(
  COMMAND ${EZONE} bench --workload --suite ${SUITE} --vmm qemu --workload-runs 1
          --workload-ms 100 --json ${json}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(rc EQUAL 77)
  message("ezone bench: skipped (qemu declined here)")
  return()
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ezone bench --workload exited ${rc}")
endif()
foreach(expected "native: ezone-workload v=1 int_mops=" "qemu: booting the guest"
                 "READY in" "vs native" "JSON: ")
  if(NOT out MATCHES "${expected}")
    message(FATAL_ERROR "the output lacks '${expected}'")
  endif()
endforeach()

# string(JSON) fails the script on malformed JSON or a missing member.
file(READ ${json} text)
string(JSON kind GET "${text}" kind)
string(JSON label GET "${text}" vmms 0 label)
string(JSON status GET "${text}" vmms 0 status)
if(NOT kind STREQUAL "ezone-performance" OR NOT label STREQUAL "qemu" OR NOT status STREQUAL "ran")
  message(FATAL_ERROR "unexpected JSON: kind ${kind}, vmms[0] ${label} ${status}")
endif()
foreach(metric int_mops fp_mflops mem_mib_s syscall_ns)
  string(JSON native GET "${text}" native median ${metric})
  string(JSON guest GET "${text}" vmms 0 median ${metric})
  string(JSON relative GET "${text}" vmms 0 relative ${metric})
  message("${metric}: native ${native}, qemu ${guest}, relative ${relative}")
  # Positive numbers (CMake compares them as floating point).
  if(NOT native GREATER 0 OR NOT guest GREATER 0 OR NOT relative GREATER 0)
    message(FATAL_ERROR "${metric}: not a measured figure")
  endif()
endforeach()
string(JSON performance GET "${text}" vmms 0 performance)
if(NOT performance GREATER 0)
  message(FATAL_ERROR "no performance figure for qemu")
endif()

# A real check in the same report directory: its HTML draws the chart.
run(${EZONE} run ${SUITE} --check GuestKernelCrashMustNotKillHost/qemu_kerncrash_divzero_1
    --report-dir ${WORK_DIR}/report)
file(READ ${WORK_DIR}/report/report.html html)
foreach(expected "<svg class=\"continuum\"" "data-vmm=\"qemu\"" "100% \\(1/1\\)")
  if(NOT html MATCHES "${expected}")
    message(FATAL_ERROR "report.html lacks '${expected}'")
  endif()
endforeach()

# `ezone report` rebuilds it from the journal, finding performance.json in
# the journals' report directory.
run(${EZONE} report ${WORK_DIR}/report/journal --junit ${WORK_DIR}/rebuilt/junit.xml
    --html ${WORK_DIR}/rebuilt/report.html)
file(READ ${WORK_DIR}/rebuilt/report.html html)
if(NOT html MATCHES "data-vmm=\"qemu\"")
  message(FATAL_ERROR "the rebuilt report.html has no qemu point in the continuum chart")
endif()

# The bench removes its work directory (the guest's console log included).
require_no_new_files(/tmp/ezone-bench-* ${temp_before})
