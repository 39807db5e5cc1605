"""Admin API /api/codex-exec/*, http-api §2.5 and §4 (A1-A9, Z1)."""

import json
import time
import unittest

from cxg_harness import (RFC3339_MS_RE, UUID4_RE, GatewayTestCase, non_loopback_ipv4,
                         uid, wait_until)

EXECUTOR_KEYS = {"exe_id", "user_id", "display_name", "description", "default_cwd", "registered_at",
                 "last_seen_at", "client_ip", "client_ua", "codex_version", "os", "protocol",
                 "connected_at", "disconnected_at", "is_online"}
CONNECTED_KEYS = {"exe_id", "name", "description", "is_default", "last_seen_at", "client_ip",
                  "client_ua", "codex_version", "os", "protocol", "connected_at", "disconnected_at",
                  "is_online"}


def admin_routes(exe, ws):
    return [("POST", "/api/codex-exec/register", {}),
            ("GET", "/api/codex-exec/executors/" + exe, None),
            ("DELETE", "/api/codex-exec/executors/" + exe, None),
            ("POST", "/api/codex-exec/workspaces/%s/executors" % ws, {"exe_id": exe, "name": "n"}),
            ("GET", "/api/codex-exec/workspaces/%s/executors" % ws, None),
            ("DELETE", "/api/codex-exec/workspaces/%s/executors/%s" % (ws, exe), None)]


class AdminSecretTests(GatewayTestCase):
    """A1 with CXG_AGENTSERVER_INTERNAL_SECRET configured."""

    def test_A1_wrong_or_missing_secret_gets_401_on_every_route(self):
        exe = self.gw.create_executor("alice")
        ws = uid("ws")
        self.gw.bind(ws, exe)
        for secret in [None, "", "wrong", self.gw.admin_secret + "x", self.gw.admin_secret[:-1],
                       self.gw.admin_secret.upper()]:
            for method, path, body in admin_routes(exe, ws):
                with self.subTest(secret=secret, method=method, path=path):
                    h = {"X-User-Id": "alice"}
                    if secret is not None:
                        h["X-Internal-Secret"] = secret
                    r = self.gw.request(method, path, h, body)
                    self.assertPlain(r, 401, "unauthorized")
        # Nothing was changed by the rejected calls.
        self.assertEqual(self.gw.get_executor(exe)["exe_id"], exe)
        self.assertEqual([b["exe_id"] for b in self.gw.list_bindings(ws)], [exe])

    def test_A1_shared_secret_or_bearer_is_not_the_admin_secret(self):
        r = self.gw.request("GET", "/api/codex-exec/workspaces/x/executors",
                            {"X-Internal-Secret": self.gw.shared_secret})
        self.assertPlain(r, 401, "unauthorized")
        r = self.gw.request("GET", "/api/codex-exec/workspaces/x/executors",
                            {"Authorization": "Bearer " + self.gw.admin_secret})
        self.assertPlain(r, 401, "unauthorized")

    def test_A1_correct_secret_passes(self):
        r = self.gw.admin("GET", "/api/codex-exec/workspaces/%s/executors" % uid("ws"))
        self.assertEqual((r.status, r.body.strip()), (200, b"[]"))


