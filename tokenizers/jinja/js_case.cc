// String.prototype.toUpperCase / toLowerCase with V8's mappings (tables generated from node's, see below),
// including the expansions (ß -> SS, ligatures, İ -> i̇) and Greek final sigma.
#include <algorithm>
#include <cstdint>

#include "tokenizers/jinja/js_text.h"

namespace distill::tok::jinja {
namespace {

struct CaseRun {
  char32_t start;
  uint16_t count;
  int32_t delta;
  uint8_t stride;
};
struct CaseExpansion {
  char32_t from;
  char32_t to[3];
};

// Generated from node 20.20.2 (Unicode 17.0): String.prototype.toUpperCase/toLowerCase of
// every code point. Runs map start + k*stride (k < count) to itself + delta; expansions map to up to 3 code points.
constexpr CaseRun kUpperRuns[] = {
    {0x61, 26, -32, 1}, {0xB5, 1, 743, 1}, {0xE0, 23, -32, 1}, {0xF8, 7, -32, 1},
    {0xFF, 1, 121, 1}, {0x101, 24, -1, 2}, {0x131, 1, -232, 1}, {0x133, 3, -1, 2},
    {0x13A, 8, -1, 2}, {0x14B, 23, -1, 2}, {0x17A, 3, -1, 2}, {0x17F, 1, -300, 1},
    {0x180, 1, 195, 1}, {0x183, 2, -1, 2}, {0x188, 1, -1, 1}, {0x18C, 1, -1, 1},
    {0x192, 1, -1, 1}, {0x195, 1, 97, 1}, {0x199, 1, -1, 1}, {0x19A, 1, 163, 1},
    {0x19B, 1, 42561, 1}, {0x19E, 1, 130, 1}, {0x1A1, 3, -1, 2}, {0x1A8, 1, -1, 1},
    {0x1AD, 1, -1, 1}, {0x1B0, 1, -1, 1}, {0x1B4, 2, -1, 2}, {0x1B9, 1, -1, 1},
    {0x1BD, 1, -1, 1}, {0x1BF, 1, 56, 1}, {0x1C5, 1, -1, 1}, {0x1C6, 1, -2, 1},
    {0x1C8, 1, -1, 1}, {0x1C9, 1, -2, 1}, {0x1CB, 1, -1, 1}, {0x1CC, 1, -2, 1},
    {0x1CE, 8, -1, 2}, {0x1DD, 1, -79, 1}, {0x1DF, 9, -1, 2}, {0x1F2, 1, -1, 1},
    {0x1F3, 1, -2, 1}, {0x1F5, 1, -1, 1}, {0x1F9, 20, -1, 2}, {0x223, 9, -1, 2},
    {0x23C, 1, -1, 1}, {0x23F, 2, 10815, 1}, {0x242, 1, -1, 1}, {0x247, 5, -1, 2},
    {0x250, 1, 10783, 1}, {0x251, 1, 10780, 1}, {0x252, 1, 10782, 1}, {0x253, 1, -210, 1},
    {0x254, 1, -206, 1}, {0x256, 2, -205, 1}, {0x259, 1, -202, 1}, {0x25B, 1, -203, 1},
    {0x25C, 1, 42319, 1}, {0x260, 1, -205, 1}, {0x261, 1, 42315, 1}, {0x263, 1, -207, 1},
    {0x264, 1, 42343, 1}, {0x265, 1, 42280, 1}, {0x266, 1, 42308, 1}, {0x268, 1, -209, 1},
    {0x269, 1, -211, 1}, {0x26A, 1, 42308, 1}, {0x26B, 1, 10743, 1}, {0x26C, 1, 42305, 1},
    {0x26F, 1, -211, 1}, {0x271, 1, 10749, 1}, {0x272, 1, -213, 1}, {0x275, 1, -214, 1},
    {0x27D, 1, 10727, 1}, {0x280, 1, -218, 1}, {0x282, 1, 42307, 1}, {0x283, 1, -218, 1},
    {0x287, 1, 42282, 1}, {0x288, 1, -218, 1}, {0x289, 1, -69, 1}, {0x28A, 2, -217, 1},
    {0x28C, 1, -71, 1}, {0x292, 1, -219, 1}, {0x29D, 1, 42261, 1}, {0x29E, 1, 42258, 1},
    {0x345, 1, 84, 1}, {0x371, 2, -1, 2}, {0x377, 1, -1, 1}, {0x37B, 3, 130, 1},
    {0x3AC, 1, -38, 1}, {0x3AD, 3, -37, 1}, {0x3B1, 17, -32, 1}, {0x3C2, 1, -31, 1},
    {0x3C3, 9, -32, 1}, {0x3CC, 1, -64, 1}, {0x3CD, 2, -63, 1}, {0x3D0, 1, -62, 1},
    {0x3D1, 1, -57, 1}, {0x3D5, 1, -47, 1}, {0x3D6, 1, -54, 1}, {0x3D7, 1, -8, 1},
    {0x3D9, 12, -1, 2}, {0x3F0, 1, -86, 1}, {0x3F1, 1, -80, 1}, {0x3F2, 1, 7, 1},
    {0x3F3, 1, -116, 1}, {0x3F5, 1, -96, 1}, {0x3F8, 1, -1, 1}, {0x3FB, 1, -1, 1},
    {0x430, 32, -32, 1}, {0x450, 16, -80, 1}, {0x461, 17, -1, 2}, {0x48B, 27, -1, 2},
    {0x4C2, 7, -1, 2}, {0x4CF, 1, -15, 1}, {0x4D1, 48, -1, 2}, {0x561, 38, -48, 1},
    {0x10D0, 43, 3008, 1}, {0x10FD, 3, 3008, 1}, {0x13F8, 6, -8, 1}, {0x1C80, 1, -6254, 1},
    {0x1C81, 1, -6253, 1}, {0x1C82, 1, -6244, 1}, {0x1C83, 2, -6242, 1}, {0x1C85, 1, -6243, 1},
    {0x1C86, 1, -6236, 1}, {0x1C87, 1, -6181, 1}, {0x1C88, 1, 35266, 1}, {0x1C8A, 1, -1, 1},
    {0x1D79, 1, 35332, 1}, {0x1D7D, 1, 3814, 1}, {0x1D8E, 1, 35384, 1}, {0x1E01, 75, -1, 2},
    {0x1E9B, 1, -59, 1}, {0x1EA1, 48, -1, 2}, {0x1F00, 8, 8, 1}, {0x1F10, 6, 8, 1},
    {0x1F20, 8, 8, 1}, {0x1F30, 8, 8, 1}, {0x1F40, 6, 8, 1}, {0x1F51, 4, 8, 2},
    {0x1F60, 8, 8, 1}, {0x1F70, 2, 74, 1}, {0x1F72, 4, 86, 1}, {0x1F76, 2, 100, 1},
    {0x1F78, 2, 128, 1}, {0x1F7A, 2, 112, 1}, {0x1F7C, 2, 126, 1}, {0x1FB0, 2, 8, 1},
    {0x1FBE, 1, -7205, 1}, {0x1FD0, 2, 8, 1}, {0x1FE0, 2, 8, 1}, {0x1FE5, 1, 7, 1},
    {0x214E, 1, -28, 1}, {0x2170, 16, -16, 1}, {0x2184, 1, -1, 1}, {0x24D0, 26, -26, 1},
    {0x2C30, 48, -48, 1}, {0x2C61, 1, -1, 1}, {0x2C65, 1, -10795, 1}, {0x2C66, 1, -10792, 1},
    {0x2C68, 3, -1, 2}, {0x2C73, 1, -1, 1}, {0x2C76, 1, -1, 1}, {0x2C81, 50, -1, 2},
    {0x2CEC, 2, -1, 2}, {0x2CF3, 1, -1, 1}, {0x2D00, 38, -7264, 1}, {0x2D27, 1, -7264, 1},
    {0x2D2D, 1, -7264, 1}, {0xA641, 23, -1, 2}, {0xA681, 14, -1, 2}, {0xA723, 7, -1, 2},
    {0xA733, 31, -1, 2}, {0xA77A, 2, -1, 2}, {0xA77F, 5, -1, 2}, {0xA78C, 1, -1, 1},
    {0xA791, 2, -1, 2}, {0xA794, 1, 48, 1}, {0xA797, 10, -1, 2}, {0xA7B5, 8, -1, 2},
    {0xA7C8, 2, -1, 2}, {0xA7CD, 8, -1, 2}, {0xA7F6, 1, -1, 1}, {0xAB53, 1, -928, 1},
    {0xAB70, 80, -38864, 1}, {0xFF41, 26, -32, 1}, {0x10428, 40, -40, 1}, {0x104D8, 36, -40, 1},
    {0x10597, 11, -39, 1}, {0x105A3, 15, -39, 1}, {0x105B3, 7, -39, 1}, {0x105BB, 2, -39, 1},
    {0x10CC0, 51, -64, 1}, {0x10D70, 22, -32, 1}, {0x118C0, 32, -32, 1}, {0x16E60, 32, -32, 1},
    {0x16EBB, 25, -27, 1}, {0x1E922, 34, -34, 1},
};
constexpr CaseRun kLowerRuns[] = {
    {0x41, 26, 32, 1}, {0xC0, 23, 32, 1}, {0xD8, 7, 32, 1}, {0x100, 24, 1, 2},
    {0x132, 3, 1, 2}, {0x139, 8, 1, 2}, {0x14A, 23, 1, 2}, {0x178, 1, -121, 1},
    {0x179, 3, 1, 2}, {0x181, 1, 210, 1}, {0x182, 2, 1, 2}, {0x186, 1, 206, 1},
    {0x187, 1, 1, 1}, {0x189, 2, 205, 1}, {0x18B, 1, 1, 1}, {0x18E, 1, 79, 1},
    {0x18F, 1, 202, 1}, {0x190, 1, 203, 1}, {0x191, 1, 1, 1}, {0x193, 1, 205, 1},
    {0x194, 1, 207, 1}, {0x196, 1, 211, 1}, {0x197, 1, 209, 1}, {0x198, 1, 1, 1},
    {0x19C, 1, 211, 1}, {0x19D, 1, 213, 1}, {0x19F, 1, 214, 1}, {0x1A0, 3, 1, 2},
    {0x1A6, 1, 218, 1}, {0x1A7, 1, 1, 1}, {0x1A9, 1, 218, 1}, {0x1AC, 1, 1, 1},
    {0x1AE, 1, 218, 1}, {0x1AF, 1, 1, 1}, {0x1B1, 2, 217, 1}, {0x1B3, 2, 1, 2},
    {0x1B7, 1, 219, 1}, {0x1B8, 1, 1, 1}, {0x1BC, 1, 1, 1}, {0x1C4, 1, 2, 1},
    {0x1C5, 1, 1, 1}, {0x1C7, 1, 2, 1}, {0x1C8, 1, 1, 1}, {0x1CA, 1, 2, 1},
    {0x1CB, 9, 1, 2}, {0x1DE, 9, 1, 2}, {0x1F1, 1, 2, 1}, {0x1F2, 2, 1, 2},
    {0x1F6, 1, -97, 1}, {0x1F7, 1, -56, 1}, {0x1F8, 20, 1, 2}, {0x220, 1, -130, 1},
    {0x222, 9, 1, 2}, {0x23A, 1, 10795, 1}, {0x23B, 1, 1, 1}, {0x23D, 1, -163, 1},
    {0x23E, 1, 10792, 1}, {0x241, 1, 1, 1}, {0x243, 1, -195, 1}, {0x244, 1, 69, 1},
    {0x245, 1, 71, 1}, {0x246, 5, 1, 2}, {0x370, 2, 1, 2}, {0x376, 1, 1, 1},
    {0x37F, 1, 116, 1}, {0x386, 1, 38, 1}, {0x388, 3, 37, 1}, {0x38C, 1, 64, 1},
    {0x38E, 2, 63, 1}, {0x391, 17, 32, 1}, {0x3A3, 9, 32, 1}, {0x3CF, 1, 8, 1},
    {0x3D8, 12, 1, 2}, {0x3F4, 1, -60, 1}, {0x3F7, 1, 1, 1}, {0x3F9, 1, -7, 1},
    {0x3FA, 1, 1, 1}, {0x3FD, 3, -130, 1}, {0x400, 16, 80, 1}, {0x410, 32, 32, 1},
    {0x460, 17, 1, 2}, {0x48A, 27, 1, 2}, {0x4C0, 1, 15, 1}, {0x4C1, 7, 1, 2},
    {0x4D0, 48, 1, 2}, {0x531, 38, 48, 1}, {0x10A0, 38, 7264, 1}, {0x10C7, 1, 7264, 1},
    {0x10CD, 1, 7264, 1}, {0x13A0, 80, 38864, 1}, {0x13F0, 6, 8, 1}, {0x1C89, 1, 1, 1},
    {0x1C90, 43, -3008, 1}, {0x1CBD, 3, -3008, 1}, {0x1E00, 75, 1, 2}, {0x1E9E, 1, -7615, 1},
    {0x1EA0, 48, 1, 2}, {0x1F08, 8, -8, 1}, {0x1F18, 6, -8, 1}, {0x1F28, 8, -8, 1},
    {0x1F38, 8, -8, 1}, {0x1F48, 6, -8, 1}, {0x1F59, 4, -8, 2}, {0x1F68, 8, -8, 1},
    {0x1F88, 8, -8, 1}, {0x1F98, 8, -8, 1}, {0x1FA8, 8, -8, 1}, {0x1FB8, 2, -8, 1},
    {0x1FBA, 2, -74, 1}, {0x1FBC, 1, -9, 1}, {0x1FC8, 4, -86, 1}, {0x1FCC, 1, -9, 1},
    {0x1FD8, 2, -8, 1}, {0x1FDA, 2, -100, 1}, {0x1FE8, 2, -8, 1}, {0x1FEA, 2, -112, 1},
    {0x1FEC, 1, -7, 1}, {0x1FF8, 2, -128, 1}, {0x1FFA, 2, -126, 1}, {0x1FFC, 1, -9, 1},
    {0x2126, 1, -7517, 1}, {0x212A, 1, -8383, 1}, {0x212B, 1, -8262, 1}, {0x2132, 1, 28, 1},
    {0x2160, 16, 16, 1}, {0x2183, 1, 1, 1}, {0x24B6, 26, 26, 1}, {0x2C00, 48, 48, 1},
    {0x2C60, 1, 1, 1}, {0x2C62, 1, -10743, 1}, {0x2C63, 1, -3814, 1}, {0x2C64, 1, -10727, 1},
    {0x2C67, 3, 1, 2}, {0x2C6D, 1, -10780, 1}, {0x2C6E, 1, -10749, 1}, {0x2C6F, 1, -10783, 1},
    {0x2C70, 1, -10782, 1}, {0x2C72, 1, 1, 1}, {0x2C75, 1, 1, 1}, {0x2C7E, 2, -10815, 1},
    {0x2C80, 50, 1, 2}, {0x2CEB, 2, 1, 2}, {0x2CF2, 1, 1, 1}, {0xA640, 23, 1, 2},
    {0xA680, 14, 1, 2}, {0xA722, 7, 1, 2}, {0xA732, 31, 1, 2}, {0xA779, 2, 1, 2},
    {0xA77D, 1, -35332, 1}, {0xA77E, 5, 1, 2}, {0xA78B, 1, 1, 1}, {0xA78D, 1, -42280, 1},
    {0xA790, 2, 1, 2}, {0xA796, 10, 1, 2}, {0xA7AA, 1, -42308, 1}, {0xA7AB, 1, -42319, 1},
    {0xA7AC, 1, -42315, 1}, {0xA7AD, 1, -42305, 1}, {0xA7AE, 1, -42308, 1}, {0xA7B0, 1, -42258, 1},
    {0xA7B1, 1, -42282, 1}, {0xA7B2, 1, -42261, 1}, {0xA7B3, 1, 928, 1}, {0xA7B4, 8, 1, 2},
    {0xA7C4, 1, -48, 1}, {0xA7C5, 1, -42307, 1}, {0xA7C6, 1, -35384, 1}, {0xA7C7, 2, 1, 2},
    {0xA7CB, 1, -42343, 1}, {0xA7CC, 8, 1, 2}, {0xA7DC, 1, -42561, 1}, {0xA7F5, 1, 1, 1},
    {0xFF21, 26, 32, 1}, {0x10400, 40, 40, 1}, {0x104B0, 36, 40, 1}, {0x10570, 11, 39, 1},
    {0x1057C, 15, 39, 1}, {0x1058C, 7, 39, 1}, {0x10594, 2, 39, 1}, {0x10C80, 51, 64, 1},
    {0x10D50, 22, 32, 1}, {0x118A0, 32, 32, 1}, {0x16E40, 32, 32, 1}, {0x16EA0, 25, 27, 1},
    {0x1E900, 34, 34, 1},
};
constexpr CaseExpansion kUpperExpansions[] = {
    {0xDF, {0x53, 0x53}}, {0x149, {0x2BC, 0x4E}}, {0x1F0, {0x4A, 0x30C}},
    {0x390, {0x399, 0x308, 0x301}}, {0x3B0, {0x3A5, 0x308, 0x301}}, {0x587, {0x535, 0x552}},
    {0x1E96, {0x48, 0x331}}, {0x1E97, {0x54, 0x308}}, {0x1E98, {0x57, 0x30A}},
    {0x1E99, {0x59, 0x30A}}, {0x1E9A, {0x41, 0x2BE}}, {0x1F50, {0x3A5, 0x313}},
    {0x1F52, {0x3A5, 0x313, 0x300}}, {0x1F54, {0x3A5, 0x313, 0x301}}, {0x1F56, {0x3A5, 0x313, 0x342}},
    {0x1F80, {0x1F08, 0x399}}, {0x1F81, {0x1F09, 0x399}}, {0x1F82, {0x1F0A, 0x399}},
    {0x1F83, {0x1F0B, 0x399}}, {0x1F84, {0x1F0C, 0x399}}, {0x1F85, {0x1F0D, 0x399}},
    {0x1F86, {0x1F0E, 0x399}}, {0x1F87, {0x1F0F, 0x399}}, {0x1F88, {0x1F08, 0x399}},
    {0x1F89, {0x1F09, 0x399}}, {0x1F8A, {0x1F0A, 0x399}}, {0x1F8B, {0x1F0B, 0x399}},
    {0x1F8C, {0x1F0C, 0x399}}, {0x1F8D, {0x1F0D, 0x399}}, {0x1F8E, {0x1F0E, 0x399}},
    {0x1F8F, {0x1F0F, 0x399}}, {0x1F90, {0x1F28, 0x399}}, {0x1F91, {0x1F29, 0x399}},
    {0x1F92, {0x1F2A, 0x399}}, {0x1F93, {0x1F2B, 0x399}}, {0x1F94, {0x1F2C, 0x399}},
    {0x1F95, {0x1F2D, 0x399}}, {0x1F96, {0x1F2E, 0x399}}, {0x1F97, {0x1F2F, 0x399}},
    {0x1F98, {0x1F28, 0x399}}, {0x1F99, {0x1F29, 0x399}}, {0x1F9A, {0x1F2A, 0x399}},
    {0x1F9B, {0x1F2B, 0x399}}, {0x1F9C, {0x1F2C, 0x399}}, {0x1F9D, {0x1F2D, 0x399}},
    {0x1F9E, {0x1F2E, 0x399}}, {0x1F9F, {0x1F2F, 0x399}}, {0x1FA0, {0x1F68, 0x399}},
    {0x1FA1, {0x1F69, 0x399}}, {0x1FA2, {0x1F6A, 0x399}}, {0x1FA3, {0x1F6B, 0x399}},
    {0x1FA4, {0x1F6C, 0x399}}, {0x1FA5, {0x1F6D, 0x399}}, {0x1FA6, {0x1F6E, 0x399}},
    {0x1FA7, {0x1F6F, 0x399}}, {0x1FA8, {0x1F68, 0x399}}, {0x1FA9, {0x1F69, 0x399}},
    {0x1FAA, {0x1F6A, 0x399}}, {0x1FAB, {0x1F6B, 0x399}}, {0x1FAC, {0x1F6C, 0x399}},
    {0x1FAD, {0x1F6D, 0x399}}, {0x1FAE, {0x1F6E, 0x399}}, {0x1FAF, {0x1F6F, 0x399}},
    {0x1FB2, {0x1FBA, 0x399}}, {0x1FB3, {0x391, 0x399}}, {0x1FB4, {0x386, 0x399}},
    {0x1FB6, {0x391, 0x342}}, {0x1FB7, {0x391, 0x342, 0x399}}, {0x1FBC, {0x391, 0x399}},
    {0x1FC2, {0x1FCA, 0x399}}, {0x1FC3, {0x397, 0x399}}, {0x1FC4, {0x389, 0x399}},
    {0x1FC6, {0x397, 0x342}}, {0x1FC7, {0x397, 0x342, 0x399}}, {0x1FCC, {0x397, 0x399}},
    {0x1FD2, {0x399, 0x308, 0x300}}, {0x1FD3, {0x399, 0x308, 0x301}}, {0x1FD6, {0x399, 0x342}},
    {0x1FD7, {0x399, 0x308, 0x342}}, {0x1FE2, {0x3A5, 0x308, 0x300}}, {0x1FE3, {0x3A5, 0x308, 0x301}},
    {0x1FE4, {0x3A1, 0x313}}, {0x1FE6, {0x3A5, 0x342}}, {0x1FE7, {0x3A5, 0x308, 0x342}},
    {0x1FF2, {0x1FFA, 0x399}}, {0x1FF3, {0x3A9, 0x399}}, {0x1FF4, {0x38F, 0x399}},
    {0x1FF6, {0x3A9, 0x342}}, {0x1FF7, {0x3A9, 0x342, 0x399}}, {0x1FFC, {0x3A9, 0x399}},
    {0xFB00, {0x46, 0x46}}, {0xFB01, {0x46, 0x49}}, {0xFB02, {0x46, 0x4C}},
    {0xFB03, {0x46, 0x46, 0x49}}, {0xFB04, {0x46, 0x46, 0x4C}}, {0xFB05, {0x53, 0x54}},
    {0xFB06, {0x53, 0x54}}, {0xFB13, {0x544, 0x546}}, {0xFB14, {0x544, 0x535}},
    {0xFB15, {0x544, 0x53B}}, {0xFB16, {0x54E, 0x546}}, {0xFB17, {0x544, 0x53D}},
};
constexpr CaseExpansion kLowerExpansions[] = {
    {0x130, {0x69, 0x307}},
};

template <size_t N>
char32_t MapRun(const CaseRun (&runs)[N], char32_t c) {
  const CaseRun* end = runs + N;
  const CaseRun* it = std::upper_bound(runs, end, c, [](char32_t x, const CaseRun& r) { return x < r.start; });
  if (it == runs) return c;
  const CaseRun& r = *(it - 1);
  const char32_t offset = c - r.start;
  if (offset % r.stride != 0 || offset / r.stride >= r.count) return c;
  return static_cast<char32_t>(static_cast<int64_t>(c) + r.delta);
}

template <size_t N>
const CaseExpansion* FindExpansion(const CaseExpansion (&table)[N], char32_t c) {
  for (const CaseExpansion& e : table)
    if (e.from == c) return &e;
  return nullptr;
}

void AppendExpansion(std::string& out, const CaseExpansion& e) {
  for (char32_t x : e.to)
    if (x) AppendUtf8(out, x);
}

bool IsCased(char32_t c) {
  return MapRun(kUpperRuns, c) != c || MapRun(kLowerRuns, c) != c || FindExpansion(kUpperExpansions, c) ||
         FindExpansion(kLowerExpansions, c);
}
// Combining marks and a few punctuation characters that final-sigma detection skips over.
bool IsCaseIgnorable(char32_t c) {
  return c == '\'' || c == '.' || c == ':' || c == 0xB7 || c == 0x2019 || (c >= 0x300 && c <= 0x36F);
}

}  // namespace

std::string JsToUpper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len;
    const char32_t c = DecodeUtf8(s, i, &len);
    i += len;
    if (c < 0x80) {
      out += static_cast<char>((c >= 'a' && c <= 'z') ? c - 32 : c);
    } else if (const CaseExpansion* e = FindExpansion(kUpperExpansions, c)) {
      AppendExpansion(out, *e);
    } else {
      AppendUtf8(out, MapRun(kUpperRuns, c));
    }
  }
  return out;
}

