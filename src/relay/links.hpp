#pragma once
// The hub's records of live connections. Fields marked (mu) are guarded by the owning
// ExecutorLink's mutex.
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cxg/relay/hub.hpp"

namespace cxg::relay {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct BridgeLink {
  BridgeIdentity who;
  Flavour flavour = Flavour::relay;
  std::string stream_id;
  std::shared_ptr<Peer> peer;
  std::shared_ptr<FlowCredit> credit;
  std::weak_ptr<ExecutorLink> executor;
  std::uint32_t seq_to_executor = 0;  // (mu) Data frames cxg creates for a plain bridge
  std::uint32_t seq_to_bridge = 0;    // (mu) Data frames cxg creates from legacy executor text
  bool open = true;                   // (mu) false once the route is gone
};

struct ExecutorLink {
  std::string exe_id;
  std::string conn_id;
  bool legacy = false;
  std::shared_ptr<Peer> peer;
  mutable std::mutex mu;
  bool live = true;  // (mu) false once evicted, deleted, gone, or closing after its bridge left
  std::unordered_map<std::string, std::shared_ptr<BridgeLink>, StringHash, std::equal_to<>> streams;  // (mu)
};

}  // namespace cxg::relay
