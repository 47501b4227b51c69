# Writes version.cpp with the commit the binary is built from, at every build (not only when
# CMake configures), with "-dirty" when tracked files differ from that commit. configure_file
# rewrites the file only when its text changes, so an unchanged tree recompiles nothing.
# Inputs: SOURCE_DIR, INPUT, OUTPUT, PROJECT_VERSION.
execute_process(COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY ${SOURCE_DIR}
  OUTPUT_VARIABLE TOCSIN_REVISION OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT TOCSIN_REVISION)
  set(TOCSIN_REVISION "unknown")
else()
  execute_process(COMMAND git status --porcelain --untracked-files=no
    WORKING_DIRECTORY ${SOURCE_DIR}
    OUTPUT_VARIABLE changes OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(changes)
    string(APPEND TOCSIN_REVISION "-dirty")
  endif()
endif()
# The day of the build in UTC, ISO 8601; CMake takes SOURCE_DATE_EPOCH when it is set, so a
# reproducible build (Debian's) gets the same date every time.
string(TIMESTAMP TOCSIN_BUILD_DATE "%Y-%m-%d" UTC)
configure_file(${INPUT} ${OUTPUT} @ONLY)
