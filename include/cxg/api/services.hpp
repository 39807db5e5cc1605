#pragma once
// Everything a handler may use, passed by reference (one place to wire, easy to fake).
#include "cxg/api/live_relay.hpp"
#include "cxg/api/readiness.hpp"
#include "cxg/api/turn_revocations.hpp"
#include "cxg/auth/ticket_issuer.hpp"
#include "cxg/auth/ticket_replay_guard.hpp"
#include "cxg/auth/validator.hpp"
#include "cxg/common/clock.hpp"
#include "cxg/config/config.hpp"
#include "cxg/metrics/registry.hpp"
#include "cxg/store/store.hpp"

namespace cxg::api {

struct Services {
  const config::Config& config;
  const Clock& clock;
  store::Store& store;
  auth::Validator& validator;
  auth::TicketIssuer& ticket_issuer;
  auth::TicketReplayGuard& ticket_guard;
  TurnRevocations& revocations;
  Readiness& readiness;
  metrics::Registry& metrics;
  LiveRelay& relay;
};

}  // namespace cxg::api
