"""HTTP checks before the websocket upgrades, and the executor websocket's presence effects.

/codex-exec: http-api §2.3 checks 1-5 (T1-T4, T6, E1, E3, E4).
/bridge:     http-api §2.4 checks 1-10 (B1-B6, B8-B11, L5, C3, C4).
The relay itself (frames after the upgrade) is not tested here.
"""

import json
import socket
import time
import unittest

from cxg_harness import (DEFAULT_SECRETS, RFC3339_MS_RE, GatewayTestCase, b64u,
                         hmac_b64u, make_cap, mint_ticket, relay_decode, relay_resume, uid,
                         wait_until)


class ExecutorWsPrecheckTests(GatewayTestCase):

    _n = [0]

    def ticket(self, exe, expiry=None, key=None):
        """A fresh ticket: identical tickets would trip the single-use check (T2)."""
        self._n[0] += 1
        return mint_ticket(key or self.gw.ticket_key, exe, expiry or int(time.time()) + 120 + self._n[0])

    def get(self, path, headers=None):
        return self.gw.request("GET", path, headers)

    def test_T1_python_minted_ticket_passes_checks_1_to_4(self):
        exe = uid("exe")  # no store lookup: the ticket alone proves ownership
        for q in ["", "&mode=relay", "&mode=json"]:
            with self.subTest(q=q):
                r = self.get("/codex-exec/%s?token=%s%s" % (exe, self.ticket(exe), q))
                self.assertPlain(r, 426, "websocket upgrade required")

    def test_T3_empty_or_missing_token_or_bad_id_gets_400_missing_parameters(self):
        exe = uid("exe")
        for path in ["/codex-exec/%s?token=" % exe, "/codex-exec/%s" % exe, "/codex-exec/%s?mode=json" % exe,
                     "/codex-exec/bad.id?token=" + self.ticket("bad.id"),
                     "/codex-exec/%s?token=%s" % ("a" * 257, self.ticket("a" * 257))]:
            with self.subTest(path=path[:80]):
                self.assertPlain(self.get(path), 400, "missing parameters")

    def test_T3_other_mode_gets_400_invalid_mode(self):
        exe = uid("exe")
        for mode in ["foo", "JSON", "binary"]:
            with self.subTest(mode=mode):
                r = self.get("/codex-exec/%s?token=%s&mode=%s" % (exe, self.ticket(exe), mode))
                self.assertPlain(r, 400, "invalid mode")

    def test_check_order_2_3_4_5(self):
        exe = uid("exe")
        self.assertPlain(self.get("/codex-exec/bad.id?token=&mode=foo"), 400, "missing parameters")
        self.assertPlain(self.get("/codex-exec/%s?token=x.y.z&mode=foo" % exe), 400, "invalid mode")
        self.assertPlain(self.get("/codex-exec/%s?token=x.y.z" % exe), 401, "unauthorized")
        ws = self.gw.ws("/codex-exec/%s?token=x.y.z" % exe)
        self.assertPlain(ws.resp, 401, "unauthorized")

    def test_T1_C4_altered_or_foreign_tickets_get_401(self):
        exe, other = uid("exe"), uid("exe")
        now = int(time.time())
        good = self.ticket(exe, now + 120)
        e, x, s = good.split(".")
        flipped = ("A" if s[5] != "A" else "B")
        cases = {
            "altered exe_id (path follows)": (exe + "z", exe + "z." + x + "." + s),
            "other exe's ticket": (other, good),
            "altered expiry": (exe, "%s.%d.%s" % (e, now + 121, s)),
            "altered sig": (exe, "%s.%s.%s%s%s" % (e, x, s[:5], flipped, s[6:])),
            "truncated sig": (exe, "%s.%s.%s" % (e, x, s[:-2])),
            "expiry == now": (exe, self.ticket(exe, now)),
            "expired": (exe, self.ticket(exe, now - 10)),
            "other key": (exe, self.ticket(exe, now + 120, key="some-other-key")),
            "admin secret as key": (exe, self.ticket(exe, now + 120, key=self.gw.admin_secret)),
            "non-digit expiry": (exe, "%s.%s.%s" % (exe, "12a", hmac_b64u(self.gw.ticket_key, exe + ".12a"))),
            "signed expiry": (exe, "%s.+%d.%s" % (exe, now + 120, hmac_b64u(self.gw.ticket_key, "%s.+%d" % (exe, now + 120)))),
            "undecodable sig": (exe, "%s.%s.!!!!" % (e, x)),
            "two parts": (exe, "%s.%s" % (e, x)),
            "four parts": (exe, good + ".x"),
            "not.a.token": (exe, "not.a.token"),
        }
        for name, (path_id, ticket) in cases.items():
            with self.subTest(case=name):
                r = self.get("/codex-exec/%s?token=%s" % (path_id, ticket))
                self.assertPlain(r, 401, "unauthorized")
        # control: the unaltered ticket is fine
        self.assertPlain(self.get("/codex-exec/%s?token=%s" % (exe, good)), 426, "websocket upgrade required")

    def test_T2_ticket_reuse_gets_401(self):
        exe = self.gw.create_executor("alice")
        url = self.gw.register(exe).json()["url"]
        ws1 = self.gw.connect_executor(url)
        self.assertEqual(ws1.status, 101, ws1.resp)
        try:
            ws2 = self.gw.connect_executor(url)
            self.assertEqual(ws2.status, 401)
            self.assertPlain(ws2.resp, 401, "unauthorized")
        finally:
            ws1.close()
        ws3 = self.gw.connect_executor(url)
        self.assertPlain(ws3.resp, 401, "unauthorized")
        # the gateway keeps serving the first connection's executor record
        self.assertEqual(self.gw.get_executor(exe)["exe_id"], exe)

    def test_T6_permessage_deflate_never_accepted(self):
        exe = self.gw.create_executor("alice")
        url = self.gw.register(exe).json()["url"]
        ws = self.gw.connect_executor(url, offer_deflate=True)
        try:
            self.assertEqual(ws.status, 101)
            self.assertIsNone(ws.headers.get("Sec-WebSocket-Extensions"))
            self.assertIsNone(ws.headers.get("Sec-WebSocket-Protocol"))
        finally:
            ws.close()

    def test_T4_E4_upgrade_sets_online_and_close_sets_offline(self):
        exe = self.gw.create_executor("alice")
        exe, ws = self.gw.online_executor(exe_id=exe)
        try:
            e = self.gw.wait_online(exe, True, timeout=1.0)
            self.assertTrue(e, "not online within 1 s: %s" % self.gw.get_executor(exe))
            self.assertRegex(e.get("connected_at", ""), RFC3339_MS_RE)
            self.assertNotIn("disconnected_at", e)
            self.assertEqual(self.gw.db_query("SELECT protocol FROM executor_presence WHERE exe_id=?", (exe,)),
                             [("relay",)])
            self.assertTrue(ws.is_open_for(0.3), "executor socket closed: %s %s" % (ws.close_code, ws.close_reason))
        finally:
            ws.close()
        e = self.gw.wait_online(exe, False, timeout=1.0)
        self.assertTrue(e, "still online 1 s after close: %s" % self.gw.get_executor(exe))
        self.assertRegex(e.get("disconnected_at", ""), RFC3339_MS_RE)
        self.assertEqual(self.gw.db_query("SELECT count(*) FROM executor_presence WHERE exe_id=?", (exe,)), [(0,)])

    def test_T4_legacy_mode_json_presence_protocol(self):
        exe, ws = self.gw.online_executor(legacy=True)
        try:
            self.assertTrue(self.gw.wait_online(exe, True, timeout=1.0))
            self.assertEqual(self.gw.db_query("SELECT protocol FROM executor_presence WHERE exe_id=?", (exe,)),
                             [("json",)])
        finally:
            ws.close()

    def test_E1_E3_E4_newest_connection_wins(self):
        exe = self.gw.create_executor("alice")
        _, first = self.gw.online_executor(exe_id=exe)
        self.assertTrue(self.gw.wait_online(exe, True, timeout=1.0))
        # Keep this test independent of R11 (tickets minted in one second may be identical).
        time.sleep(1.05 - time.time() % 1)
        _, second = self.gw.online_executor(exe_id=exe)
        try:
            code, reason = first.wait_close(3)
            self.assertEqual((code, reason), (4001, "replaced by newer connection"))
            self.assertFalse(first.server_masked, "server frames must not be masked")
            first.close()
            time.sleep(0.3)
            e = self.gw.get_executor(exe)
            self.assertIs(e["is_online"], True, e)
            self.assertNotIn("disconnected_at", e)
            self.assertTrue(second.is_open_for(0.3), "second connection closed: %s" % second.close_code)
        finally:
            second.close()
        e = self.gw.wait_online(exe, False, timeout=1.0)
        self.assertTrue(e, self.gw.get_executor(exe))
        self.assertIn("disconnected_at", e)


