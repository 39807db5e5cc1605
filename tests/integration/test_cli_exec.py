"""`cxg exec` and `cxg fs` against the real `cxg serve` with a scripted fake exec-server
(cli_helpers.FakeExecServer): output ordering by seq, exit codes, stdin forwarding, signals,
timeouts, and every failure that must end in exit 125 with a clear one-line message.
The same commands against real Codex releases are in tests/interop/test_cli_*.py."""

import json
import os
import signal
import subprocess
import time
import unittest

import cxg_harness as H
import cli_helpers as C

WS = "ws-cli"


class ExecFakeTests(H.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fake = C.FakeExecServer(cls.gw)
        cls.gw.bind(WS, cls.fake.exe_id)
        cls.cap = cls.gw.mint_cap(WS)

    @classmethod
    def tearDownClass(cls):
        cls.fake.close()
        super().tearDownClass()

    def cxg(self, *args, **kw):
        return C.run_cli(self.gw, *args, env={"CODEX_EXEC_GATEWAY_TOKEN": self.cap}, **kw)

    def exec(self, *argv, opts=(), **kw):
        return self.cxg("exec", *opts, self.fake.exe_id, "--", *argv, **kw)

    def test_output_and_exit_code(self):
        p = self.exec("echo", "hello", "world")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"hello world\n", b""))

    def test_stdout_and_stderr_are_separate(self):
        p = self.exec("split")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (3, b"out\n", b"err\n"))

    def test_relay_flavour(self):
        p = self.exec("split", opts=["--relay"])
        self.assertEqual((p.returncode, p.stdout, p.stderr), (3, b"out\n", b"err\n"))

    def test_out_of_order_duplicates_and_late_start_answer(self):
        """Output 2, 1, 2 (again), exited (code 7) before output 3, the process/start answer
        after all that: printed in seq order, the duplicate skipped, exit code 7."""
        for flavour in ([], ["--relay"]):
            p = self.exec("ooo", opts=flavour)
            self.assertEqual((p.returncode, p.stdout), (7, b"ABC"), p.stderr)

    def test_exited_without_closed_finishes_after_two_seconds(self):
        t0 = time.monotonic()
        p = self.exec("noclose")
        took = time.monotonic() - t0
        self.assertEqual((p.returncode, p.stdout), (5, b"x"), p.stderr)
        self.assertGreaterEqual(took, 1.9)
        self.assertLess(took, 8)

    def test_seq_from_zero(self):
        p = self.exec("from0")
        self.assertEqual((p.returncode, p.stdout), (0, b"zero one"), p.stderr)

    def test_exit_code_out_of_range_is_255(self):
        self.assertEqual(self.exec("bigcode").returncode, 255)

    def test_start_failure(self):
        p = self.exec("fail")
        self.assertEqual(p.returncode, 127)
        self.assertIn(b"cannot start fail", p.stderr)
        self.assertIn(b"No such file or directory", p.stderr)

    def test_start_parameters(self):
        """process/start carries processId cxg-<random>, argv, cwd, env, tty, envPolicy; the
        connection sends initialize{clientName:"cxg-exec"} then initialized."""
        before = len(self.fake.requests("process/start"))
        p = self.exec("echo", "x", opts=["--cwd", "/tmp", "-e", "A=1", "--env", "B=x=y"])
        self.assertEqual(p.returncode, 0, p.stderr)
        start = self.fake.requests("process/start")[before]["params"]
        self.assertRegex(start["processId"], r"^cxg-[A-Za-z0-9_-]+$")
        self.assertEqual(start["argv"], ["echo", "x"])
        self.assertEqual(start["cwd"], "/tmp")
        self.assertEqual(start["env"], {"A": "1", "B": "x=y"})
        self.assertIs(start["tty"], False)
        self.assertNotIn("pipeStdin", start)  # stdin is /dev/null
        self.assertEqual(start["envPolicy"]["inherit"], "core")
        inits = [o for _, o in self.fake.received if o.get("method") == "initialize"]
        self.assertEqual(inits[-1]["params"], {"clientName": "cxg-exec"})
        p = self.exec("echo", opts=["--cwd", "/", "--inherit-env", "none"])
        self.assertNotIn("envPolicy", self.fake.requests("process/start")[-1]["params"])

    def test_stdin_is_forwarded_in_chunks(self):
        data = os.urandom(200_000)
        p = self.exec("cat", str(len(data)), input=data)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, data)
        start = self.fake.requests("process/start")[-1]["params"]
        self.assertIs(start["pipeStdin"], True)
        pid = start["processId"]
        writes = [o["params"] for o in self.fake.requests("process/write") if o["params"]["processId"] == pid]
        self.assertGreaterEqual(len(writes), 4)
        import base64
        self.assertTrue(all(len(base64.b64decode(w["chunk"])) <= 65536 for w in writes))

    def test_no_stdin_flag(self):
        p = self.exec("echo", "y", opts=["-n"], input=b"ignored")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("pipeStdin", self.fake.requests("process/start")[-1]["params"])

    def test_sigint_terminates_then_exits(self):
        proc = C.start_cli(self.gw, "exec", self.fake.exe_id, "--", "hang",
                           env={"CODEX_EXEC_GATEWAY_TOKEN": self.cap})
        code, _, _ = C.act_once_ready(proc, lambda: proc.send_signal(signal.SIGINT))
        self.assertEqual(code, 255)  # the fake reports exitCode -1, as Codex does
        pid = self.fake.requests("process/start")[-1]["params"]["processId"]
        terms = [o for o in self.fake.requests("process/terminate") if o["params"]["processId"] == pid]
        self.assertEqual(len(terms), 1)

    def test_second_sigint_exits_130(self):
        """A process that outlives process/terminate: the second SIGINT ends cxg with 130."""
        proc = C.start_cli(self.gw, "exec", self.fake.exe_id, "--", "stubborn",
                           env={"CODEX_EXEC_GATEWAY_TOKEN": self.cap})
        try:
            C.read_until(proc.stdout, b"ready\n", 10)
            proc.send_signal(signal.SIGINT)
            time.sleep(0.5)
            self.assertIsNone(proc.poll())
            proc.send_signal(signal.SIGINT)
            proc.wait(10)
        finally:
            C.stop_proc(proc)
        self.assertEqual(proc.returncode, 130)

    def test_terminate_deadline_exits_130(self):
        """Without an exit within 5 s of process/terminate, cxg gives up with 130."""
        proc = C.start_cli(self.gw, "exec", self.fake.exe_id, "--", "stubborn",
                           env={"CODEX_EXEC_GATEWAY_TOKEN": self.cap})
        try:
            C.read_until(proc.stdout, b"ready\n", 10)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
            took = time.monotonic() - t0
            err = proc.stderr.read()
        finally:
            C.stop_proc(proc)
        self.assertEqual(proc.returncode, 130)
        self.assertGreaterEqual(took, 4.5)
        self.assertIn(b"did not exit within 5 s of process/terminate", err)

    def test_timeout_exits_124(self):
        p = self.exec("hang", opts=["--timeout", "1s"])
        self.assertEqual(p.returncode, 124, p.stderr)
        self.assertIn(b"--timeout 1s elapsed", p.stderr)

    def test_executor_reset_is_connection_lost(self):
        for flavour in ([], ["--relay"]):
            p = self.exec("reset", opts=flavour)
            self.assertEqual(p.returncode, 125, p.stderr)
            line = p.stderr.decode().strip()
            self.assertIn("connection lost: gateway closed the bridge with 1000 stream reset by executor", line)
            self.assertEqual(len(line.splitlines()), 1, line)


