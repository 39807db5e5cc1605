"""H6: logs are JSON lines on stderr and never carry a secret, token, ticket or cap-token."""

import json
import signal
import time
import unittest
import urllib.parse

from cxg_harness import (DEFAULT_SECRETS, DEFAULT_TOKENS, RFC3339_MS_RE, Gateway, StubAgentServer,
                         make_cap, mint_ticket, uid)


class LogHygieneTests(unittest.TestCase):

    def exercise(self, gw, bearer, assertion=None):
        """A run touching every credential-carrying path; returns the credential values used."""
        seen = []
        wrong_admin = "wrong-admin-secret-" + uid("w")
        wrong_shared = "wrong-shared-secret-" + uid("w")
        wrong_bearer = "wrong-bearer-" + uid("w")
        seen += [wrong_admin, wrong_shared, wrong_bearer]
        exe = gw.create_executor("alice")
        ws = uid("ws")
        gw.bind(ws, exe)
        # registrations: good, bad, assertion, account header
        r = gw.register(exe, token=bearer, headers={"ChatGPT-Account-ID": "acct-log"})
        self.assertEqual(r.status, 200, repr(r))
        url = r.json()["url"]
        ticket = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0]
        seen += [ticket, ticket.split(".")[2]]
        gw.register(exe, token=wrong_bearer)
        if assertion:
            gw.register(exe, token=assertion, scheme="AgentAssertion")
        # executor websocket: good, replayed, forged
        ex = gw.connect_executor(url)
        self.assertEqual(ex.status, 101, ex.resp)
        gw.connect_executor(url)
        forged = mint_ticket("forged-key", exe, int(time.time()) + 60)
        seen += [forged, forged.split(".")[2]]
        gw.request("GET", "/codex-exec/%s?token=%s" % (exe, forged))
        # admin API with right and wrong secrets
        gw.request("GET", "/api/codex-exec/executors/" + exe, {"X-Internal-Secret": wrong_admin})
        gw.admin("GET", "/api/codex-exec/executors/" + exe)
        # caps: /connected and bridge, header and query, good / bad / revoked
        turn = uid("trn")
        cap = gw.mint_cap(ws, turn=turn, user="alice")
        bad_cap = make_cap("not-the-key", ws)
        expired = make_cap(gw.cap_key, ws, exp=int(time.time()) - 10)
        for c in (cap, bad_cap, expired):
            seen += [c, c.split(".")[2]]
            gw.connected(c)
            gw.request("GET", "/bridge/" + exe, {"Authorization": "Bearer " + c})
            gw.request("GET", "/bridge/%s?token=%s" % (exe, c))
        b = gw.ws("/bridge/" + exe, {"Authorization": "Bearer " + cap})
        if b.status == 101:
            b.send_text('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}')
            time.sleep(0.2)
            b.close()
        # revocation with right and wrong secrets
        gw.request("POST", "/api/exec-gateway/revoke-turn", {"Authorization": "Bearer " + wrong_shared},
                   {"turn_id": turn})
        self.assertEqual(gw.revoke(turn).status, 204)
        gw.connected(cap)
        gw.request("GET", "/bridge/%s?token=%s" % (exe, cap))
        ex.close()
        time.sleep(0.3)
        return seen

    def check_logs(self, gw, values):
        rc = gw.stop(signal.SIGTERM)
        self.assertEqual(rc, 0)
        text = gw.stderr_text()
        lines = [l for l in text.splitlines() if l.strip()]
        self.assertTrue(lines, "no log output at all")
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError:
                self.fail("log line is not JSON: %r" % line[:200])
            self.assertIsInstance(rec, dict, line)
            self.assertIn(rec.get("level"), ("debug", "info", "warn", "error"), line)
            self.assertIsInstance(rec.get("msg"), str, line)
            self.assertRegex(rec.get("ts", ""), RFC3339_MS_RE)
        with open(gw.stdout_path, encoding="utf-8", errors="replace") as f:
            text += f.read()
        for v in values:
            if v and len(v) >= 8:
                self.assertNotIn(v, text, "credential value found in the logs: %s..." % v[:12])

    def test_H6_static_validator_run_logs_no_credentials(self):
        with Gateway() as gw:
            seen = self.exercise(gw, bearer=list(DEFAULT_TOKENS)[0])
            self.check_logs(gw, seen + list(DEFAULT_SECRETS.values()) + list(DEFAULT_TOKENS))

    def test_H6_agentserver_validator_run_logs_no_credentials(self):
        bearer = "as-bearer-" + uid("b")
        assertion = "as-assertion-" + uid("a")
        stub = StubAgentServer({bearer: "alice", assertion: "alice"})
        try:
            with Gateway(env={"CXG_AGENTSERVER_INTERNAL_URL": stub.url}) as gw:
                seen = self.exercise(gw, bearer=bearer, assertion=assertion)
                self.assertGreaterEqual(stub.count(), 2)
                self.check_logs(gw, seen + [bearer, assertion] + list(DEFAULT_SECRETS.values()))
        finally:
            stub.close()

    def test_H6_zero_config_run_logs_no_generated_secrets(self):
        with Gateway(secrets=False) as gw:
            seen = self.exercise(gw, bearer=list(DEFAULT_TOKENS)[0])
            generated = list(gw.file_secrets().values())
            self.assertGreaterEqual(len(generated), 3)
            self.check_logs(gw, seen + generated + list(DEFAULT_TOKENS))


if __name__ == "__main__":
    unittest.main()
