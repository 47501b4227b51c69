# What keeps a full build within its budget (docs/development.md, "Build presets"): ccache for
# rebuilds, and two precompiled headers for the third-party headers that every translation
# unit otherwise parses again (the standard library, fmt, spdlog, nlohmann/json, yaml-cpp,
# prometheus-cpp; for the tests also GoogleTest and gMock).
#
# One PCH serves all libraries and one all test binaries (REUSE_FROM): a PCH is only valid with
# the compile options it was built with, and these are the same across each group (only
# macros that no precompiled header reads differ, such as TOCSIN_PROVIDER_SIM or
# USE_OS_TZDB). CMake adds -Winvalid-pch, so with warnings as errors a mismatch fails the build
# instead of silently parsing the headers again.
#
# Headers with configuration macros that differ between targets (date/tz.h: USE_OS_TZDB;
# Boost.URL) and the heavy Asio/Beast headers stay out: Beast belongs to one file only.

# Measured (docs/development.md, "Precompiled headers"): clang reads a PCH lazily and gains on
# most files; GCC loads its PCH whole (145 MB for the libraries', 178 MB with GoogleTest, at
# -O2 -g1), about 2 to 2.6 CPU-s per translation unit before its first own line, which is
# more than the parsing it saves a test file and about what it saves a library file. So the
# default is on for clang (the `asan` and `fuzz` presets) and off for GCC (`default`).
# Off for now for clang too: the whole asan tree failed with it ("POSIX thread support was
# disabled in PCH file but is currently enabled": the shared PCH is built without the -pthread
# that most targets get through spdlog/prometheus-cpp), which the sample measurement did not
# build. Turn it on with -DTOCSIN_PCH=ON once the PCH targets carry the same flags.
set(tocsin_pch_default OFF)
option(TOCSIN_PCH "Precompile the common third-party headers (libraries and tests)"
  ${tocsin_pch_default})

# ccache, when installed, makes rebuilds (and builds of other checkouts) cheap. With
# precompiled headers ccache can only cache when told that __TIME__ and the macros defined
# before the PCH do not matter (sloppiness pch_defines,time_macros; the PCH itself is part of
# the hash), and GCC must keep the PCH reference in its preprocessed output
# (-fpch-preprocess). The sloppiness is set here, for this build only, on top of whatever the
# user's ccache.conf says; no ccache.conf is edited.
find_program(TOCSIN_CCACHE ccache)
if(TOCSIN_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  if(TOCSIN_PCH)
    execute_process(COMMAND ${TOCSIN_CCACHE} --get-config sloppiness
      OUTPUT_VARIABLE tocsin_sloppiness OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    string(REPLACE " " "" tocsin_sloppiness "${tocsin_sloppiness}")
    string(REPLACE "," ";" tocsin_sloppiness "${tocsin_sloppiness}")
    list(APPEND tocsin_sloppiness pch_defines time_macros)
    list(REMOVE_DUPLICATES tocsin_sloppiness)
    list(REMOVE_ITEM tocsin_sloppiness "")
    string(REPLACE ";" "," tocsin_sloppiness "${tocsin_sloppiness}")
    set(CMAKE_CXX_COMPILER_LAUNCHER
      ${CMAKE_COMMAND} -E env CCACHE_SLOPPINESS=${tocsin_sloppiness} ${TOCSIN_CCACHE})
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      add_compile_options(-fpch-preprocess)
    endif()
  else()
    set(CMAKE_CXX_COMPILER_LAUNCHER ${TOCSIN_CCACHE})
  endif()
endif()

set(TOCSIN_PCH_HEADERS
  <algorithm> <atomic> <chrono> <cstdint> <filesystem> <fstream> <functional> <map> <memory>
  <mutex> <optional> <set> <sstream> <string> <string_view> <thread> <utility> <vector>
  <fmt/format.h> <spdlog/spdlog.h> <nlohmann/json.hpp> <tl/expected.hpp> <yaml-cpp/yaml.h>
  <prometheus/counter.h> <prometheus/gauge.h> <prometheus/registry.h>)
set(TOCSIN_TEST_PCH_HEADERS ${TOCSIN_PCH_HEADERS} <gmock/gmock.h> <gtest/gtest.h>)

# tocsin_pch_owner(<name> <headers>...): an object library that only builds the PCH that other
# targets reuse, with the usage requirements (macros, include directories) they all share.
# Its name does not start with tocsin_: it is no module (scripts/check-module-graph).
function(tocsin_pch_owner name)
  set(source ${CMAKE_CURRENT_BINARY_DIR}/${name}.cpp)
  if(NOT EXISTS ${source})
    file(WRITE ${source}
      "// The owner of a shared precompiled header (cmake/TocsinBuildSpeed.cmake).\n")
  endif()
  add_library(${name} OBJECT ${source})
  target_link_libraries(${name} PRIVATE tocsin_warnings tl::expected spdlog::spdlog fmt::fmt
    date::date nlohmann_json::nlohmann_json prometheus-cpp::core yaml-cpp)
  target_precompile_headers(${name} PRIVATE ${ARGN})
endfunction()

# tocsin_use_pch(<owner> <target>...): compile the targets with the owner's PCH.
function(tocsin_use_pch owner)
  if(NOT TARGET ${owner})
    return()
  endif()
  foreach(target IN LISTS ARGN)
    if(TARGET ${target})
      target_precompile_headers(${target} REUSE_FROM ${owner})
    endif()
  endforeach()
endfunction()

if(TOCSIN_PCH)
  tocsin_pch_owner(pch_libraries ${TOCSIN_PCH_HEADERS})
  if(TOCSIN_BUILD_TESTS)
    find_package(GTest REQUIRED)
    tocsin_pch_owner(pch_tests ${TOCSIN_TEST_PCH_HEADERS})
    target_link_libraries(pch_tests PRIVATE GTest::gtest GTest::gmock)
  endif()
endif()
