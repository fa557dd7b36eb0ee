// PNG and JPEG decoding: images written by libpng/libjpeg themselves, decoded back through
// daemon/media, and hostile headers refused before allocation with the limit named.
#include <png.h>

#include <jpeglib.h>
#include <cstdio>

#include <gtest/gtest.h>

#include "daemon/media/image_decoder.h"

namespace gemmad::media {
namespace {

std::vector<uint8_t> pattern(uint32_t w, uint32_t h) {
  std::vector<uint8_t> rgb(size_t{w} * h * 3);
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x) {
      uint8_t* p = &rgb[(size_t{y} * w + x) * 3];
      p[0] = static_cast<uint8_t>(x * 255 / (w - 1));
      p[1] = static_cast<uint8_t>(y * 255 / (h - 1));
      p[2] = 128;
    }
  return rgb;
}

std::vector<uint8_t> encode_png(uint32_t w, uint32_t h, const std::vector<uint8_t>& pixels,
                                uint32_t format) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = w;
  image.height = h;
  image.format = format;
  png_alloc_size_t size = 0;
  EXPECT_NE(png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr), 0);
  std::vector<uint8_t> out(size);
  EXPECT_NE(png_image_write_to_memory(&image, out.data(), &size, 0, pixels.data(), 0, nullptr), 0);
  out.resize(size);
  return out;
}

std::vector<uint8_t> encode_jpeg(uint32_t w, uint32_t h, const std::vector<uint8_t>& rgb) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = w;
  c.image_height = h;
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 95, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < h) {
    JSAMPROW row = const_cast<uint8_t*>(&rgb[size_t{c.next_scanline} * w * 3]);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
}

TEST(PngDecoding, GivesTheRgbPixelsTheFileHolds) {
  const auto rgb = pattern(17, 9);
  const auto png = encode_png(17, 9, rgb, PNG_FORMAT_RGB);
  auto img = decode_image(png, MediaLimits{});
  ASSERT_TRUE(img.ok()) << img.error().message;
  EXPECT_EQ(img->width, 17u);
  EXPECT_EQ(img->height, 9u);
  EXPECT_EQ(img->rgb, rgb);
}

TEST(PngDecoding, ConvertsGrayscaleToRgb) {
  std::vector<uint8_t> gray = {0, 100, 200, 255};
  auto img = decode_png(encode_png(2, 2, gray, PNG_FORMAT_GRAY), MediaLimits{});
  ASSERT_TRUE(img.ok()) << img.error().message;
  ASSERT_EQ(img->rgb.size(), 12u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(img->rgb[i * 3], gray[i]);
    EXPECT_EQ(img->rgb[i * 3 + 2], gray[i]);
  }
}

TEST(PngDecoding, RefusesTooManyPixelsNamingTheLimit) {
  const auto png = encode_png(64, 64, pattern(64, 64), PNG_FORMAT_RGB);
  MediaLimits limits;
  limits.max_image_pixels = 4095;
  auto img = decode_image(png, limits);
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.error().code, ErrorCode::kOutOfRange);
  EXPECT_NE(img.error().message.find("64x64 = 4096 pixels"), std::string::npos);
  EXPECT_NE(img.error().message.find("media.max_image_pixels"), std::string::npos);
}

TEST(PngDecoding, RefusesAHeaderClaimingAHugeImageBeforeAllocating) {
  auto png = encode_png(4, 4, pattern(4, 4), PNG_FORMAT_RGB);
  // IHDR width at bytes 16..19 (big-endian): claim 100000 x 4; the CRC is now wrong too, but
  // the pixel limit or the CRC check must refuse it without a 1.2 GB buffer.
  png[16] = 0x00;
  png[17] = 0x01;
  png[18] = 0x86;
  png[19] = 0xa0;
  auto img = decode_image(png, MediaLimits{});
  ASSERT_FALSE(img.ok());
  EXPECT_NE(img.error().message.find("image"), std::string::npos);
}

TEST(PngDecoding, RefusesATruncatedFile) {
  auto png = encode_png(32, 32, pattern(32, 32), PNG_FORMAT_RGB);
  png.resize(png.size() / 2);
  auto img = decode_image(png, MediaLimits{});
  ASSERT_FALSE(img.ok());
  EXPECT_NE(img.error().message.find("bad PNG"), std::string::npos) << img.error().message;
}

TEST(JpegDecoding, GivesPixelsCloseToTheEncodedOnes) {
  const auto rgb = pattern(40, 24);
  auto img = decode_image(encode_jpeg(40, 24, rgb), MediaLimits{});
  ASSERT_TRUE(img.ok()) << img.error().message;
  ASSERT_EQ(img->width, 40u);
  ASSERT_EQ(img->height, 24u);
  double err = 0;
  for (size_t i = 0; i < rgb.size(); ++i)
    err += std::abs(int{img->rgb[i]} - int{rgb[i]});
  EXPECT_LT(err / rgb.size(), 4.0);  // quality 95 on a smooth gradient
}

TEST(JpegDecoding, RefusesTooManyPixelsAndCorruptData) {
  const auto jpeg = encode_jpeg(40, 24, pattern(40, 24));
  MediaLimits limits;
  limits.max_image_pixels = 100;
  auto big = decode_image(jpeg, limits);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("media.max_image_pixels"), std::string::npos);
  std::vector<uint8_t> cut(jpeg.begin(), jpeg.begin() + 20);
  auto bad = decode_image(cut, MediaLimits{});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bad JPEG"), std::string::npos) << bad.error().message;
}

TEST(ImageDecoding, RefusesOtherFormatsAndOversizedFiles) {
  const std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 0, 0};
  auto r = decode_image(gif, MediaLimits{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not a PNG or JPEG"), std::string::npos);
  MediaLimits limits;
  limits.max_image_bytes = 4;
  auto big = decode_image(gif, limits);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("8 bytes; the limit is 4 (media.max_image_bytes)"),
            std::string::npos);
}

}  // namespace
}  // namespace gemmad::media