std::string JsToLower(std::string_view s) {
  const std::vector<char32_t> cps = ToCodePoints(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    if (c < 0x80) {
      out += static_cast<char>((c >= 'A' && c <= 'Z') ? c + 32 : c);
    } else if (c == 0x3A3) {
      // Final sigma: preceded by a cased letter and not followed by one (skipping case-ignorables).
      size_t b = i;
      while (b > 0 && IsCaseIgnorable(cps[b - 1])) --b;
      size_t a = i + 1;
      while (a < cps.size() && IsCaseIgnorable(cps[a])) ++a;
      const bool final = b > 0 && IsCased(cps[b - 1]) && !(a < cps.size() && IsCased(cps[a]));
      AppendUtf8(out, final ? 0x3C2 : 0x3C3);
    } else if (const CaseExpansion* e = FindExpansion(kLowerExpansions, c)) {
      AppendExpansion(out, *e);
    } else {
      AppendUtf8(out, MapRun(kLowerRuns, c));
    }
  }
  return out;
}

std::string JsCapitalize(std::string_view s) {
  if (s.empty()) return std::string();
  size_t len;
  const char32_t c = DecodeUtf8(s, 0, &len);
  // charAt(0) is one UTF-16 unit: a lone high surrogate (astral first character) stays as it is.
  if (c >= 0x10000) return std::string(s);
  return JsToUpper(s.substr(0, len)) + std::string(s.substr(len));
}

}  // namespace distill::tok::jinja
