# Version of rtneural-verifier's C++ golden checker for find_package(rtneural_verifier <version> CONFIG).
#
# The version is read from the Python package this directory ships in (verifier/__init__.py, the one place it
# is written; pyproject.toml reads the same line), so the two cannot differ.
#
# Compatible: a requested version <= this one with the same major number, and while the major number is 0
# the same minor number too (before 1.0 a minor release may change the API). A version range
# (find_package(rtneural_verifier 0.1...0.3)) is honoured as CMake defines it. The checker is header-only:
# any architecture fits.

set(_rtv_init "${CMAKE_CURRENT_LIST_DIR}/../../__init__.py")
set(_rtv_line "")
if(EXISTS "${_rtv_init}")
  file(STRINGS "${_rtv_init}" _rtv_line REGEX "^__version__[ \t]*=[ \t]*[\"'][^\"']+[\"']" LIMIT_COUNT 1)
endif()
# A PEP 440 suffix (0.2.0rc1, 0.2.0.dev3) is left out: CMake compares numeric components only.
string(REGEX MATCH "[0-9]+(\\.[0-9]+)*" PACKAGE_VERSION "${_rtv_line}")

if(PACKAGE_VERSION STREQUAL "")
  set(PACKAGE_VERSION "0")
  set(PACKAGE_VERSION_UNSUITABLE TRUE)
  message(WARNING "rtneural_verifier: no __version__ line in ${_rtv_init}; this copy of the package is damaged")
elseif(PACKAGE_FIND_VERSION_RANGE)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
  if(PACKAGE_VERSION VERSION_GREATER_EQUAL PACKAGE_FIND_VERSION_MIN
     AND ((PACKAGE_FIND_VERSION_RANGE_MAX STREQUAL "INCLUDE" AND PACKAGE_VERSION VERSION_LESS_EQUAL PACKAGE_FIND_VERSION_MAX)
          OR (PACKAGE_FIND_VERSION_RANGE_MAX STREQUAL "EXCLUDE" AND PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION_MAX)))
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
elseif(NOT DEFINED PACKAGE_FIND_VERSION OR PACKAGE_FIND_VERSION STREQUAL "")
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
else()
  string(REGEX MATCHALL "[0-9]+" _rtv_have "${PACKAGE_VERSION}")
  list(APPEND _rtv_have 0 0)
  list(GET _rtv_have 0 _rtv_major)
  list(GET _rtv_have 1 _rtv_minor)
  set(_rtv_want_minor "${PACKAGE_FIND_VERSION_MINOR}")
  if(_rtv_want_minor STREQUAL "")
    set(_rtv_want_minor 0)
  endif()
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
  if(PACKAGE_FIND_VERSION VERSION_LESS_EQUAL PACKAGE_VERSION AND PACKAGE_FIND_VERSION_MAJOR EQUAL _rtv_major
     AND (NOT _rtv_major EQUAL 0 OR _rtv_want_minor EQUAL _rtv_minor))
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
  if(PACKAGE_FIND_VERSION VERSION_EQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()

unset(_rtv_init)
unset(_rtv_line)
unset(_rtv_have)
unset(_rtv_major)
unset(_rtv_minor)
unset(_rtv_want_minor)
