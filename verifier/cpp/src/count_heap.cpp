// The one translation unit that replaces operator new/delete with counting versions; compiled into a test
// program by linking the CMake target rtneural_verifier::heap_counter (see count_heap.hpp).
#include <rtneural_verifier/count_heap.hpp>
