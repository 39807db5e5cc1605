"""Internal API /api/exec-gateway/*: http-api §2.6, §3.4 (I1-I3, V1, V4, V6-V8, C2)."""

import time
import unittest

from cxg_harness import GatewayTestCase, make_cap, uid, wait_until

CONNECTED = "/api/exec-gateway/connected"
REVOKE = "/api/exec-gateway/revoke-turn"


class ConnectedTests(GatewayTestCase):

    def test_I1_no_bearer_gets_401_missing_bearer(self):
        cap = make_cap(self.gw.cap_key, uid("ws"))
        for h in [{}, {"Authorization": "Basic YTpi"}, {"Authorization": "Token " + cap},
                  {"Authorization": cap}, {"X-Internal-Secret": self.gw.admin_secret}]:
            with self.subTest(h=list(h)):
                self.assertPlain(self.gw.request("GET", CONNECTED, h), 401, "missing Bearer")
        # header only: a token query parameter is not a credential here
        r = self.gw.request("GET", CONNECTED + "?token=" + cap)
        self.assertPlain(r, 401, "missing Bearer")

    def test_I1_empty_bearer_gets_401_empty_bearer(self):
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer \r\nConnection: close\r\n\r\n"
               % (CONNECTED, self.gw.port)).encode()
        self.assertPlain(self.gw.raw(req), 401, "empty bearer")

    def test_I1_bad_credentials_get_401_unauthorized(self):
        ws = uid("ws")
        now = int(time.time())
        good = make_cap(self.gw.cap_key, ws)
        h, p, s = good.split(".")
        cases = {
            "shared secret": self.gw.shared_secret,
            "admin secret": self.gw.admin_secret,
            "bad signature": make_cap("not-the-key", ws),
            "tampered payload": h + "." + make_cap(self.gw.cap_key, "other-ws").split(".")[1] + "." + s,
            "expired": make_cap(self.gw.cap_key, ws, exp=now - 5),
            "two parts": h + "." + p,
            "four parts": good + ".x",
            "garbage": "!.!.!",
            "padded sig": good + "=",
        }
        for name, tok in cases.items():
            with self.subTest(case=name):
                self.assertPlain(self.gw.connected(tok), 401, "unauthorized")
        self.assertEqual(self.gw.connected(good).status, 200)

    def test_I1_revoked_turn_gets_401_unauthorized(self):
        turn = uid("trn")
        cap = make_cap(self.gw.cap_key, uid("ws"), turn=turn)
        self.assertEqual(self.gw.connected(cap).status, 200)
        self.assertEqual(self.gw.revoke(turn).status, 204)
        self.assertPlain(self.gw.connected(cap), 401, "unauthorized")

    def test_C1_cli_minted_cap_token_is_accepted(self):
        cap = self.gw.mint_cap(uid("ws"), user="alice")
        r = self.gw.connected(cap)
        self.assertEqual(self.assertJson(r, 200), [])

    def test_C2_exp_equal_now_is_valid_now_minus_1_expired(self):
        ws = uid("ws")
        # Start just after a second boundary so that "now" does not move during the call.
        while time.time() % 1 > 0.3:
            time.sleep(0.02)
        now = int(time.time())
        r1 = self.gw.connected(make_cap(self.gw.cap_key, ws, exp=now))
        r2 = self.gw.connected(make_cap(self.gw.cap_key, ws, exp=now - 1))
        self.assertEqual(int(time.time()), now, "test too slow: second boundary crossed")
        self.assertEqual(r1.status, 200, repr(r1))
        self.assertPlain(r2, 401, "unauthorized")

    def test_I2_lists_only_online_bound_executors(self):
        ws = uid("ws")
        on = self.gw.create_executor("alice")
        off = self.gw.create_executor("alice")
        unbound = self.gw.create_executor("alice")
        self.gw.bind(ws, off, name="off-box")
        self.gw.bind(ws, on, name="on-box", description="the online one", is_default=True)
        cap = self.gw.mint_cap(ws)
        self.assertEqual(self.assertJson(self.gw.connected(cap), 200), [])
        _, s1 = self.gw.online_executor(exe_id=on)
        _, s2 = self.gw.online_executor(exe_id=unbound)
        try:
            lst = wait_until(lambda: self.gw.connected(cap).json(), 2)
            self.assertEqual([x["exe_id"] for x in lst], [on])
            x = lst[0]
            self.assertEqual((x["name"], x["description"], x["is_default"], x["is_online"]),
                             ("on-box", "the online one", True, True))
            self.assertEqual(x["protocol"], "relay")
        finally:
            s1.close()
            s2.close()
        self.assertEqual(wait_until(lambda: self.gw.connected(cap).json() == [], 2), True)

    def test_I3_workspace_query_parameter_is_ignored(self):
        full = uid("ws")
        exe = self.gw.create_executor("alice")
        self.gw.bind(full, exe)
        _, sock = self.gw.online_executor(exe_id=exe)
        try:
            cap_full = make_cap(self.gw.cap_key, full)
            self.assertTrue(wait_until(lambda: len(self.gw.connected(cap_full).json()) == 1, 2))
            cap_empty = make_cap(self.gw.cap_key, uid("ws-empty"))
            r = self.gw.connected(cap_empty, path=CONNECTED + "?workspace_id=" + full)
            self.assertEqual(self.assertJson(r, 200), [])
        finally:
            sock.close()


