# Shared by the ctest scripts run with cmake -P (TestInstalledSdk.cmake,
# TestDebianPackage.cmake).

# Fails unless each named variable is set (-D on the command line).
macro(require_vars)
  foreach(var ${ARGN})
    if(NOT ${var})
      message(FATAL_ERROR "${var} is required")
    endif()
  endforeach()
endmacro()

# Runs a command, prints it with its output, fails the test if it fails;
# the output is left in `last_output`.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  message("$ ${ARGN}\n${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

# require_no_new_files(<glob> <files that matched before>): fails naming any
# file matching <glob> now that did not before (what a run left behind).
function(require_no_new_files glob)
  file(GLOB after ${glob})
  list(REMOVE_ITEM after ${ARGN} "")
  if(after)
    message(FATAL_ERROR "left behind: ${after}")
  endif()
endfunction()
