# Included by ctest after test discovery: labels and load for the
# integration tests (by the discovered list: in ctest 3.25 a script cannot
# read the directory's TESTS).
foreach(test IN LISTS ezone_qemu_tests_TESTS)
  set(slots 100)
  # `ezone run --jobs 2` boots two checks' guests side by side.
  if(test MATCHES "^QemuIntegrationTest\\.RunJobs")
    set(slots 200)
  endif()
  set_tests_properties(${test} PROPERTIES LABELS "integration;qemu" RESOURCE_GROUPS cpu:${slots})
endforeach()
