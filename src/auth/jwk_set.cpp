#include "auth/jwk_set.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include <boost/json.hpp>

#include "cxg/common/encoding.hpp"
#include "cxg/common/log.hpp"

namespace cxg::auth {
namespace {

namespace json = boost::json;

// Below 2048 bits RSA is no longer considered safe (NIST SP 800-131A).
constexpr int kMinRsaBits = 2048;

struct BnDeleter {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct ParamBldDeleter {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

std::unique_ptr<BIGNUM, BnDeleter> to_bignum(std::string_view big_endian) {
  return std::unique_ptr<BIGNUM, BnDeleter>(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(big_endian.data()),
                static_cast<int>(big_endian.size()), nullptr));
}

// OpenSSL 3 builds keys from parameters; the deprecated RSA_set0_key path is avoided.
PublicKey rsa_public_key(std::string_view modulus, std::string_view exponent) {
  const auto n = to_bignum(modulus);
  const auto e = to_bignum(exponent);
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld(OSSL_PARAM_BLD_new());
  if (!n || !e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()))
    return nullptr;
  std::unique_ptr<OSSL_PARAM, ParamDeleter> params(OSSL_PARAM_BLD_to_param(bld.get()));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return PublicKey(key);
}

std::string_view string_member(const json::object& obj, std::string_view name) {
  const json::value* v = obj.if_contains(name);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

// Keys declared for another use or algorithm are not RS256 signing keys.
bool is_rs256_signing_jwk(const json::object& jwk) {
  if (string_member(jwk, "kty") != "RSA") return false;
  if (jwk.contains("use") && string_member(jwk, "use") != "sig") return false;
  if (jwk.contains("alg") && string_member(jwk, "alg") != "RS256") return false;
  return true;
}

Result<RsaJwk, std::string> parse_rsa_jwk(const json::object& jwk) {
  const auto n = encoding::base64url_decode(string_member(jwk, "n"));
  const auto e = encoding::base64url_decode(string_member(jwk, "e"));
  if (!n || !e || n->empty() || e->empty()) return unexpected(std::string("n/e missing or not base64url"));
  PublicKey key = rsa_public_key(*n, *e);
  if (!key) return unexpected(std::string("OpenSSL refused the RSA parameters"));
  if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits)
    return unexpected("modulus shorter than " + std::to_string(kMinRsaBits) + " bits");
  return RsaJwk{std::string(string_member(jwk, "kid")), std::move(key)};
}

}  // namespace

const EVP_PKEY* JwkSet::find(std::string_view kid) const {
  for (const auto& jwk : keys_)
    if (jwk.kid == kid) return jwk.key.get();
  return nullptr;
}

const EVP_PKEY* JwkSet::only_key() const { return keys_.size() == 1 ? keys_.front().key.get() : nullptr; }

Result<std::shared_ptr<const JwkSet>, std::string> parse_jwk_set(std::string_view json_text) {
  boost::system::error_code ec;
  const json::value doc = json::parse(json_text, ec);
  const json::value* keys = (!ec && doc.is_object()) ? doc.as_object().if_contains("keys") : nullptr;
  if (!keys || !keys->is_array()) return unexpected(std::string("not a JWK Set (no \"keys\" array)"));
  std::vector<RsaJwk> usable;
  for (const json::value& entry : keys->as_array()) {
    if (!entry.is_object() || !is_rs256_signing_jwk(entry.as_object())) continue;
    auto jwk = parse_rsa_jwk(entry.as_object());
    if (!jwk) {
      log::warn("JWKS key skipped",
                {{"kid", string_member(entry.as_object(), "kid")}, {"problem", jwk.error()}});
      continue;
    }
    usable.push_back(std::move(*jwk));
  }
  if (usable.empty()) return unexpected(std::string("no usable RS256 key"));
  return std::make_shared<const JwkSet>(std::move(usable));
}

bool verify_rs256(const EVP_PKEY* key, std::string_view signing_input, std::string_view signature) {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  // EVP_DigestVerifyInit wants a non-const key for reference counting and its internally
  // locked provider cache; the key material is never changed, so threads may share a key.
  const bool ok =
      ctx &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, const_cast<EVP_PKEY*>(key)) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) == 1;
  if (!ok) ERR_clear_error();  // a failed verification must not leave errors for the next caller
  return ok;
}

}  // namespace cxg::auth
