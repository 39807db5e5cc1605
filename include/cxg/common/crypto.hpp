#pragma once
#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace cxg::crypto {

using Digest = std::array<unsigned char, 32>;

Digest sha256(std::string_view data);
Digest hmac_sha256(std::string_view key, std::string_view data);
std::string_view as_bytes(const Digest& d);

// Constant-time comparison of secrets: time depends only on the lengths, never on content.
bool constant_time_equal(std::string_view a, std::string_view b);
// For a presented credential against a configured secret: compares SHA-256 digests in
// constant time, so neither the content nor the configured secret's length shows in timing.
bool secret_matches(std::string_view presented, std::string_view configured);

// Cryptographically secure random bytes (OpenSSL RAND_bytes); throws on failure.
std::string random_bytes(std::size_t n);
// n random bytes rendered as base64url without padding.
std::string random_token(std::size_t n = 32);
// RFC 4122 version-4 UUID, lowercase.
std::string uuid_v4();

// First 8 hex digits of SHA-256: the only form in which a secret may appear in logs.
std::string fingerprint(std::string_view secret);

}  // namespace cxg::crypto
