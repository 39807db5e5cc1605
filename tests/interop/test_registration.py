"""interop.md I1 and §3: each Codex release registers with its own credential flavour and its
executor is listed online in the workspace, with the right protocol."""

import json
import os
import re
import subprocess
import time

import interop_util as IU


class RegistrationTests:
    def test_registered_and_online(self):
        """Registration succeeds and the executor is listed online in ws-interop within 10 s,
        protocol `json` for 0.130 and `relay` otherwise."""
        entry = self.env.listing(self.exe)
        self.assertIsNotNone(entry, "executor missing from the workspace listing")
        self.assertIs(entry.get("is_online"), True, repr(entry))
        self.assertEqual(entry.get("protocol"), "json" if self.legacy else "relay", repr(entry))
        self.assertLessEqual(self.online_after, IU.ONLINE_TIMEOUT)
        self.assertTrue(entry.get("connected_at"), repr(entry))

        rec = self.gw.get_executor(self.exe)
        self.assertEqual(rec.get("user_id"), self.env.user, repr(rec))
        self.assertIs(rec.get("is_online"), True, repr(rec))
        self.assertEqual(rec.get("protocol"), entry.get("protocol"), repr(rec))

        # The registration went through the expected route and validator.
        path = "environment" if IU.uses_environment_id(self.VERSION) else "executor"
        self.assertGreaterEqual(IU.metric(self.gw, "cxg_registrations_total", path=path, result="ok"), 1)
        other = "executor" if path == "environment" else "environment"
        self.assertEqual(IU.metric(self.gw, "cxg_registrations_total", path=other), 0)
        self.assertGreaterEqual(IU.metric(self.gw, "cxg_auth_validator_requests_total",
                                          validator=self.env.validator, result="accepted"), 1)
        self.assertEqual(IU.metric(self.gw, "cxg_executors_connected"), 1)

        # Codex accepted the response (0.134+ checks environment_id == the requested id).
        self.assertTrue(self.server.alive(), self.diag())
        kind = "environment" if IU.uses_environment_id(self.VERSION) else "executor"
        self.assertRegex(self.server.log(), r"registered with %s_id %s\b" % (kind, re.escape(self.exe)))

    def test_credential_flavour(self):
        """0.130/0.131 authenticate with the bearer env and the static validator; 0.132+ with
        the auth.json RS256 JWT, verified by the jwks validator, the user being the account
        claim (acct-interop)."""
        if IU.uses_chatgpt_auth(self.VERSION):
            self.assertEqual(self.env.validator, "jwks")
            self.assertEqual(self.env.user, IU.CHATGPT_ACCOUNT)
            self.assertEqual(self.gw.env.get("CXG_AUTH_VALIDATOR"), "jwks")
            self.assertGreaterEqual(IU.metric(self.gw, "cxg_auth_validator_requests_total",
                                              validator="jwks", result="accepted"), 1)
            self.assertEqual(IU.metric(self.gw, "cxg_auth_validator_requests_total",
                                       validator="static"), 0)
        else:
            self.assertEqual(self.env.validator, "static")
            self.assertEqual(self.env.user, IU.STATIC_USER)
            self.assertGreaterEqual(IU.metric(self.gw, "cxg_auth_validator_requests_total",
                                              validator="static", result="accepted"), 1)

    def test_rejected_credential_makes_codex_exit(self):
        """A credential cxg does not accept (0.132+: a JWT signed by a key not in the JWKS;
        0.130/0.131: an unknown bearer) gets 401 and the exec-server exits non-zero; the
        executor never shows online."""
        exe = self.env.new_executor()
        env = dict(self.env.codex_env)
        if IU.uses_chatgpt_auth(self.VERSION):
            home = IU.codex_home(self.VERSION, self.TAG + "-badkey")
            env["CODEX_HOME"] = home
            rogue = IU.H.RsaKey(kid=self.env.key.kid)   # same kid, different key
            now = int(time.time())
            claims = {"sub": "auth0|interop", "iat": now, "exp": now + 86400,
                      "https://api.openai.com/auth": {"chatgpt_account_id": IU.CHATGPT_ACCOUNT,
                                                      "chatgpt_plan_type": "plus"}}
            tok = rogue.sign(claims)
            with open(os.path.join(home, "auth.json"), "w") as f:
                json.dump({"OPENAI_API_KEY": None, "auth_mode": "chatgpt",
                              "tokens": {"id_token": tok, "access_token": tok,
                                         "refresh_token": "rt-interop",
                                         "account_id": IU.CHATGPT_ACCOUNT},
                              "last_refresh": IU._rfc3339_now()}, f)
            validator = "jwks"
        else:
            env["CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN"] = "tok-not-known"
            validator = "static"
        before = IU.metric(self.gw, "cxg_http_requests_total", route="register", code="401")
        log = os.path.join(self.env.tmp, "codex-rejected-%s.log" % exe)
        s = IU.ExecServer(self.VERSION, self.env.binary, self.env.remote, exe, env, log)
        self.env.servers.append(s)
        try:
            s.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.fail("exec-server with a rejected credential still running after 10 s:\n" + s.log())
        self.assertNotEqual(s.proc.returncode, 0, s.log())
        self.assertIn("authentication failed (401", s.log())
        self.assertEqual(IU.metric(self.gw, "cxg_http_requests_total", route="register", code="401"),
                         before + 1)
        self.assertGreaterEqual(IU.metric(self.gw, "cxg_auth_validator_requests_total",
                                          validator=validator, result="rejected"), 1)
        rec = self.gw.get_executor(exe)
        self.assertIs(rec.get("is_online"), False, repr(rec))
        self.assertNotIn("connected_at", rec)


IU.parametrise(RegistrationTests, globals())
