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
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  set(tocsin_pch_default ON)
else()
  set(tocsin_pch_default OFF)
endif()
option(TOCSIN_PCH "Precompile the common third-party headers (libraries and tests)"
  ${tocsin_pch_default})
if(TOCSIN_PCH)
  # With a PCH, -pthread for every file, not only for those whose dependencies ask for it
  # (RE2's pkg-config flags): a PCH must be built with the thread setting of every file that
  # uses it, which clang checks ("POSIX thread support was disabled in PCH file but is
  # currently enabled"). The program is threaded throughout. (Only with a PCH, so that the
  # GCC tree's compile commands, and so everyone's ccache entries, stay as they were.)
  add_compile_options(-pthread)
  add_link_options(-pthread)
endif()

# The test programs' own sources (tests/*/): extra compile options, after the build type's
# (the last -O wins). The presets compile them at -O0: a test file spends most of
# its compile time optimising its own code (GoogleTest's macros expand to much of it), which
# -O2 buys nothing for; the code under test, the libraries, stays at the build type's level.
set(TOCSIN_TEST_CXX_FLAGS "" CACHE STRING
  "Extra compile options for the test programs' own sources (e.g. -O1)")

# Programs whose speed nobody waits for, linked into neither the daemon nor a benchmark (the
# test fakes, the HA tests' cluster helper): extra compile options after the build type's, as
# for the tests. The `default` preset compiles them at -O1, about a third less CPU than -O2
# (docs/development.md, "Build presets"). Nothing linked into `tocsin` or a benchmark may be
# listed, not even code that is cold itself (the CLI, reports): an -O1 object can supply the
# one out-of-line copy of a shared template (Asio's scheduler, nlohmann/json, the standard
# library) that the whole program then calls. Empty in the clang presets: with a PCH, every
# user of it must share its -O level, so the flags are left out there.
set(TOCSIN_COLD_CXX_FLAGS "" CACHE STRING
  "Extra compile options for the test fakes and helpers no benchmark links (e.g. -O1)")
function(tocsin_cold_code)
  separate_arguments(flags UNIX_COMMAND "${TOCSIN_COLD_CXX_FLAGS}")
  if(NOT flags)
    return()
  endif()
  if(TOCSIN_PCH)
    message(WARNING "TOCSIN_COLD_CXX_FLAGS is left out with TOCSIN_PCH=ON "
      "(a precompiled header fixes one -O level for every file that uses it)")
    return()
  endif()
  foreach(target IN LISTS ARGN)
    if(TARGET ${target})
      target_compile_options(${target} PRIVATE ${flags})
    endif()
  endforeach()
endfunction()

# Unity builds of the test programs: a test file's own code is small beside the headers it
# parses (GoogleTest, gMock, nlohmann/json, spdlog: 4.0 CPU-s at -O1 with GCC for a file that
# holds one empty test), so each test program compiles its sources in batches of
# TOCSIN_UNITY_BATCH. Files in one batch share a translation unit: two helpers of one name in
# anonymous namespaces of one program collide ("redefinition of ..."); give one of them a more
# specific name, or put the file's helpers in a namespace named after the file (as
# api/twilio_inbound_test.cpp does), or, last, list the file in TOCSIN_UNITY_SKIP (paths below
# tests/) to compile it alone (or the program in TOCSIN_UNITY_OFF): each costs a few CPU-s.
# For a tight edit-compile loop on one test file, configure with -DTOCSIN_UNITY_TESTS=OFF.
option(TOCSIN_UNITY_TESTS "Compile each test program's sources in unity batches" ON)
set(TOCSIN_UNITY_BATCH 16 CACHE STRING "Test sources per unity translation unit")
set(TOCSIN_UNITY_SKIP)
# Test programs compiled file by file.
set(TOCSIN_UNITY_OFF)

