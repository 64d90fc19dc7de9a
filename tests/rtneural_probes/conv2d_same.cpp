// conv2d_same F K S X_1..X_F W_1..W_K: one frame of F features through RTNeural's own dynamic Conv2D (one
// channel in and out, kernel 1 along time, K along features, stride S, "same" padding, bias 0), compiled
// against the headers of RTNEURAL_DIR. Prints the ceil(F / S) outputs, one per line.
//
// Built with AddressSanitizer by tests/test_same_padding_asan.py: the input and every buffer RTNeural holds
// are heap blocks of their exact size, so any index outside the frame is reported instead of read quietly.
// RTNeural's STL headers use std::array and std::max without including them.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "RTNeural/conv2d/conv2d.h"
#include "RTNeural/conv2d/conv2d.tpp"  // the STL build's definitions; empty for Eigen and xsimd

int main(int argc, char** argv) {
    if (argc < 4) return 2;
    const int features = std::atoi(argv[1]), kernel = std::atoi(argv[2]), stride = std::atoi(argv[3]);
    if (features < 1 || kernel < 1 || stride < 1 || argc != 4 + features + kernel) return 2;
    std::vector<float> frame(static_cast<std::size_t>(features));
    for (int f = 0; f < features; ++f) frame[f] = std::strtof(argv[4 + f], nullptr);
    // RTNeural's setWeights takes [time][filter out][filter in][feature].
    std::vector<std::vector<std::vector<std::vector<float>>>> weights(
        1, std::vector<std::vector<std::vector<float>>>(1, std::vector<std::vector<float>>(1, std::vector<float>(kernel))));
    for (int k = 0; k < kernel; ++k) weights[0][0][0][k] = std::strtof(argv[4 + features + k], nullptr);

    RTNeural::Conv2D<float> conv(1, 1, features, 1, kernel, 1, stride, false);
    conv.setWeights(weights);
    conv.setBias({0.0f});
    conv.reset();
    std::vector<float> out(static_cast<std::size_t>(conv.out_size));
    conv.forward(frame.data(), out.data());
    for (float v : out) std::printf("%.9g\n", static_cast<double>(v));
    return 0;
}
