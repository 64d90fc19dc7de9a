// rtneural_verifier/golden.hpp: checks a model running in C++ against a golden bundle written by
// `verify --save-golden DIR model.json` (the format: docs/golden.md in rtneural-verifier).
//
// Header-only, C++17, standard library only (plus POSIX open/fstat where there are some, to read regular
// files only; see RTV_GOLDEN_POSIX_IO). One call:
//
//   #include <rtneural_verifier/golden.hpp>
//   auto result = rtv::check_golden(model, "golden/EmotionRecognizer");
//   if (!result.passed) { std::cerr << result.message << "\n"; return 1; }
//
// `model` is anything with reset(), forward(const T*) and getOutputs() returning const T* (T = float or
// double): RTNeural's dynamic Model<T> and its compile-time ModelT<T, ...> both fit, as does an adapter
// over another engine (a model that also has getInSize()/getOutSize() has its widths checked first).
// For every case of the bundle it runs both call patterns the bundle holds:
//   frame:  reset() before every forward(), i.e. every step from zero state (PyTorch's one-step call);
//   stream: reset() once, then forward() step after step with the state carried (RTNeural's usage);
// and compares every output element with |actual - expected| <= atol + rtol * |expected|, using the
// bundle's tolerance for the model's type. It also times every forward() (steady_clock; p50/p99) and,
// when count_heap.hpp is compiled into the program, counts operator new calls made while it runs.
// To time the model as the plugin builds it and feed the figure back to `verify --plugin-latency`, see
// latency.hpp (included here): rtv::time_latency and rtv::write_latency_json.
// A bundle is untrusted input: check_golden never throws, and a bad bundle fails with a one-line message
// naming the file (and line) and the problem.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <limits>
#include <locale>
#include <map>
#include <memory>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

// Files are opened with POSIX calls where there are some (the file type is read from the open descriptor, and
// opening a FIFO never blocks); elsewhere with std::filesystem and std::ifstream. A build may set it to 0.
#if !defined(RTV_GOLDEN_POSIX_IO)
#if defined(__unix__) || defined(__APPLE__)
#define RTV_GOLDEN_POSIX_IO 1
#else
#define RTV_GOLDEN_POSIX_IO 0
#endif
#endif
#if RTV_GOLDEN_POSIX_IO
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#else
#include <filesystem>
#endif

#include "heap.hpp"
#include "latency.hpp"

namespace rtv {

// The bundle format version this header reads (index.txt `format_version`).
constexpr int kGoldenFormatVersion = 1;

// Byte budgets of reading a bundle. A bundle's numbers are held as doubles, up to 4 bytes of memory per byte
// read. The defaults are far above what `verify --save-golden` writes (256 steps of 1024 values is about 6 MB
// a file); raise them for longer cases.
struct GoldenLimits {
    std::uint64_t max_file_bytes = std::uint64_t{64} << 20;     // any one file of the bundle
    std::uint64_t max_bundle_bytes = std::uint64_t{256} << 20;  // all files read for one check together
};

struct GoldenOptions {
    // When set, the SHA-256 of this file must equal the bundle's model_sha256: the bundle was written from
    // exactly the model file the program loaded.
    std::string model_file;
    // Cases to run (names from the bundle's `cases`); empty runs them all.
    std::vector<std::string> cases;
    GoldenLimits limits;
};

struct GoldenResult {
    bool passed = false;
    std::string message;  // one line: the verdict and the worst element (pattern, case, step, output)

    double worst_abs_error = 0.0;  // largest |actual - expected| over every element compared
    // The element that decides the verdict: the largest |error| / (atol + rtol |expected|).
    std::string worst_pattern;  // "frame" | "stream"
    std::string worst_case;     // e.g. "random", "impulse"
    std::size_t worst_step = 0;
    std::size_t worst_output = 0;
    double worst_expected = 0.0;
    double worst_actual = 0.0;
    std::size_t failing_elements = 0;
    std::size_t elements = 0;  // elements compared

    std::string dtype;  // "float32" | "float64": the model's type, which picked the tolerance
    double atol = 0.0;
    double rtol = 0.0;
    std::string reference;  // the bundle's reference kind ("torch", "engine-float64")

    std::size_t forward_calls = 0;
    double forward_ns_p50 = 0.0;  // per forward() call, steady_clock, every call of both patterns
    double forward_ns_p99 = 0.0;

