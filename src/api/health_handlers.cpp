// /healthz, /readyz, /metrics (http-api.md §2.1).
#include "handlers.hpp"

namespace cxg::api::handlers {

Response healthz() {
  Response r;
  r.content_type = "text/plain; charset=utf-8";
  r.body = "ok";
  return r;
}

Response readyz(Services& s) {
  const auto reason = s.readiness.not_ready_reason(s.clock.now_unix_ms());
  s.metrics.gauge("cxg_ready").set(reason.empty() ? 1 : 0);
  Response r;
  r.content_type = "text/plain; charset=utf-8";
  if (reason.empty()) {
    r.body = "ready";
  } else {
    r.status = 503;
    r.body = "not ready: " + reason;
  }
  return r;
}

Response metrics(Services& s) {
  s.metrics.gauge("cxg_ready").set(s.readiness.not_ready_reason(s.clock.now_unix_ms()).empty() ? 1 : 0);
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = s.metrics.render();
  return r;
}

}  // namespace cxg::api::handlers
