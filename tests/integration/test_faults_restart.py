"""Fault injection: `cxg serve` killed with SIGKILL mid-traffic and restarted on the same
SQLite file (issue 5 item 3; behaviour.md V3, H5, E/T rows; http-api.md §6).

While executors relay traffic and admin writes, revocations and bindings are being made, the
process is SIGKILLed.  Every write the API acknowledged must survive (SQLite WAL commits are
in the OS page cache before the answer goes out), the database must pass integrity_check,
the stale `<db>.lock` must not block the restart, nothing may look online that did not
reconnect, and executors and bridges must be able to come back."""

import http.client
import os
import signal
import threading
import time
import unittest

from cxg_harness import Gateway, free_port, make_cap, uid, wait_until
from faults_helpers import EchoExecutor, RoundTripper, env_int, report, sqlite_integrity
from relay_helpers import Conn, cap_for, connect_executor, online_executor, wait_online

KILL_ROUNDS = env_int("CXG_FAULT_KILL_ROUNDS", 3)


class Writers:
    """Background API writers that remember what the gateway acknowledged."""

    def __init__(self, gw, workspace):
        self.gw = gw
        self.workspace = workspace
        self.stopping = False
        self.created = []    # exe_ids answered 201
        self.bound = []      # (workspace, exe_id, name) answered 201
        self.revoked = []    # turn_ids answered 204
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self._create_and_bind, self._revoke)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(20)

    def _create_and_bind(self):
        while not self.stopping:
            exe = uid("exe")
            try:
                r = self.gw.admin("POST", "/api/codex-exec/register", body={"exe_id": exe}, user="alice", timeout=5)
                if r.status != 201:
                    continue
                self.created.append(exe)
                name = "n-" + exe
                r = self.gw.admin("POST", "/api/codex-exec/workspaces/%s/executors" % self.workspace,
                                  body={"exe_id": exe, "name": name}, timeout=5)
                if r.status == 201:
                    self.bound.append((self.workspace, exe, name))
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)  # the gateway is gone; keep trying until stopped

    def _revoke(self):
        while not self.stopping:
            turn = uid("trn")
            try:
                if self.gw.revoke(turn, exp=int(time.time()) + 3600).status == 204:
                    self.revoked.append(turn)
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)


