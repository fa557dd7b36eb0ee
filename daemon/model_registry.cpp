// Mapping, unmapping and naming of the served models; see model_registry.h.
#include "daemon/model_registry.h"

#include <filesystem>

#include "daemon/process_stats.h"

namespace gemmad::daemon {
namespace {

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::shared_ptr<LoadedModel>> LoadedModel::load(const std::string& name,
                                                       const std::string& path,
                                                       uint32_t context_length,
                                                       const std::string& mmproj) {
  auto m = std::make_shared<LoadedModel>();
  m->name = name;
  m->path = path;
  GEMMAD_ASSIGN_OR_RETURN(m->model, runtime::Model::load(path));
  auto tok = tokenizer::Tokenizer::from_gguf(m->model->file());
  if (!tok.ok()) return std::move(tok).error().with_context(path);
  m->tok = std::move(tok).value();
  auto chat = chat::ChatFormat::create(*m->tok);
  if (!chat.ok()) return std::move(chat).error().with_context(path);
  m->chat.emplace(std::move(chat).value());
  m->stops = generate::stop_set_for(*m->tok);
  m->n_ctx = std::min(context_length, m->model->config().n_ctx_train);
  if (!mmproj.empty()) {
    auto ids = MediaTokenIds::of(*m->tok);
    if (!ids.ok())
      return std::move(ids).error().with_context(path + " (with mmproj " + mmproj + ")");
    m->media_ids = *ids;
    GEMMAD_ASSIGN_OR_RETURN(m->encoders, MediaEncoders::open(mmproj, m->model->config()));
  }
  return m;
}

LoadedModel::~LoadedModel() {
  if (token_index_builder_.joinable()) token_index_builder_.join();
}

void LoadedModel::build_token_index_locked(std::unique_lock<std::mutex>& lock) const {
  if (token_index_built_) return;
  if (token_index_building_) {
    token_index_cv_.wait(lock, [&] { return token_index_built_; });
    return;
  }
  token_index_building_ = true;
  lock.unlock();
  auto idx = constrain::build_token_index(*tok);
  lock.lock();
  // A token too long for the index (65,535 bytes) leaves the model unconstrainable: the
  // request is then refused with an error naming it (turn_service policy_for).
  if (idx.ok()) token_index_ = std::move(idx).value();
  ++token_index_builds_;
  token_index_built_ = true;
  token_index_cv_.notify_all();
}

std::shared_ptr<const constrain::TokenIndex> LoadedModel::token_index() const {
  std::unique_lock lock(token_index_mu_);
  build_token_index_locked(lock);
  return token_index_;
}

void LoadedModel::build_token_index_in_background() {
  std::lock_guard lock(token_index_mu_);
  if (token_index_built_ || token_index_building_ || token_index_builder_.joinable()) return;
  token_index_builder_ = std::thread([this] {
    std::unique_lock l(token_index_mu_);
    build_token_index_locked(l);
  });
}

uint32_t LoadedModel::token_index_builds() const {
  std::lock_guard lock(token_index_mu_);
  return token_index_builds_;
}

uint64_t LoadedModel::resident_bytes() const {
  const auto& tensors = model->file().tensors();
  if (tensors.empty()) return 0;
  const uint8_t* lo = tensors.front().data;
  const uint8_t* hi = lo;
  for (const auto& t : tensors) {
    lo = std::min(lo, t.data);
    hi = std::max(hi, t.data + t.n_bytes);
  }
  return resident_bytes_of(lo, static_cast<uint64_t>(hi - lo));
}

std::string LoadedModel::general_name() const {
  auto n = model->file().get_string("general.name");
  return n.ok() ? std::string(*n) : std::string();
}

ModelRegistry::ModelRegistry(const Config& config)
    : context_length_(config.context_length),
      models_dir_(config.models_dir),
      encoder_idle_(std::chrono::seconds(config.media_encoder_idle_s)) {
  for (const ModelConfig& m : config.models) {
    ModelState s;
    s.config = m;
    s.keep_alive_ms = m.keep_alive_ms;
    states_.push_back(std::move(s));
  }
}

Status ModelRegistry::load_all() {
  for (ModelState& s : states_)
    GEMMAD_TRY(map(s));
  return {};
}

void ModelRegistry::build_token_indexes_in_background() {
  background_token_index_ = true;
  for (ModelState& s : states_) {
    if (auto m = s.alive.lock()) m->build_token_index_in_background();
  }
}

ModelState* ModelRegistry::find(const std::string& name) {
  if (name.empty()) return &states_.front();
  for (ModelState& s : states_) {
    if (s.config.name == name) return &s;
  }
  return nullptr;
}

Result<std::shared_ptr<LoadedModel>> ModelRegistry::map(ModelState& s) {
  if (auto alive = s.alive.lock()) {
    s.held = alive;  // still mapped (a lane or a job held it): never map a file twice
    return alive;
  }
  GEMMAD_ASSIGN_OR_RETURN(
      std::shared_ptr<LoadedModel> m,
      LoadedModel::load(s.config.name, s.config.path, context_length_, s.config.mmproj));
  if (background_token_index_) m->build_token_index_in_background();
  s.held = m;
  s.alive = m;
  s.n_ctx = m->n_ctx;
  s.variant = m->model->config().variant.empty() ? "custom" : m->model->config().variant;
  s.vocab_size = static_cast<uint32_t>(m->tok->vocab_size());
  s.file_bytes = m->model->file().file_size();
  return m;
}

Result<std::shared_ptr<LoadedModel>> ModelRegistry::acquire(const std::string& name) {
  ModelState* s = find(name);
  if (s == nullptr) {
    std::string names;
    for (const ModelState& st : states_)
      names += (names.empty() ? "" : ", ") + st.config.name;
    return make_error(ErrorCode::kNotFound,
                      "model '" + name + "' is not configured (models: " + names + ")");
  }
  if (s->held) return s->held;
  return map(*s);
}

void ModelRegistry::begin(const std::string& name) {
  if (ModelState* s = find(name)) ++s->active;
}

void ModelRegistry::end(const std::string& name,
                        std::optional<std::chrono::milliseconds> keep_alive) {
  ModelState* s = find(name);
  if (s == nullptr) return;
  if (s->active > 0) --s->active;
  s->keep_alive_ms = keep_alive ? keep_alive->count() : s->config.keep_alive_ms;
  s->idle_since = std::chrono::steady_clock::now();
  s->last_used_unix_ms = unix_ms_now();
}

std::vector<std::shared_ptr<LoadedModel>> ModelRegistry::expire(
    std::chrono::steady_clock::time_point now,
    std::optional<std::chrono::steady_clock::time_point>& next) {
  std::vector<std::shared_ptr<LoadedModel>> dropped;
  next.reset();
  for (ModelState& s : states_) {
    if (s.held && s.held->encoders) s.held->encoders->release_idle(now, encoder_idle_, next);
    if (!s.held || s.active > 0 || s.keep_alive_ms < 0) continue;
    const auto deadline = s.idle_since + std::chrono::milliseconds(s.keep_alive_ms);
    if (deadline <= now) {
      dropped.push_back(std::move(s.held));
      s.held.reset();
    } else if (!next || deadline < *next) {
      next = deadline;
    }
  }
  return dropped;
}

}  // namespace gemmad::daemon
