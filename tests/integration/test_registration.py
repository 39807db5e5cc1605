"""Executor registration: http-api §2.2, wire-protocol §1 (R1-R6, R9, R11, R12, R16)."""

import json
import re
import time
import unittest
import urllib.parse

from cxg_harness import (ALICE_TOKEN, BOB_TOKEN, RFC3339_MS_RE, GatewayTestCase, ticket_sig_ok,
                         uid)

LEGACY_UA = "codex_cli_rs/0.130.0 (Darwin 24.4.0; arm64) vscode/1.99"


def legacy_body(exe_id, **extra):
    b = {"idempotency_id": "codex-exec-server-" + "0f" * 32, "executor_id": exe_id,
         "name": "my-box", "labels": {}, "metadata": {}}
    b.update(extra)
    return json.dumps(b)


class RegistrationTests(GatewayTestCase):

    def ok(self, resp, exe_id):
        obj = self.assertJson(resp, 200)
        self.assertEqual(set(obj), {"id", "executor_id", "environment_id", "url"}, obj)
        self.assertEqual((obj["id"], obj["executor_id"], obj["environment_id"]), (exe_id,) * 3)
        return obj

    def split_url(self, url, exe_id, host=None, scheme="ws"):
        base = "%s://%s/codex-exec/%s?token=" % (scheme, host or "127.0.0.1:%d" % self.gw.port, exe_id)
        self.assertTrue(url.startswith(base), "%r does not start with %r" % (url, base))
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, keep_blank_values=True)
        return q

    def ticket_of(self, url):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        return q["token"][0]

    def state(self, exe_id):
        return self.gw.get_executor(exe_id)

    # ---- R1 / R2
    def test_R1_executor_path_returns_all_ids_and_url(self):
        exe = self.gw.create_executor("alice")
        obj = self.ok(self.gw.register(exe), exe)
        self.assertIsInstance(obj["url"], str)

    def test_R1_environment_path_behaves_the_same(self):
        exe = self.gw.create_executor("alice")
        obj = self.ok(self.gw.register(exe, kind="environment"), exe)
        self.split_url(obj["url"], exe)

    def test_R2_url_is_base_codex_exec_id_with_ticket_that_verifies(self):
        exe = self.gw.create_executor("alice")
        t0 = int(time.time())
        url = self.ok(self.gw.register(exe), exe)["url"]
        q = self.split_url(url, exe)
        self.assertEqual(set(q), {"token"}, url)
        ticket = q["token"][0]
        parts = ticket.split(".")
        self.assertEqual(len(parts), 3, ticket)
        self.assertEqual(parts[0], exe)
        self.assertTrue(parts[1].isdigit(), ticket)
        # TTL defaults to 5 minutes.
        self.assertTrue(t0 + 295 <= int(parts[1]) <= t0 + 307, (t0, parts[1]))
        self.assertRegex(parts[2], r"^[A-Za-z0-9_-]{43}$")
        self.assertTrue(ticket_sig_ok(self.gw.ticket_key, ticket), "ticket sig is not HMAC-SHA256")
        # The gateway itself accepts it: the only remaining check is the upgrade (426).
        r = self.gw.request("GET", "/codex-exec/%s?token=%s" % (exe, ticket))
        self.assertPlain(r, 426, "websocket upgrade required")

    def test_R2_url_base_comes_from_host_header(self):
        exe = self.gw.create_executor("alice")
        url = self.ok(self.gw.register(exe, headers={"Host": "gw.test:8443"}), exe)["url"]
        self.split_url(url, exe, host="gw.test:8443")

    def test_R2_url_is_wss_with_x_forwarded_proto_https(self):
        exe = self.gw.create_executor("alice")
        url = self.ok(self.gw.register(exe, headers={"Host": "gw.test", "X-Forwarded-Proto": "https"}),
                      exe)["url"]
        self.split_url(url, exe, host="gw.test", scheme="wss")

    # ---- R3
    def test_R3_empty_body_gives_relay_url_and_protocol(self):
        exe = self.gw.create_executor("alice")
        url = self.ok(self.gw.register(exe, body=b""), exe)["url"]
        q = self.split_url(url, exe)
        self.assertNotIn("mode", q)
        self.assertEqual(self.state(exe).get("protocol"), "relay")

    def test_R3_legacy_body_gives_mode_json_and_protocol_json(self):
        exe = self.gw.create_executor("alice")
        url = self.ok(self.gw.register(exe, body=legacy_body(exe)), exe)["url"]
        self.split_url(url, exe)
        self.assertTrue(url.endswith("&mode=json"), url)
        self.assertEqual(self.state(exe).get("protocol"), "json")
        # The mode=json ticket passes the ticket check (426 is the next check).
        r = self.gw.request("GET", url.split("127.0.0.1:%d" % self.gw.port, 1)[1])
        self.assertPlain(r, 426, "websocket upgrade required")

    def test_R3_idempotency_id_without_executor_id_is_legacy(self):
        exe = self.gw.create_executor("alice")
        url = self.ok(self.gw.register(exe, body=json.dumps({"idempotency_id": "x"})), exe)["url"]
        self.assertTrue(url.endswith("&mode=json"), url)

    def test_R3_unknown_json_object_registers_as_relay(self):
        exe = self.gw.create_executor("alice")
        url = self.ok(self.gw.register(exe, body=json.dumps({"future": {"x": 1}})), exe)["url"]
        self.assertNotIn("mode=", url)
        self.assertEqual(self.state(exe).get("protocol"), "relay")

    def test_R3_empty_security_profile_is_not_noise(self):
        exe = self.gw.create_executor("alice")
        url = self.ok(self.gw.register(exe, body=json.dumps({"security_profile": ""})), exe)["url"]
        self.assertNotIn("mode=", url)

    # ---- R4
    def test_R4_security_profile_gets_501_and_changes_nothing(self):
        exe = self.gw.create_executor("alice")
        before = self.state(exe)
        body = json.dumps({"security_profile": "noise-hybrid-ik-v1", "public_key": "AAAA"})
        r = self.gw.register(exe, body=body, headers={"User-Agent": LEGACY_UA,
                                                      "X-Forwarded-For": "198.51.100.9"})
        self.assertCodexError(r, 501, "unsupported_security_profile")
        self.assertEqual(self.state(exe), before)
        self.assertNotIn("last_seen_at", before)

    def test_R4_security_profile_checked_before_auth(self):
        exe = self.gw.create_executor("alice")
        r = self.gw.register(exe, token=None, body=json.dumps({"security_profile": "noise"}))
        self.assertCodexError(r, 501, "unsupported_security_profile")

    # ---- R5
    def test_R5_non_json_body_gets_400_invalid_body(self):
        exe = self.gw.create_executor("alice")
        before = self.state(exe)
        for body in [b"not json", b"[1,2]", b'"str"', b"42", b"{", b"\xff\xfe"]:
            with self.subTest(body=body):
                self.assertCodexError(self.gw.register(exe, body=body), 400, "invalid_body")
        self.assertEqual(self.state(exe), before)

    def test_R5_invalid_body_checked_before_auth(self):
        exe = self.gw.create_executor("alice")
        self.assertCodexError(self.gw.register(exe, token=None, body=b"nope"), 400, "invalid_body")

    def test_R5_mismatched_executor_id_gets_400_id_mismatch(self):
        exe = self.gw.create_executor("alice")
        before = self.state(exe)
        r = self.gw.register(exe, body=legacy_body("some-other-id"))
        self.assertCodexError(r, 400, "id_mismatch")
        r = self.gw.register(exe, kind="environment", body=json.dumps({"executor_id": exe + "x"}))
        self.assertCodexError(r, 400, "id_mismatch")
        self.assertEqual(self.state(exe), before)

    def test_R5_body_over_64KiB_gets_413_and_64KiB_is_accepted(self):
        exe = self.gw.create_executor("alice")
        pad = 65536 - len(b'{"pad":""}')
        exact = ('{"pad":"%s"}' % ("x" * pad)).encode()
        self.assertEqual(len(exact), 65536)
        self.ok(self.gw.register(exe, body=exact), exe)
        over = ('{"pad":"%s"}' % ("x" * (pad + 1))).encode()
        before = self.state(exe)
        self.assertCodexError(self.gw.register(exe, body=over), 413, "body_too_large")
        self.assertEqual(self.state(exe)["last_seen_at"], before["last_seen_at"])

    def test_R5_invalid_path_id_gets_400_invalid_id(self):
        for bad in ["bad.id", "a" * 257, "sp%20ace", "semi;colon", "t~ilde"]:
            for kind in ["executor", "environment"]:
                with self.subTest(id=bad, kind=kind):
                    # Step 1 comes before the body and auth checks.
                    r = self.gw.register(bad, token=None, kind=kind, body=b"{not json")
                    self.assertCodexError(r, 400, "invalid_id")

    def test_R5_id_of_256_chars_is_valid(self):
        ok_id = "A-_z9" + "a" * 251
        r = self.gw.register(ok_id, token=None)
        self.assertCodexError(r, 401, "unauthorized")
        r = self.gw.register(ok_id)
        self.assertCodexError(r, 403, "executor_not_registered", "executor %s not registered" % ok_id)

    # ---- R6
    def test_R6_missing_or_unknown_authorization_gets_401_unauthorized(self):
        exe = self.gw.create_executor("alice")
        cases = [None, "Basic " + "YWxpY2U6cHc=", "Token " + ALICE_TOKEN, ALICE_TOKEN,
                 "Bearer", "Bearer ", "Bearerx " + ALICE_TOKEN]
        for auth in cases:
            with self.subTest(auth=auth):
                h = {} if auth is None else {"Authorization": auth}
                r = self.gw.register(exe, token=None, headers=h)
                self.assertCodexError(r, 401, "unauthorized")
        self.assertNotIn("last_seen_at", self.state(exe))

    def test_R6_scheme_is_matched_in_any_case(self):
        exe = self.gw.create_executor("alice")
        for scheme in ["bearer", "BEARER", "BeArEr"]:
            with self.subTest(scheme=scheme):
                self.ok(self.gw.register(exe, scheme=scheme), exe)

    def test_R6_unknown_bearer_gets_401(self):
        exe = self.gw.create_executor("alice")
        self.assertCodexError(self.gw.register(exe, token="tok-unknown"), 401, "unauthorized")

    def test_step_order_auth_before_ownership(self):
        r = self.gw.register(uid("never"), token=None)
        self.assertCodexError(r, 401, "unauthorized")

    # ---- R9
    def test_R9_unknown_exe_id_gets_403_executor_not_registered(self):
        exe = uid("ghost")
        r = self.gw.register(exe)
        self.assertCodexError(r, 403, "executor_not_registered", "executor %s not registered" % exe)
        r = self.gw.admin("GET", "/api/codex-exec/executors/" + exe)
        self.assertEqual(r.status, 404)

    def test_R9_other_users_exe_id_gets_403_executor_not_owned(self):
        exe = self.gw.create_executor("alice")
        before = self.state(exe)
        r = self.gw.register(exe, token=BOB_TOKEN, headers={"User-Agent": LEGACY_UA})
        self.assertCodexError(r, 403, "executor_not_owned",
                              "executor %s not owned by user bob" % exe)
        self.assertEqual(self.state(exe), before)

    # ---- R11
    def test_R11_repeated_registrations_mint_distinct_valid_tickets_and_keep_one_row(self):
        exe = self.gw.create_executor("alice")
        rows_before = self.gw.db_query("SELECT count(*) FROM executors")[0][0]
        registered_at = self.state(exe)["registered_at"]
        tickets = []
        for i in range(3):
            url = self.ok(self.gw.register(exe, headers={"User-Agent": "codex_cli_rs/0.13%d.0 (Linux 6.1)" % i}),
                          exe)["url"]
            tickets.append(self.ticket_of(url))
        self.assertEqual(len(set(tickets)), 3, tickets)
        for t in tickets:
            self.assertTrue(ticket_sig_ok(self.gw.ticket_key, t), t)
            r = self.gw.request("GET", "/codex-exec/%s?token=%s" % (exe, t))
            self.assertPlain(r, 426, "websocket upgrade required")
        self.assertEqual(self.gw.db_query("SELECT count(*) FROM executors")[0][0], rows_before)
        after = self.state(exe)
        self.assertEqual(after["registered_at"], registered_at)
        self.assertEqual(after["codex_version"], "0.132.0")

    # ---- R12 and step 5 metadata
    def test_R12_user_agent_gives_version_and_os(self):
        exe = self.gw.create_executor("alice")
        self.ok(self.gw.register(exe, headers={"User-Agent": LEGACY_UA}), exe)
        e = self.state(exe)
        self.assertEqual(e.get("client_ua"), LEGACY_UA)
        self.assertEqual(e.get("codex_version"), "0.130.0")
        self.assertEqual(e.get("os"), "Darwin")
        self.assertRegex(e.get("last_seen_at", ""), RFC3339_MS_RE)

    def test_R12_user_agent_variants(self):
        cases = [("Codex/1.2.3-beta+7 (linux; x86_64)", "1.2.3-beta+7", "linux"),
                 ("codex_cli / 0.131.0", "0.131.0", None),
                 ("xcodex/9.9 (Foo)", None, "Foo")]
        for ua, ver, os_ in cases:
            with self.subTest(ua=ua):
                exe = self.gw.create_executor("alice")
                self.ok(self.gw.register(exe, headers={"User-Agent": ua}), exe)
                e = self.state(exe)
                self.assertEqual(e.get("codex_version"), ver, e)
                self.assertEqual(e.get("os"), os_, e)

    def test_R12_missing_user_agent_keeps_stored_values(self):
        exe = self.gw.create_executor("alice")
        self.ok(self.gw.register(exe, headers={"User-Agent": LEGACY_UA}), exe)
        first = self.state(exe)
        time.sleep(0.01)
        self.ok(self.gw.register(exe), exe)  # http.client sends no User-Agent
        e = self.state(exe)
        for k in ("client_ua", "codex_version", "os"):
            self.assertEqual(e.get(k), first.get(k), k)
        self.assertGreaterEqual(e["last_seen_at"], first["last_seen_at"])

    def test_step5_client_ip_sources(self):
        cases = [({"X-Forwarded-For": "203.0.113.7, 10.0.0.1", "X-Real-IP": "198.51.100.1"}, "203.0.113.7"),
                 ({"X-Forwarded-For": " , 203.0.113.8 ,10.0.0.2"}, "203.0.113.8"),
                 ({"X-Real-IP": "198.51.100.2"}, "198.51.100.2"),
                 ({}, "127.0.0.1")]
        for headers, ip in cases:
            with self.subTest(headers=headers):
                exe = self.gw.create_executor("alice")
                self.ok(self.gw.register(exe, headers=headers), exe)
                self.assertEqual(self.state(exe).get("client_ip"), ip)

    def test_step5_metadata_refresh_on_repeat(self):
        exe = self.gw.create_executor("alice")
        self.ok(self.gw.register(exe, headers={"X-Forwarded-For": "203.0.113.7"}), exe)
        self.ok(self.gw.register(exe, body=legacy_body(exe), headers={"X-Forwarded-For": "203.0.113.9"}), exe)
        e = self.state(exe)
        self.assertEqual(e.get("client_ip"), "203.0.113.9")
        self.assertEqual(e.get("protocol"), "json")


