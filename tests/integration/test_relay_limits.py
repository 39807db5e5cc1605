"""Message-size limits, the stream cap and outgoing fragmentation (L3, L4, L5, L7)."""

import unittest

from cxg_harness import GatewayTestCase, uid, wait_until
from relay_helpers import (OP_BINARY, OP_CONT, OP_TEXT, Conn, RelayTestCase, cap_for,
                           data_frame, metric_delta, metrics, online_executor, open_bridge,
                           plain_bridge, relay_bridge, resets_in, resume_frame, ws_frame)

MiB = 1 << 20


def padded(size, prefix='{"id":1,"method":"x","params":{"pad":"', suffix='"}}'):
    """A JSON text of exactly `size` bytes."""
    return prefix + "p" * (size - len(prefix) - len(suffix)) + suffix


def data_of_size(sid, size, seq=0):
    """A Data frame of exactly `size` bytes for stream sid."""
    for n in range(size - 64, size):
        f = data_frame(sid, padded(n), seq)
        if len(f) == size:
            return f
    raise ValueError("cannot build a %d-byte frame" % size)


def send_fragmented(conn, opcode, payload, piece):
    out = b""
    for i in range(0, len(payload), piece):
        chunk = payload[i:i + piece]
        out += ws_frame(opcode if i == 0 else OP_CONT, chunk, fin=i + piece >= len(payload))
    conn.send_raw(out)


def try_send(fn):
    try:
        fn()
    except OSError:
        pass  # the gateway may close before it has read everything


class BridgeMessageLimitTests(RelayTestCase, GatewayTestCase):
    GATEWAY_ENV = {"CXG_MAX_BRIDGE_MESSAGE_BYTES": "1MiB"}

    def test_L3_bridge_message_over_limit_gets_1009_and_reset_frame_too_large(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        other, so = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws), name="other")
        self.track(other)
        for how in ("one frame", "fragmented"):
            with self.subTest(how=how):
                a, sa = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws), name="A")
                self.track(a)
                big = data_of_size(sa, 2 * MiB)
                if how == "one frame":
                    try_send(lambda: a.send_binary(big))
                else:
                    try_send(lambda: send_fragmented(a, OP_BINARY, big, 256 * 1024))
                self.assertClose(a, 1009, "message too big", timeout=5)
                got = ex.drain(0.5)
                self.assertEqual(resets_in(got), [(sa, "frame_too_large")])
                self.assertEqual(len(got), 1, "the oversized message reached the executor: %r" % got)
                self.assertTrue(ex.is_open and other.is_open)
                self.assertRoundTrip(ex, other, so)

    def test_L3_plain_bridge_text_over_limit_gets_1009_and_reset_frame_too_large(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        p, sp = plain_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(p)
        try_send(lambda: p.send_text(padded(2 * MiB)))
        self.assertClose(p, 1009, "message too big", timeout=5)
        got = ex.drain(0.5)
        self.assertEqual([resets_in(got), len(got)], [[(sp, "frame_too_large")], 1], got)

    def test_L3_message_of_exactly_the_limit_passes(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        a, sa = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(a)
        f = data_of_size(sa, MiB)
        a.send_binary(f)
        self.assertEqual(ex.get_binary(timeout=10), f)
        self.assertTrue(a.is_open)


class ExecutorMessageLimitTests(RelayTestCase, GatewayTestCase):
    GATEWAY_ENV = {"CXG_MAX_EXECUTOR_MESSAGE_BYTES": "1MiB"}

    def test_L4_executor_message_over_limit_only_its_bridge_gets_1009(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        b, sb = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws), name="B")
        p, sp = plain_bridge(self.gw, ex, exe, cap_for(self.gw, ws), name="P")
        self.track(b), self.track(p)
        for how in ("one frame", "fragmented"):
            with self.subTest(how=how):
                a, sa = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws), name="A")
                self.track(a)
                before = metrics(self.gw)
                big = data_of_size(sa, 2 * MiB)
                if how == "one frame":
                    ex.send_binary(big)
                else:
                    send_fragmented(ex, OP_BINARY, big, 200 * 1024)
                self.assertClose(a, 1009, "message too big", timeout=5)
                self.assertEqual(resets_in(ex.drain(0.5)), [(sa, "frame_too_large")])
                self.assertTrue(ex.is_open, "executor socket closed by an oversized message")
                b.expect_silence(0.05)
                p.expect_silence(0.05)
                self.assertRoundTrip(ex, b, sb)
                ex.send_binary(data_frame(sp, '{"id":1,"result":{}}'))
                self.assertEqual(p.get_text(), '{"id":1,"result":{}}')
                self.assertGreaterEqual(metric_delta(before, metrics(self.gw), "cxg_frames_dropped_total"), 1)

    def test_L4_oversized_message_for_unknown_stream_is_dropped(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        b, sb = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(b)
        before = metrics(self.gw)
        ex.send_binary(data_of_size(uid("nowhere"), 2 * MiB))
        ex.send_binary(b"\x00" * (MiB + 10))  # not even a frame
        self.assertRoundTrip(ex, b, sb)
        self.assertEqual(metric_delta(before, metrics(self.gw), "cxg_frames_dropped_total"), 2)
        self.assertEqual(ex.drain(0.2), [])

    def test_L4_executor_message_of_exactly_the_limit_is_delivered(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        b, sb = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(b)
        f = data_of_size(sb, MiB)
        ex.send_binary(f)
        self.assertEqual(b.get_binary(timeout=10), f)


class StreamCapTests(RelayTestCase, GatewayTestCase):
    GATEWAY_ENV = {"CXG_MAX_STREAMS_PER_EXECUTOR": "2"}

    def test_L5_third_bridge_gets_429_until_one_closes(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        a, sa = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws), name="A")
        p, sp = plain_bridge(self.gw, ex, exe, cap_for(self.gw, ws), name="P")
        self.track(a), self.track(p)
        before = metrics(self.gw)
        for _ in range(2):
            r = open_bridge(self.gw, exe, cap_for(self.gw, ws))
            self.track(r)
            self.assertPlain(r, 429, "stream limit reached")
        self.assertEqual(metric_delta(before, metrics(self.gw), "cxg_bridge_rejections_total"), 2)
        ex.expect_silence(0.3, what="traffic from refused bridges")
        # another executor has its own cap
        exe2, ws2, ex2 = online_executor(self.gw)
        self.track(ex2)
        c, sc = relay_bridge(self.gw, ex2, exe2, cap_for(self.gw, ws2))
        self.track(c)
        # one closes: the next is admitted
        a.close()
        self.assertEqual(resets_in(ex.drain(0.3)), [(sa, "harness_disconnected")])

        def admitted():
            r = open_bridge(self.gw, exe, cap_for(self.gw, ws))
            if isinstance(r, Conn):
                return self.track(r)
            self.assertPlain(r, 429, "stream limit reached")
            return None
        n = wait_until(admitted, 1.0)
        self.assertIsInstance(n, Conn, "not admitted within 1s after a bridge closed")
        sn = uid("st")
        n.send_binary(resume_frame(sn))
        self.assertEqual(ex.get_binary(), resume_frame(sn))
        self.assertRoundTrip(ex, n, sn)
        ex.send_binary(data_frame(sp, '{"id":3,"result":{}}'))
        self.assertEqual(p.get_text(), '{"id":3,"result":{}}')

    def test_L5_race_past_the_precheck_gets_1013_stream_limit_reached(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        a, sa = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws), name="A")
        self.track(a)
        # both pass the pre-upgrade check while one stream is active
        x = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws), name="X"))
        y = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws), name="Y"))
        self.assertIsInstance(x, Conn, repr(x))
        if not isinstance(y, Conn):
            self.assertPlain(y, 429, "stream limit reached")
            self.skipTest("the gateway counts upgraded bridges before their first frame: no race window")
        sx, sy = uid("st"), uid("st")
        x.send_binary(resume_frame(sx))
        self.assertEqual(ex.get_binary(), resume_frame(sx))
        y.send_binary(resume_frame(sy))
        self.assertClose(y, 1013, "stream limit reached", timeout=3)
        ex.expect_silence(0.3, what="the refused bridge's Resume")
        self.assertRoundTrip(ex, x, sx)


