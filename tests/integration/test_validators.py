"""Registration validators, http-api §3.3 (R7, R8, R13, R14, R15)."""

import os
import stat
import time
import unittest

from cryptography.hazmat.primitives import serialization

from cxg_harness import (ALICE_TOKEN, DEFAULT_TOKENS, Gateway, GatewayStartError, GatewayTestCase,
                         RsaKey, StubAgentServer, chatgpt_claims, free_port, jwt_hs256, jwt_none,
                         uid, wait_until, write_jwks)


class AgentServerValidatorTests(GatewayTestCase):
    """CXG_AGENTSERVER_INTERNAL_URL set: the default validator is agentserver."""

    stub = None

    @classmethod
    def setUpClass(cls):
        cls.stub = StubAgentServer()
        super().setUpClass()

    @classmethod
    def make_env(cls):
        return {"CXG_AGENTSERVER_INTERNAL_URL": cls.stub.url}

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.stub.close()

    def setUp(self):
        self.stub.reset()

    def new_token(self, user="alice"):
        tok = uid("as-tok")
        self.stub.users[tok] = user
        return tok

    def test_R7_bearer_request_carries_scheme_token_account_and_secret(self):
        exe = self.gw.create_executor("alice")
        tok = self.new_token()
        r = self.gw.register(exe, token=tok, headers={"ChatGPT-Account-ID": "acct-77"})
        self.assertEqual(r.status, 200, repr(r))
        self.assertEqual(self.stub.count(), 1)
        req = self.stub.requests[0]
        self.assertEqual(req["path"], "/internal/codex-auth/validate")
        self.assertEqual(req["headers"].get("x-internal-secret"), self.gw.admin_secret)
        self.assertTrue(req["headers"].get("content-type", "").startswith("application/json"), req["headers"])
        self.assertEqual(req["json"], {"scheme": "bearer", "token": tok, "account_id": "acct-77"})

    def test_R7_account_id_is_empty_string_without_header(self):
        exe = self.gw.create_executor("alice")
        tok = self.new_token()
        self.assertEqual(self.gw.register(exe, token=tok).status, 200)
        self.assertEqual(self.stub.requests[0]["json"], {"scheme": "bearer", "token": tok, "account_id": ""})

    def test_R7_agent_assertion_request(self):
        exe = self.gw.create_executor("alice")
        for scheme in ["AgentAssertion", "agentassertion"]:
            with self.subTest(scheme=scheme):
                self.stub.reset()
                assertion = self.new_token()
                r = self.gw.register(exe, token=assertion, scheme=scheme,
                                     headers={"ChatGPT-Account-ID": "acct-1"})
                self.assertEqual(r.status, 200, repr(r))
                self.assertEqual(self.stub.count(), 1)
                self.assertEqual(self.stub.requests[0]["json"],
                                 {"scheme": "agent_assertion", "assertion": assertion,
                                  "account_id": "acct-1"})
                self.assertEqual(self.stub.requests[0]["headers"].get("x-internal-secret"),
                                 self.gw.admin_secret)

    def test_R6_missing_auth_or_unknown_scheme_never_calls_validator(self):
        exe = self.gw.create_executor("alice")
        for h in [{}, {"Authorization": "Basic YTpi"}, {"Authorization": "Token abc"}]:
            self.assertCodexError(self.gw.register(exe, token=None, headers=h), 401, "unauthorized")
        self.assertEqual(self.stub.count(), 0)

    def test_R8_validator_4xx_gets_401(self):
        exe = self.gw.create_executor("alice")
        for status in [400, 401, 403, 404, 422]:
            with self.subTest(status=status):
                self.stub.script.append((status, {"error": "no"}, 0))
                self.assertCodexError(self.gw.register(exe, token=uid("t")), 401, "unauthorized")

    def test_R8_empty_or_missing_user_id_gets_401(self):
        exe = self.gw.create_executor("alice")
        for body in [{"user_id": ""}, {}, {"user": "alice"}]:
            with self.subTest(body=body):
                self.stub.script.append((200, body, 0))
                self.assertCodexError(self.gw.register(exe, token=uid("t")), 401, "unauthorized")

    def test_R8_validator_5xx_gets_503_auth_unavailable(self):
        exe = self.gw.create_executor("alice")
        for status in [500, 502, 503]:
            with self.subTest(status=status):
                self.stub.script.append((status, {"error": "down"}, 0))
                self.assertCodexError(self.gw.register(exe, token=uid("t")), 503, "auth_unavailable")

    def test_R8_validator_timeout_5s_gets_503_auth_unavailable(self):
        exe = self.gw.create_executor("alice")
        tok = self.new_token()
        self.stub.script.append((200, {"user_id": "alice"}, 7.0))
        t0 = time.monotonic()
        r = self.gw.register(exe, token=tok, timeout=20)
        elapsed = time.monotonic() - t0
        self.assertCodexError(r, 503, "auth_unavailable")
        self.assertGreaterEqual(elapsed, 4.5)
        self.assertLess(elapsed, 6.9)

    def test_R8_rejections_and_outages_are_not_cached(self):
        exe = self.gw.create_executor("alice")
        tok = self.new_token()
        self.stub.script.append((401, {"error": "no"}, 0))
        self.assertEqual(self.gw.register(exe, token=tok).status, 401)
        self.stub.script.append((500, {"error": "down"}, 0))
        self.assertEqual(self.gw.register(exe, token=tok).status, 503)
        self.assertEqual(self.gw.register(exe, token=tok).status, 200)
        self.assertEqual(self.stub.count(), 3)

    def test_R9_validated_user_must_own_the_executor(self):
        exe = self.gw.create_executor("alice")
        tok = self.new_token("mallory")
        self.assertCodexError(self.gw.register(exe, token=tok), 403, "executor_not_owned",
                              "executor %s not owned by user mallory" % exe)

    def test_R13_repeat_registration_uses_cache_and_survives_validator_outage(self):
        exe = self.gw.create_executor("alice")
        tok = self.new_token()
        self.assertEqual(self.gw.register(exe, token=tok).status, 200)
        self.assertEqual(self.gw.register(exe, token=tok).status, 200)
        self.assertEqual(self.stub.count(), 1)
        self.stub.mode = "500"
        self.assertEqual(self.gw.register(exe, token=tok).status, 200)
        self.assertEqual(self.stub.count(), 1)
        # A different account is a different cache key: it reaches the (failing) validator.
        r = self.gw.register(exe, token=tok, headers={"ChatGPT-Account-ID": "acct-other"})
        self.assertCodexError(r, 503, "auth_unavailable")
        self.assertEqual(self.stub.count(), 2)


