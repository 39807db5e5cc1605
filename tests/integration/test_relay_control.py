"""Control actions on live streams: turn revocation (V2), unbinding (A7), shutdown (H2)."""

import signal
import time
import unittest

from cxg_harness import DEFAULT_TOKENS, Gateway, GatewayTestCase, uid
from relay_helpers import (RelayTestCase, cap_for, online_executor, open_bridge, plain_bridge,
                           relay_bridge, resets_in)


class ControlTests(RelayTestCase, GatewayTestCase):

    # ------------------------------------------------------------------ V2
    def test_V2_revoke_closes_the_turns_bridges_4103_with_reset_turn_revoked(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        t1, t2 = uid("trn"), uid("trn")
        a, sa = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws, t1), name="A-t1")
        p, sp = plain_bridge(self.gw, ex, exe, cap_for(self.gw, ws, t1), name="P-t1")
        b, sb = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws, t2), name="B-t2")
        for c in (a, p, b):
            self.track(c)
        # the same turn on another executor/workspace is closed too
        exe2, ws2, ex2 = online_executor(self.gw)
        self.track(ex2)
        c2, s2 = relay_bridge(self.gw, ex2, exe2, cap_for(self.gw, ws2, t1), name="C-t1")
        self.track(c2)

        r = self.gw.revoke(t1)
        self.assertEqual(r.status, 204, repr(r))
        self.assertClose(a, 4103, "turn revoked", timeout=3)
        self.assertClose(p, 4103, "turn revoked", timeout=3)
        self.assertClose(c2, 4103, "turn revoked", timeout=3)
        self.assertEqual(sorted(resets_in(ex.drain(0.5))), sorted([(sa, "turn_revoked"), (sp, "turn_revoked")]))
        self.assertEqual(resets_in(ex2.drain(0.1)), [(s2, "turn_revoked")])
        # the other turn is untouched
        self.assertTrue(b.is_open)
        b.expect_silence(0.05)
        self.assertRoundTrip(ex, b, sb)
        # and the revoked turn cannot come back
        nb = open_bridge(self.gw, exe, cap_for(self.gw, ws, t1))
        self.track(nb)
        self.assertPlain(nb, 401, "turn revoked")

    def test_V2_revoking_with_past_exp_still_closes_live_bridges(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        t = uid("trn")
        a, sa = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws, t))
        self.track(a)
        self.assertEqual(self.gw.revoke(t, exp=int(time.time()) - 100).status, 204)
        self.assertClose(a, 4103, "turn revoked", timeout=3)
        self.assertEqual(resets_in(ex.drain(0.5)), [(sa, "turn_revoked")])

    # ------------------------------------------------------------------ A7
    def test_A7_unbind_closes_that_workspaces_bridges_4105_with_reset_executor_unbound(self):
        exe, ws1, ex = online_executor(self.gw)
        self.track(ex)
        ws2 = uid("ws")
        self.gw.bind(ws2, exe, name="second")
        turn = uid("trn")  # the same turn in both workspaces: only the workspace decides
        a, sa = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws1, turn), name="A-ws1")
        p, sp = plain_bridge(self.gw, ex, exe, cap_for(self.gw, ws1), name="P-ws1")
        b, sb = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws2, turn), name="B-ws2")
        for c in (a, p, b):
            self.track(c)
        r = self.gw.admin("DELETE", "/api/codex-exec/workspaces/%s/executors/%s" % (ws1, exe))
        self.assertEqual(r.status, 204, repr(r))
        self.assertClose(a, 4105, "executor unbound from workspace", timeout=3)
        self.assertClose(p, 4105, "executor unbound from workspace", timeout=3)
        self.assertEqual(sorted(resets_in(ex.drain(0.5))),
                         sorted([(sa, "executor_unbound"), (sp, "executor_unbound")]))
        self.assertTrue(b.is_open and ex.is_open)
        self.assertRoundTrip(ex, b, sb)
        self.assertPlain(open_bridge(self.gw, exe, cap_for(self.gw, ws1)), 403, "exe_id not in workspace")
        # repeating the unbind is a no-op for the remaining bridge
        self.assertEqual(self.gw.admin("DELETE", "/api/codex-exec/workspaces/%s/executors/%s"
                                       % (ws1, exe)).status, 204)
        b.expect_silence(0.3)
        self.assertEqual(ex.drain(0.0), [])


