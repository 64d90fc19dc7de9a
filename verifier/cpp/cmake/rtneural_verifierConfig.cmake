# CMake package of rtneural-verifier's C++ golden checker (header-only, C++17, standard library only).
#
#   find_package(rtneural_verifier 0.1 CONFIG REQUIRED)   # with -Drtneural_verifier_DIR=$(python -m verifier.cpp --cmakedir)
#   target_link_libraries(my_model_tests PRIVATE rtneural_verifier::golden)
#   target_link_libraries(my_model_tests PRIVATE rtneural_verifier::heap_counter)  # opt-in heap counting
#   rtv_add_golden_test(NAME emotion_golden COMMAND my_model_tests BUNDLE golden/EmotionRecognizer)
#
# This directory sits inside the installed Python package (verifier/cpp/cmake), next to ../include; the
# version (rtneural_verifierConfigVersion.cmake) is read from the package's __init__.py.

get_filename_component(_rtv_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

if(NOT TARGET rtneural_verifier::golden)
  add_library(rtneural_verifier::golden INTERFACE IMPORTED)
  set_target_properties(rtneural_verifier::golden PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_rtv_root}/include"
    INTERFACE_COMPILE_FEATURES cxx_std_17)
endif()

# Replaces the program's global operator new/delete with counting versions (one source file compiled into
# the target that links this). Link it into a test executable only, never into a plugin.
if(NOT TARGET rtneural_verifier::heap_counter)
  add_library(rtneural_verifier::heap_counter INTERFACE IMPORTED)
  set_target_properties(rtneural_verifier::heap_counter PROPERTIES
    INTERFACE_SOURCES "${_rtv_root}/src/count_heap.cpp"
    INTERFACE_LINK_LIBRARIES rtneural_verifier::golden)
endif()

include("${CMAKE_CURRENT_LIST_DIR}/rtneural_verifierGoldenTest.cmake")

set(rtneural_verifier_INCLUDE_DIR "${_rtv_root}/include")
unset(_rtv_root)
