"""Bridge admission seen from the executor (B9/G5, B11) and first-frame rules (F1-F5)."""

import time
import unittest

from cxg_harness import GatewayTestCase, make_cap, pb_varint, relay_frame, uid
from relay_helpers import (UUID4_RE, Conn, RelayTestCase, cap_for, data_frame, metric_delta,
                           metrics, online_executor, open_bridge, parse_frame, plain_bridge,
                           relay_bridge, relay_heartbeat, relay_reset, resume_frame)

INIT = '{"id":1,"method":"initialize","params":{"clientName":"t"}}'


class AdmissionTests(RelayTestCase, GatewayTestCase):

    # ------------------------------------------------------------------ B9 / G5
    def test_B9_G5_legacy_second_bridge_gets_409_and_first_is_untouched(self):
        exe, ws, ex = online_executor(self.gw, legacy=True)
        self.track(ex)
        b1 = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws)))
        b1.send_text(INIT)
        self.assertEqual(ex.get_text(), INIT)
        for cap in (cap_for(self.gw, ws), cap_for(self.gw, ws, turn=uid("trn"))):
            r = open_bridge(self.gw, exe, cap)
            self.track(r)
            self.assertPlain(r, 409, "executor busy")
        ex.expect_silence(0.3, what="traffic from a refused bridge")
        # the first bridge still works both ways
        b1.send_text('{"id":2,"method":"x"}')
        self.assertEqual(ex.get_text(), '{"id":2,"method":"x"}')
        ex.send_text('{"id":2,"result":{}}')
        self.assertEqual(b1.get_text(), '{"id":2,"result":{}}')
        self.assertTrue(ex.is_open and b1.is_open)

    def test_G5_legacy_race_loser_gets_409_or_4108_and_reaches_nothing(self):
        exe, ws, ex = online_executor(self.gw, legacy=True)
        self.track(ex)
        a = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws), name="A"))
        b = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws), name="B"))
        self.assertIsInstance(a, Conn, repr(a))
        a.send_text(INIT)
        self.assertEqual(ex.get_text(), INIT)
        if isinstance(b, Conn):  # both upgraded before either had a stream: B lost the race
            b.send_text('{"id":"from-b","method":"initialize","params":{}}')
            self.assertClose(b, 4108, "executor busy", timeout=3)
        else:
            self.assertPlain(b, 409, "executor busy")
        ex.expect_silence(0.3, what="the losing bridge's message")
        a.send_text('{"id":3,"method":"y"}')
        self.assertEqual(ex.get_text(), '{"id":3,"method":"y"}')
        self.assertTrue(ex.is_open and a.is_open)

    # ------------------------------------------------------------------ B11
    def test_B11_rejected_bridges_send_nothing_and_do_not_touch_other_bridges(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        turn = uid("trn")
        b, sid = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws, turn))
        self.track(b)
        revoked = uid("trn")
        self.assertEqual(self.gw.revoke(revoked).status, 204)
        other_ws = uid("ws")
        rejects = [
            (make_cap("wrong-key-" + "x" * 30, ws), 401, "unauthorized"),
            (make_cap(self.gw.cap_key, ws, exp=int(time.time()) - 10), 401, "token expired"),
            (cap_for(self.gw, ws, revoked), 401, "turn revoked"),
            (cap_for(self.gw, other_ws), 403, "exe_id not in workspace"),
        ]
        for cap, status, msg in rejects:
            r = open_bridge(self.gw, exe, cap)
            self.track(r)
            self.assertPlain(r, status, msg)
        # a bridge to an offline executor of the same workspace
        off = self.gw.create_executor("alice")
        self.gw.bind(ws, off)
        self.assertPlain(open_bridge(self.gw, off, cap_for(self.gw, ws)), 503, "executor not connected")
        # a request without the upgrade
        r = self.gw.request("GET", "/bridge/%s?token=%s" % (exe, cap_for(self.gw, ws)))
        self.assertPlain(r, 426, "websocket upgrade required")
        ex.expect_silence(0.3, what="traffic caused by rejected bridges")
        self.assertTrue(b.is_open)
        b.expect_silence(0.05)
        self.assertRoundTrip(ex, b, sid)

    # ------------------------------------------------------------------ F1
    def test_F1_binary_resume_selects_relay_and_reaches_executor_unchanged(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        cap = cap_for(self.gw, ws)
        sids = [uid("st") for _ in range(4)]
        variants = [
            resume_frame(sids[0]),
            resume_frame(sids[1], next_seq=5),
            # fields out of order, plus traceparent (11) and an unknown field 99
            (b"\x3a\x02\x08\x03" + b"\x12" + pb_varint(len(sids[2])) + sids[2].encode() + b"\x08\x01"
             + b"\x5a\x05" + b"00-ab" + b"\x98\x06\x07"),
            # a 128-byte stream_id is the longest valid one
            resume_frame("r" * 128),
        ]
        for i, first in enumerate(variants):
            with self.subTest(i=i):
                b = self.track(open_bridge(self.gw, exe, cap))
                b.send_binary(first)
                self.assertEqual(ex.get_binary(), first)
                sid = parse_frame(first)["stream_id"]
                # relay flavour: executor frames come back as binary, byte for byte
                self.assertRoundTrip(ex, b, sid)
                b.close()
                self.assertEqual(parse_frame(ex.get_binary()),
                                 {"version": 1, "stream_id": sid, "body": "reset",
                                  "reason": "harness_disconnected"})

    # ------------------------------------------------------------------ F2
    def test_F2_text_first_selects_plain_resume_then_data_seq0_byte_for_byte(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        b = self.track(open_bridge(self.gw, exe, self.gw.mint_cap(ws)))
        text = '{"id":1,"method":"initialize","params":{"clientName":"x","s":"caf\u00e9 \\u00e9"}}'
        b.send_text(text)
        resume = ex.get_binary()
        f = parse_frame(resume)
        self.assertEqual(f["body"], "resume")
        self.assertTrue(f["stream_id"].startswith("cxg-"), f)
        self.assertRegex(f["stream_id"][4:], UUID4_RE)
        sid = f["stream_id"]
        self.assertEqual(resume, b"\x08\x01\x12" + pb_varint(len(sid)) + sid.encode() + b"\x3a\x00")
        self.assertEqual(ex.get_binary(), data_frame(sid, text.encode("utf-8"), 0))
        # another plain bridge gets another stream id
        b2, sid2 = plain_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(b2)
        self.assertNotEqual(sid, sid2)

    # ------------------------------------------------------------------ F3-F5
    def _refused_first(self, first, code, reason, binary=True):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        b = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws)))
        if binary:
            b.send_binary(first)
        else:
            b.send_text(first)
        self.assertClose(b, code, reason, timeout=3)
        ex.expect_silence(0.3, what="anything from a bridge refused at its first frame")
        return exe, ws, ex

    def test_F3_non_resume_binary_first_frame_gets_1002_first_frame_must_be_Resume(self):
        sid = uid("st")
        for first in (data_frame(sid, "{}"), relay_heartbeat(sid), relay_reset(sid, "x"),
                      relay_frame(sid, 6, b"")):
            with self.subTest(body=parse_frame(first)["body"]):
                self._refused_first(first, 1002, "first frame must be Resume")

    def test_F3_unparsable_first_frame_gets_1002_malformed_first_frame(self):
        for first in (b"\xff\xff\xff", b"\x08\x01\x0b", b"\x08\x01\x12\x40abc",
                      b"\x08\x01\x12\x02\xc3\x28\x3a\x00",                 # stream_id not UTF-8
                      b"\x08" + b"\xff" * 10 + b"\x01\x3a\x00"):          # 11-byte varint
            with self.subTest(first=first):
                self._refused_first(first, 1002, "malformed first frame")

    def test_F4_resume_with_empty_stream_id_gets_1002_Resume_missing_stream_id(self):
        self._refused_first(resume_frame(""), 1002, "Resume missing stream_id")
        self._refused_first(b"\x08\x01\x3a\x00", 1002, "Resume missing stream_id")

    def test_F4_invalid_stream_ids_get_1002_invalid_stream_id(self):
        for sid in ("s" * 129, " abc", "abc ", "\tabc", "abc\n"):
            with self.subTest(sid=sid[:10]):
                self._refused_first(resume_frame(sid), 1002, "invalid stream_id")

    def test_F1_F5_refusals_leave_the_executor_serving(self):
        exe, ws, ex = self._refused_first(resume_frame(""), 1002, "Resume missing stream_id")
        b, sid = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws))
        self.track(b)
        self.assertRoundTrip(ex, b, sid)


