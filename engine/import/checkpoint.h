// A Hugging Face checkpoint directory: config.json and its safetensors, single-file
// (model.safetensors) or sharded (model.safetensors.index.json's weight_map naming each
// tensor's shard). Every shard is opened and validated up front; tensor views stay valid for
// the object's life.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "import/safetensors.h"

namespace gemmad::import {

class Checkpoint {
 public:
  // Errors: missing config.json / weights, unreadable or invalid JSON, an index naming a shard
  // outside the directory or a tensor its shard lacks, a tensor in two shards.
  static Result<std::unique_ptr<Checkpoint>> open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const nlohmann::ordered_json& config() const { return config_; }
  const StTensor* find(const std::string& name) const;
  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  size_t shard_count() const { return shards_.size(); }
  // Drops the pages of bytes [begin, end) of tensor `name` (import reads each once).
  void release(const std::string& name, uint64_t begin, uint64_t end) const;

 private:
  Checkpoint() = default;
  std::string dir_;
  nlohmann::ordered_json config_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::unordered_map<std::string, std::pair<size_t, const StTensor*>> index_;
};

// Reads and parses a JSON file (errors name the file).
Result<nlohmann::ordered_json> read_json_file(const std::string& path);

}  // namespace gemmad::import
