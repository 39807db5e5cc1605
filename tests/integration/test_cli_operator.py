"""Operator commands (`cxg executors|bindings|revoke`) against the real `cxg serve`, in table
and --json form, and the CLI's help and version output."""

import json
import re
import time
import unittest

import cxg_harness as H
import cli_helpers as C


class OperatorTests(H.GatewayTestCase):
    def cxg(self, *args, env=None, drop=()):
        p = C.run_cli(self.gw, *args, env=env, drop=drop)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def ok(self, *args, **kw):
        code, out, err = self.cxg(*args, **kw)
        self.assertEqual(code, 0, "cxg %s: %s" % (" ".join(args), err))
        return out

    def ok_json(self, *args, **kw):
        return json.loads(self.ok(*args, "--json", **kw))

    def table(self, text):
        lines = [l for l in text.splitlines() if l.strip()]
        header = lines[0].split()
        return header, [re.split(r"\s{2,}", l.strip()) for l in lines[1:]]

    # -- executors
    def test_create_prints_the_command(self):
        ws = H.uid("ws")
        out = self.ok("executors", "create", "--user", "alice", "--workspace", ws, "--name", "my laptop")
        m = re.search(r"Created executor (exe_[0-9a-f-]{36}) for user alice\.", out)
        self.assertTrue(m, out)
        exe = m.group(1)
        self.assertIn('Bound to workspace %s as "my laptop".' % ws, out)
        remote = "http://127.0.0.1:%d" % self.gw.port
        self.assertIn("  codex exec-server --remote %s --environment-id %s\n" % (remote, exe), out)
        self.assertIn("  codex exec-server --remote %s --executor-id %s\n" % (remote, exe), out)
        listing = self.gw.list_bindings(ws)
        self.assertEqual([(e["exe_id"], e["name"]) for e in listing], [(exe, "my laptop")])
        self.assertEqual(self.gw.get_executor(exe)["user_id"], "alice")

    def test_create_json_with_id_and_remote_url(self):
        exe = H.uid("exe")
        doc = self.ok_json("executors", "create", "--user", "bob", "--id", exe, "--display-name", "Bob's box",
                           "--remote-url", "https://gw.example/")
        self.assertEqual(doc["exe_id"], exe)
        self.assertEqual(doc["user_id"], "bob")
        self.assertEqual(doc["command"], "codex exec-server --remote https://gw.example --environment-id " + exe)
        self.assertEqual(doc["command_legacy"], "codex exec-server --remote https://gw.example --executor-id " + exe)
        self.assertNotIn("workspace_id", doc)
        self.assertEqual(self.gw.get_executor(exe)["display_name"], "Bob's box")

    def test_create_with_static_token_registers(self):
        """--static-token appends '<token> <user>' to the static validator's file; after the
        gateway's reload (≤ 5 s) Codex-style registration with that bearer succeeds."""
        doc = self.ok_json("executors", "create", "--user", "carol", "--static-token",
                           env={"CXG_STATIC_TOKENS_FILE": self.gw.tokens_path})
        token = doc["registration_token"]
        self.assertTrue(doc["command"].startswith("CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN=%s codex exec-server" % token))
        with open(self.gw.tokens_path) as f:
            self.assertIn("%s carol\n" % token, f.read())
        ok = H.wait_until(lambda: self.gw.register(doc["exe_id"], token).status == 200, 12, 0.25)
        self.assertTrue(ok, self.gw.register(doc["exe_id"], token))

    def test_list_table_and_json(self):
        ws = H.uid("ws")
        online, sock = self.gw.online_executor()
        self.addCleanup(sock.close)
        offline = self.gw.create_executor()
        self.gw.bind(ws, online, name="first", is_default=True)
        self.gw.bind(ws, offline, name="second")
        out = self.ok("executors", "list", "--workspace", ws)
        header, rows = self.table(out)
        self.assertEqual(header, ["EXE_ID", "NAME", "STATUS", "CODEX", "OS", "PROTOCOL", "LAST", "SEEN", "DEFAULT"])
        self.assertEqual(rows[0][:3], [online, "first", "online"])
        self.assertEqual(rows[0][-2:], ["now", "yes"])
        self.assertEqual(rows[1][:3], [offline, "second", "offline"])
        self.assertEqual(len(rows), 2)
        doc = self.ok_json("executors", "list", "-w", ws)
        self.assertEqual(doc, self.gw.list_bindings(ws))
        # `bindings list` shows the same
        self.assertEqual(self.ok("bindings", "list", ws), out)
        self.assertEqual(self.ok_json("bindings", "list", ws), doc)

    def test_list_empty_workspace(self):
        out = self.ok("executors", "list", "--workspace", H.uid("ws"))
        self.assertIn("No executors are bound to workspace", out)
        self.assertEqual(self.ok_json("executors", "list", "--workspace", H.uid("ws")), [])

    def test_show_and_delete(self):
        exe, sock = self.gw.online_executor()
        self.addCleanup(sock.close)
        out = self.ok("executors", "show", exe)
        self.assertRegex(out, r"(?m)^exe_id:\s+%s$" % exe)
        self.assertRegex(out, r"(?m)^status:\s+online$")
        self.assertRegex(out, r"(?m)^user:\s+alice$")
        self.assertRegex(out, r"(?m)^registered:\s+\d{4}-\d\d-\d\dT[\d:.]+Z \((just now|\d+s ago)\)$")
        self.assertEqual(self.ok_json("executors", "show", exe), self.gw.get_executor(exe))
        out = self.ok("executors", "delete", exe)
        self.assertIn("Deleted executor " + exe, out)
        code, out, err = self.cxg("executors", "show", exe)
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(err.strip(), "cxg: show executor %s: HTTP 404 not found" % exe)
        self.assertEqual(self.ok_json("executors", "delete", exe), {"exe_id": exe, "deleted": True})

    def test_bindings_add_and_remove(self):
        ws = H.uid("ws")
        exe = self.gw.create_executor()
        out = self.ok("bindings", "add", ws, exe, "--name", "box", "--description", "d", "--default")
        self.assertEqual(out.strip(), 'Bound %s to workspace %s as "box".' % (exe, ws))
        [entry] = self.gw.list_bindings(ws)
        self.assertEqual((entry["name"], entry["description"], entry["is_default"]), ("box", "d", True))
        self.assertEqual(self.ok_json("bindings", "add", ws, exe, "--name", "box2"),
                         {"workspace_id": ws, "exe_id": exe, "status": "ok"})
        self.assertEqual(self.gw.list_bindings(ws)[0]["name"], "box2")
        out = self.ok("bindings", "remove", ws, exe)
        self.assertIn("Unbound %s from workspace %s" % (exe, ws), out)
        self.assertEqual(self.gw.list_bindings(ws), [])
        self.assertEqual(self.ok_json("bindings", "rm", ws, exe), {"workspace_id": ws, "exe_id": exe, "removed": True})

    def test_bind_unknown_executor(self):
        code, out, err = self.cxg("bindings", "add", H.uid("ws"), "nope-" + H.uid("x"), "--name", "n")
        self.assertEqual(code, 1)
        self.assertIn("HTTP 404 executor nope-", err)

    def test_wrong_admin_secret(self):
        code, out, err = self.cxg("executors", "list", "-w", "ws", env={"CXG_AGENTSERVER_INTERNAL_SECRET": "wrong"})
        self.assertEqual(code, 1)
        self.assertIn("HTTP 401 unauthorized (CXG_AGENTSERVER_INTERNAL_SECRET does not match", err)
        code, out, err = self.cxg("executors", "list", "-w", "ws", drop=("CXG_AGENTSERVER_INTERNAL_SECRET",))
        self.assertEqual(code, 1)
        self.assertIn("set CXG_AGENTSERVER_INTERNAL_SECRET", err)

    def test_gateway_unreachable(self):
        port = H.free_port()
        code, out, err = self.cxg("executors", "list", "-w", "ws", "--url", "http://127.0.0.1:%d" % port)
        self.assertEqual(code, 1)
        self.assertIn("gateway unreachable at http://127.0.0.1:%d" % port, err)

    # -- revoke
    def test_revoke(self):
        ws = H.uid("ws")
        exe, sock = self.gw.online_executor()
        self.addCleanup(sock.close)
        self.gw.bind(ws, exe)
        turn = H.uid("trn")
        cap = H.make_cap(self.gw.cap_key, ws, turn=turn)
        exp = int(time.time()) + 7200
        out = self.ok("revoke", turn, "--exp", str(exp))
        self.assertIn("Revoked turn %s until %s" % (turn, time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(exp))), out)
        br = self.gw.ws("/bridge/" + exe, {"Authorization": "Bearer " + cap})
        self.assertEqual((br.status, br.resp.body), (401, b"turn revoked\n"))
        turn2 = H.uid("trn")
        doc = self.ok_json("revoke", turn2, "--exp", "1h")
        self.assertEqual(doc["turn_id"], turn2)
        self.assertTrue(doc["revoked"])
        self.assertAlmostEqual(doc["exp"], time.time() + 3600, delta=30)
        self.assertEqual(self.ok_json("revoke", H.uid("trn")).keys(), {"turn_id", "revoked"})

    def test_revoke_wrong_secret(self):
        code, out, err = self.cxg("revoke", "t1", env={"CXG_INTERNAL_SHARED_SECRET": "nope"})
        self.assertEqual(code, 1)
        self.assertIn("HTTP 401 unauthorized", err)

    # -- help and version
    def test_help(self):
        out = self.ok("--help")
        for cmd in ("serve", "exec", "fs", "executors", "bindings", "revoke", "token", "version", "Examples:"):
            self.assertIn(cmd, out)
        for args, words in ((("exec", "--help"), ("--tty", "--relay", "--workspace", "Examples:", "125")),
                            (("fs", "--help"), ("ls", "get", "put", "Examples:")),
                            (("fs", "put", "--help"), ("LOCAL REMOTE",)),
                            (("executors", "--help"), ("list", "create", "Examples:")),
                            (("executors", "create", "--help"), ("--static-token", "--workspace")),
                            (("bindings", "--help"), ("add", "remove")),
                            (("revoke", "--help"), ("--exp", "Examples:"))):
            out = self.ok(*args)
            for w in words:
                self.assertIn(w, out, args)

    def test_version(self):
        self.assertRegex(self.ok("version"), r"^cxg \d+\.\d+\.\d+")


if __name__ == "__main__":
    unittest.main()
