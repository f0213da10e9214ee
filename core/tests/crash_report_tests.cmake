# The crash report parser (issue 14, docs/crash-detection.md): unit tests and
# the whole console corpus through the parser, then through `ezone classify`.
add_executable(ezone_crash_report_tests crash_report_test.cc)
target_link_libraries(ezone_crash_report_tests PRIVATE ezone::core GTest::gtest_main)
target_compile_definitions(ezone_crash_report_tests PRIVATE
  EZONE_CORPUS_DIR="${CMAKE_CURRENT_SOURCE_DIR}/corpus/console")
gtest_discover_tests(ezone_crash_report_tests PROPERTIES LABELS "unit;core")
ezone_discovered_test_properties(ezone_crash_report_tests_TESTS RESOURCE_GROUPS cpu:100)

find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  add_test(NAME ezone_classify_corpus
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/classify_corpus_test.py
                   $<TARGET_FILE:ezone> ${CMAKE_CURRENT_SOURCE_DIR}/corpus/console)
  set_tests_properties(ezone_classify_corpus PROPERTIES LABELS "unit;core" TIMEOUT 120
                       SKIP_RETURN_CODE 77)
endif()
