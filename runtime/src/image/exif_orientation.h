// EXIF orientation of a JPEG: read tag 0x0112 from the APP1 Exif block (untrusted bytes,
// bounds-checked) and turn decoded pixels upright accordingly.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgeclr {

// EXIF orientation values 1..8 say how the stored pixels must be turned for display:
// 1 as stored, 2 mirrored left-right, 3 rotated 180, 4 mirrored top-bottom, 5 transposed
// (top-left stays), 6 rotated 90 clockwise, 7 transversed (top-right <-> bottom-left),
// 8 rotated 90 counter-clockwise.
inline constexpr uint32_t kOrientationUpright = 1;

// The orientation in a JPEG file's first APP1 Exif segment. 1 when the file has none, or
// when anything on the way (markers, lengths, TIFF header, IFD0, the tag) is malformed or
// out of range: a broken EXIF block is not a broken image. Reads only data[0, size).
uint32_t jpeg_exif_orientation(const uint8_t* data, size_t size);

// The orientation in a TIFF structure ("II*\0" or "MM\0*" header, IFD0), i.e. the
// payload of an APP1 segment after its "Exif\0\0" prefix. Same rules as above.
uint32_t tiff_exif_orientation(const uint8_t* tiff, size_t size);

// Orientations 5..8 swap width and height.
inline bool orientation_swaps_sides(uint32_t orientation) { return orientation >= 5 && orientation <= 8; }

// src: height x width x channels uint8, packed. dst: the upright image, packed, with
// width and height swapped for 5..8; dst must not overlap src. Values outside 1..8 copy as 1.
void apply_orientation(const uint8_t* src, uint32_t width, uint32_t height, uint32_t channels,
                       uint32_t orientation, uint8_t* dst);

}  // namespace edgeclr