class FirstFrameTimeoutTests(RelayTestCase, GatewayTestCase):
    GATEWAY_ENV = {"CXG_FIRST_FRAME_TIMEOUT": "1s"}

    def test_F5_silence_gets_1002_first_frame_read_failed_and_executor_receives_nothing(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        before = metrics(self.gw)
        b = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws)))
        t0 = time.monotonic()
        code, reason, skipped = b.expect_close(timeout=5)
        elapsed = time.monotonic() - t0
        self.assertEqual((code, reason, skipped), (1002, "first frame read failed", []))
        self.assertGreater(elapsed, 0.8, "closed before CXG_FIRST_FRAME_TIMEOUT")
        self.assertLess(elapsed, 2.5, "closed long after CXG_FIRST_FRAME_TIMEOUT (1s)")
        ex.expect_silence(0.3, what="anything for a silent bridge")
        after = metrics(self.gw)
        self.assertEqual(metric_delta(before, after, "cxg_frames_total", direction="to_executor"), 0)
        self.assertEqual(metric_delta(before, after, "cxg_streams_active"), 0)

    def test_F5_a_bridge_that_sends_in_time_is_kept(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        b = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws)))
        time.sleep(0.6)
        sid = uid("st")
        b.send_binary(resume_frame(sid))
        self.assertEqual(ex.get_binary(), resume_frame(sid))
        time.sleep(1.2)  # past the first-frame timeout
        self.assertTrue(b.is_open, "bridge closed after a timely first frame: %r" % (b.closed_by_peer,))
        self.assertRoundTrip(ex, b, sid)


if __name__ == "__main__":
    unittest.main()