    bool heap_counted = false;        // count_heap.hpp is compiled in; the two figures below mean something
    std::uint64_t heap_bytes = 0;     // operator new bytes requested while the model ran (reset + forward)
    std::uint64_t heap_allocations = 0;
    // Growth of the C heap over the run (heap::malloc_in_use; needs no counter, glibc only): -1 unknown.
    std::int64_t heap_held = -1;
};

// An unreadable or malformed bundle. check_golden() catches it and returns a failed result whose message
// is this text; read_golden_bundle() throws it.
struct GoldenFormatError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

namespace golden_detail {

// Fixed bounds of the format itself (the bundle writer stays far inside them); the byte budgets a user may
// need to raise are GoldenLimits.
constexpr std::uint64_t kMaxIndexBytes = 1u << 20;
constexpr std::size_t kMaxNumberChars = 64;  // Python's repr of a double is at most 24 characters
constexpr std::size_t kMaxRowBytesPerValue = 80;  // a number, its separator and spaces around it
constexpr std::size_t kMaxNameChars = 64;    // a case name, the reference kind
constexpr std::size_t kMaxCases = 256;
constexpr std::size_t kMaxCountDigits = 18;  // a declared size below 10^18 cannot overflow 64-bit arithmetic
constexpr std::size_t kMaxQuoted = 40;       // bytes of a file's text quoted in a message (MAX_QUOTED)

// A value taken from a file, for a one-line message, in the form every message of rtneural-verifier uses
// (verifier/quoting.py): `'aaaa…' (5,000 bytes)` when long. Bytes that are not printable ASCII are shown as
// \xNN; the file is never decoded, so its size is in bytes.
inline std::string quote(const std::string& text) {
    std::string out = "'";
    for (std::size_t i = 0; i < text.size() && i < kMaxQuoted; ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte >= 0x20 && byte < 0x7f) {
            out += static_cast<char>(byte);
        } else {
            const char* hex = "0123456789abcdef";
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        }
    }
    if (text.size() <= kMaxQuoted) return out + "'";
    std::string size = std::to_string(text.size());
    for (auto i = static_cast<std::ptrdiff_t>(size.size()) - 3; i > 0; i -= 3)
        size.insert(static_cast<std::size_t>(i), ",");
    return out + "\u2026' (" + size + " bytes)";
}

inline std::string system_message(int code) { return std::generic_category().message(code); }

// A file opened for reading that is a regular file: a FIFO would block the reader, a device such as
// /dev/zero never ends, a directory is no bundle file. Symbolic links are followed (a Bazel runfiles tree is
// made of them) and their target must be a regular file. On POSIX the type is read from the open descriptor
// (no window between the check and the read), and opening never blocks (O_NONBLOCK: a FIFO without a
// writer would wait for one in open()).
class RegularFile {
public:
    explicit RegularFile(const std::string& path) : path_(path) {
#if RTV_GOLDEN_POSIX_IO
        fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd_ < 0) throw GoldenFormatError(path + ": cannot open (" + system_message(errno) + ")");
        struct stat info {};
        if (::fstat(fd_, &info) != 0) {
            const int code = errno;
            ::close(fd_);
            throw GoldenFormatError(path + ": cannot stat (" + system_message(code) + ")");
        }
        if (!S_ISREG(info.st_mode)) {
            ::close(fd_);
            throw GoldenFormatError(path + ": not a regular file (" + kind(info.st_mode) + ")");
        }
        size_ = static_cast<std::uint64_t>(info.st_size);
#else
        std::error_code code;
        const auto status = std::filesystem::status(path, code);
        if (code) throw GoldenFormatError(path + ": cannot open (" + code.message() + ")");
        if (!std::filesystem::is_regular_file(status)) throw GoldenFormatError(path + ": not a regular file");
        size_ = static_cast<std::uint64_t>(std::filesystem::file_size(path, code));
        if (code) throw GoldenFormatError(path + ": cannot stat (" + code.message() + ")");
        in_.open(path, std::ios::binary);
        if (!in_) throw GoldenFormatError(path + ": cannot open");
#endif
    }
    ~RegularFile() {
#if RTV_GOLDEN_POSIX_IO
        ::close(fd_);
#endif
    }
    RegularFile(const RegularFile&) = delete;
    RegularFile& operator=(const RegularFile&) = delete;

    std::uint64_t size() const noexcept { return size_; }

