// JPEG through libjpeg-turbo's libjpeg API. libjpeg reports errors by calling error_exit,
// which must not return: ours longjmps back into run_decoder, whose frame holds only trivially
// destructible locals (the output buffer belongs to the caller), and the message is kept.
#include <csetjmp>
#include <cstdio>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>

#include "daemon/media/image_decoder.h"

namespace gemmad::media {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Corrupt-data warnings: libjpeg recovers; we stay silent rather than write to stderr.
void on_output_message(j_common_ptr) {}

struct Job {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  std::span<const uint8_t> bytes;
  const MediaLimits* limits = nullptr;
  DecodedImage* out = nullptr;
  Status limit_status;  // set when the header is past a limit
};

// Returns false on a libjpeg error (message in job.err.message) or a limit (job.limit_status).
bool run_decoder(Job& job) {
  jpeg_decompress_struct& cinfo = job.cinfo;
  if (setjmp(job.err.jump) != 0) return false;
  jpeg_mem_src(&cinfo, job.bytes.data(), static_cast<unsigned long>(job.bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  job.limit_status = check_image_pixels(cinfo.image_width, cinfo.image_height, *job.limits);
  if (!job.limit_status.ok()) return false;
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  if (cinfo.output_components != 3) {
    std::snprintf(job.err.message, sizeof(job.err.message), "%d output components, not 3",
                  cinfo.output_components);
    return false;
  }
  job.out->width = cinfo.output_width;
  job.out->height = cinfo.output_height;
  const size_t stride = size_t{cinfo.output_width} * 3;
  job.out->rgb.resize(stride * cinfo.output_height);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = job.out->rgb.data() + stride * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  return true;
}

}  // namespace

Result<DecodedImage> decode_jpeg(std::span<const uint8_t> bytes, const MediaLimits& limits) {
  DecodedImage out;
  Job job{};
  job.bytes = bytes;
  job.limits = &limits;
  job.out = &out;
  job.cinfo.err = jpeg_std_error(&job.err.pub);
  job.err.pub.error_exit = on_error_exit;
  job.err.pub.output_message = on_output_message;
  job.err.message[0] = '\0';
  jpeg_create_decompress(&job.cinfo);
  const bool ok = run_decoder(job);
  jpeg_destroy_decompress(&job.cinfo);
  if (!job.limit_status.ok()) return std::move(job.limit_status).error();
  if (!ok) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("image: bad JPEG: ") + job.err.message);
  }
  return out;
}

}  // namespace gemmad::media
