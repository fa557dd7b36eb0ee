// The Gemma 4 text hyperparameters of a Hugging Face config.json (its `text_config`, or the
// top level for a text-only config), as the engine's Gemma4Config (spec facts in
// docs/FORMATS.md "config.json keys").
#pragma once

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "models/gemma4_config.h"

namespace gemmad::import {

// Errors name the key and what is wrong (missing, wrong type, inconsistent).
Result<engine::Gemma4Config> gemma4_config_from_hf(const nlohmann::ordered_json& config);

// The object holding the text hyperparameters (text_config or the config itself).
const nlohmann::ordered_json& text_config(const nlohmann::ordered_json& config);

}  // namespace gemmad::import