    // Up to `capacity` bytes into `buffer`; 0 at the end of the file.
    std::size_t read(char* buffer, std::size_t capacity) {
#if RTV_GOLDEN_POSIX_IO
        for (;;) {
            const auto got = ::read(fd_, buffer, capacity);
            if (got >= 0) return static_cast<std::size_t>(got);
            if (errno != EINTR) throw GoldenFormatError(path_ + ": cannot read (" + system_message(errno) + ")");
        }
#else
        in_.read(buffer, static_cast<std::streamsize>(capacity));
        if (in_.bad()) throw GoldenFormatError(path_ + ": cannot read");
        return static_cast<std::size_t>(in_.gcount());
#endif
    }

private:
#if RTV_GOLDEN_POSIX_IO
    static std::string kind(mode_t mode) {
        if (S_ISDIR(mode)) return "a directory";
        if (S_ISFIFO(mode)) return "a FIFO";
        if (S_ISCHR(mode)) return "a character device";
        if (S_ISBLK(mode)) return "a block device";
        if (S_ISSOCK(mode)) return "a socket";
        return "not a plain file";
    }
    int fd_ = -1;
#else
    std::ifstream in_;
#endif
    std::string path_;
    std::uint64_t size_ = 0;
};

// The whole of a regular file of at most `max_bytes` bytes (`limit` names that bound in a message); the cap
// also holds for a file that grows while it is read.
inline std::string read_file(const std::string& path, std::uint64_t max_bytes, const std::string& limit) {
    RegularFile file(path);
    const auto over = [&] {
        return GoldenFormatError(path + ": larger than " + std::to_string(max_bytes) + " bytes, " + limit);
    };
    if (file.size() > max_bytes) throw over();
    std::string text(static_cast<std::size_t>(file.size()) + 1, '\0');
    std::size_t used = 0;
    for (;;) {
        if (used == text.size()) {
            if (text.size() > max_bytes) throw over();
            text.resize(static_cast<std::size_t>(std::min<std::uint64_t>(max_bytes + 1, 2 * text.size())));
        }
        const std::size_t got = file.read(&text[used], text.size() - used);
        if (got == 0) break;
        used += got;
    }
    if (used > max_bytes) throw over();
    text.resize(used);
    return text;
}

// The byte budget of one read of a bundle (GoldenLimits): what every file read from it may still take.
class Budget {
public:
    Budget(std::uint64_t file_bytes, std::uint64_t bundle_bytes)
        : file_bytes_(file_bytes), bundle_bytes_(bundle_bytes), left_(bundle_bytes) {}

    std::string read(const std::string& path, std::uint64_t cap, const std::string& limit) {
        std::string text = cap <= left_ ? read_file(path, cap, limit)
                                        : read_file(path, left_,
                                                    "what is left of GoldenLimits::max_bundle_bytes (" +
                                                        std::to_string(bundle_bytes_) +
                                                        " bytes for all files of a bundle together)");
        left_ -= text.size();
        return text;
    }
    std::string read(const std::string& path) {
        return read(path, file_bytes_, "the limit of GoldenLimits::max_file_bytes");
    }

private:
    std::uint64_t file_bytes_;
    std::uint64_t bundle_bytes_;
    std::uint64_t left_;
};

inline std::string trim(const std::string& s) {
    const char* space = " \t\r\n";
    const auto first = s.find_first_not_of(space);
    if (first == std::string::npos) return {};
    return s.substr(first, s.find_last_not_of(space) - first + 1);
}

inline std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        const auto end = s.find(sep, start);
        parts.push_back(trim(s.substr(start, end == std::string::npos ? std::string::npos : end - start)));
        if (end == std::string::npos) return parts;
        start = end + 1;
    }
}

// The lines of a text, each with its 1-based number; '\n' ends a line (a '\r' before it is trimmed).
template <typename F>
void for_each_line(const std::string& text, F&& f) {
    std::size_t start = 0;
    for (std::size_t number = 1; start < text.size(); ++number) {
        auto end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        f(number, text.substr(start, end - start));
        start = end + 1;
    }
}

// Numbers are read in the "C" locale whatever the program's global locale is (a host may set one with a
// decimal comma). Only the characters of a decimal number are let through, so that the stream's own
// leniencies (hexadecimal, "inf", a locale's grouping) never decide what a bundle means.
class NumberReader {
public:
    NumberReader() { in_.imbue(std::locale::classic()); }

    bool parse(const std::string& token, double& value) {
        if (token.empty() || token.size() > kMaxNumberChars ||
            token.find_first_not_of("0123456789+-.eE") != std::string::npos)
            return false;
        in_.clear();
        in_.str(token);
        in_ >> value;
        if (in_.fail()) return false;
        in_ >> std::ws;
        return in_.eof() && std::isfinite(value);
    }

private:
    std::istringstream in_;
};

inline bool parse_double(const std::string& token, double& value) {
    NumberReader reader;
    return reader.parse(token, value);
}

