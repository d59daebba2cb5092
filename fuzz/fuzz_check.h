// FUZZ_CHECK(cond): an invariant of the code under fuzzing. When it fails the
// input is a finding: print what failed and abort, so that libFuzzer keeps
// the input as a crash file.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
