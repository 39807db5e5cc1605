// Positive-result cache in front of a validator (http-api.md §3.3 "Cache", R13).
#include <algorithm>
#include <list>
#include <mutex>
#include <unordered_map>

#include "cxg/auth/validators.hpp"
#include "cxg/common/crypto.hpp"

namespace cxg::auth {
namespace {

void append_length_prefixed(std::string& out, std::string_view part) {
  const std::uint64_t n = part.size();
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xFF);
  out += part;
}

// Each variable-length part carries its length, so ("ab","c") and ("a","bc") hash
// differently. Only the digest is stored: the cache never holds a credential.
std::string cache_key(const Credential& credential) {
  std::string material;
  material += credential.scheme == Credential::Scheme::bearer ? 'B' : 'A';
  append_length_prefixed(material, credential.value);
  append_length_prefixed(material, credential.account_id);
  return std::string(crypto::as_bytes(crypto::sha256(material)));
}

class CachingValidator final : public Validator {
 public:
  CachingValidator(std::unique_ptr<Validator> inner, std::chrono::milliseconds ttl, const Clock& clock,
                   std::size_t capacity)
      : inner_(std::move(inner)), ttl_ms_(ttl.count()), clock_(clock), capacity_(capacity) {}

  ValidationResult validate(const Credential& credential) override {
    const std::string key = cache_key(credential);
    const std::int64_t now = clock_.now_unix_ms();
    if (auto hit = lookup(key, now)) return *hit;
    // The inner call may block for seconds: it runs without the lock. Two concurrent misses
    // for one credential both ask the inner validator, which is harmless.
    ValidationResult result = inner_->validate(credential);
    if (result.verdict == Verdict::accepted) store(key, result, entry_expiry(result, now));
    return result;
  }

  std::string_view name() const override { return inner_->name(); }

  bool answers_from_memory(const Credential& credential) override {
    if (inner_->answers_from_memory(credential)) return true;
    const std::string key = cache_key(credential);
    const std::int64_t now = clock_.now_unix_ms();
    std::lock_guard lock(mu_);
    const auto it = index_.find(key);
    return it != index_.end() && now < it->second->expires_at_ms;
  }

 private:
  struct Entry {
    std::string key;
    ValidationResult result;
    std::int64_t expires_at_ms;
  };
  using Lru = std::list<Entry>;  // most recently used first

  // Measured from before the inner call, so an entry never outlives `ttl` after the
  // validation that produced it started.
  std::int64_t entry_expiry(const ValidationResult& result, std::int64_t now_ms) const {
    std::int64_t expiry = now_ms + ttl_ms_;
    if (result.expires_at_s) expiry = std::min(expiry, *result.expires_at_s * 1000);
    return expiry;
  }

  std::optional<ValidationResult> lookup(const std::string& key, std::int64_t now_ms) {
    std::lock_guard lock(mu_);
    const auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    if (now_ms >= it->second->expires_at_ms) {
      lru_.erase(it->second);
      index_.erase(it);
      return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->result;
  }

  void store(const std::string& key, const ValidationResult& result, std::int64_t expires_at_ms) {
    if (expires_at_ms <= clock_.now_unix_ms()) return;  // already stale (e.g. JWT about to expire)
    std::lock_guard lock(mu_);
    if (const auto it = index_.find(key); it != index_.end()) {
      lru_.erase(it->second);
      index_.erase(it);
    }
    lru_.push_front(Entry{key, result, expires_at_ms});
    index_.emplace(key, lru_.begin());
    while (lru_.size() > capacity_) {
      index_.erase(lru_.back().key);
      lru_.pop_back();
    }
  }

  const std::unique_ptr<Validator> inner_;
  const std::int64_t ttl_ms_;
  const Clock& clock_;
  const std::size_t capacity_;
  std::mutex mu_;
  Lru lru_;
  std::unordered_map<std::string, Lru::iterator> index_;
};

}  // namespace

std::unique_ptr<Validator> make_caching_validator(std::unique_ptr<Validator> inner,
                                                  std::chrono::milliseconds ttl, const Clock& clock,
                                                  std::size_t capacity) {
  if (ttl.count() <= 0 || capacity == 0) return inner;  // caching disabled
  return std::make_unique<CachingValidator>(std::move(inner), ttl, clock, capacity);
}

}  // namespace cxg::auth
