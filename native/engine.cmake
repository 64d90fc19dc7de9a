# What every build of the engine shares: the Python-free core (reader, loader, kernels; the pybind11 module
# and the C++ self-test in selftest/ both compile it) and the one set of compile options for it.
set(RTV_ENGINE_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/json_reader.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loader.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels.cpp)

# The default build must run on any machine of its architecture: no -march=native. On x86-64 with GCC or
# Clang, wider vector units are used by run-time dispatch inside kernels.cpp (x86-64-v4 / v3 / baseline,
# chosen when the module loads); elsewhere one portable level (native/simd.h). No fused multiply-add
# anywhere, so that every level and every platform computes the same numbers and sums stay in the order
# the maths is written: -ffp-contract=off (Clang contracts by default, GCC does outside ISO mode), and
# MSVC's /fp:precise (which does not contract unless /fp:contract is given).
function(rtv_engine_options target)
  target_compile_features(${target} PRIVATE cxx_std_17)
  target_include_directories(${target} PRIVATE ${RTV_ENGINE_DIR})
  target_compile_options(${target} PRIVATE
    $<$<CXX_COMPILER_ID:GNU,Clang,AppleClang>:-O3 -Wall -Wextra -fno-math-errno -ffp-contract=off>
    $<$<CXX_COMPILER_ID:MSVC>:/O2 /W4 /fp:precise /permissive->)
endfunction()
set(RTV_ENGINE_DIR ${CMAKE_CURRENT_LIST_DIR})

# kernels.cpp passes vectors only between always-inlined functions of one level; the compilers' note that
# such a vector's calling convention differs between levels does not apply.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/kernels.cpp PROPERTIES
  COMPILE_OPTIONS "$<$<CXX_COMPILER_ID:GNU,Clang,AppleClang>:-Wno-psabi>")
