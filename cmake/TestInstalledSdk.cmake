# ctest script: install ezone into a fresh prefix, build examples/ against it
# with find_package(Ezone), list its plugins and run its checks through ctest,
# then check the merged JUnit file. Run with:
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P TestInstalledSdk.cmake
include(${CMAKE_CURRENT_LIST_DIR}/TestScriptHelpers.cmake)
require_vars(BUILD_DIR SOURCE_DIR WORK_DIR)

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# The installed ezone finds its own plugins and guest image, not the build tree's.
run(${prefix}/bin/ezone plugins)
if(NOT last_output MATCHES "${prefix}/lib/ezone/plugins/ezone-vmm-qemu.so")
  message(FATAL_ERROR "the installed ezone does not list its installed qemu plugin")
endif()

# The SDK's docs and every runnable suite come with the install.
foreach(file share/doc/ezone/agent-protocol.md share/doc/ezone/writing-a-plugin.md
             share/ezone/suites/paper.xml share/ezone/suites/smoke.xml
             share/ezone/suites/ezone-matrix.xml share/ezone/suites/nested-host.xml)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "the install lacks ${file}")
  endif()
endforeach()

run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples -B ${WORK_DIR}/build -G Ninja
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=RelWithDebInfo)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${prefix}/bin/ezone --plugin-dir ${WORK_DIR}/build plugins)
foreach(name example-vmm example-sigterm example-sysrq)
  if(NOT last_output MATCHES "${name} 1.0")
    message(FATAL_ERROR "ezone plugins does not list ${name}")
  endif()
endforeach()

run(${CMAKE_COMMAND} -E env EZONE_PLUGIN_PATH= ${CMAKE_CTEST_COMMAND} --test-dir ${WORK_DIR}/build
    --output-on-failure)
set(junit ${WORK_DIR}/build/ezone-reports/ctest/junit.xml)
file(READ ${junit} xml)
if(NOT xml MATCHES "tests=\"4\" failures=\"0\" errors=\"0\"")
  message(FATAL_ERROR "expected 4 passing checks in ${junit}:\n${xml}")
endif()
foreach(name example_vmm_kerncrash_divzero_1 qemu_example_sigterm_sigterm_1
                  qemu_example_sysrq_crash_1 example_vmm_example_sysrq_crash_1)
  if(NOT xml MATCHES "name=\"${name}\"")
    message(FATAL_ERROR "${name} missing from ${junit}")
  endif()
endforeach()
message("out-of-tree plugins built, listed and run from ${prefix}")
file(REMOVE_RECURSE ${WORK_DIR})
