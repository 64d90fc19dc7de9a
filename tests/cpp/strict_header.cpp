// Compiled with strict warnings as errors (CMakeLists.txt): a plugin that builds its tests with -Werror must
// be able to include the checker. Instantiates check_golden, time_latency and write_latency_json for float and double models.
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
    const bool timed = rtv::write_latency_json(rtv::time_latency(f, 4), "missing/f.json", "f", "") ||
                       rtv::write_latency_json(rtv::time_latency(d, 4), "missing/d.json", "d", "");
    return rtv::check_golden(f, "missing").passed || rtv::check_golden(d, "missing").passed || timed;
}
