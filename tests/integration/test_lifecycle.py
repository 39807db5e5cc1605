"""Process lifecycle: restart persistence, zero-config secrets, config errors, shutdown
(H2-H5, V3)."""

import http.client
import json
import os
import signal
import stat
import subprocess
import threading
import time
import unittest

from cxg_harness import (CXG_BIN, Gateway, StubAgentServer, decode_cap, free_port, make_cap,
                         mint_ticket, uid, wait_until)

GENERATED = ("CXG_CAPTOKEN_HMAC_SECRET", "CXG_INTERNAL_SHARED_SECRET", "CXG_WS_TICKET_SECRET")


def run_serve(env_overrides, timeout=15, tmp_gw=None):
    """Runs `cxg serve` expecting it to exit; returns (returncode, combined output)."""
    gw = tmp_gw or Gateway(start=False)
    try:
        env = dict(gw.env)
        env["CXG_LISTEN"] = "127.0.0.1:%d" % free_port()
        for k, v in env_overrides.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        try:
            p = subprocess.run([CXG_BIN, "serve"], env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("cxg serve kept running with %r: %s" % (env_overrides, e.stderr))
        return p.returncode, p.stdout + p.stderr
    finally:
        if tmp_gw is None:
            gw.close()


class ZeroConfigTests(unittest.TestCase):

    def test_H4_V3_generated_secrets_are_kept_0600_and_reused_after_restart(self):
        with Gateway(secrets=False) as gw:
            path = gw.secrets_file()
            self.assertTrue(os.path.exists(path))
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            vals = gw.file_secrets()
            for name in GENERATED:
                self.assertRegex(vals.get(name, ""), r"^[A-Za-z0-9_-]{43}$", name)
            with open(path) as f:
                content = f.read()
            # the log names what was generated, never the values
            log = gw.stderr_text()
            for name in GENERATED:
                self.assertIn(name, log)
                self.assertNotIn(vals[name], log)
            # CLI beside the gateway reads the same file
            ws = uid("ws")
            turn = uid("trn")
            cap = gw.mint_cap(ws, turn=turn)
            revoked_cap = gw.mint_cap(ws)
            self.assertEqual(gw.connected(cap).status, 200)
            self.assertEqual(gw.connected(make_cap(vals["CXG_CAPTOKEN_HMAC_SECRET"], ws)).status, 200)
            exe = gw.create_executor("alice")
            gw.bind(ws, exe, name="box")
            url = gw.register(exe).json()["url"]
            ticket = url.split("token=", 1)[1]
            self.assertTrue(ticket.endswith(mint_ticket(vals["CXG_WS_TICKET_SECRET"], exe,
                                                        int(ticket.split(".")[1])).split(".")[2]))
            r = gw.revoke(decode_cap(revoked_cap)[1]["turn_id"],
                          secret=vals["CXG_INTERNAL_SHARED_SECRET"])
            self.assertEqual(r.status, 204)

            gw.restart()
            with open(path) as f:
                self.assertEqual(f.read(), content, "secrets file changed on restart")
            self.assertEqual(gw.connected(cap).status, 200)
            r = gw.request("GET", "/codex-exec/%s?token=%s" % (exe, ticket))
            self.assertEqual((r.status, r.body), (426, b"websocket upgrade required\n"))
            r = gw.connected(revoked_cap)
            self.assertEqual((r.status, r.body), (401, b"unauthorized\n"))
            self.assertEqual([b["exe_id"] for b in gw.list_bindings(ws)], [exe])

    def test_H4_explicit_secrets_are_not_written_to_file(self):
        with Gateway() as gw:
            vals = gw.file_secrets()
            for name in GENERATED:
                self.assertNotIn(name, vals)


class PersistenceTests(unittest.TestCase):

    def test_V3_A9_state_survives_restart(self):
        with Gateway() as gw:
            exe = gw.create_executor("alice", display_name="Box")
            ws = uid("ws")
            gw.bind(ws, exe, name="box", description="dd", is_default=True)
            self.assertEqual(gw.register(exe, headers={"User-Agent": "codex_cli_rs/0.131.0 (Linux)"}).status, 200)
            turn = uid("trn")
            self.assertEqual(gw.revoke(turn, exp=int(time.time()) + 3600).status, 204)
            before = gw.get_executor(exe)
            lst = gw.list_bindings(ws)
            gw.restart()
            self.assertEqual(gw.get_executor(exe), before)
            self.assertEqual(gw.list_bindings(ws), lst)
            cap = make_cap(gw.cap_key, ws, turn=turn)
            r = gw.connected(cap)
            self.assertEqual((r.status, r.body), (401, b"unauthorized\n"))
            r = gw.request("GET", "/bridge/" + exe, {"Authorization": "Bearer " + cap})
            self.assertEqual((r.status, r.body), (401, b"turn revoked\n"))

    def test_H5_second_serve_on_same_database_refuses_to_start(self):
        with Gateway() as gw:
            env = dict(gw.env)
            env["CXG_LISTEN"] = "127.0.0.1:%d" % free_port()
            try:
                p = subprocess.run([CXG_BIN, "serve"], env=env, capture_output=True, text=True, timeout=15)
            except subprocess.TimeoutExpired:
                self.fail("second cxg serve on the same SQLite file kept running")
            self.assertNotEqual(p.returncode, 0, p.stderr)
            self.assertTrue(gw.alive())
            self.assertEqual(gw.request("GET", "/readyz").status, 200)


class ConfigErrorTests(unittest.TestCase):

    def assertExitNaming(self, overrides, var, exact=None):
        rc, out = run_serve(overrides)
        self.assertNotEqual(rc, 0, out)
        self.assertIn(var, out)
        if exact:
            self.assertIn(exact, out)

    def test_H4_malformed_values_exit_naming_the_variable(self):
        cases = {"CXG_PING_INTERVAL": "abc", "CXG_IDLE_TIMEOUT": "10 parsecs",
                 "CXG_MAX_STREAMS_PER_EXECUTOR": "lots", "CXG_BRIDGE_QUEUE_BYTES": "12XB",
                 "CXG_REGISTER_AUTO_CREATE": "maybe", "CXG_AUTH_VALIDATOR": "magic",
                 "CXG_WS_TICKET_TTL": "-5m", "CXG_DATABASE_URL": "mysql://x"}
        for var, value in cases.items():
            with self.subTest(var=var):
                self.assertExitNaming({var: value}, var, exact=var + ":")

    def test_H4_missing_required_values(self):
        self.assertExitNaming({"CXG_AUTH_VALIDATOR": "agentserver", "CXG_AGENTSERVER_INTERNAL_URL": None},
                              "CXG_AGENTSERVER_INTERNAL_URL", exact="CXG_AGENTSERVER_INTERNAL_URL is required")
        rc, out = run_serve({"CXG_AUTH_VALIDATOR": "jwks"})
        self.assertNotEqual(rc, 0, out)
        self.assertIn("CXG_JWKS", out)

    def test_H4_postgres_requires_secrets(self):
        overrides = {"CXG_DATABASE_URL": "postgres://cxg@127.0.0.1:%d/cxg" % free_port()}
        for name in ("CXG_CAPTOKEN_HMAC_SECRET", "CXG_INTERNAL_SHARED_SECRET", "CXG_WS_TICKET_SECRET",
                     "CXG_AGENTSERVER_INTERNAL_SECRET"):
            overrides[name] = None
        rc, out = run_serve(overrides)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"CXG_[A-Z_]+ is required")


