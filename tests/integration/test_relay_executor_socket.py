"""Executor websocket at the socket level: presence on upgrade (T4), frames a relay executor
must not send (T5), no permessage-deflate (T6), keepalive (T7, S2)."""

import asyncio
import time
import unittest

import websockets

from cxg_harness import RFC3339_MS_RE, GatewayTestCase, relay_frame, uid
from relay_helpers import (Conn, RelayTestCase, cap_for, connect_executor, data_frame,
                           metric_delta, metrics, online_executor, open_bridge, parse_frame,
                           register_url, relay_bridge, resume_frame, wait_online)


class ExecutorSocketTests(RelayTestCase, GatewayTestCase):

    # ------------------------------------------------------------------ T4
    def test_T4_online_within_1s_with_connected_at_and_no_disconnected_at(self):
        exe = self.gw.create_executor("alice")
        ws = uid("ws")
        self.gw.bind(ws, exe)
        self.assertIs(self.gw.get_executor(exe)["is_online"], False)
        ex = self.track(connect_executor(self.gw, exe))
        t0 = time.monotonic()
        e = wait_online(self.gw, exe, True, timeout=1.0)
        self.assertLess(time.monotonic() - t0, 1.0 + 0.1)
        self.assertRegex(e.get("connected_at", ""), RFC3339_MS_RE, repr(e))
        self.assertIsNone(e.get("disconnected_at"), repr(e))
        [b] = self.gw.list_bindings(ws)
        self.assertIs(b["is_online"], True, repr(b))
        self.assertIsNone(b.get("disconnected_at"), repr(b))

        # after a disconnect (E4) a new connection clears disconnected_at again
        ex.close()
        off = wait_online(self.gw, exe, False, timeout=1.0)
        self.assertRegex(off.get("disconnected_at", ""), RFC3339_MS_RE, repr(off))
        time.sleep(0.01)
        ex2 = self.track(connect_executor(self.gw, exe))
        e2 = wait_online(self.gw, exe, True, timeout=1.0)
        self.assertIsNone(e2.get("disconnected_at"), "reconnect kept disconnected_at: %r" % e2)
        self.assertRegex(e2.get("connected_at", ""), RFC3339_MS_RE)
        self.assertGreaterEqual(e2["connected_at"], e["connected_at"])
        self.assertTrue(ex2.is_open)

    # ------------------------------------------------------------------ T5
    def test_T5_bad_frames_from_relay_executor_are_dropped_counted_socket_stays_open(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        b, sid = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(b)
        body = b"\x18\x01\x22\x07" + b'{"x":1}'
        bad = [
            ("text", None, '{"id":1,"result":{}}'),
            ("truncated varint", b"\xff\xff\xff", None),
            ("wire type 3", b"\x08\x01\x0b", None),
            ("truncated length", b"\x08\x01\x12\x40" + sid.encode(), None),
            ("version 2", relay_frame(sid, 5, body, version=2), None),
            ("version absent (0)", relay_frame(sid, 5, body, version=0), None),
            ("empty stream_id", relay_frame(b"", 5, body), None),
        ]
        before = metrics(self.gw)
        for what, binary, text in bad:
            if text is not None:
                ex.send_text(text)
            else:
                ex.send_binary(binary)
        # nothing reaches the bridge, and the executor socket is not closed
        b.expect_silence(0.4, what="dropped executor frames")
        self.assertEqual(ex.drain(0.1), [], "executor got something back")
        self.assertTrue(ex.is_open, "executor socket closed after bad frames")
        after = metrics(self.gw)
        self.assertEqual(metric_delta(before, after, "cxg_frames_dropped_total"), len(bad),
                         "cxg_frames_dropped_total must count each dropped frame once: %r" %
                         {k: v for k, v in after.items() if k[0] == "cxg_frames_dropped_total"})
        self.assertEqual(metric_delta(before, after, "cxg_frames_total", direction="to_bridge"), 0)
        # still serving: the same stream and a new one work
        self.assertRoundTrip(ex, b, sid)
        b2, sid2 = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(b2)
        self.assertRoundTrip(ex, b2, sid2)
        self.assertIs(self.gw.get_executor(exe)["is_online"], True)

    # ------------------------------------------------------------------ T6
    def test_T6_permessage_deflate_offered_on_executor_and_bridge_is_not_accepted(self):
        exe = self.gw.create_executor("alice")
        ws = uid("ws")
        self.gw.bind(ws, exe)
        ex = self.track(connect_executor(self.gw, exe, offer_deflate=True))
        self.assertNotIn("sec-websocket-extensions", ex.headers, repr(ex.headers))
        wait_online(self.gw, exe)
        b = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws), offer_deflate=True))
        self.assertIsInstance(b, Conn, repr(b))
        self.assertNotIn("sec-websocket-extensions", b.headers, repr(b.headers))
        sid = uid("st")
        b.send_binary(resume_frame(sid))
        self.assertEqual(ex.get_binary(), resume_frame(sid))
        big = '{"id":1,"result":{"pad":"%s"}}' % ("z" * 5000)  # compressible
        ex.send_binary(data_frame(sid, big))
        self.assertEqual(b.get_binary(), data_frame(sid, big))
        self.assertTrue(all(rsv == 0 for _, _, _, rsv, _ in b.frames), b.frames)
        self.assertTrue(all(rsv == 0 for _, _, _, rsv, _ in ex.frames), ex.frames)
        self.assertTrue(all(not masked for *_, masked in b.frames + ex.frames), "server frames masked")

    def test_T6_websockets_client_negotiates_no_extension(self):
        exe = self.gw.create_executor("alice")
        ws = uid("ws")
        self.gw.bind(ws, exe)
        url = register_url(self.gw, exe)
        cap = cap_for(self.gw, ws)

        async def run():
            # compression defaults to "deflate": the client offers permessage-deflate
            async with websockets.connect(url, max_size=None) as ex:
                ex_ext = (list(ex.extensions), ex.response_headers.get("Sec-WebSocket-Extensions"))
                for _ in range(100):
                    if self.gw.get_executor(exe)["is_online"]:
                        break
                    await asyncio.sleep(0.02)
                async with websockets.connect("ws://%s:%d/bridge/%s?token=%s"
                                              % (self.gw.host, self.gw.port, exe, cap),
                                              max_size=None) as br:
                    br_ext = (list(br.extensions), br.response_headers.get("Sec-WebSocket-Extensions"))
            return ex_ext, br_ext
        ex_ext, br_ext = asyncio.run(asyncio.wait_for(run(), 15))
        self.assertEqual(ex_ext, ([], None))
        self.assertEqual(br_ext, ([], None))