class FragmentationTests(RelayTestCase, GatewayTestCase):

    def frames_of_last_message(self, conn, start):
        fr = conn.frames[start:]
        data = [f for f in fr if f[1] in (OP_BINARY, OP_TEXT, OP_CONT)]
        return data

    def test_L7_3MiB_executor_message_reaches_relay_bridge_in_frames_of_at_most_1MiB(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        b, sb = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(b)
        big = data_of_size(sb, 3 * MiB)
        mark = len(b.frames)
        ex.send_binary(big)
        self.assertEqual(b.get_binary(timeout=10), big)
        fr = self.frames_of_last_message(b, mark)
        self.assertGreaterEqual(len(fr), 3, fr)
        self.assertTrue(all(n <= MiB for _, _, n, _, _ in fr), "frame payloads: %r" % [f[2] for f in fr])
        self.assertEqual(sum(n for _, _, n, _, _ in fr), len(big))
        self.assertEqual([op for _, op, *_ in fr], [OP_BINARY] + [OP_CONT] * (len(fr) - 1))
        self.assertEqual([fin for fin, *_ in fr], [False] * (len(fr) - 1) + [True])

    def test_L7_3MiB_messages_to_plain_bridge_and_to_executor_are_fragmented_too(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        p, sp = plain_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        r, sr = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(p), self.track(r)
        text = padded(3 * MiB + 5)
        mark = len(p.frames)
        ex.send_binary(data_frame(sp, text, 1))
        self.assertEqual(p.get_text(timeout=10), text)
        fr = self.frames_of_last_message(p, mark)
        self.assertTrue(len(fr) >= 4 and all(n <= MiB for _, _, n, _, _ in fr), [f[2] for f in fr])
        self.assertEqual(fr[0][1], OP_TEXT)
        # bridge -> executor: a plain 3 MiB text and a relay 3 MiB frame
        for conn, msg, expect in ((p, text, data_frame(sp, text, 1)),
                                  (r, data_of_size(sr, 3 * MiB), None)):
            mark = len(ex.frames)
            if isinstance(msg, str):
                conn.send_text(msg)
            else:
                conn.send_binary(msg)
            self.assertEqual(ex.get_binary(timeout=10), expect or msg)
            fr = self.frames_of_last_message(ex, mark)
            self.assertTrue(len(fr) >= 3 and all(n <= MiB for _, _, n, _, _ in fr), [f[2] for f in fr])


if __name__ == "__main__":
    unittest.main()