class TicketFallbackKeyTests(GatewayTestCase):
    """Without CXG_WS_TICKET_SECRET the ticket key is CXG_AGENTSERVER_INTERNAL_SECRET."""

    GATEWAY_ENV = {"CXG_WS_TICKET_SECRET": None}

    def test_T1_ticket_key_falls_back_to_agentserver_secret(self):
        exe = uid("exe")
        good = mint_ticket(DEFAULT_SECRETS["CXG_AGENTSERVER_INTERNAL_SECRET"], exe, int(time.time()) + 60)
        r = self.gw.request("GET", "/codex-exec/%s?token=%s" % (exe, good))
        self.assertPlain(r, 426, "websocket upgrade required")
        bad = mint_ticket(DEFAULT_SECRETS["CXG_WS_TICKET_SECRET"], exe, int(time.time()) + 60)
        r = self.gw.request("GET", "/codex-exec/%s?token=%s" % (exe, bad))
        self.assertPlain(r, 401, "unauthorized")
        # and registration mints with the same key
        real = self.gw.create_executor("alice")
        url = self.gw.register(real).json()["url"]
        ws = self.gw.connect_executor(url)
        try:
            self.assertEqual(ws.status, 101, ws.resp)
        finally:
            ws.close()


class OriginTests(GatewayTestCase):
    GATEWAY_ENV = {"CXG_ALLOWED_ORIGINS": "https://ok.example,https://also.example"}

    def test_B1_foreign_origin_gets_403_on_both_websocket_routes(self):
        exe = uid("exe")
        ticket = mint_ticket(self.gw.ticket_key, exe, int(time.time()) + 60)
        for path in ["/codex-exec/%s?token=%s" % (exe, ticket), "/codex-exec/bad.id?token=",
                     "/bridge/" + exe, "/bridge/bad.id"]:
            for origin in ["https://evil.example", "https://ok.example.evil", "null", "http://ok.example"]:
                with self.subTest(path=path[:40], origin=origin):
                    r = self.gw.request("GET", path, {"Origin": origin})
                    self.assertPlain(r, 403, "origin not allowed")
        ws = self.gw.ws("/bridge/" + exe, {"Origin": "https://evil.example"})
        self.assertPlain(ws.resp, 403, "origin not allowed")

    def test_B1_listed_or_missing_origin_passes(self):
        for origin in [None, "https://ok.example", "https://also.example"]:
            with self.subTest(origin=origin):
                exe = uid("exe")
                h = {"Origin": origin} if origin else {}
                ticket = mint_ticket(self.gw.ticket_key, exe, int(time.time()) + 60)
                r = self.gw.request("GET", "/codex-exec/%s?token=%s" % (exe, ticket), h)
                self.assertPlain(r, 426, "websocket upgrade required")
                r = self.gw.request("GET", "/bridge/" + exe, h)
                self.assertPlain(r, 401, "missing Bearer")

    def test_B1_origin_check_only_applies_to_websocket_routes(self):
        r = self.gw.request("GET", "/healthz", {"Origin": "https://evil.example"})
        self.assertEqual((r.status, r.body), (200, b"ok"))


