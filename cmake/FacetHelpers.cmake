# facet_module(NAME n SRCS ... DEPS ... PRIVATE_DEPS ...)
# One library target per module folder, exported as facet::<name>.
function(facet_module)
  cmake_parse_arguments(M "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(facet_${M_NAME} STATIC ${M_SRCS})
  add_library(facet::${M_NAME} ALIAS facet_${M_NAME})
  target_include_directories(facet_${M_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(facet_${M_NAME} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
endfunction()

# facet_test(name DEPS ... [LABELS ...]): one gtest binary from name.cc.
function(facet_test NAME)
  cmake_parse_arguments(T "" "" "DEPS;LABELS" ${ARGN})
  add_executable(${NAME} ${NAME}.cc)
  target_link_libraries(${NAME} PRIVATE ${T_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  gtest_discover_tests(${NAME} PROPERTIES LABELS "${T_LABELS}" DISCOVERY_TIMEOUT 60)
endfunction()

# facet_benchmark(name DEPS ...): a Google Benchmark binary from name.cc.
function(facet_benchmark NAME)
  cmake_parse_arguments(B "" "" "DEPS" ${ARGN})
  if(FACET_BUILD_BENCHMARKS)
    add_executable(${NAME} ${NAME}.cc)
    target_link_libraries(${NAME} PRIVATE ${B_DEPS} benchmark::benchmark benchmark::benchmark_main)
  endif()
endfunction()