class ExecDisconnectTests(H.GatewayTestCase):
    def test_executor_disconnect_mid_run(self):
        fake = C.FakeExecServer(self.gw)
        self.gw.bind(WS, fake.exe_id)
        cap = self.gw.mint_cap(WS)
        p = C.run_cli(self.gw, "exec", fake.exe_id, "--", "drop", env={"CODEX_EXEC_GATEWAY_TOKEN": cap})
        self.assertEqual(p.returncode, 125, p.stderr)
        self.assertEqual(p.stderr.decode().strip(),
                         "cxg: connection lost: gateway closed the bridge with 4100 executor disconnected")


class ExecErrorTests(H.GatewayTestCase):
    """Every failure: exit 125 and one line on stderr that names the cause."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fake = C.FakeExecServer(cls.gw)
        cls.gw.bind(WS, cls.fake.exe_id)

    @classmethod
    def tearDownClass(cls):
        cls.fake.close()
        super().tearDownClass()

    def fails(self, args, expect, env=None, drop=(), gw=True):
        p = C.run_cli(self.gw if gw else None, *args, env=env, drop=drop)
        self.assertEqual(p.returncode, 125, p)
        err = p.stderr.decode()
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn(expect, err)
        self.assertEqual(p.stdout, b"")
        return err

    def test_gateway_unreachable(self):
        port = H.free_port()
        err = self.fails(["exec", "--url", "http://127.0.0.1:%d" % port, "--token", "x", "exe1", "--", "true"],
                         "gateway unreachable at ws://127.0.0.1:%d" % port, gw=False)
        self.assertIn("refused", err)

    def test_token_rejected(self):
        cap = H.make_cap("another-key", WS)
        self.fails(["exec", "--token", cap, self.fake.exe_id, "--", "echo"],
                   "auth rejected: the gateway does not accept this cap-token (HTTP 401 unauthorized)")

    def test_token_expired(self):
        cap = H.make_cap(self.gw.cap_key, WS, exp=int(time.time()) - 10)
        self.fails(["exec", "--token", cap, self.fake.exe_id, "--", "echo"],
                   "auth rejected: the cap-token has expired (HTTP 401 token expired)")

    def test_token_revoked(self):
        turn = H.uid("trn")
        cap = H.make_cap(self.gw.cap_key, WS, turn=turn)
        self.assertEqual(self.gw.revoke(turn).status, 204)
        self.fails(["exec", "--token", cap, self.fake.exe_id, "--", "echo"],
                   "auth rejected: the cap-token's turn has been revoked (HTTP 401 turn revoked)")

    def test_revoked_mid_run(self):
        turn = H.uid("trn")
        cap = H.make_cap(self.gw.cap_key, WS, turn=turn)
        proc = C.start_cli(self.gw, "exec", "--token", cap, self.fake.exe_id, "--", "hang")
        code, _, err = C.act_once_ready(proc, lambda: self.assertEqual(self.gw.revoke(turn).status, 204))
        self.assertEqual(code, 125)
        self.assertEqual(err.decode().strip(), "cxg: connection lost: gateway closed the bridge with 4103 turn revoked")

    def test_not_bound(self):
        other = self.gw.create_executor()
        cap = self.gw.mint_cap(WS)
        self.fails(["exec", "--token", cap, other, "--", "echo"],
                   "executor %s is not bound to the cap-token's workspace (HTTP 403 exe_id not in workspace)" % other)

    def test_offline(self):
        exe = self.gw.create_executor()
        self.gw.bind(WS, exe)
        cap = self.gw.mint_cap(WS)
        t0 = time.monotonic()
        self.fails(["exec", "--wait-online", "0", "--token", cap, exe, "--", "echo"],
                   "executor %s is offline: no exec-server is connected for it (HTTP 503 executor not connected)" % exe)
        self.assertLess(time.monotonic() - t0, 3)

    def test_offline_is_retried_for_wait_online(self):
        exe = self.gw.create_executor()
        self.gw.bind(WS, exe)
        cap = self.gw.mint_cap(WS)
        t0 = time.monotonic()
        self.fails(["exec", "--wait-online", "1s", "--token", cap, exe, "--", "echo"], "is offline")
        self.assertGreaterEqual(time.monotonic() - t0, 0.8)

    def test_busy_legacy_executor(self):
        legacy = C.FakeExecServer(self.gw, legacy=True)
        try:
            self.gw.bind(WS, legacy.exe_id)
            cap = self.gw.mint_cap(WS)
            holder = C.start_cli(self.gw, "exec", "--token", cap, legacy.exe_id, "--", "hang")
            try:
                C.read_until(holder.stdout, b"ready\n", 10)
                self.fails(["exec", "--wait-online", "0", "--token", cap, legacy.exe_id, "--", "echo"],
                           "executor %s is busy: a legacy (0.130) executor serves one bridge at a time "
                           "(HTTP 409 executor busy)" % legacy.exe_id)
            finally:
                C.stop_proc(holder)
        finally:
            legacy.close()

    def test_no_token(self):
        self.fails(["exec", self.fake.exe_id, "--", "echo"], "no cap-token", drop=("CODEX_EXEC_GATEWAY_TOKEN",))

    def test_usage_errors_are_125(self):
        cap = self.gw.mint_cap(WS)
        self.fails(["exec", "--token", cap, self.fake.exe_id, "-e", "NOEQUALS", "--", "echo"],
                   "--env NOEQUALS: expected KEY=VALUE")
        self.fails(["exec", "--token", cap, "bad/id", "--", "echo"], "invalid executor id")
        self.fails(["exec", "--token", cap, self.fake.exe_id, "--cwd", "relative", "--", "echo"],
                   "--cwd must be an absolute path")
        p = C.run_cli(self.gw, "exec", "--token", cap, self.fake.exe_id)
        self.assertEqual(p.returncode, 125, p)
        p = C.run_cli(self.gw, "exec", "--no-such-flag", self.fake.exe_id, "--", "echo")
        self.assertEqual(p.returncode, 125, p)

    def test_fs_errors_are_125_too(self):
        self.fails(["fs", "ls", "--token", H.make_cap("wrong", WS), self.fake.exe_id, "/"],
                   "auth rejected")


class ZeroConfigTests(unittest.TestCase):
    """No secrets configured: `cxg serve` generates them into cxg-secrets.env beside the
    database, and `cxg exec --workspace` / `cxg revoke` read them from there."""

    @classmethod
    def setUpClass(cls):
        cls.gw = H.Gateway(secrets=False)
        cls.fake = C.FakeExecServer(cls.gw)
        cls.gw.bind(WS, cls.fake.exe_id)

    @classmethod
    def tearDownClass(cls):
        cls.fake.close()
        cls.gw.close()

    def test_exec_mints_a_token_from_the_secrets_file(self):
        self.assertTrue(os.path.exists(self.gw.secrets_file()))
        p = C.run_cli(self.gw, "exec", "--workspace", WS, "--database", "sqlite://" + self.gw.db_path,
                      self.fake.exe_id, "--", "echo", "minted", drop=("CXG_DATABASE_URL",))
        self.assertEqual((p.returncode, p.stdout), (0, b"minted\n"), p.stderr)
        # the same through CXG_DATABASE_URL
        p = C.run_cli(self.gw, "exec", "-w", WS, self.fake.exe_id, "--", "echo", "again")
        self.assertEqual((p.returncode, p.stdout), (0, b"again\n"), p.stderr)

    def test_workspace_without_a_key(self):
        p = C.run_cli(self.gw, "exec", "--workspace", WS, "--database", "sqlite:///nonexistent-dir/x.db",
                      self.fake.exe_id, "--", "echo", drop=("CXG_DATABASE_URL",))
        self.assertEqual(p.returncode, 125)
        self.assertIn(b"cannot mint a cap-token for workspace", p.stderr)

    def test_revoke_with_the_generated_shared_secret(self):
        turn = H.uid("trn")
        cap = H.make_cap(self.gw.cap_key, WS, turn=turn)
        p = C.run_cli(self.gw, "revoke", turn, "--exp", "2h")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"Revoked turn " + turn.encode(), p.stdout)
        p = C.run_cli(self.gw, "exec", "--token", cap, self.fake.exe_id, "--", "echo")
        self.assertEqual(p.returncode, 125)
        self.assertIn(b"turn has been revoked", p.stderr)


if __name__ == "__main__":
    unittest.main()
