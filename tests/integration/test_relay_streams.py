"""Stream ends and Resets (S1, S3-S5; S2 is in test_relay_executor_socket)."""

import unittest

from cxg_harness import GatewayTestCase, pb_varint, relay_frame
from relay_helpers import (RelayTestCase, cap_for, data_frame, metric_delta, metrics,
                           online_executor, plain_bridge, relay_bridge, relay_reset)


def reset_bytes(sid, reason):
    r = reason.encode()
    return b"\x08\x01\x12" + pb_varint(len(sid)) + sid.encode() + b"\x42" + pb_varint(len(r) + 2) \
        + b"\x0a" + pb_varint(len(r)) + r


class StreamEndTests(RelayTestCase, GatewayTestCase):

    # ------------------------------------------------------------------ S1
    def test_S1_bridge_close_sends_exactly_one_reset_harness_disconnected(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        cap = cap_for(self.gw, ws)
        ends = [
            ("relay, close 1000", lambda: relay_bridge(self.gw, ex, exe, cap), lambda b: b.close(1000)),
            ("relay, close 1001", lambda: relay_bridge(self.gw, ex, exe, cap), lambda b: b.close(1001)),
            ("relay, TCP reset", lambda: relay_bridge(self.gw, ex, exe, cap), lambda b: b.abort()),
            ("relay, TCP FIN", lambda: relay_bridge(self.gw, ex, exe, cap), lambda b: b.sock.shutdown(1)),
            ("plain, close 1000", lambda: plain_bridge(self.gw, ex, exe, cap), lambda b: b.close(1000)),
            ("plain, TCP reset", lambda: plain_bridge(self.gw, ex, exe, cap), lambda b: b.abort()),
        ]
        for what, open_, end in ends:
            with self.subTest(what=what):
                b, sid = open_()
                self.track(b)
                end(b)
                got = ex.drain(0.6)
                self.assertEqual([m.data for m in got], [reset_bytes(sid, "harness_disconnected")], got)

    def test_S1_reset_bytes_match_the_spec_example_encoding(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        b, sid = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws), stream_id="stream-a")
        self.track(b)
        b.close()
        self.assertEqual(ex.get_binary(), bytes.fromhex("08011208") + b"stream-a" + bytes.fromhex("42160a14")
                         + b"harness_disconnected")

    # ------------------------------------------------------------------ S3
    def test_S3_executor_reset_reaches_relay_bridge_then_1000_later_frames_not_forwarded(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        r, sid = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        other, so = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(r), self.track(other)
        r.auto_close_reply = False  # keep sending after the close frame arrives
        reset = relay_reset(sid, "executor_gone_away")
        before = metrics(self.gw)
        ex.send_binary(reset)
        self.assertEqual(r.get_binary(), reset)
        # the gateway has processed the Reset: a later frame from the bridge goes nowhere
        try:
            r.send_binary(data_frame(sid, '{"id":5,"method":"late"}'))
        except OSError:
            pass
        self.assertClose(r, 1000, "stream reset by executor", timeout=3)
        got = ex.drain(0.4)
        self.assertEqual(got, [], "late bridge frame forwarded, or a Reset echoed back")
        self.assertEqual(metric_delta(before, metrics(self.gw), "cxg_streams_active"), -1)
        self.assertRoundTrip(ex, other, so)
        # frames for the reset stream are now unknown
        ex.send_binary(data_frame(sid, '{"id":6,"result":{}}'))
        other.expect_silence(0.2)

    def test_S3_executor_reset_closes_plain_bridge_with_reason_appended_and_truncated(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        for reason, expect in (("boom", "stream reset by executor: boom"),
                               ("r" * 200, ("stream reset by executor: " + "r" * 200)[:123])):
            with self.subTest(len=len(reason)):
                p, sid = plain_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
                self.track(p)
                ex.send_binary(relay_reset(sid, reason))
                code, got_reason, skipped = p.expect_close(timeout=3)
                self.assertEqual((code, got_reason), (1000, expect))
                self.assertEqual(skipped, [], "a plain bridge gets only the close")
                self.assertLessEqual(len(got_reason.encode()), 123)
                ex.expect_silence(0.3, what="a Reset echoed back")

    # ------------------------------------------------------------------ S4
    def test_S4_bridge_reset_reaches_executor_once_unchanged_bridge_closed_1000(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        r, sid = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(r)
        reset = relay_reset(sid, "client_cancelled") + b"\x98\x06\x01"  # plus an unknown field
        r.send_binary(reset)
        self.assertClose(r, 1000, "stream reset by bridge", timeout=3)
        got = ex.drain(0.6)
        self.assertEqual([m.data for m in got], [reset], "exactly the bridge's Reset, once")

    def test_S4_bridge_reset_with_empty_reason_arrives_as_bridge_reset(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        for i, empty in enumerate((lambda s: relay_reset(s, ""), lambda s: relay_frame(s, 8, b"\x0a\x00"))):
            with self.subTest(variant=i):
                r, sid = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
                self.track(r)
                r.send_binary(empty(sid))
                self.assertClose(r, 1000, "stream reset by bridge", timeout=3)
                got = ex.drain(0.6)
                self.assertEqual([m.data for m in got], [reset_bytes(sid, "bridge_reset")], got)

    # ------------------------------------------------------------------ S5
    def test_S5_executor_socket_end_closes_every_bridge_4100(self):
        for how in ("close frame", "TCP reset"):
            with self.subTest(how=how):
                exe, ws, ex = online_executor(self.gw)
                bridges = [relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))[0] for _ in range(3)]
                bridges += [plain_bridge(self.gw, ex, exe, cap_for(self.gw, ws))[0] for _ in range(2)]
                for b in bridges:
                    self.track(b)
                if how == "close frame":
                    ex.close(1000)
                else:
                    ex.abort()
                for b in bridges:
                    self.assertClose(b, 4100, "executor disconnected", timeout=3)


if __name__ == "__main__":
    unittest.main()