// index.txt: key=value lines; '#' lines and blank lines are skipped; every key appears once.
inline std::map<std::string, std::string> parse_index(const std::string& text, const std::string& path) {
    std::map<std::string, std::string> index;
    std::map<std::string, std::size_t> line_of;
    for_each_line(text, [&](std::size_t number, const std::string& raw) {
        const std::string where = path + ":" + std::to_string(number);
        const std::string line = trim(raw);
        for (const char c : line)
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || static_cast<unsigned char>(c) >= 0x7f)
                throw GoldenFormatError(where + ": a byte that is not printable ASCII in " + quote(line));
        if (line.empty() || line[0] == '#') return;
        const auto eq = line.find('=');
        if (eq == std::string::npos) throw GoldenFormatError(where + ": expected key=value, found " + quote(line));
        const std::string key = trim(line.substr(0, eq));
        if (key.empty()) throw GoldenFormatError(where + ": a line without a key: " + quote(line));
        const auto [first, inserted] = line_of.emplace(key, number);
        if (!inserted)
            throw GoldenFormatError(where + ": key " + quote(key) + " appears again (first on line " +
                                    std::to_string(first->second) + ")");
        index[key] = trim(line.substr(eq + 1));
    });
    return index;
}

inline const std::string& require(const std::map<std::string, std::string>& index, const std::string& key,
                                  const std::string& path) {
    const auto it = index.find(key);
    if (it == index.end()) throw GoldenFormatError(path + ": missing key '" + key + "'");
    return it->second;
}

inline double require_number(const std::map<std::string, std::string>& index, const std::string& key,
                             const std::string& path) {
    const std::string& text = require(index, key, path);
    double value = 0.0;
    if (!parse_double(text, value) || value < 0)
        throw GoldenFormatError(path + ": '" + key + "' must be a finite number >= 0, found " + quote(text));
    return value;
}

// A count of rows or values: digits only, at least 1. How large it may be is decided by the files that
// must hold that many values (read_csv), not here.
inline std::size_t require_count(const std::map<std::string, std::string>& index, const std::string& key,
                                 const std::string& path) {
    const std::string& text = require(index, key, path);
    if (text.empty() || text.size() > kMaxCountDigits || text.find_first_not_of("0123456789") != std::string::npos ||
        text.find_first_not_of('0') == std::string::npos)
        throw GoldenFormatError(path + ": '" + key + "' must be a whole number >= 1 of at most " +
                                std::to_string(kMaxCountDigits) + " digits, found " + quote(text));
    const unsigned long long value = std::stoull(text);
    // A 32-bit size_t would wrap it to a small count that the files might then hold.
    if (value > std::numeric_limits<std::size_t>::max())
        throw GoldenFormatError(path + ": '" + key + "' is " + text + ", more than this platform can address");
    return static_cast<std::size_t>(value);
}

// A name that becomes part of a file name (a case) or of a message (the reference kind): letters, digits,
// '_' and '-', so that no name reaches outside the bundle directory ('/', "..") or breaks a message.
inline std::string require_name(const std::string& name, const std::string& what, const std::string& path) {
    const bool fits = !name.empty() && name.size() <= kMaxNameChars &&
                      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
                          std::string::npos;
    if (!fits)
        throw GoldenFormatError(path + ": " + what + " " + quote(name) + " is not 1 to " +
                                std::to_string(kMaxNameChars) + " letters, digits, '_' or '-'");
    return name;
}

