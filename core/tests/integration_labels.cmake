# Included by ctest after test discovery: labels for the integration tests.
get_property(tests DIRECTORY PROPERTY TESTS)
foreach(test IN LISTS tests)
  if(test MATCHES "^(QemuIntegrationTest|AtEachPhase/KilledRunnerTest)")
    set_tests_properties(${test} PROPERTIES LABELS "integration;qemu")
  endif()
endforeach()
