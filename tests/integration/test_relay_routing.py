"""Routing between a scripted executor and relay/plain bridges (X1-X13)."""

import json
import threading
import time
import unittest

from cxg_harness import GatewayTestCase, pb_varint, relay_frame, uid, wait_until
from relay_helpers import (OP_TEXT, RelayTestCase, cap_for, data_frame, metric,
                           metric_delta, metrics, online_executor, open_bridge, parse_frame,
                           plain_bridge, relay_ack, relay_bridge, relay_handshake,
                           relay_heartbeat, resets_in, resume_frame)


def ld(field, data):
    """A LEN field."""
    if isinstance(data, str):
        data = data.encode()
    return pb_varint((field << 3) | 2) + pb_varint(len(data)) + data


def vi(field, n):
    return pb_varint(field << 3) + pb_varint(n)


def exotic_data(sid, payload, decoy_sid="decoy-stream"):
    """A valid Data frame encoded the way cxg never would: fields out of order, reserved and
    trace fields, unknown fields of wire types 0/1/5, a repeated stream_id and version (the
    last one wins), max seq."""
    body = ld(4, payload) + vi(3, 1) + vi(1, 0xFFFFFFFF) + vi(2, 0)
    return (ld(2, decoy_sid) + vi(1, 7) + ld(5, body) + vi(3, 5) + vi(4, 9)
            + ld(11, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") + ld(12, "k=v")
            + vi(99, 42) + pb_varint((100 << 3) | 1) + b"\x01" * 8 + pb_varint((101 << 3) | 5) + b"\x02" * 4
            + ld(2, sid) + vi(1, 1))


class RoutingTests(RelayTestCase, GatewayTestCase):

    def two_bridges(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        a, sa = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws), name="A")
        b, sb = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws), name="B")
        self.track(a), self.track(b)
        return exe, ws, ex, a, sa, b, sb

    # ------------------------------------------------------------------ X1
    def test_X1_frames_route_to_their_own_bridge_only(self):
        exe, ws, ex, a, sa, b, sb = self.two_bridges()
        for (x, sx, name_x), (y, sy, name_y) in (((a, sa, "A"), (b, sb, "B")), ((b, sb, "B"), (a, sa, "A"))):
            with self.subTest(first=name_x):
                up = data_frame(sx, '{"id":1,"method":"initialize","params":{"from":"%s"}}' % name_x)
                x.send_binary(up)
                self.assertEqual(ex.get_binary(), up)
                ex.expect_silence(0.1)
                down = data_frame(sx, '{"id":1,"result":{"to":"%s"}}' % name_x)
                ex.send_binary(down)
                self.assertEqual(x.get_binary(), down)
                y.expect_silence(0.2, what="the other stream's reply")

    # ------------------------------------------------------------------ X2
    def test_X2_frames_are_byte_identical_in_both_directions(self):
        exe, ws, ex, a, sa, b, sb = self.two_bridges()
        frames_up = [exotic_data(sa, b'{"id":1,"method":"m"}', decoy_sid=sb),
                     data_frame(sa, "{}", 0),
                     relay_frame(sa, 5, vi(1, 3) + vi(3, 1) + ld(4, '{"x":"\u00e9\u4e2d"}'))]
        for f in frames_up:
            a.send_binary(f)
            self.assertEqual(ex.get_binary(), f)
        frames_down = [exotic_data(sa, b'{"id":1,"result":{}}', decoy_sid=sb),
                       relay_frame(sa, 5, vi(1, 2) + vi(2, 0) + vi(3, 1) + ld(4, b'{"a":[1,2,3]}')),
                       data_frame(sa, '{"big":"%s"}' % ("y" * 70000), 9)]
        for f in frames_down:
            ex.send_binary(f)
            self.assertEqual(a.get_binary(), f)
        b.expect_silence(0.2, what="frames of stream A (one named B first, but the last stream_id wins)")

    # ------------------------------------------------------------------ X3
    def test_X3_ten_thousand_data_frames_each_direction_in_order(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        b, sid = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(b)
        n = 10000
        errors = []

        def send(conn, tag):
            try:
                for i in range(n):
                    conn.send_binary(data_frame(sid, '{"dir":"%s","i":%d}' % (tag, i), i))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        ts = [threading.Thread(target=send, args=(b, "up")), threading.Thread(target=send, args=(ex, "down"))]
        t0 = time.monotonic()
        for t in ts:
            t.start()
        got_up = [ex.get_binary(timeout=20) for _ in range(n)]
        got_down = [b.get_binary(timeout=20) for _ in range(n)]
        for t in ts:
            t.join(20)
        self.assertEqual(errors, [])
        self.assertEqual(got_up, [data_frame(sid, '{"dir":"up","i":%d}' % i, i) for i in range(n)])
        self.assertEqual(got_down, [data_frame(sid, '{"dir":"down","i":%d}' % i, i) for i in range(n)])
        ex.expect_silence(0.2, what="duplicates")
        b.expect_silence(0.05, what="duplicates")
        self.assertLess(time.monotonic() - t0, 30)

    # ------------------------------------------------------------------ X4
    def test_X4_bridge_frame_with_foreign_stream_id_is_dropped_counted_bridge_stays_open(self):
        exe, ws, ex, a, sa, b, sb = self.two_bridges()
        before = metrics(self.gw)
        a.send_binary(data_frame(sb, '{"id":1,"method":"hijack"}'))        # another live stream
        a.send_binary(data_frame(uid("st"), '{"id":2,"method":"ghost"}'))  # an unknown one
        a.send_binary(relay_heartbeat(sb))
        ex.expect_silence(0.3, what="frames with a foreign stream_id")
        b.expect_silence(0.05)
        self.assertEqual(metric_delta(before, metrics(self.gw), "cxg_frames_dropped_total"), 3)
        self.assertTrue(a.is_open)
        self.assertRoundTrip(ex, a, sa)
        self.assertRoundTrip(ex, b, sb)

    # ------------------------------------------------------------------ X5
    def test_X5_executor_frames_for_unknown_stream_dropped_counted_others_unaffected(self):
        exe, ws, ex, a, sa, b, sb = self.two_bridges()
        before = metrics(self.gw)
        for i in range(5):
            ex.send_binary(data_frame(uid("nowhere"), '{"id":%d,"result":{}}' % i))
        ex.send_binary(relay_heartbeat("unknown-stream"))
        ok = data_frame(sb, '{"id":9,"result":{}}')
        ex.send_binary(ok)
        self.assertEqual(b.get_binary(), ok)
        a.expect_silence(0.2)
        b.expect_silence(0.05)
        self.assertEqual(metric_delta(before, metrics(self.gw), "cxg_frames_dropped_total"), 6)
        self.assertTrue(ex.is_open)
        self.assertRoundTrip(ex, a, sa)

    # ------------------------------------------------------------------ X6
    def test_X6_ack_heartbeat_handshake_pass_to_relay_bridges_never_to_plain(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        r, sr = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        p, sp = plain_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(r), self.track(p)
        controls = lambda s: [relay_ack(s), relay_heartbeat(s), relay_handshake(s, b"\x00\x01noise\xff"),
                              relay_frame(s, 9, b"\x98\x06\x01")]  # heartbeat with an unknown inner field
        for f in controls(sr):
            r.send_binary(f)
            self.assertEqual(ex.get_binary(), f, "bridge -> executor")
            ex.send_binary(f)
            self.assertEqual(r.get_binary(), f, "executor -> bridge")
        for f in controls(sp):
            ex.send_binary(f)
        p.expect_silence(0.3, what="control frames on a plain bridge")
        ex.send_binary(data_frame(sp, '{"id":1,"result":{}}'))
        m = p.get_data()
        self.assertEqual((m.op, m.data), (OP_TEXT, b'{"id":1,"result":{}}'))
        self.assertTrue(p.is_open and r.is_open)

    # ------------------------------------------------------------------ X7
    def test_X7_same_turn_same_stream_id_takes_over_old_gets_4102_no_reset(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        turn = uid("trn")
        sid = uid("st")
        a1, _ = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws, turn), stream_id=sid, name="A1")
        self.track(a1)
        self.assertRoundTrip(ex, a1, sid, tag="before")
        a2, _ = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws, turn), stream_id=sid, name="A2")
        self.track(a2)
        self.assertClose(a1, 4102, "stream replaced", timeout=3)
        ex.expect_silence(0.3, what="a Reset on takeover")
        down = data_frame(sid, '{"id":"after","result":{}}')
        ex.send_binary(down)
        self.assertEqual(a2.get_binary(), down)
        self.assertRoundTrip(ex, a2, sid, tag="after2")
        a2.close()
        self.assertEqual(resets_in(ex.drain(0.5)), [(sid, "harness_disconnected")])

    # ------------------------------------------------------------------ X8
    def test_X8_other_turn_same_stream_id_gets_4107_holder_keeps_working(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        sid = uid("st")
        holder, _ = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws, uid("trn")), stream_id=sid)
        self.track(holder)
        intruder = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws, uid("trn"))))
        intruder.send_binary(resume_frame(sid))
        self.assertClose(intruder, 4107, "stream_id in use", timeout=3)
        ex.expect_silence(0.3, what="the intruder's Resume or a Reset")
        self.assertTrue(holder.is_open)
        self.assertRoundTrip(ex, holder, sid)

    # ------------------------------------------------------------------ X9
    def test_X9_plain_payloads_arrive_as_one_text_each_and_seq_counts_from_0(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        first = '{"id":0,"method":"initialize","params":{}}'
        p, sid = plain_bridge(self.gw, ex, exe, cap_for(self.gw, ws), first=first)
        self.track(p)
        msgs = ['{"id":%d,"method":"m","params":{"s":"caf\u00e9"}}' % i for i in range(1, 131)]
        for m in msgs:
            p.send_text(m)
        for i, m in enumerate(msgs, start=1):
            self.assertEqual(ex.get_binary(), data_frame(sid, m.encode(), i), "seq %d" % i)
        payloads = ['{"id":1,"result":{"sessionId":"x"}}', '{"method":"process/output","params":{"c":"\u4e2d"}}',
                    '{"pad":"%s"}' % ("q" * 200000)]
        for seq, pl in enumerate(payloads):
            ex.send_binary(data_frame(sid, pl, 40 + seq))
            m = p.get_data()
            self.assertEqual((m.op, m.data), (OP_TEXT, pl.encode()))
        p.expect_silence(0.2)

    # ------------------------------------------------------------------ X10
    def test_X10_plain_invalid_json_gets_error_reply_nothing_forwarded_stays_open(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        p, sid = plain_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(p)
        for bad in ("not json", '{"id":1,', '{"a":1} {"b":2}', ""):
            with self.subTest(bad=bad):
                p.send_text(bad)
                reply = json.loads(p.get_text())
                self.assertEqual(set(reply), {"id", "error"}, reply)
                self.assertEqual(reply["id"], -1)
                self.assertEqual(reply["error"]["code"], -32600)
                self.assertTrue(reply["error"]["message"].startswith("invalid JSON: "), reply)
        ex.expect_silence(0.3, what="invalid JSON forwarded")
        p.send_text('{"id":2,"method":"ok"}')
        self.assertEqual(ex.get_binary(), data_frame(sid, '{"id":2,"method":"ok"}', 1))
        self.assertTrue(p.is_open)

    # ------------------------------------------------------------------ X11
    def test_X11_binary_on_plain_bridge_gets_1003_and_reset_protocol_error(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        p, sid = plain_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(p)
        p.send_binary(b'{"id":2}')
        self.assertClose(p, 1003, "plain bridge accepts text frames only", timeout=3)
        self.assertEqual(resets_in(ex.drain(0.5)), [(sid, "protocol_error")])
        self.assertEqual(ex.drain(0.0), [])

    def test_X11_text_on_relay_bridge_gets_1003_and_reset_protocol_error(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        r, sid = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(r)
        r.send_text('{"id":2}')
        self.assertClose(r, 1003, "relay bridge accepts binary frames only", timeout=3)
        got = ex.drain(0.5)
        self.assertEqual([m.data for m in got], [relay_frame(sid, 8, ld(1, "protocol_error"))], got)

    # ------------------------------------------------------------------ X12
    def test_X12_malformed_relay_frame_gets_1002_reset_protocol_error_not_forwarded(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        cases = [
            ("truncated", lambda s: data_frame(s, "{}")[:-1], "malformed frame"),
            ("wire type 3", lambda s: b"\x08\x01" + ld(2, s) + b"\x0b", "malformed frame"),
            ("wire type 4", lambda s: b"\x08\x01" + ld(2, s) + b"\x0c", "malformed frame"),
            ("11-byte varint", lambda s: b"\x08\x01" + ld(2, s) + b"\x18" + b"\xff" * 10 + b"\x01", "malformed frame"),
            ("non-UTF-8 reason", lambda s: relay_frame(s, 8, b"\x0a\x02\xc3\x28"), "malformed frame"),
            ("version 2", lambda s: relay_frame(s, 5, b"\x18\x01\x22\x02{}", version=2),
             "unsupported relay frame version"),
            ("version 0", lambda s: relay_frame(s, 5, b"\x18\x01\x22\x02{}", version=0),
             "unsupported relay frame version"),
        ]
        for what, make, reason in cases:
            with self.subTest(what=what):
                r, sid = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
                self.track(r)
                r.send_binary(make(sid))
                self.assertClose(r, 1002, reason, timeout=3)
                got = ex.drain(0.4)
                self.assertEqual([m.data for m in got], [relay_frame(sid, 8, ld(1, "protocol_error"))], got)
        self.assertTrue(ex.is_open)


class RouteTableTests(RelayTestCase, GatewayTestCase):
    """X13 on a gateway of its own, so that the gauges must return to exactly zero."""
    GATEWAY_ENV = {"CXG_MAX_STREAMS_PER_EXECUTOR": "8"}

    def test_X13_100_open_close_cycles_leave_gauges_and_route_table_at_zero(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        cap = cap_for(self.gw, ws)
        sids = []
        for i in range(100):
            if i % 2:
                b, sid = plain_bridge(self.gw, ex, exe, cap, name="plain-%d" % i)
            else:
                b, sid = relay_bridge(self.gw, ex, exe, cap, name="relay-%d" % i)
            sids.append(sid)
            if i % 3 == 0:
                b.abort()  # TCP loss instead of a close frame
            else:
                b.close()
            got = ex.get_binary(timeout=5)
            self.assertEqual(parse_frame(got), {"version": 1, "stream_id": sid, "body": "reset",
                                                "reason": "harness_disconnected"}, "cycle %d" % i)
        ex.expect_silence(0.3, what="extra Resets")

        def zero():
            m = metrics(self.gw)
            vals = (metric(m, "cxg_streams_active"), metric(m, "cxg_bridges_active", flavour="relay"),
                    metric(m, "cxg_bridges_active", flavour="plain"))
            return vals if vals == (0, 0, 0) else None
        self.assertTrue(wait_until(zero, 3), "gauges not back to zero: %r" % ({
            k: v for k, v in metrics(self.gw).items() if k[0] in ("cxg_streams_active", "cxg_bridges_active")},))
        # route table: every old stream id is unknown now
        before = metrics(self.gw)
        for sid in sids:
            ex.send_binary(data_frame(sid, '{"id":1,"result":{}}'))
        b, sid = relay_bridge(self.gw, ex, exe, cap)  # the stream cap (8) is not used up
        self.track(b)
        self.assertRoundTrip(ex, b, sid)
        self.assertEqual(metric_delta(before, metrics(self.gw), "cxg_frames_dropped_total"), 100)
        self.assertEqual(b.drain(0.2), [])


if __name__ == "__main__":
    unittest.main()
