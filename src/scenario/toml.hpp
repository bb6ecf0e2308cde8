#pragma once
// toml++ for the scenario layer: header-only, no exceptions (CMakeLists.txt).
//
// toml++ 3.3 states facts about its input with TOML_ASSERT_ASSUME: an assert in
// debug builds, __builtin_assume under clang in release. Malformed input breaks
// some of them ("[[[" reaches parse_key() at a '['), which aborts a debug build and
// is undefined behaviour in a clang release build. The parser checks the same
// conditions again as ordinary parse errors, so both macros become no-ops here
// (what a GCC release build of toml++ does anyway).
#include <toml++/impl/preprocessor.h>  // #pragma once: toml.h will not redefine these
#undef TOML_ASSERT
#define TOML_ASSERT(expr) static_assert(true)
#undef TOML_ASSERT_ASSUME
#define TOML_ASSERT_ASSUME(expr) static_assert(true)
#include <toml++/toml.h>
