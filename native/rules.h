// The ids of the validation rules the reader (json_reader.h) and the loader refuse or warn with. Each rule is
// defined once, in the catalogue (verifier/format/rules.py: name, severity, RTNeural's outcome, text); this
// list only names the ids, so that a refusal of `read_json` or `load` carries the same id as the finding
// `validate` reports for that place. tests/test_rule_book.py checks that every id here is in the catalogue
// with the right severity.
#pragma once

namespace rtv::rules {

inline constexpr const char* kEmpty = "RTN-E002";
inline constexpr const char* kNotUtf8 = "RTN-E003";
inline constexpr const char* kSyntax = "RTN-E004";
inline constexpr const char* kDuplicateKey = "RTN-E006";
inline constexpr const char* kWrongType = "RTN-E102";
inline constexpr const char* kNonFinite = "RTN-E005";
inline constexpr const char* kMissingKey = "RTN-E101";
inline constexpr const char* kInvalidValue = "RTN-E103";
inline constexpr const char* kEmptyModel = "RTN-E104";
inline constexpr const char* kUnknownLayerType = "RTN-E105";
inline constexpr const char* kUnknownActivation = "RTN-E106";
inline constexpr const char* kWeightCount = "RTN-E107";
inline constexpr const char* kUndefinedWidth = "RTN-E108";
inline constexpr const char* kWidthChain = "RTN-E201";
inline constexpr const char* kWeightShape = "RTN-E202";
inline constexpr const char* kDenseTransposed = "RTN-E203";
inline constexpr const char* kGroupsMissing = "RTN-E204";
inline constexpr const char* kGroupsInvalid = "RTN-E205";
inline constexpr const char* kConv2DOutputShape = "RTN-E206";
inline constexpr const char* kOutOfBoundsRead = "RTN-E207";
inline constexpr const char* kFloat32Overflow = "RTN-E208";
inline constexpr const char* kTooDeep = "RTN-E302";
inline constexpr const char* kTooWide = "RTN-E303";
inline constexpr const char* kTooManyParameters = "RTN-E304";
inline constexpr const char* kTooMuchState = "RTN-E305";

inline constexpr const char* kIgnoredActivation = "RTN-W001";
inline constexpr const char* kNoOpActivation = "RTN-W002";
inline constexpr const char* kSquareDenseKernel = "RTN-W003";
inline constexpr const char* kConv1DIgnoredKey = "RTN-W004";
inline constexpr const char* kPReLUShapeIgnored = "RTN-W005";
inline constexpr const char* kNullActivationIgnored = "RTN-W006";
inline constexpr const char* kIdenticalDuplicateKey = "RTN-W007";
inline constexpr const char* kFloat32Underflow = "RTN-W008";
inline constexpr const char* kBiasFreeDense = "RTN-I001";

inline constexpr const char* kAll[] = {
    kNotUtf8, kWrongType,        kNonFinite,          kMissingKey,        kInvalidValue,        kEmptyModel,
    kUnknownLayerType, kUnknownActivation,  kWeightCount,       kUndefinedWidth,      kWidthChain,
    kWeightShape,      kDenseTransposed,    kGroupsMissing,     kGroupsInvalid,       kConv2DOutputShape,
    kOutOfBoundsRead,  kTooDeep,            kTooWide,           kTooManyParameters,   kTooMuchState,
    kIgnoredActivation, kNoOpActivation,    kSquareDenseKernel, kConv1DIgnoredKey,    kPReLUShapeIgnored,
    kNullActivationIgnored, kBiasFreeDense, kEmpty, kSyntax, kDuplicateKey, kIdenticalDuplicateKey,
    kFloat32Overflow, kFloat32Underflow,
};

}  // namespace rtv::rules