class AgentServerNetworkErrorTests(GatewayTestCase):
    GATEWAY_ENV = {"CXG_AGENTSERVER_INTERNAL_URL": "http://127.0.0.1:%d" % free_port()}

    def test_R8_network_error_gets_503_auth_unavailable(self):
        exe = self.gw.create_executor("alice")
        self.assertCodexError(self.gw.register(exe, token="whatever"), 503, "auth_unavailable")


class AgentServerNoCacheTests(GatewayTestCase):
    stub = None

    @classmethod
    def setUpClass(cls):
        cls.stub = StubAgentServer({"tok-nc": "alice"})
        super().setUpClass()

    @classmethod
    def make_env(cls):
        return {"CXG_AGENTSERVER_INTERNAL_URL": cls.stub.url, "CXG_AUTH_CACHE_TTL": "0"}

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.stub.close()

    def test_R13_cache_ttl_0_disables_cache(self):
        exe = self.gw.create_executor("alice")
        for _ in range(3):
            self.assertEqual(self.gw.register(exe, token="tok-nc").status, 200)
        self.assertEqual(self.stub.count(), 3)
        self.stub.mode = "500"
        self.assertCodexError(self.gw.register(exe, token="tok-nc"), 503, "auth_unavailable")


class StaticValidatorTests(GatewayTestCase):
    GATEWAY_ENV = {"CXG_AUTH_CACHE_TTL": "0"}

    def test_R14_listed_token_maps_to_its_user(self):
        exe = self.gw.create_executor("bob")
        self.assertCodexError(self.gw.register(exe, token=ALICE_TOKEN), 403, "executor_not_owned",
                              "executor %s not owned by user alice" % exe)
        bob = [t for t, u in DEFAULT_TOKENS.items() if u == "bob"][0]
        self.assertEqual(self.gw.register(exe, token=bob).status, 200)

    def test_R14_unlisted_token_and_agent_assertion_get_401(self):
        exe = self.gw.create_executor("alice")
        self.assertCodexError(self.gw.register(exe, token="tok-not-listed"), 401, "unauthorized")
        self.assertCodexError(self.gw.register(exe, token="# integration-test"), 401, "unauthorized")
        self.assertCodexError(self.gw.register(exe, token=ALICE_TOKEN, scheme="AgentAssertion"),
                              401, "unauthorized")
        # prefix of a listed token is not that token
        self.assertCodexError(self.gw.register(exe, token=ALICE_TOKEN[:-1]), 401, "unauthorized")

    def test_R14_file_edit_takes_effect_within_10s_and_bad_reload_keeps_old(self):
        exe = self.gw.create_executor("carol")
        tok = uid("tok-carol")
        self.assertEqual(self.gw.register(exe, token=tok).status, 401)
        tokens = dict(DEFAULT_TOKENS)
        tokens[tok] = "carol"
        self.gw.write_tokens(tokens)
        t0 = time.monotonic()
        ok = wait_until(lambda: self.gw.register(exe, token=tok).status == 200, 11, 0.25)
        self.assertTrue(ok, "new token not accepted within 11 s")
        self.assertLess(time.monotonic() - t0, 11)
        # Removal also takes effect (cache TTL is 0 in this class).
        self.gw.write_tokens(DEFAULT_TOKENS)
        gone = wait_until(lambda: self.gw.register(exe, token=tok).status == 401, 11, 0.25)
        self.assertTrue(gone, "removed token still accepted after 11 s")
        # A bad file keeps the old contents and logs an error.
        errors_before = sum(1 for rec in self.gw.log_records() if rec.get("level") == "error")
        with open(self.gw.tokens_path, "w") as f:
            f.write("%s carol\nlonely-token-without-user\n" % tok)
        st = os.stat(self.gw.tokens_path)
        os.utime(self.gw.tokens_path, ns=(st.st_atime_ns, st.st_mtime_ns + 3_000_000_000))
        def reload_error_logged():
            self.gw.register(exe, token=tok)  # the file may be checked lazily, on a validation
            return sum(1 for rec in self.gw.log_records() if rec.get("level") == "error") > errors_before
        logged = wait_until(reload_error_logged, 11, 0.25)
        self.assertTrue(logged, "no error logged for a bad tokens file reload")
        self.assertEqual(self.gw.register(exe, token=tok).status, 401, "bad file was applied")
        alice_exe = self.gw.create_executor("alice")
        self.assertEqual(self.gw.register(alice_exe, token=ALICE_TOKEN).status, 200)