class RevokeTurnTests(GatewayTestCase):

    def rows(self, turn):
        return self.gw.db_query("SELECT expires_at, revoked_at FROM turn_revocations WHERE turn_id=?", (turn,))

    def count(self):
        return self.gw.db_query("SELECT count(*) FROM turn_revocations")[0][0]

    def test_V8_wrong_bearer_gets_401_unauthorized(self):
        turn = uid("trn")
        cap = make_cap(self.gw.cap_key, uid("ws"), turn=turn)
        for h in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer " + self.gw.admin_secret},
                  {"Authorization": "Bearer " + cap}, {"Authorization": "Basic " + self.gw.shared_secret},
                  {"Authorization": "Bearer " + self.gw.shared_secret + "x"},
                  {"X-Internal-Secret": self.gw.shared_secret}]:
            with self.subTest(h=h):
                r = self.gw.request("POST", REVOKE, h, {"turn_id": turn})
                self.assertPlain(r, 401, "unauthorized")
        self.assertEqual(self.rows(turn), [])
        self.assertEqual(self.gw.connected(cap).status, 200)

    def test_V8_Z1_bad_bodies_get_400_and_store_nothing(self):
        n = self.count()
        auth = {"Authorization": "Bearer " + self.gw.shared_secret}
        cases = [(b"{", "invalid JSON"), (b"nope", "invalid JSON"), (b"[]", "invalid JSON"),
                 ({}, "turn_id required"), ({"turn_id": ""}, "turn_id required"),
                 ({"exp": 5}, "turn_id required"), ({"turn_id": "t" * 257}, "turn_id too long"),
                 ({"turn_id": 5}, None), ({"turn_id": "x", "exp": "soon"}, None)]
        for body, msg in cases:
            with self.subTest(body=str(body)[:40]):
                r = self.gw.request("POST", REVOKE, auth, body)
                self.assertAdminError(r, 400, msg)
        self.assertEqual(self.count(), n)

    def test_V1_revoke_gets_204_then_connected_401_bridge_turn_revoked(self):
        ws = uid("ws")
        exe = self.gw.create_executor("alice")
        self.gw.bind(ws, exe)
        turn, other = uid("trn"), uid("trn")
        cap = self.gw.mint_cap(ws, turn=turn)
        cap_other = self.gw.mint_cap(ws, turn=other)
        r = self.gw.revoke(turn)
        self.assertEqual((r.status, r.body), (204, b""))
        self.assertPlain(self.gw.connected(cap), 401, "unauthorized")
        r = self.gw.request("GET", "/bridge/" + exe, {"Authorization": "Bearer " + cap})
        self.assertPlain(r, 401, "turn revoked")
        # Other turns are untouched.
        self.assertEqual(self.gw.connected(cap_other).status, 200)
        r = self.gw.request("GET", "/bridge/" + exe, {"Authorization": "Bearer " + cap_other})
        self.assertPlain(r, 503, "executor not connected")

    def test_V1_turn_id_of_256_bytes_is_accepted(self):
        turn = "t" * 256
        self.assertEqual(self.gw.revoke(turn).status, 204)
        self.assertEqual(len(self.rows(turn)), 1)

    def test_V6_absent_or_zero_exp_means_now_plus_24h(self):
        for exp in [None, 0]:
            with self.subTest(exp=exp):
                turn = uid("trn")
                t0 = time.time()
                self.assertEqual(self.gw.revoke(turn, exp=exp).status, 204)
                [(expires_at, revoked_at)] = self.rows(turn)
                self.assertAlmostEqual(expires_at / 1000.0, t0 + 86400, delta=5)
                self.assertAlmostEqual(revoked_at / 1000.0, t0, delta=5)

    def test_V7_revoking_again_keeps_the_later_expiry(self):
        turn = uid("trn")
        now = int(time.time())
        self.assertEqual(self.gw.revoke(turn, exp=now + 7200).status, 204)
        self.assertEqual(self.rows(turn)[0][0], (now + 7200) * 1000)
        self.assertEqual(self.gw.revoke(turn, exp=now + 600).status, 204)
        self.assertEqual(self.rows(turn)[0][0], (now + 7200) * 1000)
        self.assertEqual(self.gw.revoke(turn).status, 204)  # default 24 h is later
        self.assertAlmostEqual(self.rows(turn)[0][0] / 1000.0, now + 86400, delta=5)
        cap = make_cap(self.gw.cap_key, uid("ws"), turn=turn)
        self.assertPlain(self.gw.connected(cap), 401, "unauthorized")

    def test_V4_revocation_with_past_exp_is_stored_but_not_enforced(self):
        turn = uid("trn")
        cap = make_cap(self.gw.cap_key, uid("ws"), turn=turn)
        self.assertEqual(self.gw.revoke(turn, exp=int(time.time()) - 60).status, 204)
        self.assertEqual(self.gw.connected(cap).status, 200)


class RevocationExpiryTests(GatewayTestCase):
    GATEWAY_ENV = {"CXG_REVOCATION_PRUNE_INTERVAL": "1s"}

    def test_V4_enforced_until_expires_at_then_pruned(self):
        turn = uid("trn")
        cap = make_cap(self.gw.cap_key, uid("ws"), turn=turn)
        exp = int(time.time()) + 2
        self.assertEqual(self.gw.revoke(turn, exp=exp).status, 204)
        self.assertPlain(self.gw.connected(cap), 401, "unauthorized")
        while time.time() < exp - 0.3:
            self.assertPlain(self.gw.connected(cap), 401, "unauthorized")
            time.sleep(0.2)
        while time.time() <= exp + 0.2:
            time.sleep(0.05)
        self.assertEqual(self.gw.connected(cap).status, 200)
        gone = wait_until(lambda: self.gw.db_query("SELECT count(*) FROM turn_revocations WHERE turn_id=?",
                                                   (turn,))[0][0] == 0, 4, 0.1)
        self.assertTrue(gone, "expired revocation not pruned within ~3 prune intervals")


if __name__ == "__main__":
    unittest.main()