// A [rows x columns] matrix: one line per step, comma-separated, no header; '#' lines are comments.
inline std::vector<double> read_csv(Budget& budget, const std::string& path, std::size_t rows, std::size_t columns,
                                    const std::string& declared) {
    const std::string text = budget.read(path);
    // Every value takes a character and a separator (the last one's newline may be missing): a file of N bytes
    // holds at most (N + 1) / 2 values. Declared sizes beyond that are refused before anything is allocated.
    const std::uint64_t room = (static_cast<std::uint64_t>(text.size()) + 1) / 2;
    if (columns > room || rows > room / columns)
        throw GoldenFormatError(path + ": " + declared + " declare " + std::to_string(rows) + " rows of " +
                                std::to_string(columns) + " values, more than its " + std::to_string(text.size()) +
                                " bytes can hold");
    std::vector<double> values;
    values.reserve(rows * columns);
    NumberReader numbers;
    std::size_t row = 0;
    for_each_line(text, [&](std::size_t number, const std::string& line) {
        const std::string content = trim(line);
        if (content.empty() || content[0] == '#') return;
        const std::string where = path + ":" + std::to_string(number);
        if ((content.size() - 1) / kMaxRowBytesPerValue >= columns)
            throw GoldenFormatError(where + ": a row of " + std::to_string(content.size()) + " bytes, more than " +
                                    std::to_string(kMaxRowBytesPerValue) + " bytes for each of its " +
                                    std::to_string(columns) + " values");
        if (row == rows)
            throw GoldenFormatError(where + ": a row beyond the " + std::to_string(rows) + " declared (" + declared +
                                    ")");
        // Counted before splitting: a line of a million commas must not become a million strings.
        const auto found = static_cast<std::size_t>(std::count(content.begin(), content.end(), ',')) + 1;
        if (found != columns)
            throw GoldenFormatError(where + ": expected " + std::to_string(columns) + " values, found " +
                                    std::to_string(found));
        const auto fields = split(content, ',');
        for (const auto& field : fields) {
            double value = 0.0;
            if (!numbers.parse(field, value))
                throw GoldenFormatError(where + ": " + quote(field) + " is not a finite number of at most " +
                                        std::to_string(kMaxNumberChars) + " characters");
            values.push_back(value);
        }
        ++row;
    });
    if (row != rows)
        throw GoldenFormatError(path + ": expected " + std::to_string(rows) + " rows, found " +
                                std::to_string(row));
    return values;
}

// SHA-256 (FIPS 180-4), to tie a bundle to the exact model file it was written from.
class Sha256 {
public:
    void update(const unsigned char* data, std::size_t size) {
        for (std::size_t i = 0; i < size; ++i) {
            block_[used_++] = data[i];
            if (used_ == 64) {
                compress();
                used_ = 0;
            }
        }
        length_ += size;
    }

    std::string hex() {
        const std::uint64_t bits = length_ * 8;
        const unsigned char one = 0x80, zero = 0x00;
        update(&one, 1);
        while (used_ != 56) update(&zero, 1);
        for (int i = 7; i >= 0; --i) {
            const unsigned char byte = static_cast<unsigned char>(bits >> (8 * i));
            update(&byte, 1);
        }
        std::ostringstream out;
        for (std::uint32_t word : state_) out << std::hex << std::setw(8) << std::setfill('0') << word;
        return out.str();
    }

private:
    static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

    void compress() {
        static constexpr std::array<std::uint32_t, 64> k = {
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
            0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
            0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
            0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
            0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
            0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
            0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
        std::array<std::uint32_t, 64> w{};
        for (std::size_t i = 0; i < 16; ++i)
            w[i] = (std::uint32_t(block_[4 * i]) << 24) | (std::uint32_t(block_[4 * i + 1]) << 16) |
                   (std::uint32_t(block_[4 * i + 2]) << 8) | std::uint32_t(block_[4 * i + 3]);
        for (std::size_t i = 16; i < 64; ++i) {
            const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        std::array<std::uint32_t, 8> v = state_;
        for (std::size_t i = 0; i < 64; ++i) {
            const std::uint32_t s1 = rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25);
            const std::uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
            const std::uint32_t t1 = v[7] + s1 + ch + k[i] + w[i];
            const std::uint32_t s0 = rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22);
            const std::uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            const std::uint32_t t2 = s0 + maj;
            v = {t1 + t2, v[0], v[1], v[2], v[3] + t1, v[4], v[5], v[6]};
        }
        for (std::size_t i = 0; i < 8; ++i) state_[i] += v[i];
    }

    std::array<std::uint32_t, 8> state_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                           0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::array<unsigned char, 64> block_{};
    std::size_t used_ = 0;
    std::uint64_t length_ = 0;
};

template <typename T>
constexpr const char* dtype_name() {
    return std::is_same<T, float>::value ? "float32" : "float64";
}

inline std::string format_number(double x) {
    std::ostringstream out;
    out.imbue(std::locale::classic());
    out << std::setprecision(9) << x;
    return out.str();
}

// Every sample is kept (preallocated before the run), so p99 is exact.
inline double percentile(std::vector<std::int64_t> samples, double q) {
    if (samples.empty()) return 0.0;
    const double rank = q * static_cast<double>(samples.size() - 1) + 0.5;  // nearest rank
    const std::size_t index = std::min(samples.size() - 1, static_cast<std::size_t>(rank));
    std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(index), samples.end());
    return static_cast<double>(samples[index]);
}

