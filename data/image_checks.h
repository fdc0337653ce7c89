// Checks made on an image file's bytes before stb_image sees them: only the formats wick reads, and
// the structures Debian's stb_image 2.27 trusts too far (a PNG chunk length it allocates for, an
// inflated size it does not bound, a JPEG Huffman table it writes past, a header declaring more
// pixels than the file can encode).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace wick::data::detail {

// "" when the bytes are a PNG, JPEG or BMP file whose structure stb_image can be handed safely,
// else what is wrong ("a PNG IDAT chunk at byte 69 declares 1224736792 bytes, 45 follow").
// Does not decode: a file that passes can still be refused by stb_image.
std::string image_file_error(const std::vector<uint8_t>& bytes);

}  // namespace wick::data::detail
