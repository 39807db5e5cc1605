#include "cxg/common/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

#include "cxg/common/encoding.hpp"

namespace cxg::crypto {

Digest sha256(std::string_view data) {
  Digest d{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("sha256 failed");
  return d;
}

Digest hmac_sha256(std::string_view key, std::string_view data) {
  Digest d{};
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data(), &len))
    throw std::runtime_error("hmac-sha256 failed");
  return d;
}

std::string_view as_bytes(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool secret_matches(std::string_view presented, std::string_view configured) {
  return constant_time_equal(as_bytes(sha256(presented)), as_bytes(sha256(configured)));
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (n && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return out;
}

std::string random_token(std::size_t n) { return encoding::base64url_encode(random_bytes(n)); }

std::string uuid_v4() {
  std::string b = random_bytes(16);
  b[6] = static_cast<char>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3F) | 0x80);
  const std::string hex = encoding::hex_encode(b);
  return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' +
         hex.substr(16, 4) + '-' + hex.substr(20, 12);
}

std::string fingerprint(std::string_view secret) {
  return encoding::hex_encode(as_bytes(sha256(secret))).substr(0, 8);
}

}  // namespace cxg::crypto
