// Opening a checkpoint directory and its shards (checkpoint.h).
#include "import/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace gemmad::import {

Result<nlohmann::ordered_json> read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorCode::kBadModelFile, path + ": not a JSON object");
  }
  return j;
}

Result<std::unique_ptr<Checkpoint>> Checkpoint::open(const std::string& dir) {
  namespace fs = std::filesystem;
  std::unique_ptr<Checkpoint> c(new Checkpoint());
  c->dir_ = dir;
  GEMMAD_ASSIGN_OR_RETURN(c->config_, read_json_file((fs::path(dir) / "config.json").string()));
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single = fs::path(dir) / "model.safetensors";
  std::map<std::string, std::vector<std::string>> shard_tensors;  // file -> expected tensors
  if (fs::exists(index)) {
    GEMMAD_ASSIGN_OR_RETURN(nlohmann::ordered_json idx, read_json_file(index.string()));
    auto wm = idx.find("weight_map");
    if (wm == idx.end() || !wm->is_object()) {
      return make_error(ErrorCode::kBadModelFile,
                        index.string() + ": 'weight_map' is not an object");
    }
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it->is_string()) {
        return make_error(ErrorCode::kBadModelFile,
                          index.string() + ": weight_map['" + it.key() + "'] is not a string");
      }
      const std::string file = it->get<std::string>();
      if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
        return make_error(ErrorCode::kBadModelFile, index.string() + ": weight_map['" + it.key() +
                                                        "'] names '" + file +
                                                        "', not a file in the directory");
      }
      shard_tensors[file].push_back(it.key());
    }
  } else if (fs::exists(single)) {
    shard_tensors["model.safetensors"] = {};
  } else {
    return make_error(ErrorCode::kBadModelFile,
                      dir + ": neither model.safetensors nor model.safetensors.index.json");
  }
  for (const auto& [file, expected] : shard_tensors) {
    GEMMAD_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> f,
                            SafetensorsFile::open((fs::path(dir) / file).string()));
    const size_t si = c->shards_.size();
    for (const StTensor& t : f->tensors()) {
      if (!c->index_.emplace(t.name, std::make_pair(si, &t)).second) {
        return make_error(ErrorCode::kBadModelFile,
                          "tensor '" + t.name + "' is in two shards (" + file + ")");
      }
    }
    for (const std::string& name : expected) {
      if (f->find(name) == nullptr) {
        return make_error(ErrorCode::kBadModelFile, "index maps tensor '" + name + "' to " + file +
                                                        ", which does not hold it");
      }
    }
    c->shards_.push_back(std::move(f));
  }
  return c;
}

const StTensor* Checkpoint::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second.second;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [n, v] : index_)
    out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
}

void Checkpoint::release(const std::string& name, uint64_t begin, uint64_t end) const {
  auto it = index_.find(name);
  if (it != index_.end()) shards_[it->second.first]->release(*it->second.second, begin, end);
}

}  // namespace gemmad::import