class BridgePrecheckTests(GatewayTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ws_id = uid("ws")
        cls.bound_offline = cls.gw.create_executor("alice")
        cls.gw.bind(cls.ws_id, cls.bound_offline)

    def cap(self, **kw):
        kw.setdefault("workspace", self.ws_id)
        return make_cap(self.gw.cap_key, **kw)

    def bridge(self, exe, cap=None, headers=None, query=None):
        h = dict(headers or {})
        if cap is not None:
            h["Authorization"] = "Bearer " + cap
        path = "/bridge/" + exe + (("?token=" + query) if query is not None else "")
        return self.gw.request("GET", path, h)

    # check 2
    def test_B2_no_credential_or_non_bearer_gets_401_missing_bearer(self):
        exe = self.bound_offline
        good = self.cap()
        self.assertPlain(self.bridge(exe), 401, "missing Bearer")
        for auth in ["Basic " + b64u("a:b"), "Token " + good, good, "Bearerx " + good]:
            with self.subTest(auth=auth[:12]):
                self.assertPlain(self.bridge(exe, headers={"Authorization": auth}), 401, "missing Bearer")
                # even together with a valid ?token=
                self.assertPlain(self.bridge(exe, headers={"Authorization": auth}, query=good), 401,
                                 "missing Bearer")
        self.assertPlain(self.bridge("bad.id"), 401, "missing Bearer")  # check 2 before 3

    # check 3
    def test_check3_invalid_exe_id_gets_400_missing_parameters(self):
        for bad in ["bad.id", "a" * 257]:
            with self.subTest(id=bad[:20]):
                self.assertPlain(self.bridge(bad, cap=self.cap()), 400, "missing parameters")
                self.assertPlain(self.bridge(bad, query=self.cap()), 400, "missing parameters")

    # check 4
    def test_B4_bad_signature_or_malformed_gets_unauthorized_expired_gets_token_expired(self):
        exe = self.bound_offline
        now = int(time.time())
        self.assertPlain(self.bridge(exe, cap=self.cap(exp=now - 5)), 401, "token expired")
        self.assertPlain(self.bridge(exe, query=self.cap(exp=now - 5)), 401, "token expired")
        self.assertPlain(self.bridge(exe, cap=make_cap("wrong-key", self.ws_id)), 401, "unauthorized")
        # bad signature is reported before expiry (step 4 before 6)
        self.assertPlain(self.bridge(exe, cap=make_cap("wrong-key", self.ws_id, exp=now - 5)), 401, "unauthorized")
        self.assertPlain(self.bridge(exe, cap=self.gw.shared_secret), 401, "unauthorized")

    def test_C3_malformed_cap_tokens_get_unauthorized(self):
        exe = self.bound_offline
        key = self.gw.cap_key
        now = int(time.time())
        good = self.cap()
        h, p, s = good.split(".")

        def signed(hdr_b64, pl_b64):
            return "%s.%s.%s" % (hdr_b64, pl_b64, hmac_b64u(key, hdr_b64 + "." + pl_b64))

        def pl(obj):
            return b64u(json.dumps(obj))
        # a payload whose base64 text needs padding
        padded_payload = {"turn_id": "t", "workspace_id": self.ws_id, "exp": now + 600, "x": "y"}
        while len(pl(padded_payload)) % 4 == 0:
            padded_payload["x"] += "y"
        pp = pl(padded_payload)
        pp_padded = pp + "=" * (-len(pp) % 4)
        cases = {
            "a.b": "a.b",
            "a.b.c.d": "a.b.c.d",
            "!.!.!": "!.!.!",
            "empty part": h + ".." + s,
            "padded sig": good + "=",
            "padded payload": signed(h, pp_padded),
            "alg HS512": signed(b64u('{"alg":"HS512","typ":"CXG"}'), p),
            "typ JWT": signed(b64u('{"alg":"HS256","typ":"JWT"}'), p),
            "no alg": signed(b64u('{"typ":"CXG"}'), p),
            "header not object": signed(b64u("[1]"), p),
            "header not json": signed(b64u("{nope"), p),
            "payload not object": signed(h, b64u('"str"')),
            "missing turn_id": signed(h, pl({"workspace_id": self.ws_id, "exp": now + 600})),
            "empty turn_id": signed(h, pl({"turn_id": "", "workspace_id": self.ws_id, "exp": now + 600})),
            "missing workspace_id": signed(h, pl({"turn_id": "t", "exp": now + 600})),
            "missing exp": signed(h, pl({"turn_id": "t", "workspace_id": self.ws_id})),
            "string exp": signed(h, pl({"turn_id": "t", "workspace_id": self.ws_id, "exp": str(now + 600)})),
            # malformed is reported even when also expired (step 5 before 6)
            "missing turn_id, expired": signed(h, pl({"workspace_id": self.ws_id, "exp": now - 600})),
        }
        # control: the unpadded variant of "padded payload" is valid
        self.assertPlain(self.bridge(exe, cap=signed(h, pp)), 503, "executor not connected")
        for name, tok in cases.items():
            with self.subTest(case=name):
                self.assertPlain(self.bridge(exe, cap=tok), 401, "unauthorized")

    # check 5
    def test_B5_B10_revoked_turn_gets_401_turn_revoked_before_binding_check(self):
        turn = uid("trn")
        self.assertEqual(self.gw.revoke(turn).status, 204)
        unbound = self.gw.create_executor("alice")
        for exe in [self.bound_offline, unbound, uid("ghost")]:
            with self.subTest(exe=exe):
                self.assertPlain(self.bridge(exe, cap=self.cap(turn=turn)), 401, "turn revoked")
                self.assertPlain(self.bridge(exe, query=self.cap(turn=turn)), 401, "turn revoked")

    def test_B5_revoked_turn_even_when_online_and_bound(self):
        ws = uid("ws")
        exe, sock = self.gw.online_executor()
        try:
            self.gw.bind(ws, exe)
            self.assertTrue(self.gw.wait_online(exe, True))
            turn = uid("trn")
            cap = make_cap(self.gw.cap_key, ws, turn=turn)
            self.assertPlain(self.bridge(exe, cap=cap), 426, "websocket upgrade required")
            self.assertEqual(self.gw.revoke(turn).status, 204)
            self.assertPlain(self.bridge(exe, cap=cap), 401, "turn revoked")
            b = self.gw.ws("/bridge/" + exe, {"Authorization": "Bearer " + cap})
            self.assertPlain(b.resp, 401, "turn revoked")
            # B11: the executor received nothing
            with self.assertRaises((socket.timeout, TimeoutError)):
                sock.recv(timeout=0.3)
        finally:
            sock.close()

    # check 6
    def test_B6_unbound_executor_gets_403_even_when_online(self):
        exe, sock = self.gw.online_executor()
        try:
            self.assertTrue(self.gw.wait_online(exe, True))
            self.assertPlain(self.bridge(exe, cap=self.cap()), 403, "exe_id not in workspace")
            self.gw.bind(uid("ws-other"), exe)
            self.assertPlain(self.bridge(exe, cap=self.cap()), 403, "exe_id not in workspace")
            self.assertPlain(self.bridge(uid("ghost"), cap=self.cap()), 403, "exe_id not in workspace")
        finally:
            sock.close()

    # check 7
    def test_B8_bound_offline_gets_503_executor_not_connected(self):
        self.assertPlain(self.bridge(self.bound_offline, cap=self.cap()), 503, "executor not connected")
        ws = self.gw.ws("/bridge/" + self.bound_offline, {"Authorization": "Bearer " + self.cap()})
        self.assertPlain(ws.resp, 503, "executor not connected")
        ws = self.gw.ws("/bridge/%s?token=%s" % (self.bound_offline, self.cap()))
        self.assertPlain(ws.resp, 503, "executor not connected")

    def test_B8_executor_that_disconnected_gets_503(self):
        ws_id = uid("ws")
        exe, sock = self.gw.online_executor()
        self.gw.bind(ws_id, exe)
        cap = make_cap(self.gw.cap_key, ws_id)
        self.assertPlain(self.bridge(exe, cap=cap), 426, "websocket upgrade required")
        sock.close()
        self.assertTrue(wait_until(lambda: self.bridge(exe, cap=cap).status == 503, 2))
        self.assertPlain(self.bridge(exe, cap=cap), 503, "executor not connected")

    # check 10 and B3
    def test_B3_check10_online_bound_executor_needs_upgrade_and_accepts_query_token(self):
        ws_id = uid("ws")
        exe, sock = self.gw.online_executor()
        try:
            self.gw.bind(ws_id, exe)
            cap = self.gw.mint_cap(ws_id)
            self.assertPlain(self.bridge(exe, cap=cap), 426, "websocket upgrade required")
            self.assertPlain(self.bridge(exe, query=cap), 426, "websocket upgrade required")
            for kind, b in [("header", self.gw.ws("/bridge/" + exe, {"Authorization": "Bearer " + cap})),
                            ("query", self.gw.ws("/bridge/%s?token=%s" % (exe, cap)))]:
                with self.subTest(kind=kind):
                    self.assertEqual(b.status, 101, b.resp)
                    self.assertIsNone(b.headers.get("Sec-WebSocket-Extensions"))
                    b.close()
        finally:
            sock.close()


class LegacyBusyTests(GatewayTestCase):

    def test_B9_legacy_executor_with_a_bridge_gets_409_executor_busy(self):
        ws_id = uid("ws")
        exe, ex = self.gw.online_executor(legacy=True)
        try:
            self.gw.bind(ws_id, exe)
            cap = make_cap(self.gw.cap_key, ws_id)
            b1 = self.gw.ws("/bridge/" + exe, {"Authorization": "Bearer " + cap})
            self.assertEqual(b1.status, 101, b1.resp)
            try:
                init = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}'
                b1.send_text(init)
                op, data = ex.recv(timeout=3)
                self.assertEqual((op, data), (0x1, init.encode()))
                r = self.gw.request("GET", "/bridge/" + exe, {"Authorization": "Bearer " + make_cap(self.gw.cap_key, ws_id)})
                self.assertPlain(r, 409, "executor busy")
                b2 = self.gw.ws("/bridge/" + exe, {"Authorization": "Bearer " + make_cap(self.gw.cap_key, ws_id)})
                self.assertPlain(b2.resp, 409, "executor busy")
            finally:
                b1.close()
        finally:
            ex.close()