class AdminDevModeTests(GatewayTestCase):
    """A1 dev mode: empty secret -> loopback only.  Listens on 0.0.0.0 so that a
    non-loopback local address can be used as a second client address."""

    GATEWAY_ENV = {"CXG_AGENTSERVER_INTERNAL_SECRET": None}
    GATEWAY_LISTEN = "0.0.0.0"

    def test_A1_dev_mode_loopback_client_passes(self):
        r = self.gw.request("GET", "/api/codex-exec/workspaces/%s/executors" % uid("ws"))
        self.assertEqual((r.status, r.body.strip()), (200, b"[]"))
        r = self.gw.request("POST", "/api/codex-exec/register", {"X-User-Id": "alice"}, {})
        self.assertEqual(r.status, 201, repr(r))

    def test_A1_dev_mode_non_loopback_client_gets_401(self):
        ip = non_loopback_ipv4()
        if not ip:
            self.skipTest("no non-loopback IPv4 address on this host")
        exe = self.gw.create_executor("alice")
        for method, path, body in admin_routes(exe, uid("ws")):
            with self.subTest(method=method, path=path):
                r = self.gw.request(method, path, {"X-User-Id": "alice", "X-Internal-Secret": ""}, body, host=ip)
                self.assertPlain(r, 401, "unauthorized")
        # Forwarding headers do not make a remote client local.
        r = self.gw.request("GET", "/api/codex-exec/executors/" + exe,
                            {"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"}, host=ip)
        self.assertPlain(r, 401, "unauthorized")
        self.assertEqual(self.gw.get_executor(exe)["exe_id"], exe)

    def test_A1_dev_mode_startup_logs_a_warning(self):
        warns = [r for r in self.gw.log_records() if r.get("level") in ("warn", "warning")]
        text = json.dumps(warns).lower()
        self.assertTrue(any(w in text for w in ("dev mode", "dev-mode", "loopback", "cxg_agentserver_internal_secret")),
                        "no dev-mode warning among: %s" % warns)


