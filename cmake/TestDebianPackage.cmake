# ctest script: build ezone's Debian package with CPack, unpack it with
# dpkg-deb into a scratch root (not into the host's /usr: tests must not
# change the host), and run a paper check with the packaged ezone.
include(${CMAKE_CURRENT_LIST_DIR}/TestScriptHelpers.cmake)
require_vars(BUILD_DIR SOURCE_DIR WORK_DIR)

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
run(${CMAKE_CPACK_COMMAND} -G DEB -B ${WORK_DIR} --config ${BUILD_DIR}/CPackConfig.cmake)
file(GLOB deb ${WORK_DIR}/ezone_*.deb)
run(dpkg-deb --info ${deb})
if(NOT last_output MATCHES "Depends: [^\n]*qemu-system-x86")
  message(FATAL_ERROR "the package does not depend on qemu-system-x86")
endif()
run(dpkg-deb -x ${deb} ${WORK_DIR}/root)
set(ezone ${WORK_DIR}/root/usr/bin/ezone)
run(${ezone} plugins)
if(NOT last_output MATCHES "${WORK_DIR}/root/usr/lib/ezone/plugins/ezone-vmm-qemu.so")
  message(FATAL_ERROR "the packaged ezone does not find its own plugins")
endif()
run(${ezone} run ${WORK_DIR}/root/usr/share/ezone/suites/paper.xml
    --check GuestKernelCrashMustNotKillHost/qemu_kerncrash_divzero_1 --report-dir ${WORK_DIR}/reports)
file(READ ${WORK_DIR}/reports/junit.xml xml)
if(NOT xml MATCHES "tests=\"1\" failures=\"0\" errors=\"0\"" OR NOT xml MATCHES "divide error")
  message(FATAL_ERROR "the packaged ezone's paper check did not pass:\n${xml}")
endif()
message("the Debian package works: ${deb}")
file(REMOVE_RECURSE ${WORK_DIR})