// The input of a step, in memory aligned for any SIMD width (RTNeural's Eigen layers may map it as
// aligned); allocated before the measured region.
// Models that can say their widths (RTNeural's Model<T>: getInSize()/getOutSize()) are checked against the
// bundle's before running: reading out_size values from a narrower output would read past it.
template <typename M, typename = void>
struct has_sizes : std::false_type {};
template <typename M>
struct has_sizes<M, std::void_t<decltype(std::declval<const M&>().getInSize()),
                                decltype(std::declval<const M&>().getOutSize())>> : std::true_type {};

template <typename M>
std::string size_mismatch(const M& model, std::size_t in_size, std::size_t out_size) {
    if constexpr (has_sizes<M>::value) {
        const auto in = static_cast<std::size_t>(model.getInSize());
        const auto out = static_cast<std::size_t>(model.getOutSize());
        if (in != in_size || out != out_size)
            return "the model is " + std::to_string(in) + " -> " + std::to_string(out) + " wide, the bundle " +
                   std::to_string(in_size) + " -> " + std::to_string(out_size);
    }
    return {};
}

template <typename T>
class AlignedRow {
public:
    explicit AlignedRow(std::size_t n)
        : data_(static_cast<T*>(::operator new(std::max<std::size_t>(n, 1) * sizeof(T), std::align_val_t{64}))) {}
    ~AlignedRow() { ::operator delete(data_, std::align_val_t{64}); }
    AlignedRow(const AlignedRow&) = delete;
    AlignedRow& operator=(const AlignedRow&) = delete;
    T* data() noexcept { return data_; }

private:
    T* data_;
};

}  // namespace golden_detail

// One case of a bundle: inputs [steps x in_size] and the expected outputs of each pattern
// [steps x out_size], all as doubles (inputs are exact in float32).
struct GoldenCase {
    std::string name;
    std::size_t steps = 0;
    std::vector<double> inputs;
    std::vector<std::pair<std::string, std::vector<double>>> expected;  // (pattern, values)
};

struct GoldenBundle {
    std::string directory;
    std::map<std::string, std::string> index;  // every key of index.txt, as written
    std::size_t in_size = 0;
    std::size_t out_size = 0;
    std::string model_sha256;
    std::string reference;
    std::vector<GoldenCase> cases;

    std::pair<double, double> tolerance(const std::string& dtype) const {
        const std::string path = directory + "/index.txt";
        return {golden_detail::require_number(index, "tolerance." + dtype + ".atol", path),
                golden_detail::require_number(index, "tolerance." + dtype + ".rtol", path)};
    }
};

// Reads and checks a bundle directory; throws GoldenFormatError naming the file (and line) of a problem.
// Only regular files are read, each within `limits`, and every size index.txt declares is held to the bytes
// of the files that must hold it, before anything that size is allocated.
inline GoldenBundle read_golden_bundle(const std::string& directory, const std::vector<std::string>& only = {},
                                       const GoldenLimits& limits = {}) {
    using namespace golden_detail;
    GoldenBundle bundle;
    bundle.directory = directory;
    const std::string path = directory + "/index.txt";
    Budget budget(limits.max_file_bytes, limits.max_bundle_bytes);
    const bool index_limit = kMaxIndexBytes <= limits.max_file_bytes;
    bundle.index = parse_index(budget.read(path, index_limit ? kMaxIndexBytes : limits.max_file_bytes,
                                           index_limit ? "the limit for an index.txt"
                                                       : "the limit of GoldenLimits::max_file_bytes"),
                               path);
    const std::string& format = require(bundle.index, "format", path);
    if (format != "rtneural-verifier-golden")
        throw GoldenFormatError(path + ": not a golden bundle index (format is " + quote(format) +
                                ", not rtneural-verifier-golden)");
    const std::string& version = require(bundle.index, "format_version", path);
    if (version != std::to_string(kGoldenFormatVersion))
        throw GoldenFormatError(path + ": format_version " + quote(version) + ", this header reads " +
                                std::to_string(kGoldenFormatVersion) + " (update rtneural-verifier)");
    bundle.in_size = require_count(bundle.index, "in_size", path);
    bundle.out_size = require_count(bundle.index, "out_size", path);
    bundle.model_sha256 = require(bundle.index, "model_sha256", path);
    const auto& sha256 = bundle.model_sha256;
    if (sha256.size() != 64 || sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw GoldenFormatError(path + ": 'model_sha256' must be 64 lower-case hex digits, found " +
                                quote(bundle.model_sha256));
    bundle.reference = require_name(require(bundle.index, "reference", path), "reference", path);
    for (const char* dtype : {"float32", "float64"}) bundle.tolerance(dtype);  // both present and well formed

    const std::string& pattern_list = require(bundle.index, "patterns", path);
    auto patterns = split(pattern_list, ',');
    std::sort(patterns.begin(), patterns.end());
    if (patterns != std::vector<std::string>{"frame", "stream"})
        throw GoldenFormatError(path + ": 'patterns' must be frame,stream, found " + quote(pattern_list));

    const auto names = split(require(bundle.index, "cases", path), ',');
    if (names.size() > kMaxCases)
        throw GoldenFormatError(path + ": " + std::to_string(names.size()) + " cases, more than the " +
                                std::to_string(kMaxCases) + " a bundle may hold");
    for (std::size_t i = 0; i < names.size(); ++i) {
        require_name(names[i], "case name", path);
        if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i), names[i]) !=
            names.begin() + static_cast<std::ptrdiff_t>(i))
            throw GoldenFormatError(path + ": case " + quote(names[i]) + " is listed twice in 'cases'");
    }
    for (const auto& name : only)
        if (std::find(names.begin(), names.end(), name) == names.end())
            throw GoldenFormatError(path + ": no case named " + quote(name));

    for (const auto& name : names) {
        if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
        GoldenCase c;
        c.name = name;
        const std::string steps_key = "case." + name + ".steps";
        c.steps = require_count(bundle.index, steps_key, path);
        c.inputs = read_csv(budget, directory + "/inputs/" + name + ".csv", c.steps, bundle.in_size,
                            "in_size and " + steps_key + " of index.txt");
        for (const char* pattern : {"frame", "stream"})
            c.expected.emplace_back(pattern, read_csv(budget, directory + "/expected/" + name + "." + pattern + ".csv",
                                                      c.steps, bundle.out_size,
                                                      "out_size and " + steps_key + " of index.txt"));
        bundle.cases.push_back(std::move(c));
    }
    if (bundle.cases.empty()) throw GoldenFormatError(path + ": no cases");
    return bundle;
}