class ConfigStartupTests(unittest.TestCase):

    def test_config_CXG_PORT_fallback_listens_on_all_interfaces(self):
        port = free_port("0.0.0.0")
        with Gateway(start=False) as gw:
            gw.env.pop("CXG_LISTEN", None)
            gw.env["CXG_PORT"] = str(port)
            with open(gw.stderr_path, "ab") as err:
                gw.proc = subprocess.Popen([CXG_BIN, "serve"], env=gw.env, stdout=subprocess.DEVNULL, stderr=err)
            gw.port = port
            gw.wait_ready()
            self.assertEqual(gw.request("GET", "/healthz").body, b"ok")
            self.assertEqual(gw.stop(), 0)

    def test_config_reference_only_variables_are_ignored_with_a_warning(self):
        ignored = ["CXG_PUBLIC_HTTPS_BASE_URL", "CXG_SELF_HTTP_BASE_URL", "CXG_RELAY_MODE",
                   "CXG_AUDIT_BUCKET", "CXG_NOISE_RELAY_HMAC_KEY", "CXG_PEER_SECRET"]
        env = {v: "ignored-value" for v in ignored}
        with Gateway(env=env) as gw:
            self.assertEqual(gw.request("GET", "/readyz").status, 200)
            warn_text = "\n".join(json.dumps(r) for r in gw.log_records() if r.get("level") in ("warn", "warning"))
            for v in ignored:
                self.assertIn(v, warn_text, "no warning naming %s" % v)


