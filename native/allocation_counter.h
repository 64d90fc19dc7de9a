// How many times code in this module has called operator new (any form) since it was loaded.
//
// A test hook, not a feature: tests/test_no_allocation.py reads it around forward/run/reset calls to show
// that a step never allocates. The count is process-lifetime and only grows; callers compare differences.
#pragma once

#include <cstdint>

namespace rtv {

std::uint64_t allocation_count() noexcept;

}  // namespace rtv
