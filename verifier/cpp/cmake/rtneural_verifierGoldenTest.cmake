# rtv_add_golden_test: a golden check as a CTest test (included by rtneural_verifierConfig.cmake).
#
#   rtv_add_golden_test(NAME <test name>
#                       COMMAND <program or target> [<argument>...]
#                       BUNDLE <bundle directory>
#                       [MODEL <model file>]
#                       [WORKING_DIRECTORY <directory>] [TIMEOUT <seconds>] [LABELS <label>...])
#
# The test runs COMMAND with the bundle directory (absolute) appended, then the model file when MODEL is
# given: the program loads the model, calls rtv::check_golden and exits 0 when the result passed, non-zero
# otherwise (printing its message). Relative BUNDLE and MODEL paths are taken from the current source
# directory. The test carries the label `golden` and requires <bundle>/index.txt (and the model file), so a
# bundle that was never written shows as "Required file missing" instead of a run that cannot pass.

function(rtv_add_golden_test)
  cmake_parse_arguments(PARSE_ARGV 0 _rtv "" "NAME;BUNDLE;MODEL;WORKING_DIRECTORY;TIMEOUT" "COMMAND;LABELS")
  if(_rtv_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "rtv_add_golden_test: unknown arguments: ${_rtv_UNPARSED_ARGUMENTS}")
  endif()
  foreach(_rtv_key NAME COMMAND BUNDLE)
    if(NOT _rtv_${_rtv_key})
      message(FATAL_ERROR "rtv_add_golden_test: ${_rtv_key} is required")
    endif()
  endforeach()

  get_filename_component(_rtv_bundle "${_rtv_BUNDLE}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  set(_rtv_command ${_rtv_COMMAND} "${_rtv_bundle}")
  set(_rtv_required "${_rtv_bundle}/index.txt")
  if(_rtv_MODEL)
    get_filename_component(_rtv_model "${_rtv_MODEL}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND _rtv_command "${_rtv_model}")
    list(APPEND _rtv_required "${_rtv_model}")
  endif()

  if(_rtv_WORKING_DIRECTORY)
    add_test(NAME "${_rtv_NAME}" COMMAND ${_rtv_command} WORKING_DIRECTORY "${_rtv_WORKING_DIRECTORY}")
  else()
    add_test(NAME "${_rtv_NAME}" COMMAND ${_rtv_command})
  endif()
  set_tests_properties("${_rtv_NAME}" PROPERTIES REQUIRED_FILES "${_rtv_required}" LABELS "golden;${_rtv_LABELS}")
  if(_rtv_TIMEOUT)
    set_tests_properties("${_rtv_NAME}" PROPERTIES TIMEOUT "${_rtv_TIMEOUT}")
  endif()
endfunction()
