# The ABI's minor-version promise (issue 17): plugins built against the
# frozen 1.0 header, and descriptors at the edges of the size rule, loaded by
# ezone_core_tests (abi_compat_test.cc). Included from core/tests after
# ezone_core_tests is defined.
set(abi_plugin_dir ${CMAKE_CURRENT_BINARY_DIR}/abi-plugins)
set(abi_plugins)

# Built against core/tests/abi/plugin_abi_1_0.h only: no ezone::sdk, so
# today's header cannot leak in.
foreach(kind VMM FAULT)
  string(TOLOWER ${kind} lower)
  add_library(abi10-${lower} MODULE ${CMAKE_CURRENT_SOURCE_DIR}/abi/abi_1_0_plugins.c)
  target_compile_definitions(abi10-${lower} PRIVATE ABI10_${kind})
  target_include_directories(abi10-${lower} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/abi)
  find_package(Threads REQUIRED)
  target_link_libraries(abi10-${lower} PRIVATE Threads::Threads)
  set_target_properties(abi10-${lower} PROPERTIES PREFIX "" C_VISIBILITY_PRESET hidden
                        C_STANDARD 99 LIBRARY_OUTPUT_DIRECTORY ${abi_plugin_dir})
  list(APPEND abi_plugins abi10-${lower})
endforeach()

foreach(kind TOO_SMALL MINOR_LIES CAP_WITHOUT_OP FROM_1_9)
  string(TOLOWER ${kind} lower)
  string(REPLACE "_" "-" lower ${lower})
  add_library(abi-${lower} MODULE ${CMAKE_CURRENT_SOURCE_DIR}/abi/abi_variants.c)
  target_compile_definitions(abi-${lower} PRIVATE ABI_${kind})
  target_link_libraries(abi-${lower} PRIVATE ezone::sdk)
  set_target_properties(abi-${lower} PROPERTIES PREFIX "" C_VISIBILITY_PRESET hidden
                        LIBRARY_OUTPUT_DIRECTORY ${abi_plugin_dir})
  list(APPEND abi_plugins abi-${lower})
endforeach()

target_sources(ezone_core_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/abi/abi_compat_test.cc
                                        ${CMAKE_CURRENT_SOURCE_DIR}/abi/sdk_vmm_process_test.cc
                                        ${CMAKE_CURRENT_SOURCE_DIR}/abi/sdk_qmp_test.cc)
target_compile_definitions(ezone_core_tests PRIVATE EZONE_ABI_PLUGIN_DIR="${abi_plugin_dir}")
add_dependencies(ezone_core_tests ${abi_plugins})