// The SHA-256 of a regular file, lower-case hex.
inline std::string sha256_file(const std::string& path) {
    golden_detail::RegularFile file(path);
    golden_detail::Sha256 hash;
    std::vector<char> buffer(65536);
    while (const std::size_t got = file.read(buffer.data(), buffer.size()))
        hash.update(reinterpret_cast<const unsigned char*>(buffer.data()), got);
    return hash.hex();
}

namespace golden_detail {

template <typename Model>
GoldenResult run_check(Model& model, const GoldenBundle& bundle, const GoldenOptions& options) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(model.getOutputs())>>;
    static_assert(std::is_same<T, float>::value || std::is_same<T, double>::value,
                  "check_golden: getOutputs() must return const float* or const double*");
    using namespace golden_detail;

    GoldenResult result;
    result.dtype = dtype_name<T>();
    result.reference = bundle.reference;
    result.heap_counted = heap::counting();
    std::tie(result.atol, result.rtol) = bundle.tolerance(result.dtype);
    if (!options.model_file.empty()) {
        std::string found;
        try {
            found = sha256_file(options.model_file);
        } catch (const GoldenFormatError& error) {
            result.message = std::string("FAIL: cannot read the model file to check its SHA-256: ") + error.what();
            return result;
        }
        if (found != bundle.model_sha256) {
            result.message = "FAIL: " + options.model_file + " is not the file the bundle " + bundle.directory +
                             " was written from (SHA-256 " + found + ", bundle " + bundle.model_sha256 + ")";
            return result;
        }
    }

    const std::string mismatch = size_mismatch(model, bundle.in_size, bundle.out_size);
    if (!mismatch.empty()) {
        result.message = "FAIL: " + mismatch + " (" + bundle.directory + ")";
        return result;
    }

    // Everything the run needs is allocated here, so that the heap figures are the model's alone.
    std::size_t total_steps = 0;
    for (const auto& c : bundle.cases) total_steps += c.steps * c.expected.size();
    std::vector<std::int64_t> times(total_steps);
    AlignedRow<T> input(bundle.in_size);
    double worst_ratio = -1.0;

