// PNG through libpng's simplified API (png_image): it keeps libpng's setjmp error handling
// inside the library and converts every colour type and bit depth to RGB8 (alpha composited
// onto black), so this file only checks the header against the limits before allocating.
#include <png.h>

#include <memory>

#include "daemon/media/image_decoder.h"

namespace gemmad::media {

Result<DecodedImage> decode_png(std::span<const uint8_t> bytes, const MediaLimits& limits) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  // png_image_free on every path: it releases what begin_read allocated.
  std::unique_ptr<png_image, void (*)(png_image*)> guard(&image,
                                                         [](png_image* i) { png_image_free(i); });
  auto fail = [&](const char* stage) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("image: bad PNG (") + stage + "): " + image.message);
  };
  if (png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()) == 0) {
    return fail("header");
  }
  GEMMAD_TRY(check_image_pixels(image.width, image.height, limits));
  image.format = PNG_FORMAT_RGB;
  DecodedImage out;
  out.width = image.width;
  out.height = image.height;
  out.rgb.resize(PNG_IMAGE_SIZE(image));
  if (png_image_finish_read(&image, nullptr, out.rgb.data(), 0, nullptr) == 0) {
    return fail("data");
  }
  return out;
}

}  // namespace gemmad::media
