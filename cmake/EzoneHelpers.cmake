# Helpers for building ezone plugins and registering suites in CTest. Used by
# the project itself and, through the installed package, by third parties.

include_guard(GLOBAL)

# ezone_add_plugin(<name> SOURCES <files>...)
# A plugin is a MODULE library named ezone-<name>.so with hidden visibility:
# only its entry point is exported. It lands where the runner finds it.
function(ezone_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "ezone_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  if(TARGET ezone::sdk)
    target_link_libraries(${name} PRIVATE ezone::sdk)
  else()
    target_link_libraries(${name} PRIVATE Ezone::sdk)
  endif()
  if(DEFINED EZONE_PLUGIN_BUILD_DIR)
    set(out_dir ${EZONE_PLUGIN_BUILD_DIR})
  else()
    set(out_dir ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "ezone-${name}"
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${out_dir})
  # A missing symbol is a build error, not a load error on the user's host.
  target_link_options(${name} PRIVATE "LINKER:--no-undefined")
  if(NOT DEFINED EZONE_INSTALL_PLUGIN_SUBDIR)
    set(EZONE_INSTALL_PLUGIN_SUBDIR ${CMAKE_INSTALL_LIBDIR}/ezone/plugins)
  endif()
  install(TARGETS ${name} LIBRARY DESTINATION ${EZONE_INSTALL_PLUGIN_SUBDIR})
  set_property(GLOBAL APPEND PROPERTY EZONE_PLUGIN_TARGETS ${name})
endfunction()

# ezone_add_suite(<suite.xml> [REPORT_DIR <dir>])
# Registers every check of a suite as its own ctest test. The list is made at
# build time by `ezone list --ctest-script` (it boots nothing); the tests
# share one report directory; after the run the ezone_reports fixture rebuilds
# <dir>/junit.xml and <dir>/report.html from the checks' journals.
function(ezone_add_suite suite_file)
  cmake_parse_arguments(ARG "" "REPORT_DIR" "" ${ARGN})
  get_filename_component(suite ${suite_file} ABSOLUTE)
  get_filename_component(stem ${suite_file} NAME_WE)
  if(NOT ARG_REPORT_DIR)
    set(ARG_REPORT_DIR ${CMAKE_BINARY_DIR}/ezone-reports/ctest)
  endif()
  if(TARGET ezone)
    set(exe ezone)
  else()
    set(exe Ezone::ezone)
  endif()
  set(script ${CMAKE_CURRENT_BINARY_DIR}/${stem}_checks.cmake)
  # This project's plugins are searched first, before the installed ones.
  get_property(plugins GLOBAL PROPERTY EZONE_PLUGIN_TARGETS)
  set(plugin_dirs "")
  foreach(plugin IN LISTS plugins)
    list(APPEND plugin_dirs --plugin-dir $<TARGET_FILE_DIR:${plugin}>)
  endforeach()
  add_custom_command(
    OUTPUT ${script}
    COMMAND ${exe} ${plugin_dirs} list ${suite} --ctest-script ${script} --report-dir ${ARG_REPORT_DIR}
    DEPENDS ${suite} ${exe} ${plugins}
    COMMENT "Listing the checks of ${stem}.xml for ctest"
    VERBATIM)
  add_custom_target(ezone_suite_${stem} ALL DEPENDS ${script})

  # ctest reads this at test time; until the build made the list, a
  # placeholder test says so instead of silently running nothing.
  set(include_file ${CMAKE_CURRENT_BINARY_DIR}/${stem}_include.cmake)
  file(WRITE ${include_file}
    "if(EXISTS \"${script}\")\n"
    "  include(\"${script}\")\n"
    "else()\n"
    "  add_test(${stem}_NOT_BUILT ${stem}_NOT_BUILT)\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${include_file})

  get_property(have_fixture DIRECTORY PROPERTY EZONE_REPORTS_FIXTURE)
  if(NOT have_fixture)
    set_property(DIRECTORY PROPERTY EZONE_REPORTS_FIXTURE ON)
    add_test(NAME ezone_reports_clean
             COMMAND ${CMAKE_COMMAND} -E rm -rf ${ARG_REPORT_DIR}/junit ${ARG_REPORT_DIR}/journal)
    set_tests_properties(ezone_reports_clean PROPERTIES FIXTURES_SETUP ezone_reports)
    add_test(NAME ezone_reports_merge
             COMMAND ${exe} report ${ARG_REPORT_DIR}/journal --junit ${ARG_REPORT_DIR}/junit.xml
                     --html ${ARG_REPORT_DIR}/report.html --markdown ${ARG_REPORT_DIR}/summary.md)
    set_tests_properties(ezone_reports_merge PROPERTIES FIXTURES_CLEANUP ezone_reports)
  endif()
endfunction()