# Unity builds of the libraries: a library file, like a test file, mostly parses the same
# headers (nlohmann/json, spdlog, fmt, the standard library, tocsin's own), so each module
# compiles its sources in batches of TOCSIN_UNITY_LIB_BATCH (measured, docs/development.md:
# tocsin_incident 131 CPU-s as 13 files, 56 CPU-s as two batches). The same rules as for the
# tests: two helpers of one name in anonymous namespaces of one module collide; rename one,
# or list its file in TOCSIN_UNITY_LIB_SKIP. For a tight edit-compile loop on one library
# file, a build directory of your own with -DTOCSIN_UNITY_LIBS=OFF recompiles only that file.
# On in the `default` and `asan` presets.
option(TOCSIN_UNITY_LIBS "Compile each library's sources in unity batches" OFF)
set(TOCSIN_UNITY_LIB_BATCH 16 CACHE STRING "Library sources per unity translation unit")
# Libraries compiled file by file even with TOCSIN_UNITY_LIBS.
set(TOCSIN_UNITY_LIBS_OFF)
# Library files compiled alone (paths below src/).
set(TOCSIN_UNITY_LIB_SKIP
  http/server.cpp  # Beast's one file; its Impl holds anonymous-namespace types (-Wsubobject-linkage)
)

# tocsin_library_build_speed(<target>...): the unity batches above, for targets that do not
# set UNITY_BUILD themselves (tocsin_app and tocsin compile as one file already).
function(tocsin_library_build_speed)
  if(NOT TOCSIN_UNITY_LIBS)
    return()
  endif()
  foreach(target IN LISTS ARGN)
    if(NOT TARGET ${target} OR target IN_LIST TOCSIN_UNITY_LIBS_OFF)
      continue()
    endif()
    get_target_property(unity ${target} UNITY_BUILD)
    if(unity)
      continue()
    endif()
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON
      UNITY_BUILD_BATCH_SIZE ${TOCSIN_UNITY_LIB_BATCH})
    get_target_property(dir ${target} SOURCE_DIR)
    get_target_property(sources ${target} SOURCES)
    foreach(source IN LISTS sources)
      get_filename_component(absolute ${source} ABSOLUTE BASE_DIR ${dir})
      file(RELATIVE_PATH path ${TOCSIN_SOURCE_DIR}/src ${absolute})
      if(path IN_LIST TOCSIN_UNITY_LIB_SKIP)
        set_source_files_properties(${absolute} DIRECTORY ${dir}
          PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
      endif()
    endforeach()
  endforeach()
endfunction()

# tocsin_test_build_speed(<target>): the test-program settings above, and the tests' PCH.
# Called in the directory that defines the target (source properties are per directory).
function(tocsin_test_build_speed target)
  separate_arguments(flags UNIX_COMMAND "${TOCSIN_TEST_CXX_FLAGS}")
  target_compile_options(${target} PRIVATE ${flags})
  if(TOCSIN_UNITY_TESTS AND NOT target IN_LIST TOCSIN_UNITY_OFF)
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON
      UNITY_BUILD_BATCH_SIZE ${TOCSIN_UNITY_BATCH})
    get_target_property(sources ${target} SOURCES)
    foreach(source IN LISTS sources)
      get_filename_component(path ${source} ABSOLUTE)
      file(RELATIVE_PATH path ${TOCSIN_SOURCE_DIR}/tests ${path})
      if(path IN_LIST TOCSIN_UNITY_SKIP)
        set_source_files_properties(${source} PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
      endif()
    endforeach()
  endif()
  tocsin_use_pch(pch_tests ${target})
endfunction()

# lld links in a fraction of the time of GNU ld (tocsin: 0.8 CPU-s against 2.8), and about 30
# test programs link most of the libraries too; used when the compiler accepts it.
option(TOCSIN_LLD "Link with lld when it is installed" ON)
if(TOCSIN_LLD)
  include(CheckLinkerFlag)
  check_linker_flag(CXX -fuse-ld=lld TOCSIN_HAVE_LLD)
  if(TOCSIN_HAVE_LLD)
    add_link_options(-fuse-ld=lld)
  endif()
endif()

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
    # Built with the test sources' options: clang rejects a PCH built at another -O level.
    separate_arguments(tocsin_test_flags UNIX_COMMAND "${TOCSIN_TEST_CXX_FLAGS}")
    target_compile_options(pch_tests PRIVATE ${tocsin_test_flags})
  endif()
endif()