class StreamLimitTests(GatewayTestCase):
    GATEWAY_ENV = {"CXG_MAX_STREAMS_PER_EXECUTOR": "2"}

    def test_L5_B11_third_bridge_gets_429_until_one_closes(self):
        ws_id = uid("ws")
        exe, ex = self.gw.online_executor()
        bridges = []
        try:
            self.gw.bind(ws_id, exe)
            for i in range(2):
                b = self.gw.ws("/bridge/" + exe, {"Authorization": "Bearer " + make_cap(self.gw.cap_key, ws_id)})
                self.assertEqual(b.status, 101, b.resp)
                bridges.append(b)
                sid = "it-stream-%d" % i
                b.send_binary(relay_resume(sid))
                op, data = ex.recv(timeout=3)
                self.assertEqual(op, 0x2)
                f = relay_decode(data)
                self.assertEqual((f.get(1), f.get(2), 7 in f), (1, sid.encode(), True), f)
            cap3 = make_cap(self.gw.cap_key, ws_id)
            self.assertPlain(self.gw.request("GET", "/bridge/" + exe, {"Authorization": "Bearer " + cap3}),
                             429, "stream limit reached")
            b3 = self.gw.ws("/bridge/" + exe, {"Authorization": "Bearer " + cap3})
            self.assertPlain(b3.resp, 429, "stream limit reached")
            # B11: nothing reached the executor for the rejected bridges, others unaffected
            with self.assertRaises((socket.timeout, TimeoutError)):
                ex.recv(timeout=0.3)
            self.assertTrue(bridges[1].is_open_for(0.1))
            bridges[0].close()
            ok = wait_until(lambda: self.gw.request("GET", "/bridge/" + exe,
                                                    {"Authorization": "Bearer " + cap3}).status == 426, 3)
            self.assertTrue(ok, "bridge not admitted after one closed")
        finally:
            for b in bridges:
                b.close()
            ex.close()


if __name__ == "__main__":
    unittest.main()
