"""Legacy JSON executors (mode=json) behind relay and plain bridges (G1-G4; G5 is in
test_relay_admission)."""

import time
import unittest

from cxg_harness import GatewayTestCase, uid
from relay_helpers import (OP_BINARY, OP_TEXT, Conn, RelayTestCase, cap_for, connect_executor,
                           data_frame, online_executor, open_bridge, relay_ack,
                           relay_handshake, relay_heartbeat, relay_reset, resume_frame, wait_online)

INIT = '{"id":1,"method":"initialize","params":{"clientName":"t"}}'


class LegacyTests(RelayTestCase, GatewayTestCase):

    def legacy(self):
        exe, ws, ex = online_executor(self.gw, legacy=True)
        self.track(ex)
        self.assertIn("mode=json", ex.url)
        return exe, ws, ex

    def assertNoBinaryEver(self, ex):
        binaries = [f for f in ex.frames if f[1] == OP_BINARY]
        self.assertEqual(binaries, [], "G3: the legacy executor received binary frames")

    # ------------------------------------------------------------------ G1
    def test_G1_relay_bridge_data_becomes_text_and_text_returns_as_data_seq_0_1_2(self):
        exe, ws, ex = self.legacy()
        b = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws)))
        sid = uid("st")
        b.send_binary(resume_frame(sid, next_seq=3))
        ex.expect_silence(0.3, what="the Resume (it must be consumed)")
        ups = [INIT, '{"method":"initialized","params":{}}', '{"id":2,"method":"x","params":{"s":"\u00e9"}}']
        for i, u in enumerate(ups):
            b.send_binary(data_frame(sid, u, 50 + i))
            m = ex.get_data()
            self.assertEqual((m.op, m.data), (OP_TEXT, u.encode()), "payload %d" % i)
        downs = ['{"id":1,"result":{"sessionId":"abc"}}', '{"method":"process/output","params":{}}',
                 '{"id":2,"result":{}}'] + ['{"n":%d}' % i for i in range(130)]
        for d in downs:
            ex.send_text(d)
        for seq, d in enumerate(downs):
            self.assertEqual(b.get_binary(), data_frame(sid, d, seq), "seq %d" % seq)
        # binary from a legacy executor is dropped
        ex.send_binary(data_frame(sid, '{"id":9,"result":{}}'))
        b.expect_silence(0.3)
        self.assertNoBinaryEver(ex)

    # ------------------------------------------------------------------ G2
    def test_G2_plain_bridge_text_passes_unchanged_both_ways(self):
        exe, ws, ex = self.legacy()
        b = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws)))
        texts = [INIT, '{"jsonrpc":"2.0","id":2,"method":"y"}', '{ "spaced" : [ 1 , 2 ] }',
                 '{"u":"\u4e2d\u00e9"}']
        for t in texts:
            b.send_text(t)
            self.assertEqual(ex.get_text(), t)
        for t in texts:
            ex.send_text(t)
            self.assertEqual(b.get_text(), t)
        self.assertNoBinaryEver(ex)

    # ------------------------------------------------------------------ G3
    def test_G3_control_frames_and_bridge_reset_never_reach_legacy_executor_as_binary(self):
        exe, ws, ex = self.legacy()
        b = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws)))
        sid = uid("st")
        b.send_binary(resume_frame(sid))
        for f in (relay_ack(sid), relay_heartbeat(sid), relay_handshake(sid, b"xx")):
            b.send_binary(f)
        b.send_binary(data_frame(sid, INIT))
        self.assertEqual(ex.get_text(), INIT)
        b.send_binary(relay_reset(sid, "client_done"))
        self.assertClose(b, 1000, "stream reset by bridge", timeout=3)
        code, reason, skipped = ex.expect_close(timeout=3)
        self.assertEqual((code, reason), (1000, "bridge left"))
        self.assertEqual(skipped, [])
        self.assertNoBinaryEver(ex)

    def test_G3_plain_bridge_binary_gets_1003_and_executor_gets_no_binary(self):
        exe, ws, ex = self.legacy()
        b = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws)))
        b.send_text(INIT)
        self.assertEqual(ex.get_text(), INIT)
        b.send_binary(b"{}")
        self.assertClose(b, 1003, "plain bridge accepts text frames only", timeout=3)
        code, reason, skipped = ex.expect_close(timeout=3)
        self.assertEqual((code, reason, skipped), (1000, "bridge left", []))
        self.assertNoBinaryEver(ex)

    # ------------------------------------------------------------------ G4
    def test_G4_bridge_leaving_closes_executor_1000_bridge_left_then_reconnect_serves(self):
        exe, ws, ex = self.legacy()
        for flavour in ("plain", "relay"):
            with self.subTest(flavour=flavour):
                b = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws)))
                sid = uid("st")
                if flavour == "plain":
                    b.send_text(INIT)
                else:
                    b.send_binary(resume_frame(sid))
                    b.send_binary(data_frame(sid, INIT))
                self.assertEqual(ex.get_text(), INIT)
                ex.send_text('{"id":1,"result":{"sessionId":"s"}}')
                b.get_data()
                b.close()
                code, reason, skipped = ex.expect_close(timeout=3)
                self.assertEqual((code, reason, skipped), (1000, "bridge left", []))
                self.assertNoBinaryEver(ex)
                self.assertTrue(ex.wait_eof(3), "legacy executor socket not ended after 1000 bridge left")
                # until it reconnects, bridges get 503
                r = open_bridge(self.gw, exe, cap_for(self.gw, ws))
                self.track(r)
                self.assertPlain(r, 503, "executor not connected")
                # the executor re-registers and reconnects; a new bridge can initialize
                ex = self.track(connect_executor(self.gw, exe, legacy=True))
                e = wait_online(self.gw, exe, True, timeout=1.0)
                self.assertIsNone(e.get("disconnected_at"), repr(e))
                b2 = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws)))
                self.assertIsInstance(b2, Conn, repr(b2))
                b2.send_text(INIT)
                self.assertEqual(ex.get_text(), INIT)
                ex.send_text('{"id":1,"result":{"sessionId":"s2"}}')
                self.assertEqual(b2.get_text(), '{"id":1,"result":{"sessionId":"s2"}}')
                b2.close()
                self.assertEqual(ex.expect_close(timeout=3)[:2], (1000, "bridge left"))
                self.assertTrue(ex.wait_eof(3))
                ex = self.track(connect_executor(self.gw, exe, legacy=True))
                wait_online(self.gw, exe, True, timeout=1.0)

    def test_G4_executor_offline_within_1s_after_bridge_left(self):
        exe, ws, ex = self.legacy()
        b = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws)))
        b.send_text(INIT)
        self.assertEqual(ex.get_text(), INIT)
        b.close()
        self.assertEqual(ex.expect_close(timeout=3)[:2], (1000, "bridge left"))
        self.assertTrue(ex.wait_eof(3))
        t0 = time.monotonic()
        e = wait_online(self.gw, exe, False, timeout=1.0)  # E4: the connection has ended
        self.assertLess(time.monotonic() - t0, 1.1)
        self.assertTrue(e.get("disconnected_at"), repr(e))


if __name__ == "__main__":
    unittest.main()
