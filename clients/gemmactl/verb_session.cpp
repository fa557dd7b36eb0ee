// `gemmactl session ls | show ID | rm ID | export ID`: this app's stored conversations.
#include <fstream>
#include <iostream>

#include "cli.h"
#include "daemon_link.h"
#include "ipc/protocol.h"

namespace gemmad::ctl {
namespace {

const char* role_name(v1::Role r) {
  switch (r) {
    case v1::ROLE_SYSTEM:
      return "system";
    case v1::ROLE_USER:
      return "user";
    case v1::ROLE_MODEL:
      return "model";
    default:
      return "unspecified";
  }
}

std::string format_time(int64_t ms) {
  const time_t secs = static_cast<time_t>(ms / 1000);
  char buf[32];
  struct tm tm;
  localtime_r(&secs, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

struct SessionArgs {
  bool json = false;
  bool all = false;
  uint32_t limit = 0;
  std::string id;
  std::string out;
};

int run_ls(const Globals& g, const SessionArgs& a) {
  int code = kExitOk;
  auto c = connect_daemon(g, code);
  if (!c) return code;
  v1::ClientMessage m;
  m.mutable_list_sessions()->set_limit(a.limit);
  m.mutable_list_sessions()->set_all_apps(a.all);
  auto id = c->send(m);
  if (!id.ok()) return report_client_error(g, id.error());
  auto reply = c->next();
  if (!reply.ok()) return report_client_error(g, reply.error());
  if (reply->has_error()) return report_client_error(g, ipc::from_wire_error(reply->error()));
  const auto& list = reply->session_list();
  if (a.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& s : list.sessions()) {
      nlohmann::json j = {{"id", s.id()},
                          {"title", s.title()},
                          {"updated", s.updated_ms()},
                          {"created", s.created_ms()},
                          {"turns", s.turns()}};
      if (a.all) j["app"] = s.app();
      arr.push_back(j);
    }
    print_json({{"sessions", arr}});
    return kExitOk;
  }
  for (const auto& s : list.sessions()) {
    std::cout << s.id() << "  " << format_time(s.updated_ms()) << "  " << s.turns() << " turn"
              << (s.turns() == 1 ? " " : "s") << "  " << (a.all ? s.app() + "  " : "") << s.title()
              << "\n";
  }
  return kExitOk;
}

int run_show(const Globals& g, const SessionArgs& a) {
  int code = kExitOk;
  auto c = connect_daemon(g, code);
  if (!c) return code;
  auto id = resolve_session_id(*c, a.id);
  if (!id.ok()) return report_client_error(g, id.error());
  auto d = c->show_session(*id);
  if (!d.ok()) return report_client_error(g, d.error());
  if (a.json) {
    nlohmann::json msgs = nlohmann::json::array();
    for (const auto& m : d->messages()) {
      msgs.push_back({{"role", role_name(m.role())},
                      {"text", m.text()},
                      {"tokens", m.tokens()},
                      {"created", m.created_ms()},
                      {"complete", m.status() == v1::MESSAGE_STATUS_COMPLETE}});
    }
    nlohmann::json media = nlohmann::json::array();
    for (const auto& x : d->media()) {
      media.push_back({{"sha256", x.sha256()},
                       {"kind", x.kind() == v1::MEDIA_KIND_AUDIO ? "audio" : "image"},
                       {"mime_type", x.mime_type()},
                       {"bytes", x.bytes()},
                       {"message_index", x.message_index()},
                       {"text_offset", x.text_offset()}});
    }
    print_json({{"id", d->info().id()},
                {"title", d->info().title()},
                {"messages", msgs},
                {"media", media}});
    return kExitOk;
  }
  std::cout << "session " << d->info().id() << "  " << d->info().title() << "\n";
  for (int i = 0; i < d->messages_size(); ++i) {
    const auto& m = d->messages(i);
    std::cout << "\n[" << role_name(m.role()) << "] " << format_time(m.created_ms())
              << (m.status() == v1::MESSAGE_STATUS_COMPLETE ? "" : " (interrupted)") << "\n"
              << m.text() << "\n";
    for (const auto& x : d->media()) {
      if (x.message_index() != static_cast<uint32_t>(i)) continue;
      std::cout << "  [" << (x.kind() == v1::MEDIA_KIND_AUDIO ? "audio" : "image") << " "
                << x.mime_type() << ", " << x.bytes() << " bytes, sha256 "
                << x.sha256().substr(0, 16) << ", at byte " << x.text_offset() << "]\n";
    }
  }
  return kExitOk;
}

int run_rm(const Globals& g, const SessionArgs& a) {
  int code = kExitOk;
  auto c = connect_daemon(g, code);
  if (!c) return code;
  auto id = resolve_session_id(*c, a.id);
  if (!id.ok()) return report_client_error(g, id.error());
  Status s = c->delete_session(*id);
  if (!s.ok()) return report_client_error(g, s.error());
  if (a.json) print_json({{"deleted", *id}});
  return kExitOk;
}

int run_export(const Globals& g, const SessionArgs& a) {
  int code = kExitOk;
  auto c = connect_daemon(g, code);
  if (!c) return code;
  auto id = resolve_session_id(*c, a.id);
  if (!id.ok()) return report_client_error(g, id.error());
  auto ex = c->export_session(*id);
  if (!ex.ok()) return report_client_error(g, ex.error());
  if (a.out.empty() || a.out == "-") {
    std::cout << ex->content() << "\n";
  } else {
    std::ofstream f(a.out, std::ios::binary);
    f << ex->content() << "\n";
    if (!f) return report_error(g, "io", "cannot write " + a.out, kExitError);
  }
  return kExitOk;
}

void add_session_verbs(VerbContext& ctx) {
  CLI::App* grp = group(ctx.root, "session", "this app's stored conversations");
  auto args = std::make_shared<SessionArgs>();
  auto with_json = [&](CLI::App* cmd) { cmd->add_flag("--json", args->json, "JSON output"); };

  CLI::App* ls = grp->add_subcommand("ls", "list sessions, most recent first");
  with_json(ls);
  ls->add_option("--limit", args->limit, "at most this many");
  ls->add_flag("--all", args->all, "every app's sessions (admin group only)");
  ls->callback([&ctx, args] {
    ctx.globals.json = args->json;
    ctx.exit_code = run_ls(ctx.globals, *args);
  });

  CLI::App* show = grp->add_subcommand("show", "print a session's messages");
  with_json(show);
  show->add_option("id", args->id, "session id, or a unique prefix of it")->required();
  show->callback([&ctx, args] {
    ctx.globals.json = args->json;
    ctx.exit_code = run_show(ctx.globals, *args);
  });

  CLI::App* rm = grp->add_subcommand("rm", "delete a session and its messages");
  with_json(rm);
  rm->add_option("id", args->id, "session id, or a unique prefix of it")->required();
  rm->callback([&ctx, args] {
    ctx.globals.json = args->json;
    ctx.exit_code = run_rm(ctx.globals, *args);
  });

  CLI::App* ex = grp->add_subcommand("export", "a session as one JSON document");
  ex->add_option("id", args->id, "session id, or a unique prefix of it")->required();
  add_output_option(ex, args->out, "write to this file instead of stdout", false);
  ex->callback([&ctx, args] { ctx.exit_code = run_export(ctx.globals, *args); });
}

}  // namespace
GEMMACTL_VERB(60, add_session_verbs);
}  // namespace gemmad::ctl