class AdminApiTests(GatewayTestCase):

    def exec_count(self):
        return self.gw.db_query("SELECT count(*) FROM executors")[0][0]

    def binding_rows(self, ws):
        return self.gw.db_query("SELECT exe_id, name, description, is_default, created_at FROM "
                                "workspace_executors WHERE workspace_id=? ORDER BY exe_id", (ws,))

    # ---- A2
    def test_A2_register_returns_201_exe_uuid(self):
        for body in [None, b"", {}]:
            with self.subTest(body=body):
                r = self.gw.admin("POST", "/api/codex-exec/register", body=body, user="alice")
                obj = self.assertJson(r, 201)
                self.assertEqual(set(obj), {"exe_id"})
                self.assertRegex(obj["exe_id"], "^exe_" + UUID4_RE + "$")
                self.assertEqual(self.gw.get_executor(obj["exe_id"])["user_id"], "alice")

    def test_A2_register_stores_optional_fields(self):
        exe = uid("exe")
        body = {"exe_id": exe, "display_name": "Box One", "description": "d1", "default_cwd": "/srv"}
        r = self.gw.admin("POST", "/api/codex-exec/register", body=body, user="alice")
        self.assertEqual(self.assertJson(r, 201), {"exe_id": exe})
        e = self.gw.get_executor(exe)
        self.assertEqual((e["display_name"], e["description"], e["default_cwd"]), ("Box One", "d1", "/srv"))

    def test_A2_missing_user_gets_401(self):
        n = self.exec_count()
        for h in [{}, {"X-User-Id": ""}]:
            with self.subTest(h=h):
                r = self.gw.admin("POST", "/api/codex-exec/register", headers=h, body={"exe_id": uid()})
                self.assertAdminError(r, 401, "missing user")
        self.assertEqual(self.exec_count(), n)

    def test_A2_Z1_invalid_json_gets_400_and_no_row(self):
        n = self.exec_count()
        for body in [b"{", b"nope", b"[]", b'"x"', b"null"]:
            with self.subTest(body=body):
                r = self.gw.admin("POST", "/api/codex-exec/register", body=body, user="alice")
                self.assertAdminError(r, 400, "invalid JSON")
        for body in [{"exe_id": 5}, {"display_name": ["x"]}, {"exe_id": None, "description": {}}]:
            with self.subTest(body=body):
                r = self.gw.admin("POST", "/api/codex-exec/register", body=body, user="alice")
                self.assertAdminError(r, 400)
        self.assertEqual(self.exec_count(), n)

    def test_A2_invalid_exe_id_gets_400(self):
        n = self.exec_count()
        for bad in ["bad.id", "a" * 257, "has space", "slash/x"]:
            with self.subTest(exe_id=bad):
                r = self.gw.admin("POST", "/api/codex-exec/register", body={"exe_id": bad}, user="alice")
                self.assertAdminError(r, 400, "invalid exe_id")
        self.assertEqual(self.exec_count(), n)

    # ---- A3
    def test_A3_same_user_again_gets_200_other_user_409(self):
        exe = uid("exe")
        r1 = self.gw.admin("POST", "/api/codex-exec/register", body={"exe_id": exe}, user="alice")
        self.assertEqual(self.assertJson(r1, 201), {"exe_id": exe})
        r2 = self.gw.admin("POST", "/api/codex-exec/register", body={"exe_id": exe}, user="alice")
        self.assertEqual(self.assertJson(r2, 200), {"exe_id": exe})
        r3 = self.gw.admin("POST", "/api/codex-exec/register", body={"exe_id": exe}, user="bob")
        self.assertAdminError(r3, 409, "exe_id taken")
        self.assertEqual(self.gw.get_executor(exe)["user_id"], "alice")

    # ---- A9
    def test_A9_get_executor_model(self):
        exe = self.gw.create_executor("alice")
        r = self.gw.admin("GET", "/api/codex-exec/executors/" + exe)
        e = self.assertJson(r, 200)
        self.assertEqual(e["exe_id"], exe)
        self.assertEqual(e["user_id"], "alice")
        self.assertRegex(e["registered_at"], RFC3339_MS_RE)
        self.assertIs(e["is_online"], False)
        # Members left out when empty or null.
        self.assertEqual(set(e), {"exe_id", "user_id", "registered_at", "is_online"}, e)
        self.gw.register(exe, headers={"User-Agent": "codex_cli_rs/0.131.0 (Linux 6.1; x86_64)"})
        e = self.gw.get_executor(exe)
        self.assertTrue(set(e) <= EXECUTOR_KEYS, e)
        for k in ("last_seen_at", "client_ip", "client_ua", "codex_version", "os", "protocol"):
            self.assertIn(k, e)
        self.assertRegex(e["last_seen_at"], RFC3339_MS_RE)
        self.assertNotIn("connected_at", e)
        self.assertNotIn("disconnected_at", e)

    def test_A9_unknown_executor_gets_404(self):
        r = self.gw.admin("GET", "/api/codex-exec/executors/" + uid("ghost"))
        self.assertAdminError(r, 404, "not found")

    # ---- A8
    def test_A8_delete_twice_gets_204_and_cascades(self):
        exe = self.gw.create_executor("alice")
        ws1, ws2 = uid("ws"), uid("ws")
        self.gw.bind(ws1, exe)
        self.gw.bind(ws2, exe)
        self.assertEqual(self.gw.register(exe).status, 200)
        for _ in range(2):
            r = self.gw.admin("DELETE", "/api/codex-exec/executors/" + exe)
            self.assertEqual((r.status, r.body), (204, b""))
        self.assertEqual(self.gw.admin("GET", "/api/codex-exec/executors/" + exe).status, 404)
        self.assertEqual(self.gw.list_bindings(ws1), [])
        self.assertEqual(self.gw.list_bindings(ws2), [])
        self.assertEqual(self.gw.db_query("SELECT count(*) FROM workspace_executors WHERE exe_id=?", (exe,))[0][0], 0)
        # Its next registration gets 403.
        self.assertCodexError(self.gw.register(exe), 403, "executor_not_registered")

    def test_A8_E5_delete_closes_live_socket_4002_and_removes_presence(self):
        exe, sock = self.gw.online_executor()
        try:
            self.assertTrue(self.gw.wait_online(exe, True))
            r = self.gw.admin("DELETE", "/api/codex-exec/executors/" + exe)
            self.assertEqual(r.status, 204)
            self.assertEqual(sock.wait_close(3), (4002, "executor deleted"))
        finally:
            sock.close()
        self.assertEqual(self.gw.db_query("SELECT count(*) FROM executor_presence WHERE exe_id=?", (exe,)), [(0,)])
        self.assertEqual(self.gw.admin("GET", "/api/codex-exec/executors/" + exe).status, 404)

    def test_A8_delete_unknown_gets_204_invalid_gets_400(self):
        r = self.gw.admin("DELETE", "/api/codex-exec/executors/" + uid("ghost"))
        self.assertEqual(r.status, 204)
        r = self.gw.admin("DELETE", "/api/codex-exec/executors/bad.id")
        self.assertAdminError(r, 400, "invalid exe_id")

    # ---- A4
    def test_A4_binding_upsert_keeps_created_at_and_updates_in_place(self):
        ws = uid("ws")
        a = self.gw.create_executor("alice")
        b = self.gw.create_executor("alice")
        path = "/api/codex-exec/workspaces/%s/executors" % ws
        r = self.gw.admin("POST", path, body={"exe_id": a, "name": "alpha"})
        self.assertEqual(self.assertJson(r, 201), {"status": "ok"})
        time.sleep(0.01)
        self.gw.bind(ws, b, name="beta")
        created_a = [row[4] for row in self.binding_rows(ws) if row[0] == a][0]
        time.sleep(0.01)
        r = self.gw.admin("POST", path, body={"exe_id": a, "name": "alpha2", "description": "dd",
                                              "is_default": True})
        self.assertEqual(self.assertJson(r, 201), {"status": "ok"})
        r = self.gw.admin("POST", path, body={"exe_id": a, "name": "alpha2", "description": "dd",
                                              "is_default": True})
        self.assertEqual(self.assertJson(r, 201), {"status": "ok"})
        rows = self.binding_rows(ws)
        self.assertEqual(len(rows), 2, rows)
        row_a = [row for row in rows if row[0] == a][0]
        self.assertEqual(row_a[1:4], ("alpha2", "dd", 1))
        self.assertEqual(row_a[4], created_a)
        lst = self.gw.list_bindings(ws)
        self.assertEqual([x["exe_id"] for x in lst], [a, b])
        self.assertEqual((lst[0]["name"], lst[0]["description"], lst[0]["is_default"]), ("alpha2", "dd", True))
        self.assertEqual((lst[1]["name"], lst[1]["description"], lst[1]["is_default"]), ("beta", "", False))
        # Omitted description / is_default on update go back to their defaults.
        self.gw.bind(ws, a, name="alpha3")
        lst = self.gw.list_bindings(ws)
        self.assertEqual((lst[0]["exe_id"], lst[0]["name"]), (a, "alpha3"))

    # ---- A5
    def test_A5_name_clash_gets_409(self):
        ws = uid("ws")
        a, b = self.gw.create_executor("alice"), self.gw.create_executor("alice")
        self.gw.bind(ws, a, name="same")
        r = self.gw.admin("POST", "/api/codex-exec/workspaces/%s/executors" % ws, body={"exe_id": b, "name": "same"})
        self.assertAdminError(r, 409, "bind failed (name may already be taken in this workspace)")
        self.assertEqual([x["exe_id"] for x in self.gw.list_bindings(ws)], [a])
        # Same name in another workspace is fine.
        self.gw.bind(uid("ws"), b, name="same")

    def test_A5_unknown_executor_gets_404(self):
        ws, ghost = uid("ws"), uid("ghost")
        r = self.gw.admin("POST", "/api/codex-exec/workspaces/%s/executors" % ws, body={"exe_id": ghost, "name": "x"})
        self.assertAdminError(r, 404, "executor %s not registered" % ghost)
        self.assertEqual(self.gw.list_bindings(ws), [])

    def test_A5_Z1_bad_binding_bodies_get_400(self):
        ws = uid("ws")
        exe = self.gw.create_executor("alice")
        path = "/api/codex-exec/workspaces/%s/executors" % ws
        cases = [(b"{", "invalid JSON"), (b"[]", "invalid JSON"),
                 ({"name": "x"}, "exe_id required"), ({"exe_id": "", "name": "x"}, "exe_id required"),
                 ({"exe_id": exe}, "name required"), ({"exe_id": exe, "name": ""}, "name required"),
                 ({"exe_id": exe, "name": "  \t "}, "name required"),
                 ({"exe_id": "bad.id", "name": "x"}, "invalid exe_id"),
                 ({"exe_id": exe, "name": "n" * 257}, None),
                 ({"exe_id": exe, "name": 7}, None), ({"exe_id": exe, "name": "x", "is_default": "yes"}, None)]
        for body, msg in cases:
            with self.subTest(body=body if not isinstance(body, dict) else json.dumps(body)[:60]):
                r = self.gw.admin("POST", path, body=body)
                self.assertAdminError(r, 400, msg)
        self.assertEqual(self.binding_rows(ws), [])
        self.gw.bind(ws, exe, name="n" * 256)

    def test_A5_several_defaults_allowed(self):
        ws = uid("ws")
        for _ in range(2):
            self.gw.bind(ws, self.gw.create_executor("alice"), is_default=True)
        self.assertEqual([x["is_default"] for x in self.gw.list_bindings(ws)], [True, True])

    # ---- A6
    def test_A6_empty_list_is_array(self):
        r = self.gw.admin("GET", "/api/codex-exec/workspaces/%s/executors" % uid("ws"))
        self.assertEqual(self.assertJson(r, 200), [])

    def test_A6_list_order_and_model(self):
        ws = uid("ws")
        exes = []
        for i in range(3):
            exes.append(self.gw.create_executor("alice"))
            self.gw.bind(ws, exes[-1], name="n%d" % (3 - i))
            time.sleep(0.005)
        self.gw.register(exes[1], headers={"User-Agent": "codex_cli_rs/0.131.0 (Linux 6.1)"})
        lst = self.gw.list_bindings(ws)
        self.assertEqual([x["exe_id"] for x in lst], exes)
        for x in lst:
            self.assertTrue(set(x) <= CONNECTED_KEYS, x)
            self.assertEqual(x["description"], "")
            self.assertIs(x["is_online"], False)
            self.assertIs(x["is_default"], False)
        self.assertEqual(lst[1]["codex_version"], "0.131.0")
        self.assertEqual(lst[1]["os"], "Linux")
        self.assertEqual(lst[1]["protocol"], "relay")
        self.assertRegex(lst[1]["last_seen_at"], RFC3339_MS_RE)
        self.assertNotIn("codex_version", lst[0])

    def test_A6_is_online_follows_presence(self):
        ws = uid("ws")
        exe = self.gw.create_executor("alice")
        self.gw.bind(ws, exe)
        self.assertIs(self.gw.list_bindings(ws)[0]["is_online"], False)
        _, sock = self.gw.online_executor(exe_id=exe)
        try:
            ok = wait_until(lambda: self.gw.list_bindings(ws)[0]["is_online"] is True, 2)
            self.assertTrue(ok, self.gw.list_bindings(ws))
            self.assertRegex(self.gw.list_bindings(ws)[0].get("connected_at", ""), RFC3339_MS_RE)
        finally:
            sock.close()
        ok = wait_until(lambda: self.gw.list_bindings(ws)[0]["is_online"] is False, 2)
        self.assertTrue(ok, self.gw.list_bindings(ws))

    # ---- A7
    def test_A7_unbind_gets_204_even_when_repeated(self):
        ws = uid("ws")
        exe = self.gw.create_executor("alice")
        self.gw.bind(ws, exe)
        for _ in range(2):
            r = self.gw.admin("DELETE", "/api/codex-exec/workspaces/%s/executors/%s" % (ws, exe))
            self.assertEqual((r.status, r.body), (204, b""))
        self.assertEqual(self.gw.list_bindings(ws), [])
        self.assertEqual(self.gw.get_executor(exe)["exe_id"], exe)
        r = self.gw.admin("DELETE", "/api/codex-exec/workspaces/%s/executors/%s" % (uid("ws"), uid("ghost")))
        self.assertEqual(r.status, 204)


if __name__ == "__main__":
    unittest.main()