class PublicBaseUrlTests(GatewayTestCase):
    GATEWAY_ENV = {"CXG_PUBLIC_WS_BASE_URL": "wss://gw.example:4443/"}

    def test_R2_url_base_is_public_ws_base_url_without_trailing_slash(self):
        exe = self.gw.create_executor("alice")
        for headers in [{}, {"Host": "other.test", "X-Forwarded-Proto": "http"}]:
            with self.subTest(headers=headers):
                r = self.gw.register(exe, headers=headers)
                url = self.assertJson(r, 200)["url"]
                self.assertRegex(url, r"^wss://gw\.example:4443/codex-exec/%s\?token=%s\.\d+\.[A-Za-z0-9_-]{43}$"
                                 % (re.escape(exe), re.escape(exe)))
        url = self.gw.register(exe, body=legacy_body(exe)).json()["url"]
        self.assertRegex(url, r"^wss://gw\.example:4443/codex-exec/%s\?token=[^&]+&mode=json$" % re.escape(exe))


class AutoCreateTests(GatewayTestCase):
    GATEWAY_ENV = {"CXG_REGISTER_AUTO_CREATE": "true"}

    def test_R16_unknown_id_is_created_for_caller_and_other_user_gets_403(self):
        exe = uid("auto")
        r = self.gw.register(exe, headers={"User-Agent": LEGACY_UA})
        obj = self.assertJson(r, 200)
        self.assertEqual(obj["executor_id"], exe)
        e = self.gw.get_executor(exe)
        self.assertEqual(e["user_id"], "alice")
        self.assertEqual(e.get("codex_version"), "0.130.0")
        r = self.gw.register(exe, token=BOB_TOKEN)
        self.assertCodexError(r, 403, "executor_not_owned", "executor %s not owned by user bob" % exe)
        self.assertEqual(self.gw.register(exe).status, 200)

    def test_R16_auto_create_does_not_bypass_earlier_steps(self):
        exe = uid("auto")
        self.assertCodexError(self.gw.register(exe, token="tok-nobody"), 401, "unauthorized")
        self.assertCodexError(self.gw.register(exe, body=b"xx"), 400, "invalid_body")
        self.assertEqual(self.gw.admin("GET", "/api/codex-exec/executors/" + exe).status, 404)


if __name__ == "__main__":
    unittest.main()
