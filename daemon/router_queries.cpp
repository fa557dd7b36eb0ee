// The router's queries: session list/show/export/delete (scoped to the caller's app, or
// every app for the admin group) and the daemon's Status.
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>

#include "daemon/process_stats.h"
#include "daemon/router.h"
#include "daemon/router_wire.h"
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
                                                    : v1::ROLE_MODEL);
        wm->set_text(m.text);
        wm->set_tokens(static_cast<uint32_t>(m.tokens));
        wm->set_created_ms(m.created_ms);
        wm->set_status(m.status == store::MessageStatus::kComplete ? v1::MESSAGE_STATUS_COMPLETE
                                                                   : v1::MESSAGE_STATUS_CANCELLED);
      }
      break;
    }
    case Body::kDeleteSession:
      GEMMAD_TRY(store_.delete_session(client.app, msg.delete_session().session_id()));
      reply.mutable_ack();
      break;
    default:
      return invalid("not a session request");
  }
  if (conn->send(reply) == ipc::SendStatus::kTooLarge) {
    return make_error(ErrorCode::kOutOfRange, "reply exceeds server.max_frame_bytes " +
                                                  std::to_string(config_.max_frame_bytes));
  }
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
  auto* m = s->mutable_model();
  m->set_variant(model_.config().variant);
  m->set_path(config_.model_path);
  m->set_n_ctx(config_.context_length);
  m->set_vocab_size(static_cast<uint32_t>(tokenizer_.vocab_size()));
  if (auto name = model_.file().get_string("general.name"); name.ok())
    m->set_name(std::string(*name));
  auto* mem = s->mutable_memory();
  mem->set_rss_bytes(resident_set_bytes());
  mem->set_mapped_bytes(model_.file().file_size());
  const auto& tensors = model_.file().tensors();
  if (!tensors.empty()) {
    const uint8_t* lo = tensors.front().data;
    const uint8_t* hi = lo;
    for (const auto& t : tensors) {
      lo = std::min(lo, t.data);
      hi = std::max(hi, t.data + t.n_bytes);
    }
    mem->set_resident_weight_bytes(resident_bytes_of(lo, static_cast<uint64_t>(hi - lo)));
  }
  const SchedulerStats st = scheduler_.stats();
  s->mutable_queue()->set_active(st.active);
  s->mutable_queue()->set_queued(st.queued);
  s->set_clients_connected(server_ ? static_cast<uint32_t>(server_->connection_count()) : 0);
  s->set_kernel_set(kernel_set_);
  // gemmad exits at start-up when the filter is configured and cannot be installed.
  s->set_network_filter(config_.network_filter);
  s->set_landlock(landlock_);
  auto* b = s->mutable_batch();
  for (const auto& [size, steps] : st.decode_batch_sizes) {
    auto* h = b->add_histogram();
    h->set_batch_size(size);
    h->set_steps(steps);
  }
  b->set_total_decode_steps(st.decode_steps);
  b->set_total_tokens(st.tokens_generated);
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