class KeepaliveTests(RelayTestCase, GatewayTestCase):
    GATEWAY_ENV = {"CXG_PING_INTERVAL": "1s", "CXG_IDLE_TIMEOUT": "3s"}

    def test_T7_cxg_pings_both_sockets_answers_our_pings_and_keeps_responsive_peers(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        b, sid = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(b)
        t0 = time.monotonic()
        # our Pings are answered with a Pong carrying the same payload
        for c, payload in ((ex, b"exe-ping-1"), (b, b"bridge-ping-1")):
            c.send_ping(payload)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and not (ex.pongs and b.pongs):
            time.sleep(0.01)
        self.assertEqual([p for _, p in ex.pongs], [b"exe-ping-1"], "executor socket: no Pong")
        self.assertEqual([p for _, p in b.pongs], [b"bridge-ping-1"], "bridge socket: no Pong")
        # peers that answer Pings (and send nothing else) outlive CXG_IDLE_TIMEOUT
        time.sleep(max(0, t0 + 4.6 - time.monotonic()))
        self.assertTrue(ex.is_open and b.is_open, "responsive peers closed: %r %r"
                        % (ex.closed_by_peer, b.closed_by_peer))
        for c in (ex, b):
            self.assertGreaterEqual(len(c.pings), 3, "%s got %d pings in 4.6s at 1s interval"
                                    % (c.name, len(c.pings)))
            gaps = [y - x for x, y in zip(c.pings, c.pings[1:])]
            self.assertTrue(all(0.5 < g < 2.0 for g in gaps), "%s ping gaps %r" % (c.name, gaps))
        self.assertRoundTrip(ex, b, sid)

    def _silent_executor(self, reading):
        exe = self.gw.create_executor("alice")
        ws = uid("ws")
        self.gw.bind(ws, exe)
        ex = self.track(connect_executor(self.gw, exe, reader=False))
        ex.auto_pong = False
        if reading:
            ex.start()
        t0 = time.monotonic()
        wait_online(self.gw, exe)
        b, sid = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws), check=reading)
        self.track(b)
        return exe, ex, b, sid, t0

    def test_T7_executor_that_stops_answering_is_closed_4000_then_offline_and_bridges_4100(self):
        exe, ex, b, sid, t0 = self._silent_executor(reading=True)
        code, reason, skipped = ex.expect_close(timeout=8)
        elapsed = time.monotonic() - t0
        self.assertEqual((code, reason), (4000, "keepalive timeout"))
        self.assertEqual(skipped, [])
        self.assertGreater(elapsed, 2.5, "closed before CXG_IDLE_TIMEOUT (3s)")
        self.assertLess(elapsed, 3 + 1 + 1.5, "closed long after CXG_IDLE_TIMEOUT + ping interval")
        self.assertGreaterEqual(len(ex.pings), 2, "no pings before the keepalive close")
        # our close reply completes the handshake: the socket ends, and then (S5, E4)
        self.assertTrue(ex.wait_eof(6), "executor TCP connection not ended after the close handshake")
        t_end = time.monotonic()
        code, reason, _ = b.expect_close(timeout=8)
        late = time.monotonic() - t_end
        self.assertEqual((code, reason), (4100, "executor disconnected"))
        self.assertLess(late, 1.0, "bridge got 4100 %.1fs after the executor socket ended (S5)" % late)
        wait_online(self.gw, exe, False, timeout=max(0.05, 1.0 - (time.monotonic() - t_end)))

    def test_T7_executor_that_stops_reading_gets_4000_keepalive_timeout(self):
        exe, ex, b, sid, t0 = self._silent_executor(reading=False)
        code, reason, _ = b.expect_close(timeout=12)
        self.assertEqual((code, reason), (4100, "executor disconnected"))
        self.assertGreater(time.monotonic() - t0, 2.5, "closed before CXG_IDLE_TIMEOUT (3s)")
        # what the silent executor had been sent: Pings, the Resume, then the 4000 close
        ex.start()
        code, reason, skipped = ex.expect_close(timeout=3)
        self.assertEqual((code, reason), (4000, "keepalive timeout"))
        self.assertEqual([m.data for m in skipped], [resume_frame(sid)])
        self.assertGreaterEqual(len(ex.pings), 2)
        wait_online(self.gw, exe, False, timeout=2)

    def _silent_bridge(self, reading):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        b = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws), reader=False))
        b.auto_pong = False
        if reading:
            b.start()
        sid = uid("st")
        b.send_binary(resume_frame(sid))
        t0 = time.monotonic()
        self.assertEqual(ex.get_binary(), resume_frame(sid))
        return ex, b, sid, t0

    def test_T7_S2_bridge_that_stops_reading_is_reset_within_idle_timeout(self):
        ex, b, sid, t0 = self._silent_bridge(reading=False)
        got = ex.get_binary(timeout=12)
        elapsed = time.monotonic() - t0
        self.assertEqual(parse_frame(got), {"version": 1, "stream_id": sid, "body": "reset",
                                            "reason": "harness_disconnected"})
        self.assertGreater(elapsed, 2.5, "reset before CXG_IDLE_TIMEOUT (3s)")
        self.assertLess(elapsed, 3 + 1 + 1.5, "S2: stream reset %.1fs after the bridge went silent; "
                        "expected within CXG_IDLE_TIMEOUT (3s) + ping interval (1s)" % elapsed)
        ex.expect_silence(0.3, what="a second Reset")
        b.start()
        code, reason, _ = b.expect_close(timeout=3)
        self.assertEqual((code, reason), (4000, "keepalive timeout"))
        self.assertTrue(ex.is_open)

    def test_T7_S2_bridge_that_stops_answering_is_closed_4000_and_reset(self):
        ex, b, sid, t0 = self._silent_bridge(reading=True)
        code, reason, skipped = b.expect_close(timeout=8)
        elapsed = time.monotonic() - t0
        self.assertEqual((code, reason), (4000, "keepalive timeout"))
        self.assertGreater(elapsed, 2.5)
        self.assertLess(elapsed, 3 + 1 + 1.5)
        self.assertTrue(b.wait_eof(6), "bridge TCP connection not ended after the close handshake")
        t_end = time.monotonic()
        got = ex.get_binary(timeout=8)
        late = time.monotonic() - t_end
        self.assertEqual(parse_frame(got), {"version": 1, "stream_id": sid, "body": "reset",
                                            "reason": "harness_disconnected"})
        self.assertLess(late, 1.0, "S2: Reset sent %.1fs after the bridge socket had ended "
                        "(%.1fs after it went silent)" % (late, time.monotonic() - t0))
        ex.expect_silence(0.3, what="a second Reset")


if __name__ == "__main__":
    unittest.main()