    const heap::Usage heap_start = heap::snapshot();
    std::size_t call = 0;
    for (const auto& c : bundle.cases) {
        for (const auto& [pattern, expected] : c.expected) {
            const bool reset_each = pattern == "frame";
            model.reset();
            for (std::size_t t = 0; t < c.steps; ++t) {
                if (reset_each) model.reset();
                for (std::size_t i = 0; i < bundle.in_size; ++i)
                    input.data()[i] = static_cast<T>(c.inputs[t * bundle.in_size + i]);
                const auto start = std::chrono::steady_clock::now();
                model.forward(input.data());
                const auto stop = std::chrono::steady_clock::now();
                times[call++] = std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start).count();
                const T* out = model.getOutputs();
                for (std::size_t j = 0; j < bundle.out_size; ++j) {
                    const double want = expected[t * bundle.out_size + j];
                    const double got = static_cast<double>(out[j]);
                    const double error = std::fabs(got - want);
                    const double allowed = result.atol + result.rtol * std::fabs(want);
                    // A NaN output fails: it is never <= anything, and it is the worst element.
                    const double ratio = std::isnan(error) ? std::numeric_limits<double>::infinity()
                                         : allowed > 0    ? error / allowed
                                         : error > 0      ? std::numeric_limits<double>::infinity()
                                                          : 0.0;
                    ++result.elements;
                    if (!(error <= allowed)) ++result.failing_elements;
                    if (std::isnan(error) || error > result.worst_abs_error)
                        result.worst_abs_error = std::isnan(error) ? std::numeric_limits<double>::infinity() : error;
                    if (ratio > worst_ratio) {
                        worst_ratio = ratio;
                        result.worst_pattern = pattern;
                        result.worst_case = c.name;
                        result.worst_step = t;
                        result.worst_output = j;
                        result.worst_expected = want;
                        result.worst_actual = got;
                    }
                }
            }
        }
    }
    const heap::Usage heap_used = heap::since(heap_start);
    if (result.heap_counted) {
        result.heap_bytes = heap_used.bytes;
        result.heap_allocations = heap_used.allocations;
    }
    result.heap_held = heap_used.held;
    result.forward_calls = call;
    result.forward_ns_p50 = percentile(times, 0.50);
    result.forward_ns_p99 = percentile(times, 0.99);

    result.passed = result.failing_elements == 0;
    const std::string where = "pattern " + result.worst_pattern + ", case " + result.worst_case + ", step " +
                              std::to_string(result.worst_step) + ", output " + std::to_string(result.worst_output);
    const std::string tolerance =
        "atol " + format_number(result.atol) + " + rtol " + format_number(result.rtol) + " |expected|";
    if (result.passed) {
        result.message = "PASS: " + std::to_string(result.elements) + " elements within " + tolerance + " (" +
                         result.dtype + ", reference " + result.reference + "); worst |error| " +
                         format_number(result.worst_abs_error) + " at " + where;
    } else {
        result.message = "FAIL: " + std::to_string(result.failing_elements) + " of " +
                         std::to_string(result.elements) + " elements outside " + tolerance + " (" + result.dtype +
                         ", reference " + result.reference + "); worst at " + where + ": expected " +
                         format_number(result.worst_expected) + ", got " + format_number(result.worst_actual) +
                         " (|error| " + format_number(std::fabs(result.worst_actual - result.worst_expected)) + ")";
    }
    return result;
}

inline GoldenResult failed(const std::string& message) {
    GoldenResult result;
    result.message = message;
    return result;
}

// What check_golden returns for an exception, from the bundle or from the model: never a throw.
inline GoldenResult failed_by_exception(const std::string& bundle_dir) {
    try {
        throw;
    } catch (const GoldenFormatError& error) {
        return failed(std::string("FAIL: unusable golden bundle: ") + error.what());
    } catch (const std::bad_alloc&) {
        return failed("FAIL: out of memory while checking against " + bundle_dir);
    } catch (const std::exception& error) {
        return failed("FAIL: exception while checking against " + bundle_dir + ": " + error.what());
    } catch (...) {
        return failed("FAIL: an exception that is not a std::exception while checking against " + bundle_dir);
    }
}

}  // namespace golden_detail

// Checks `model` against a bundle read with read_golden_bundle. Never throws: an exception from the model or a
// malformed hand-made bundle gives a failed result saying so.
template <typename Model>
GoldenResult check_golden(Model& model, const GoldenBundle& bundle, const GoldenOptions& options = {}) {
    try {
        return golden_detail::run_check(model, bundle, options);
    } catch (...) {
        return golden_detail::failed_by_exception(bundle.directory);
    }
}

// Reads the bundle in `bundle_dir` and checks `model` against it. Never throws: for a bad bundle the result
// fails and its one-line message names the file (and line) and what is wrong with it.
template <typename Model>
GoldenResult check_golden(Model& model, const std::string& bundle_dir, const GoldenOptions& options = {}) {
    GoldenBundle bundle;
    try {
        bundle = read_golden_bundle(bundle_dir, options.cases, options.limits);
    } catch (...) {
        return golden_detail::failed_by_exception(bundle_dir);
    }
    return check_golden(model, bundle, options);
}

}  // namespace rtv
