# ctest packs this project's tests by load when given a resource spec file
# (scripts/check writes one: a resource "cpu" of 100 slots per core; see
# docs/ARCHITECTURE.md, "Side by side"). Without the file ctest ignores
# RESOURCE_GROUPS and counts PROCESSORS against -j, as before.
#
# A suite's checks name their load themselves (ezone list --ctest-script,
# from check_cost.h); the GoogleTest binaries name it at discovery. Every
# other test of a directory that calls ezone_test_resources_here() takes
# its PROCESSORS' worth (one core unless set): what ctest -j would give it.

include_guard(GLOBAL)

function(ezone_default_test_resources)
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(test IN LISTS tests)
    get_test_property(${test} RESOURCE_GROUPS groups)
    if(NOT groups)
      get_test_property(${test} PROCESSORS processors)
      if(NOT processors)
        set(processors 1)
      endif()
      math(EXPR slots "${processors} * 100")
      set_tests_properties(${test} PROPERTIES RESOURCE_GROUPS cpu:${slots})
    endif()
  endforeach()
endfunction()

# At the end of the calling directory, so that it sees all its tests.
macro(ezone_test_resources_here)
  cmake_language(DEFER CALL ezone_default_test_resources)
endmacro()

# ezone_discovered_test_properties(<list_var> <property> <value> ...)
# The GoogleTest tests of one gtest_discover_tests(... TEST_LIST <list_var>)
# exist only at ctest time, and its PROPERTIES flattens a list value
# (LABELS "unit;reports" would become LABELS unit and a bogus property
# "reports"): a script ctest includes after their discovery sets the pairs
# on each, every value whole. Their load: RESOURCE_GROUPS cpu:100 for one
# core, cpu:200 for a test that boots two VMs side by side.
function(ezone_discovered_test_properties list_var)
  if(ARGC LESS 3)
    message(FATAL_ERROR "ezone_discovered_test_properties(${list_var}): no <property> <value>")
  endif()
  set(pairs "")
  math(EXPR last "${ARGC} - 1")
  foreach(i RANGE 1 ${last})
    string(APPEND pairs " \"${ARGV${i}}\"")
  endforeach()
  set(script ${CMAKE_CURRENT_BINARY_DIR}/${list_var}_properties.cmake)
  file(WRITE ${script}
       "if(${list_var})\n"
       "  set_tests_properties(\${${list_var}} PROPERTIES${pairs})\n"
       "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${script})
endfunction()
