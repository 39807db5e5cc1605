"""General HTTP rules, http-api §1: 431, 413, 404 `not found`, 405 with Allow (Z1)."""

import json
import unittest

from cxg_harness import ALICE_TOKEN, GatewayTestCase, make_cap, uid

BIG = 65537


class LimitTests(GatewayTestCase):

    def assertNotFound(self, r):
        self.assertEqual(r.status, 404, repr(r))
        if r.ctype.startswith("application/json"):
            self.assertEqual(r.json(), {"error": "not found"})
        else:
            self.assertPlain(r, 404, "not found")

    # ---- 431
    def test_Z1_header_block_over_16KiB_gets_431(self):
        r = self.gw.request("GET", "/healthz", {"X-Big": "a" * (17 * 1024)})
        self.assertEqual(r.status, 431, repr(r))
        many = {"X-Pad-%02d" % i: "b" * 500 for i in range(40)}
        r = self.gw.request("GET", "/healthz", many)
        self.assertEqual(r.status, 431, repr(r))
        # the process is fine afterwards
        self.assertEqual(self.gw.request("GET", "/healthz").status, 200)

    def test_header_block_under_16KiB_is_accepted(self):
        r = self.gw.request("GET", "/healthz", {"X-Big": "a" * (15 * 1024)})
        self.assertEqual((r.status, r.body), (200, b"ok"))

    # ---- 413
    def test_Z1_body_over_64KiB_gets_413_on_every_json_route(self):
        exe = self.gw.create_executor("alice")
        ws = uid("ws")
        pad = json.dumps({"exe_id": uid("exe"), "name": "n", "turn_id": "t", "pad": "x" * BIG})
        n_exec = self.gw.db_query("SELECT count(*) FROM executors")[0][0]
        for path, headers in [
                ("/api/codex-exec/register", {"X-Internal-Secret": self.gw.admin_secret, "X-User-Id": "alice"}),
                ("/api/codex-exec/workspaces/%s/executors" % ws, {"X-Internal-Secret": self.gw.admin_secret}),
                ("/api/exec-gateway/revoke-turn", {"Authorization": "Bearer " + self.gw.shared_secret})]:
            with self.subTest(path=path):
                r = self.gw.request("POST", path, headers, pad)
                self.assertEqual(r.status, 413, repr(r))
                self.assertTrue(r.body.strip(), "413 without an error body")
                if path.startswith("/api/") and r.ctype.startswith("application/json"):
                    self.assertIsInstance(r.json().get("error"), str)
        r = self.gw.register(exe, body=pad)
        self.assertCodexError(r, 413, "body_too_large")
        self.assertEqual(self.gw.db_query("SELECT count(*) FROM executors")[0][0], n_exec)
        self.assertEqual(self.gw.list_bindings(ws), [])
        self.assertEqual(self.gw.db_query("SELECT count(*) FROM turn_revocations WHERE turn_id='t'"), [(0,)])

    def test_Z1_chunked_body_over_64KiB_gets_413(self):
        exe = self.gw.create_executor("alice")
        parts = [b'{"pad":"'] + [b"x" * 8192] * 9  # never a complete JSON: the size limit must trigger
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
        req = (b"POST /cloud/executor/%s/register HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               % (exe.encode(), ALICE_TOKEN.encode()))
        r = self.gw.raw(req + chunked, method="POST")
        self.assertCodexError(r, 413, "body_too_large")
        self.assertNotIn("last_seen_at", self.gw.get_executor(exe))

    # ---- 404
    def test_unknown_path_gets_404_not_found(self):
        for method, path in [("GET", "/nope"), ("GET", "/"), ("GET", "/api/unknown"),
                             ("POST", "/cloud/executor/x/register/extra"), ("POST", "/cloud/executor/x"),
                             ("POST", "/cloud/somethingelse/x/register"), ("POST", "/relay/create"),
                             ("GET", "/api/sdk/sessions"), ("GET", "/api/connectors/x"),
                             ("GET", "/healthz/x"), ("GET", "/api/codex-exec/executors"),
                             ("GET", "/api/exec-gateway/nope")]:
            with self.subTest(method=method, path=path):
                self.assertNotFound(self.gw.request(method, path, {"X-Internal-Secret": self.gw.admin_secret}))

    # ---- 405
    def test_wrong_method_gets_405_with_allow(self):
        cap = make_cap(self.gw.cap_key, uid("ws"))
        adm = {"X-Internal-Secret": self.gw.admin_secret, "X-User-Id": "alice"}
        cases = [("DELETE", "/healthz", {}, {"GET"}), ("POST", "/readyz", {}, {"GET"}),
                 ("PUT", "/metrics", {}, {"GET"}),
                 ("GET", "/cloud/executor/x/register", {}, {"POST"}),
                 ("PUT", "/cloud/environment/x/register", {}, {"POST"}),
                 ("PUT", "/api/codex-exec/register", adm, {"POST"}),
                 ("GET", "/api/codex-exec/register", adm, {"POST"}),
                 ("POST", "/api/codex-exec/executors/x", adm, {"GET", "DELETE"}),
                 ("PUT", "/api/codex-exec/workspaces/w/executors", adm, {"POST", "GET"}),
                 ("GET", "/api/codex-exec/workspaces/w/executors/x", adm, {"DELETE"}),
                 ("POST", "/api/exec-gateway/connected", {"Authorization": "Bearer " + cap}, {"GET"}),
                 ("GET", "/api/exec-gateway/revoke-turn", {"Authorization": "Bearer " + self.gw.shared_secret}, {"POST"}),
                 ("POST", "/bridge/x", {"Authorization": "Bearer " + cap}, {"GET"}),
                 ("POST", "/codex-exec/x?token=a.b.c", {}, {"GET"})]
        for method, path, headers, allowed in cases:
            with self.subTest(method=method, path=path):
                r = self.gw.request(method, path, headers, b"{}" if method in ("POST", "PUT") else None)
                self.assertEqual(r.status, 405, repr(r))
                allow = {m.strip().upper() for m in (r.headers.get("Allow") or "").split(",") if m.strip()}
                self.assertTrue(allowed <= allow, "Allow %r lacks %r" % (r.headers.get("Allow"), allowed))
                self.assertNotIn(method, allow)

    def test_Z1_registration_ignores_content_type(self):
        exe = self.gw.create_executor("alice")
        r = self.gw.register(exe, body=b"", headers={"Content-Type": "text/html"})
        self.assertEqual(r.status, 200, repr(r))
        r = self.gw.register(exe, body=b'{"idempotency_id":"i"}', headers={"Content-Type": "application/x-whatever"})
        self.assertEqual(r.status, 200, repr(r))
        self.assertTrue(r.json()["url"].endswith("&mode=json"))

    def test_json_responses_are_application_json(self):
        r = self.gw.admin("GET", "/api/codex-exec/workspaces/%s/executors" % uid("ws"))
        self.assertTrue(r.ctype.startswith("application/json"), r.ctype)


if __name__ == "__main__":
    unittest.main()
