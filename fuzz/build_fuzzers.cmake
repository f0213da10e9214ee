# ctest's fuzz_build: configures (once) and builds the fuzz targets with
# clang in BUILD_DIR. Incremental: a second run costs a ninja no-op.
foreach(var SOURCE_DIR BUILD_DIR CXX CC GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "build_fuzzers.cmake: ${var} is not set")
  endif()
endforeach()
if(NOT EXISTS ${BUILD_DIR}/CMakeCache.txt)
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BUILD_DIR} -G ${GENERATOR}
                          -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_C_COMPILER=${CC}
                          -DCMAKE_BUILD_TYPE=RelWithDebInfo
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    file(REMOVE ${BUILD_DIR}/CMakeCache.txt)
    message(FATAL_ERROR "configuring the fuzz targets failed")
  endif()
endif()
if(NOT DEFINED JOBS)
  set(JOBS 1)
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} -j ${JOBS} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the fuzz targets failed")
endif()
