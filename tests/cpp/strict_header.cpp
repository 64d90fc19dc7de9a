// Compiled with strict warnings as errors (CMakeLists.txt): a plugin that builds its tests with -Werror must
// be able to include the checker. Instantiates check_golden for float and double models.
#include <rtneural_verifier/golden.hpp>

namespace {

template <typename T>
struct Identity {
    T out[4]{};
    void reset() {}
    void forward(const T* in) {
        for (int i = 0; i < 4; ++i) out[i] = in[i];
    }
    const T* getOutputs() const { return out; }
};

}  // namespace

bool strict_header_instantiations() {
    Identity<float> f;
    Identity<double> d;
    return rtv::check_golden(f, "missing").passed || rtv::check_golden(d, "missing").passed;
}
