"""Newest executor connection wins, presence, admin delete (E1-E5) at the socket level."""

import time
import unittest

from cxg_harness import RFC3339_MS_RE, GatewayTestCase, wait_until
from relay_helpers import (RelayTestCase, cap_for, connect_executor, data_frame, metric_delta,
                           metric_sum, metrics, online_executor, open_bridge, plain_bridge, relay_bridge,
                           resets_in, wait_online)


class EvictionTests(RelayTestCase, GatewayTestCase):

    def test_E1_E2_E3_second_connection_replaces_first_bridges_get_4101_presence_kept(self):
        exe, ws, ex1 = online_executor(self.gw)
        self.track(ex1)
        ex1.name = "executor-1"
        connected_at = self.gw.get_executor(exe)["connected_at"]
        b1, sid1 = relay_bridge(self.gw, ex1, exe, cap_for(self.gw, ws))
        p1, psid1 = plain_bridge(self.gw, ex1, exe, cap_for(self.gw, ws))
        self.track(b1), self.track(p1)
        before = metrics(self.gw)
        g0 = metric_sum(before, "cxg_executors_connected")

        ex2 = self.track(connect_executor(self.gw, exe, name="executor-2"))
        # E1: the first is closed with 4001, without any Reset for its streams
        self.assertClose(ex1, 4001, "replaced by newer connection", timeout=3)
        # E2: its bridges get 4101
        self.assertClose(b1, 4101, "executor replaced", timeout=3)
        self.assertClose(p1, 4101, "executor replaced", timeout=3)
        self.assertTrue(ex1.wait_eof(6), "evicted executor socket not ended")
        self.assertEqual(metric_delta(before, metrics(self.gw), "cxg_executor_evictions_total"), 1)
        # the new connection gets no Reset for streams it never had
        ex2.expect_silence(0.3, what="Resets for the evicted connection's streams")

        # E3: after the first connection has fully closed (its cleanup ran: the gauge is back),
        # the executor stays online
        gauge = wait_until(lambda: metric_sum(metrics(self.gw), "cxg_executors_connected") <= g0, 8)
        self.assertTrue(gauge, "cxg_executors_connected never dropped back after the eviction")
        time.sleep(0.3)
        e = self.gw.get_executor(exe)
        self.assertIs(e["is_online"], True, "E3: evicted connection's cleanup marked it offline: %r" % e)
        self.assertIsNone(e.get("disconnected_at"), "E3: disconnected_at set by the evicted connection: %r" % e)
        self.assertRegex(e.get("connected_at", ""), RFC3339_MS_RE)
        self.assertGreaterEqual(e["connected_at"], connected_at)
        self.assertEqual(self.gw.db_query("SELECT count(*) FROM executor_presence WHERE exe_id=?", (exe,)),
                         [(1,)])

        # E1: the second connection serves
        b2, sid2 = relay_bridge(self.gw, ex2, exe, cap_for(self.gw, ws))
        self.track(b2)
        self.assertRoundTrip(ex2, b2, sid2)
        # the evicted socket's old stream ids are unknown on the new connection
        ex2.send_binary(data_frame(sid1, '{"id":1,"result":{}}'))
        b2.expect_silence(0.2)

        # E4: when the live connection ends, offline within 1 s with disconnected_at set
        ex2.close()
        self.assertClose(b2, 4100, "executor disconnected", timeout=3)
        t0 = time.monotonic()
        e = wait_online(self.gw, exe, False, timeout=1.0)
        self.assertLess(time.monotonic() - t0, 1.1)
        self.assertRegex(e.get("disconnected_at", ""), RFC3339_MS_RE, repr(e))
        self.assertEqual(self.gw.db_query("SELECT count(*) FROM executor_presence WHERE exe_id=?", (exe,)),
                         [(0,)])

    def test_E3_three_quick_reconnects_leave_the_newest_online(self):
        exe, ws, ex = online_executor(self.gw)
        g0 = metric_sum(metrics(self.gw), "cxg_executors_connected")
        conns = [self.track(ex)]
        for i in range(3):
            conns.append(self.track(connect_executor(self.gw, exe, name="executor-%d" % (i + 2))))
        for c in conns[:-1]:
            self.assertClose(c, 4001, "replaced by newer connection", timeout=3)
            c.close()
        self.assertTrue(wait_until(lambda: metric_sum(metrics(self.gw), "cxg_executors_connected") <= g0, 8))
        time.sleep(0.3)
        e = self.gw.get_executor(exe)
        self.assertIs(e["is_online"], True, repr(e))
        self.assertIsNone(e.get("disconnected_at"), repr(e))
        b, sid = relay_bridge(self.gw, conns[-1], exe, cap_for(self.gw, ws))
        self.track(b)
        self.assertRoundTrip(conns[-1], b, sid)

    def test_E4_executor_tcp_loss_goes_offline_within_1s_and_bridges_get_4100(self):
        exe, ws, ex = online_executor(self.gw)
        b, sid = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(b)
        ex.abort()  # no close frame
        t0 = time.monotonic()
        self.assertClose(b, 4100, "executor disconnected", timeout=2)
        e = wait_online(self.gw, exe, False, timeout=1.0)
        self.assertLess(time.monotonic() - t0, 1.1)
        self.assertRegex(e.get("disconnected_at", ""), RFC3339_MS_RE, repr(e))

    def test_E5_admin_delete_closes_socket_4002_bridges_4104_and_removes_presence(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        b, sid = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        p, psid = plain_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(b), self.track(p)
        # another executor's bridge must be untouched
        exe_o, ws_o, ex_o = online_executor(self.gw)
        self.track(ex_o)
        bo, sido = relay_bridge(self.gw, ex_o, exe_o, cap_for(self.gw, ws_o))
        self.track(bo)
        self.assertEqual(self.gw.db_query("SELECT count(*) FROM executor_presence WHERE exe_id=?", (exe,)),
                         [(1,)])

        r = self.gw.admin("DELETE", "/api/codex-exec/executors/%s" % exe)
        self.assertEqual(r.status, 204, repr(r))
        code, reason, skipped = ex.expect_close(timeout=3)
        self.assertEqual((code, reason), (4002, "executor deleted"))
        self.assertEqual(resets_in(skipped), [], "no Reset expected: the executor socket is going away")
        self.assertClose(b, 4104, "executor deleted", timeout=3)
        self.assertClose(p, 4104, "executor deleted", timeout=3)
        # presence is gone
        self.assertEqual(self.gw.db_query("SELECT count(*) FROM executor_presence WHERE exe_id=?", (exe,)),
                         [(0,)])
        self.assertEqual(self.gw.admin("GET", "/api/codex-exec/executors/%s" % exe).status, 404)
        self.assertEqual(self.gw.list_bindings(ws), [])
        # its next registration is refused; a new bridge is refused before the upgrade
        self.assertEqual(self.gw.register(exe).status, 403)
        nb = open_bridge(self.gw, exe, cap_for(self.gw, ws))
        self.track(nb)
        self.assertEqual(nb.status, 403, repr(nb))
        # the other executor is unaffected
        self.assertTrue(bo.is_open and ex_o.is_open)
        self.assertRoundTrip(ex_o, bo, sido)


if __name__ == "__main__":
    unittest.main()
