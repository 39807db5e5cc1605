"""Credential formats through the CLI and the gateway: http-api §3.1-3.2 (C1-C4)."""

import hmac
import re
import time
import unittest

from cxg_harness import GatewayTestCase, decode_cap, hmac_b64u, make_cap, mint_ticket, uid


class CapTokenCliTests(GatewayTestCase):

    def check_sig(self, tok):
        h, p, s = tok.split(".")
        self.assertTrue(hmac.compare_digest(hmac_b64u(self.gw.cap_key, h + "." + p), s), tok)

    def test_C1_cli_cap_token_round_trips_claims(self):
        ws, turn = uid("ws"), uid("trn")
        t0 = int(time.time())
        tok = self.gw.mint_cap(ws, turn=turn, user="alice")
        self.assertRegex(tok, r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$")
        header, payload, _ = decode_cap(tok)
        self.assertEqual((header.get("alg"), header.get("typ")), ("HS256", "CXG"))
        self.assertEqual((payload["turn_id"], payload["workspace_id"], payload["user_id"]), (turn, ws, "alice"))
        self.assertIsInstance(payload["iat"], int)
        self.assertIsInstance(payload["exp"], int)
        self.assertTrue(t0 - 2 <= payload["iat"] <= int(time.time()) + 2, payload)
        self.assertEqual(payload["exp"] - payload["iat"], 24 * 3600)
        self.check_sig(tok)
        self.assertEqual(self.gw.connected(tok).status, 200)

    def test_C1_without_user_and_turn(self):
        tok1 = self.gw.mint_cap(uid("ws"))
        tok2 = self.gw.mint_cap(uid("ws"))
        _, p1, _ = decode_cap(tok1)
        _, p2, _ = decode_cap(tok2)
        self.assertIn(p1.get("user_id", ""), ("",))
        self.assertRegex(p1["turn_id"], r"^trn_\S+$")
        self.assertNotEqual(p1["turn_id"], p2["turn_id"])
        self.check_sig(tok1)
        self.assertEqual(self.gw.connected(tok1).status, 200)

    def test_C1_ttl_option(self):
        for ttl, secs in [("1h", 3600), ("90s", 90), ("1h30m", 5400)]:
            with self.subTest(ttl=ttl):
                _, p, _ = decode_cap(self.gw.mint_cap(uid("ws"), ttl=ttl))
                self.assertEqual(p["exp"] - p["iat"], secs)

    def test_C1_skip_audit_is_accepted(self):
        p = self.gw.cli("token", "cap", "--workspace", uid("ws"), "--skip-audit")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.gw.connected(p.stdout.strip()).status, 200)

    def test_C1_cli_rejects_bad_arguments(self):
        for args in [["token", "cap"], ["token", "cap", "--workspace", "w", "--ttl", "abc"]]:
            with self.subTest(args=args):
                p = self.gw.cli(*args)
                self.assertNotEqual(p.returncode, 0, p.stdout)
                self.assertFalse(re.match(r"^[\w-]+\.[\w-]+\.[\w-]+$", p.stdout.strip()), p.stdout)

    def test_C2_cli_uses_configured_key(self):
        p = self.gw.cli("token", "cap", "--workspace", uid("ws"), env={"CXG_CAPTOKEN_HMAC_SECRET": "another-key"})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertPlain(self.gw.connected(p.stdout.strip()), 401, "unauthorized")

    def test_C2_other_header_members_are_ignored(self):
        tok = make_cap(self.gw.cap_key, uid("ws"), header={"alg": "HS256", "typ": "CXG", "kid": "x", "v": 2})
        self.assertEqual(self.gw.connected(tok).status, 200)

    def test_C2_iat_is_not_checked(self):
        now = int(time.time())
        for iat in [now + 86400, 0]:
            with self.subTest(iat=iat):
                tok = make_cap(self.gw.cap_key, uid("ws"), iat=iat)
                self.assertEqual(self.gw.connected(tok).status, 200)

    def test_C1_cap_without_user_id_member_verifies(self):
        tok = make_cap(self.gw.cap_key, uid("ws"))  # no user_id member at all
        self.assertEqual(self.gw.connected(tok).status, 200)
        tok = make_cap(self.gw.cap_key, uid("ws"), user="")
        self.assertEqual(self.gw.connected(tok).status, 200)

    def test_C4_ticket_key_separation(self):
        """A cap-token key or shared secret never signs tickets, and vice versa."""
        exe = uid("exe")
        exp = int(time.time()) + 60
        for key in [self.gw.cap_key, self.gw.shared_secret]:
            with self.subTest(key=key[:10]):
                r = self.gw.request("GET", "/codex-exec/%s?token=%s" % (exe, mint_ticket(key, exe, exp)))
                self.assertPlain(r, 401, "unauthorized")
        tok = make_cap(self.gw.ticket_key, uid("ws"))
        self.assertPlain(self.gw.connected(tok), 401, "unauthorized")


if __name__ == "__main__":
    unittest.main()