class StaticDefaultFileTests(unittest.TestCase):

    def test_R14_default_tokens_file_created_empty_0600_beside_database(self):
        with Gateway(tokens=None) as gw:
            path = os.path.join(gw.tmp, "cxg-tokens")
            self.assertTrue(os.path.exists(path))
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            with open(path) as f:
                self.assertEqual([l for l in f.read().splitlines() if l.strip() and not l.startswith("#")], [])
            exe = gw.create_executor("dave")
            tok = uid("tok-dave")
            self.assertEqual(gw.register(exe, token=tok).status, 401)
            gw.write_tokens({tok: "dave"}, path=path)
            self.assertTrue(wait_until(lambda: gw.register(exe, token=tok).status == 200, 11, 0.25))

    def test_R14_bad_tokens_file_stops_startup(self):
        gw = Gateway(start=False)
        try:
            with open(gw.tokens_path, "w") as f:
                f.write("token-without-user\n")
            with self.assertRaises(GatewayStartError):
                gw.start()
            self.assertNotEqual(gw.proc.wait(10), 0)
        finally:
            gw.close()


class JwksValidatorTests(GatewayTestCase):
    ISS = "https://issuer.test/"
    AUD = "cxg-it"
    key = other = None

    @classmethod
    def setUpClass(cls):
        cls.key = RsaKey("kid-main")
        cls.other = RsaKey("kid-main")  # same kid, different key
        cls.jwks_dir = __import__("tempfile").mkdtemp(prefix="cxg-it-jwks-")
        cls.jwks_path = os.path.join(cls.jwks_dir, "jwks.json")
        write_jwks(cls.jwks_path, [cls.key])
        super().setUpClass()

    @classmethod
    def make_env(cls):
        return {"CXG_AUTH_VALIDATOR": "jwks", "CXG_JWKS_FILE": cls.jwks_path,
                "CXG_JWKS_ISSUER": cls.ISS, "CXG_JWKS_AUDIENCE": cls.AUD, "CXG_JWKS_LEEWAY": "1s"}

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        __import__("shutil").rmtree(cls.jwks_dir, ignore_errors=True)

    def claims(self, account, **kw):
        c = chatgpt_claims(account, iss=self.ISS, aud=self.AUD)
        c.update(kw)
        return c

    def setUp(self):
        self.account = uid("acct")
        self.exe = self.gw.create_executor(self.account)

    def reg(self, token, **kw):
        return self.gw.register(self.exe, token=token, **kw)

    def test_R15_valid_rs256_token_is_accepted_user_from_account_claim(self):
        self.assertEqual(self.reg(self.key.sign(self.claims(self.account))).status, 200)
        other_exe = self.gw.create_executor("someone-else")
        r = self.gw.register(other_exe, token=self.key.sign(self.claims(self.account)))
        self.assertCodexError(r, 403, "executor_not_owned",
                              "executor %s not owned by user %s" % (other_exe, self.account))

    def test_R15_alg_none_and_hs256_get_401(self):
        c = self.claims(self.account)
        pem = self.key.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
        for tok in [jwt_none(c, kid="kid-main"), jwt_hs256(c, pem, kid="kid-main"),
                    jwt_hs256(c, b"secret", kid="kid-main")]:
            with self.subTest(alg=tok.split(".")[0]):
                self.assertCodexError(self.reg(tok), 401, "unauthorized")

    def test_R15_expired_token_gets_401(self):
        now = int(time.time())
        self.assertCodexError(self.reg(self.key.sign(self.claims(self.account, exp=now - 3600))), 401, "unauthorized")
        c = self.claims(self.account)
        del c["exp"]
        self.assertCodexError(self.reg(self.key.sign(c)), 401, "unauthorized")

    def test_R15_future_nbf_gets_401(self):
        nbf = int(time.time()) + 3600
        self.assertCodexError(self.reg(self.key.sign(self.claims(self.account, nbf=nbf))), 401, "unauthorized")

    def test_R15_wrong_issuer_or_audience_gets_401(self):
        for kw in [{"iss": "https://evil.test/"}, {"aud": "other-aud"}]:
            with self.subTest(**kw):
                self.assertCodexError(self.reg(self.key.sign(self.claims(self.account, **kw))), 401, "unauthorized")

    def test_R15_bad_signature_gets_401(self):
        self.assertCodexError(self.reg(self.other.sign(self.claims(self.account))), 401, "unauthorized")
        tok = self.key.sign(self.claims(self.account))
        h, p, s = tok.split(".")
        forged = self.key.sign(self.claims("attacker"))
        self.assertCodexError(self.reg(h + "." + forged.split(".")[1] + "." + s), 401, "unauthorized")

    def test_R15_account_header_must_match_token(self):
        tok = self.key.sign(self.claims(self.account))
        self.assertCodexError(self.reg(tok, headers={"ChatGPT-Account-ID": "acct-contradicting"}),
                              401, "unauthorized")
        self.assertEqual(self.reg(tok, headers={"ChatGPT-Account-ID": self.account}).status, 200)

    def test_R15_agent_assertion_rejected(self):
        tok = self.key.sign(self.claims(self.account))
        self.assertCodexError(self.reg(tok, scheme="AgentAssertion"), 401, "unauthorized")

    def test_R15_missing_or_empty_user_claim_gets_401(self):
        c = self.claims(self.account)
        del c["https://api.openai.com/auth"]
        self.assertCodexError(self.reg(self.key.sign(c)), 401, "unauthorized")
        c = self.claims(self.account)
        c["https://api.openai.com/auth"] = {"chatgpt_account_id": ""}
        self.assertCodexError(self.reg(self.key.sign(c)), 401, "unauthorized")

    def test_R13_jwks_cache_entry_never_outlives_token_exp(self):
        exp = int(time.time()) + 2
        tok = self.key.sign(self.claims(self.account, exp=exp))
        self.assertEqual(self.reg(tok).status, 200)
        # exp + leeway (1 s) passed: the cached acceptance must not be used any more.
        while time.time() <= exp + 1.2:
            time.sleep(0.1)
        self.assertCodexError(self.reg(tok), 401, "unauthorized")