class ShutdownTests(RelayTestCase):

    def test_H2_sigterm_resets_streams_closes_1001_exits_0_presence_gone(self):
        gw = Gateway(env={"CXG_SHUTDOWN_TIMEOUT": "10s"}, tokens=DEFAULT_TOKENS)
        self.addCleanup(gw.close)
        exe, ws, ex = online_executor(gw)
        self.track(ex)
        exe2, ws2, ex2 = online_executor(gw)  # an executor without bridges
        self.track(ex2)
        r, sr = relay_bridge(gw, ex, exe, cap_for(gw, ws))
        p, sp = plain_bridge(gw, ex, exe, cap_for(gw, ws))
        self.track(r), self.track(p)
        self.assertEqual(gw.db_query("SELECT count(*) FROM executor_presence"), [(2,)])

        t0 = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        code, reason, before_close = ex.expect_close(timeout=10)
        self.assertEqual((code, reason), (1001, "gateway shutting down"))
        self.assertEqual(sorted(resets_in(before_close)), sorted([(sr, "gateway_shutdown"), (sp, "gateway_shutdown")]),
                         "each stream gets exactly one Reset gateway_shutdown before the close: %r" % before_close)
        self.assertEqual(len(before_close), 2, before_close)
        self.assertClose(r, 1001, "gateway shutting down", timeout=5)
        self.assertClose(p, 1001, "gateway shutting down", timeout=5)
        code2, reason2, skipped2 = ex2.expect_close(timeout=5)
        self.assertEqual((code2, reason2, skipped2), (1001, "gateway shutting down", []))
        try:
            rc = gw.proc.wait(15)
        except Exception:
            self.fail("cxg did not exit within 15s of SIGTERM")
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0, gw.stderr_tail())
        self.assertLess(elapsed, 10, "exit took longer than CXG_SHUTDOWN_TIMEOUT")
        # presence rows of this replica are gone
        self.assertEqual(gw.db_query("SELECT count(*) FROM executor_presence"), [(0,)])
        # after a restart the admin API shows both executors offline
        gw.start()
        for e in (exe, exe2):
            info = gw.get_executor(e)
            self.assertIs(info["is_online"], False, repr(info))
            self.assertTrue(info.get("disconnected_at"), repr(info))
        self.assertEqual([b["is_online"] for b in gw.list_bindings(ws)], [False])

    def test_H2_exit_0_within_a_short_CXG_SHUTDOWN_TIMEOUT_with_live_bridges(self):
        gw = Gateway(env={"CXG_SHUTDOWN_TIMEOUT": "3s"}, tokens=DEFAULT_TOKENS)
        self.addCleanup(gw.close)
        exe, ws, ex = online_executor(gw)
        self.track(ex)
        r, sr = relay_bridge(gw, ex, exe, cap_for(gw, ws))
        self.track(r)
        t0 = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        code, reason, skipped = ex.expect_close(timeout=5)
        self.assertEqual((code, reason), (1001, "gateway shutting down"))
        self.assertEqual(resets_in(skipped), [(sr, "gateway_shutdown")])
        self.assertEqual(r.expect_close(timeout=5)[:2], (1001, "gateway shutting down"))
        try:
            rc = gw.proc.wait(10)
        except Exception:
            self.fail("cxg did not exit within 10s of SIGTERM (CXG_SHUTDOWN_TIMEOUT=3s)")
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0, gw.stderr_tail())
        self.assertLess(elapsed, 3.0 + 0.75, "exit took %.1fs, CXG_SHUTDOWN_TIMEOUT is 3s" % elapsed)
        self.assertEqual(gw.db_query("SELECT count(*) FROM executor_presence"), [(0,)])


if __name__ == "__main__":
    unittest.main()
