// What a float32 engine makes of a double of the file (verifier/format/reader/float32.py holds the same
// three bounds): round-to-nearest-even turns a magnitude at or beyond FLT_MAX plus half its ulp into inf, one
// below FLT_MIN less half a subnormal ulp into a subnormal, and one at or below 2^-150 into zero. Each bound
// is exact as a double; comparing with it avoids converting an out-of-range double to float (undefined
// behaviour in C++).
#pragma once

#include <cmath>

namespace rtv::float32_range {

inline constexpr double kOverflowAt = 0x1.ffffffp+127;
inline constexpr double kZeroAtOrBelow = 0x1p-150;
inline constexpr double kSubnormalBelow = 0x1.fffffep-127;

inline bool overflows(double x) { return std::fabs(x) >= kOverflowAt; }
inline bool underflows(double x) { return x != 0 && std::fabs(x) < kSubnormalBelow; }

}  // namespace rtv::float32_range