class JwksUserClaimTests(GatewayTestCase):
    key = None

    @classmethod
    def setUpClass(cls):
        cls.key = RsaKey()
        cls.jwks_dir = __import__("tempfile").mkdtemp(prefix="cxg-it-jwks-")
        cls.jwks_path = os.path.join(cls.jwks_dir, "jwks.json")
        write_jwks(cls.jwks_path, [cls.key])
        super().setUpClass()

    @classmethod
    def make_env(cls):
        return {"CXG_AUTH_VALIDATOR": "jwks", "CXG_JWKS_FILE": cls.jwks_path,
                "CXG_JWKS_USER_CLAIM": "org.id"}

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        __import__("shutil").rmtree(cls.jwks_dir, ignore_errors=True)

    def test_R15_user_claim_whole_name_first_then_object_member(self):
        exe_whole = self.gw.create_executor("whole-string")
        exe_nested = self.gw.create_executor("nested-user")
        now = int(time.time())
        both = {"exp": now + 600, "org.id": "whole-string", "org": {"id": "nested-user"}}
        nested = {"exp": now + 600, "org": {"id": "nested-user"}}
        self.assertEqual(self.gw.register(exe_whole, token=self.key.sign(both)).status, 200)
        self.assertEqual(self.gw.register(exe_nested, token=self.key.sign(both)).status, 403)
        self.assertEqual(self.gw.register(exe_nested, token=self.key.sign(nested)).status, 200)
        bad = {"exp": now + 600, "org": {"id": 42}}
        self.assertCodexError(self.gw.register(exe_nested, token=self.key.sign(bad)), 401, "unauthorized")


if __name__ == "__main__":
    unittest.main()