class KillRestartTests(unittest.TestCase):

    def setUp(self):
        # A fixed port: the restarted gateway must be able to bind the very same address.
        self.gw = Gateway(env={"CXG_LISTEN": "127.0.0.1:%d" % free_port(), "CXG_LOG_LEVEL": "info"})
        self.conns = []

    def tearDown(self):
        for c in self.conns:
            try:
                c.close()
            except Exception:
                pass
        self.gw.close()

    def track(self, c):
        if isinstance(c, Conn):
            self.conns.append(c)
        return c

    def kill_mid_traffic(self, seconds=1.0):
        """Runs executors, round-tripping bridges and API writers, then SIGKILLs cxg.
        Returns (executors [(exe, ws)], Writers, round trips done before the kill, the
        executors' JSON before the kill)."""
        gw = self.gw
        execs, echoes, trippers = [], [], []
        for _ in range(3):
            exe, ws, ex = online_executor(gw)
            self.track(ex)
            echo = EchoExecutor(ex)
            echo.start()
            rt = RoundTripper(gw, ex, exe, cap_for(gw, ws), interval=0.005, name="rt-" + exe)
            self.track(rt.bridge)
            rt.start()
            execs.append((exe, ws))
            echoes.append(echo)
            trippers.append(rt)
        snapshot = {exe: gw.get_executor(exe) for exe, _ in execs}
        writers = Writers(gw, uid("ws")).start()
        wait_until(lambda: len(writers.created) >= 5 and len(writers.revoked) >= 5
                   and all(rt.sent >= 5 for rt in trippers), 20, 0.05)
        time.sleep(seconds)
        gw.proc.send_signal(signal.SIGKILL)
        gw.proc.wait(10)
        self.assertEqual(gw.proc.returncode, -signal.SIGKILL)
        writers.stop()
        for rt in trippers:
            rt.stop()
            rt.join(35)
        for e in echoes:
            e.stop()
        done = sum(rt.sent for rt in trippers)
        # Every bridge and executor socket ended with the process (no close frame possible).
        for rt in trippers:
            self.assertTrue(rt.bridge.wait_eof(10), "bridge socket still open after SIGKILL")
        return execs, writers, done, snapshot

    def assertStateIntact(self, execs, writers, before):
        gw = self.gw
        volatile = ("is_online", "disconnected_at", "last_seen_at")  # presence moves on
        for exe, body in before.items():
            got = {k: v for k, v in gw.get_executor(exe).items() if k not in volatile}
            want = {k: v for k, v in body.items() if k not in volatile}
            self.assertEqual(got, want, "executor %s changed across the crash" % exe)
        for exe in writers.created:
            r = gw.admin("GET", "/api/codex-exec/executors/" + exe)
            self.assertEqual(r.status, 200, "acknowledged executor %s lost in the crash: %r" % (exe, r))
        listed = {(writers.workspace, b["exe_id"], b["name"]) for b in gw.list_bindings(writers.workspace)}
        missing = set(writers.bound) - listed
        self.assertFalse(missing, "acknowledged bindings lost in the crash: %r" % sorted(missing)[:5])
        for turn in writers.revoked:
            cap = make_cap(gw.cap_key, uid("ws"), turn=turn)
            r = gw.connected(cap)
            self.assertEqual((r.status, r.body), (401, b"unauthorized\n"),
                             "acknowledged revocation of %s lost in the crash" % turn)
        for exe, ws in execs:
            self.assertEqual([b["exe_id"] for b in gw.list_bindings(ws)], [exe])

    def test_sigkill_mid_traffic_then_restart_on_same_file_and_port(self):
        gw = self.gw
        port = gw.port
        execs, writers, trips, before = self.kill_mid_traffic()
        report("SIGKILL after %d round trips, %d executors created, %d bindings, %d revocations acknowledged"
               % (trips, len(writers.created), len(writers.bound), len(writers.revoked)))

        lock = gw.db_path + ".lock"
        self.assertTrue(os.path.exists(lock), "the lock file should be left behind by a SIGKILL")
        self.assertEqual(sqlite_integrity(gw.db_path), "ok")

        t0 = time.monotonic()
        gw.start()  # same env: same database file, same port
        report("restart after SIGKILL: ready in %.2fs" % (time.monotonic() - t0))
        self.assertEqual(gw.port, port)
        self.assertEqual(sqlite_integrity(gw.db_path), "ok")

        # Nothing that did not reconnect may look online (stale presence of the dead process).
        for exe, ws in execs:
            self.assertFalse(gw.get_executor(exe)["is_online"],
                             "executor %s reported online though it has not reconnected" % exe)
            r = gw.connected(cap_for(gw, ws))
            self.assertEqual((r.status, r.json()), (200, []), "stale presence listed by /connected")

        self.assertStateIntact(execs, writers, before)

        # Executors re-register and reconnect; bridges attach and relay again.
        for exe, ws in execs:
            ex = self.track(connect_executor(gw, exe))
            wait_online(gw, exe, True, timeout=5)
            r = gw.connected(cap_for(gw, ws))
            self.assertEqual([e["exe_id"] for e in r.json()], [exe])
            echo = EchoExecutor(ex)
            echo.start()
            rt = RoundTripper(gw, ex, exe, cap_for(gw, ws), name="after-" + exe)
            self.track(rt.bridge)
            rt.start()
            self.assertTrue(wait_until(lambda: rt.sent >= 20 or rt.errors, 20), "no round trips after restart")
            rt.stop()
            rt.join(35)
            self.assertEqual(rt.errors, [])
            echo.stop()

    def test_repeated_sigkill_during_writes_never_corrupts_or_loses_acknowledged_writes(self):
        gw = self.gw
        all_created, all_revoked = [], []
        for round_ in range(KILL_ROUNDS):
            writers = Writers(gw, uid("ws")).start()
            wait_until(lambda: len(writers.created) >= 3, 20, 0.02)
            time.sleep(0.1 + 0.23 * round_)  # kill at a different point of the write mix each round
            gw.proc.send_signal(signal.SIGKILL)
            gw.proc.wait(10)
            writers.stop()
            self.assertEqual(sqlite_integrity(gw.db_path), "ok", "round %d" % round_)
            gw.start()
            self.assertEqual(sqlite_integrity(gw.db_path), "ok", "round %d after restart" % round_)
            self.assertStateIntact([], writers, {})
            all_created += writers.created
            all_revoked += writers.revoked
        # The earlier rounds' writes are still there after the later crashes.
        for exe in all_created:
            self.assertEqual(gw.admin("GET", "/api/codex-exec/executors/" + exe).status, 200, exe)
        report("%d SIGKILL rounds: %d executors, %d revocations acknowledged and kept"
               % (KILL_ROUNDS, len(all_created), len(all_revoked)))

    def test_sigkill_then_restart_on_a_new_port(self):
        gw = self.gw
        exe, ws, ex = online_executor(gw)
        self.track(ex)
        gw.proc.send_signal(signal.SIGKILL)
        gw.proc.wait(10)
        gw.env["CXG_LISTEN"] = "127.0.0.1:%d" % free_port()
        gw.start()
        self.assertFalse(gw.get_executor(exe)["is_online"])
        ex2 = self.track(connect_executor(gw, exe))
        wait_online(gw, exe, True, timeout=5)
        echo = EchoExecutor(ex2)
        echo.start()
        rt = RoundTripper(gw, ex2, exe, cap_for(gw, ws), name="newport")
        self.track(rt.bridge)
        rt.start()
        self.assertTrue(wait_until(lambda: rt.sent >= 5 or rt.errors, 20))
        rt.stop()
        rt.join(35)
        echo.stop()
        self.assertEqual(rt.errors, [])


if __name__ == "__main__":
    unittest.main()
