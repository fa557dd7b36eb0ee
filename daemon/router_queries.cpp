// The router's queries: session list/show/export/delete (scoped to the caller's app, or
// every app for the admin group) and the daemon's Status.
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>

#include "daemon/process_stats.h"
#include "daemon/router.h"

#include <nlohmann/json.hpp>
#include "daemon/router_wire.h"
#include "ipc/peer_identity.h"
#include "ipc/protocol.h"
#include "store/session_json.h"

namespace gemmad::daemon {

bool Router::is_admin(uint32_t uid) const {
  if (uid == 0) return true;
  struct group* g = getgrnam(config_.admin_group.c_str());
  if (g == nullptr) return false;
  if (struct passwd* pw = getpwuid(uid)) {
    if (pw->pw_gid == g->gr_gid) return true;
    for (char** m = g->gr_mem; *m != nullptr; ++m) {
      if (std::string(*m) == pw->pw_name) return true;
    }
  }
  return false;
}

Status Router::on_sessions(const ConnPtr& conn, Client& client, const v1::ClientMessage& msg) {
  using Body = v1::ClientMessage::BodyCase;
  v1::ServerMessage reply;
  reply.set_request_id(msg.request_id());
  if (!client.app_known) {  // not registered at Hello (see on_hello)
    GEMMAD_ASSIGN_OR_RETURN(client.app, store_.ensure_app(client.uid, client.app_name));
    client.app_known = true;
  }
  switch (msg.body_case()) {
    case Body::kListSessions: {
      const size_t limit = msg.list_sessions().limit() ? msg.list_sessions().limit() : 100000;
      auto* list = reply.mutable_session_list();
      if (msg.list_sessions().all_apps()) {
        if (!is_admin(client.uid)) {
          return make_error(ErrorCode::kPermissionDenied,
                            "listing every app's sessions needs membership of group '" +
                                config_.admin_group + "'");
        }
        GEMMAD_ASSIGN_OR_RETURN(auto all, store_.list_all_sessions(limit));
        for (const auto& s : all) {
          *list->add_sessions() = to_wire(s.session, std::to_string(s.uid) + ":" + s.app_name);
        }
      } else {
        GEMMAD_ASSIGN_OR_RETURN(auto sessions, store_.list_sessions(client.app, limit));
        for (const auto& s : sessions)
          *list->add_sessions() = to_wire(s, client.app_name);
      }
      break;
    }
    case Body::kShowSession:
    case Body::kExportSession: {
      const std::string& id = msg.body_case() == Body::kShowSession
                                  ? msg.show_session().session_id()
                                  : msg.export_session().session_id();
      GEMMAD_ASSIGN_OR_RETURN(store::SessionExport ex, store_.export_session(client.app, id));
      if (msg.body_case() == Body::kExportSession) {
        auto* out = reply.mutable_session_export();
        out->set_session_id(ex.session.id);
        out->set_format("json");
        out->set_content(store::session_export_to_json(ex));
        break;
      }
      auto* detail = reply.mutable_session_detail();
      *detail->mutable_info() = to_wire(ex.session, client.app_name);
      for (const auto& m : ex.messages) {
        auto* wm = detail->add_messages();
        wm->set_role(m.role == store::Role::kSystem ? v1::ROLE_SYSTEM
                     : m.role == store::Role::kUser ? v1::ROLE_USER
                     : m.role == store::Role::kTool ? v1::ROLE_TOOL
                                                    : v1::ROLE_MODEL);
        wm->set_tool_name(m.tool_name);
        wm->set_tool_call_id(m.tool_call_id);
        const auto calls = nlohmann::json::parse(m.tool_calls_json, nullptr, false);
        if (calls.is_array()) {
          for (const auto& c : calls) {
            if (!c.is_object()) continue;
            v1::ToolCall* wc = wm->add_tool_calls();
            wc->set_id(c.value("id", ""));
            wc->set_name(c.value("name", ""));
            wc->set_arguments_json(c.value("arguments", "{}"));
          }
        }
        wm->set_text(m.text);
        wm->set_tokens(static_cast<uint32_t>(m.tokens));
        wm->set_created_ms(m.created_ms);
        wm->set_status(m.status == store::MessageStatus::kComplete ? v1::MESSAGE_STATUS_COMPLETE
                       : m.status == store::MessageStatus::kTruncated
                           ? v1::MESSAGE_STATUS_TRUNCATED
                           : v1::MESSAGE_STATUS_CANCELLED);
      }
      // Its stored images and audio (content-addressed; `session rm` removes them).
      GEMMAD_ASSIGN_OR_RETURN(std::vector<store::StoredMedia> media,
                              store_.session_media(client.app, ex.session.id));
      for (const store::StoredMedia& sm : media) {
        v1::SessionMedia* wm = detail->add_media();
        wm->set_sha256(sm.sha256);
        wm->set_kind(sm.kind == store::MediaKind::kImage ? v1::MEDIA_KIND_IMAGE
                                                         : v1::MEDIA_KIND_AUDIO);
        wm->set_mime_type(sm.mime);
        wm->set_bytes(static_cast<uint64_t>(sm.bytes));
        wm->set_text_offset(sm.text_offset);
        for (size_t i = 0; i < ex.messages.size(); ++i) {
          if (ex.messages[i].seq == sm.message_seq) wm->set_message_index(static_cast<uint32_t>(i));
        }
      }
      break;
    }
    case Body::kDeleteSession:
      GEMMAD_TRY(store_.delete_session(client.app, msg.delete_session().session_id()));
      if (kv_store_) kv_store_->remove(msg.delete_session().session_id());
      reply.mutable_ack();
      break;
    default:
      return invalid("not a session request");
  }
  // A reply over server.max_frame_bytes goes out as Error TOO_LARGE (Connection::send).
  conn->send(reply);
  return {};
}

namespace {

void fill_model(const ModelEntry& e, v1::ModelInfo& m) {
  m.set_model(e.name);
  m.set_name(e.name);
  m.set_variant(e.variant);
  m.set_path(e.path);
  m.set_n_ctx(e.n_ctx);
  m.set_vocab_size(e.vocab_size);
  m.set_loaded(e.loaded);
  m.set_resident_bytes(e.resident_bytes);
  m.set_last_used_ms(e.last_used_ms);
  m.set_keep_alive_ms(e.keep_alive_ms);
  m.set_file_bytes(e.file_bytes);
  m.set_configured(e.configured);
  m.set_is_default(e.is_default);
  m.set_active(e.active);
  m.set_mmproj_path(e.mmproj_path);
  for (const ModalityStatus& x : e.modalities) {
    v1::ModalityInfo* mi = m.add_modalities();
    mi->set_modality(modality_name(x.modality));
    mi->set_bound(x.bound);
    mi->set_mapped_bytes(x.weight_bytes);
    mi->set_resident_bytes(x.resident_bytes);
    mi->set_last_used_ms(x.last_use_unix_ms);
    mi->set_encodes(x.encodes);
  }
}

}  // namespace

Status Router::on_list_models(const ConnPtr& conn, const v1::ClientMessage& msg) {
  v1::ServerMessage reply;
  reply.set_request_id(msg.request_id());
  auto* list = reply.mutable_model_list();
  for (const ModelEntry& e : turns_.models(true))
    fill_model(e, *list->add_models());
  list->set_models_dir(models_.models_dir());
  conn->send(reply);  // too large for a frame: Error TOO_LARGE instead (Connection::send)
  return {};
}

Status Router::on_status(const ConnPtr& conn, const v1::ClientMessage& msg) {
  v1::ServerMessage reply;
  reply.set_request_id(msg.request_id());
  auto* s = reply.mutable_status_reply();
  s->set_daemon_version(GEMMAD_VERSION);
  s->set_uptime_ms(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - started_)
                                             .count()));
  s->set_pid(static_cast<uint32_t>(getpid()));
  const ServiceStatus st = turns_.status();
  uint64_t mapped = 0, resident = 0;
  for (const ModelEntry& e : st.models) {
    fill_model(e, *s->add_models());
    if (e.loaded) mapped += e.file_bytes;
    resident += e.resident_bytes;
  }
  if (!st.models.empty()) fill_model(st.models.front(), *s->mutable_model());
  auto* mem = s->mutable_memory();
  mem->set_rss_bytes(resident_set_bytes());
  mem->set_mapped_bytes(mapped);
  mem->set_resident_weight_bytes(resident);
  s->mutable_queue()->set_active(st.active);
  s->mutable_queue()->set_queued(st.queued);
  s->set_clients_connected(server_ ? static_cast<uint32_t>(server_->connection_count()) : 0);
  s->set_kernel_set(kernel_set_);
  // gemmad exits at start-up when the filter is configured and cannot be installed.
  s->set_network_filter(config_.network_filter);
  s->set_sessions_stored(static_cast<uint64_t>(std::max<int64_t>(0, st.sessions_stored)));
  const ipc::IdMapping ids = ipc::read_uid_mapping();
  s->set_peer_ids_mapped(ids.maps_all);
  s->set_identity_mapping(ids.summary);
  s->set_landlock(landlock_);
  auto* b = s->mutable_batch();
  for (const auto& [size, steps] : st.decode_batch_sizes) {
    auto* h = b->add_histogram();
    h->set_batch_size(size);
    h->set_steps(steps);
  }
  uint64_t decode_steps = 0;
  for (const auto& [size, steps] : st.decode_batch_sizes)
    decode_steps += steps;
  b->set_total_decode_steps(decode_steps);
  b->set_total_tokens(st.tokens_generated);
  const double cpu = process_cpu_seconds();
  b->set_cpu_seconds(cpu);
  b->set_cpu_seconds_per_token(
      st.tokens_generated > 0 ? cpu / static_cast<double>(st.tokens_generated) : 0.0);
  b->set_kv_restored(st.kv_restored);
  conn->send(reply);
  return {};
}

// Owner or admin only: any local user may connect, but stopping the service for everyone is
// for the account it runs as, root, and privacy.admin_group.
Status Router::on_shutdown(const ConnPtr& conn, const Client& client,
                           const v1::ClientMessage& msg) {
  const uid_t self = getuid();
  if (client.uid != self && !is_admin(client.uid)) {
    return make_error(ErrorCode::kPermissionDenied,
                      "shutdown: uid " + std::to_string(client.uid) +
                          " may not stop gemmad (allowed: uid " + std::to_string(self) +
                          " that runs it, root, and group '" + config_.admin_group + "')");
  }
  v1::ServerMessage reply;
  reply.set_request_id(msg.request_id());
  reply.mutable_ack();
  conn->send(reply);
  if (shutdown_) shutdown_("Shutdown request from uid " + std::to_string(client.uid));
  return {};
}

}  // namespace gemmad::daemon
