# Slurm campaigns (issue 16, docs/slurm.md). Included by core/tests/CMakeLists.txt.

# Without a cluster: the shard plan, Slurm's state lines, the merge of task
# journals.
add_executable(ezone_slurm_unit_tests slurm_test.cc)
target_link_libraries(ezone_slurm_unit_tests PRIVATE ezone::core GTest::gtest_main)
target_include_directories(ezone_slurm_unit_tests PRIVATE ${PROJECT_SOURCE_DIR}/reports/src)
gtest_discover_tests(ezone_slurm_unit_tests PROPERTIES LABELS "unit;core")
ezone_discovered_test_properties(ezone_slurm_unit_tests_TESTS RESOURCE_GROUPS cpu:100)

# With the real binary: GoogleTest sharding of `ezone run`, and campaigns
# through a real Slurm cluster on this machine (scripts/start-slurm: slurmctld,
# two slurmd, munge, all in one private directory). The fixture starts the
# cluster and stops it after the last test; the stop fails if a daemon, a job
# step or the directory is left.
set(EZONE_SLURM_CLUSTER_DIR ${CMAKE_CURRENT_BINARY_DIR}/slurm-cluster)
add_executable(ezone_slurm_tests slurm_campaign_test.cc)
target_link_libraries(ezone_slurm_tests PRIVATE ezone_test_support GTest::gtest_main
                      pugixml::pugixml nlohmann_json::nlohmann_json)
target_compile_definitions(ezone_slurm_tests PRIVATE
  EZONE_EXE="$<TARGET_FILE:ezone>"
  EZONE_SUITES_DIR="${PROJECT_SOURCE_DIR}/suites"
  EZONE_TEST_SUITES_DIR="${CMAKE_CURRENT_SOURCE_DIR}/suites"
  EZONE_TEST_WORK_DIR="${CMAKE_CURRENT_BINARY_DIR}/slurm-work")
add_dependencies(ezone_slurm_tests ezone)
# Two discoveries: properties by test filter (a TEST_INCLUDE_FILES script
# cannot read the directory's TESTS in ctest 3.25), and gtest_discover_tests
# flattens a LABELS list, so one label each. The campaigns have the cluster to
# themselves (one campaign at a time); sharding needs no cluster.
gtest_discover_tests(ezone_slurm_tests DISCOVERY_TIMEOUT 30 TEST_FILTER "SlurmCampaignTest.*"
                     TEST_LIST ezone_slurm_campaign_TESTS
                     PROPERTIES LABELS slurm TIMEOUT 300
                     ENVIRONMENT "SLURM_CONF=${EZONE_SLURM_CLUSTER_DIR}/slurm.conf"
                     FIXTURES_REQUIRED slurm_cluster RESOURCE_LOCK slurm_cluster)
gtest_discover_tests(ezone_slurm_tests DISCOVERY_TIMEOUT 30 TEST_FILTER "ShardingTest.*"
                     TEST_LIST ezone_slurm_sharding_TESTS
                     PROPERTIES LABELS slurm TIMEOUT 120)
# A campaign's two nodes run their checks at once on this machine.
ezone_discovered_test_properties(ezone_slurm_campaign_TESTS RESOURCE_GROUPS cpu:200)
ezone_discovered_test_properties(ezone_slurm_sharding_TESTS RESOURCE_GROUPS cpu:100)

add_test(NAME slurm_cluster_start
         COMMAND ${PROJECT_SOURCE_DIR}/scripts/start-slurm ${EZONE_SLURM_CLUSTER_DIR} --nodes 2)
set_tests_properties(slurm_cluster_start PROPERTIES FIXTURES_SETUP slurm_cluster
                     LABELS "slurm" TIMEOUT 90 SKIP_RETURN_CODE 77 RESOURCE_LOCK slurm_cluster)
add_test(NAME slurm_cluster_stop
         COMMAND ${PROJECT_SOURCE_DIR}/scripts/start-slurm ${EZONE_SLURM_CLUSTER_DIR} --stop)
set_tests_properties(slurm_cluster_stop PROPERTIES FIXTURES_CLEANUP slurm_cluster
                     LABELS "slurm" TIMEOUT 60 RESOURCE_LOCK slurm_cluster)
