// The directory tap: dumps named intermediates as raw f32 files plus an index.
#include "runtime/tap.h"

#include <cstdio>
#include <filesystem>

namespace gemmad::runtime {

Result<TapFn> make_dir_tap(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, "tap directory '" + dir + "': " + ec.message());
  }
  return TapFn([dir](const TapInfo& t) {
    const std::string layer = t.layer < 0 ? "g" : std::to_string(t.layer);
    const std::string path = dir + "/" + std::string(t.name) + "." + layer + ".f32";
    if (FILE* f = std::fopen(path.c_str(), "ab")) {
      std::fwrite(t.data, sizeof(float), static_cast<size_t>(t.n_rows * t.n_cols), f);
      std::fclose(f);
    }
    if (FILE* f = std::fopen((dir + "/index.tsv").c_str(), "a")) {
      std::string line = std::string(t.name) + "\t" + layer + "\t" + std::to_string(t.n_rows) +
                         "\t" + std::to_string(t.n_cols) + "\t";
      for (int64_t r = 0; r < t.n_rows; ++r)
        line += (r ? "," : "") + std::to_string(t.pos[r]);
      line += "\t";
      for (int64_t r = 0; r < t.n_rows; ++r)
        line += (r ? "," : "") + std::to_string(t.seq[r]);
      line += "\n";
      std::fputs(line.c_str(), f);
      std::fclose(f);
    }
  });
}

}  // namespace gemmad::runtime
