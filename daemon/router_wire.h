// Small helpers shared by the router's files: error values and protocol conversions.
#pragma once

#include <string>

#include "common/result.h"
#include "ipc/proto/gemmad.pb.h"
#include "store/session_store.h"

namespace gemmad::daemon {

inline Error invalid(std::string m) {
  return make_error(ErrorCode::kInvalidArgument, std::move(m));
}

inline v1::SessionInfo to_wire(const store::Session& s, const std::string& app) {
  v1::SessionInfo info;
  info.set_id(s.id);
  info.set_title(s.title);
  info.set_created_ms(s.created_ms);
  info.set_updated_ms(s.updated_ms);
  info.set_turns(static_cast<uint32_t>(s.turns));
  info.set_app(app);
  return info;
}

}  // namespace gemmad::daemon