class ShutdownTests(unittest.TestCase):

    def test_H2_idle_sigterm_and_sigint_exit_0(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig), Gateway() as gw:
                t0 = time.monotonic()
                self.assertEqual(gw.stop(sig, timeout=10), 0, gw.stderr_tail())
                self.assertLess(time.monotonic() - t0, 5)

    def _drain_setup(self, stub, gw):
        exe = gw.create_executor("alice")
        slow_exe = gw.create_executor("alice")
        _, ex = gw.online_executor(exe_id=exe, token="fast-token")
        self.assertTrue(gw.wait_online(exe, True))
        result = {}

        def inflight():
            try:
                result["resp"] = gw.register(slow_exe, token="slow-token", timeout=30)
            except Exception as e:  # noqa
                result["error"] = e
        stub.mode = "sleep"
        t = threading.Thread(target=inflight)
        t.start()
        self.assertTrue(wait_until(lambda: any(r["json"] and r["json"].get("token") == "slow-token"
                                               for r in stub.requests), 5))
        return exe, ex, t, result

    def test_H2_sigterm_drains_closes_sockets_finishes_requests_and_exits_0(self):
        stub = StubAgentServer({"fast-token": "alice", "slow-token": "alice"})
        stub.sleep_seconds = 2.5
        try:
            with Gateway(env={"CXG_AGENTSERVER_INTERNAL_URL": stub.url, "CXG_SHUTDOWN_TIMEOUT": "15s"}) as gw:
                keep = http.client.HTTPConnection(gw.host, gw.port, timeout=5)
                keep.request("GET", "/readyz")
                r = keep.getresponse()
                self.assertEqual((r.status, r.read()), (200, b"ready"))
                exe, ex, t, result = self._drain_setup(stub, gw)
                t_sig = time.monotonic()
                gw.proc.send_signal(signal.SIGTERM)
                # The signal is handled asynchronously: wait until the gateway says it is draining.
                self.assertTrue(wait_until(lambda: "shutdown requested" in gw.stderr_text(), 5))
                # /readyz turns 503 at once (asked on the already-open connection) ...
                try:
                    keep.request("GET", "/readyz")
                    r = keep.getresponse()
                    self.assertEqual((r.status, r.read()), (503, b"not ready: draining"))
                except (ConnectionError, http.client.HTTPException, OSError):
                    pass  # ... or the idle connection was closed: acceptable
                finally:
                    keep.close()
                # ... and new connections are refused (or answered "draining", never "ready").
                try:
                    r = gw.request("GET", "/readyz", timeout=3)
                    self.assertEqual((r.status, r.body), (503, b"not ready: draining"))
                except OSError:
                    pass
                code, reason = ex.wait_close(5)
                self.assertEqual((code, reason), (1001, "gateway shutting down"))
                t.join(20)
                self.assertNotIn("error", result)
                self.assertEqual(result["resp"].status, 200, "in-flight request did not finish: %r" % result)
                rc = gw.proc.wait(20)
                self.assertEqual(rc, 0, gw.stderr_tail())
                self.assertLess(time.monotonic() - t_sig, 15)
                self.assertEqual(gw.db_query("SELECT count(*) FROM executor_presence"), [(0,)])
                self.assertIsNotNone(gw.db_query("SELECT disconnected_at FROM executors WHERE exe_id=?", (exe,))[0][0])
                ex.close()
        finally:
            stub.close()

    def test_H3_second_signal_during_drain_exits_1(self):
        stub = StubAgentServer({"fast-token": "alice", "slow-token": "alice"})
        stub.sleep_seconds = 8
        try:
            with Gateway(env={"CXG_AGENTSERVER_INTERNAL_URL": stub.url, "CXG_SHUTDOWN_TIMEOUT": "30s"}) as gw:
                exe, ex, t, result = self._drain_setup(stub, gw)
                gw.proc.send_signal(signal.SIGTERM)
                time.sleep(0.5)
                self.assertIsNone(gw.proc.poll(), "gateway exited before the in-flight request finished")
                t0 = time.monotonic()
                gw.proc.send_signal(signal.SIGTERM)
                rc = gw.proc.wait(5)
                self.assertEqual(rc, 1)
                self.assertLess(time.monotonic() - t0, 2)
                ex.close()
                t.join(20)
        finally:
            stub.close()


if __name__ == "__main__":
    unittest.main()
