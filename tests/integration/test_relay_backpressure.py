"""Backpressure with real TCP stalls: slow bridge (L1), slow executor (L2), bridge write
timeout (L6).  A peer that "stops reading" is a raw socket with a small SO_RCVBUF, set
before connect(), that the test simply does not read from."""

import threading
import time
import unittest

from cxg_harness import GatewayTestCase, uid
from relay_helpers import (OP_BINARY, RelayTestCase, cap_for, data_frame, kernel_bytes_between,
                           metric_delta, metrics, online_executor, open_bridge, parse_frame,
                           relay_bridge, resets_in, resume_frame, connect_executor, wait_online,
                           ws_frame, ws_wire_size, debug)

KiB = 1 << 10
MiB = 1 << 20


def pad_payload(size, tag="A"):
    head = '{"tag":"%s","pad":"' % tag
    return head + "a" * (size - len(head) - 2) + '"}'


class SlowBridgeTests(RelayTestCase, GatewayTestCase):
    GATEWAY_ENV = {"CXG_BRIDGE_QUEUE_BYTES": "1MiB"}

    def test_L1_stalled_bridge_gets_4106_executor_gets_bridge_overflow_other_stream_unaffected(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        a = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws), reader=False, rcvbuf=4096, name="A"))
        sa = uid("st")
        a.send_binary(resume_frame(sa))
        self.assertEqual(ex.get_binary(), resume_frame(sa))
        b, sb = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws), name="B")
        self.track(b)
        before = metrics(self.gw)

        a_payload = data_frame(sa, pad_payload(64 * KiB))
        a_wire = ws_frame(OP_BINARY, a_payload)  # masked once, sent 1600 times: 100 MiB
        n_a, every = 1600, 16
        sent_b = {}
        t_start = time.monotonic()
        for i in range(n_a):
            ex.send_raw(a_wire)
            if i % every == every - 1:
                k = i // every
                f = data_frame(sb, '{"id":%d,"result":{}}' % k, k)
                sent_b[k] = (time.monotonic(), f)
                ex.send_binary(f)
        send_secs = time.monotonic() - t_start

        # every B frame arrived, in order, each within 100 ms of being sent
        lat = []
        for k in range(len(sent_b)):
            m = b.get_data(timeout=5)
            self.assertEqual(m.data, sent_b[k][1], "B frame %d" % k)
            lat.append(m.t - sent_b[k][0])
        debug("L1: sent 100 MiB in %.2fs, max B latency %.4fs" % (send_secs, max(lat)))
        self.assertLess(max(lat), 0.100, "B frame latencies while A was stalled (max %.3fs, sent 100 MiB in "
                        "%.1fs): %r" % (max(lat), send_secs, [round(x, 3) for x in lat if x >= 0.1][:10]))
        # the executor is told once that A overflowed
        self.assertEqual(resets_in(ex.drain(1.0)), [(sa, "bridge_overflow")])
        after = metrics(self.gw)
        self.assertEqual(metric_delta(before, after, "cxg_slow_consumer_closes_total"), 1)
        # A: what fitted before the overflow, then 4106
        a.start()
        code, reason, skipped = a.expect_close(timeout=10)
        self.assertEqual((code, reason), (4106, "slow consumer"))
        self.assertTrue(all(m.data == a_payload for m in skipped), "A got something other than its frames")
        got_bytes = sum(len(m.data) for m in skipped)
        debug("L1: A received %d bytes before 4106" % got_bytes)
        self.assertLess(got_bytes, 16 * MiB, "A's queue was not bounded: %d bytes reached it" % got_bytes)
        # B is still fine, and the executor socket too
        self.assertTrue(b.is_open and ex.is_open)
        self.assertRoundTrip(ex, b, sb)


class SlowExecutorTests(RelayTestCase, GatewayTestCase):
    GATEWAY_ENV = {"CXG_STREAM_INFLIGHT_BYTES": "256KiB"}
    INFLIGHT = 256 * KiB

    def test_L2_flooding_bridge_is_paused_and_other_stream_gets_through_with_bounded_data_ahead(self):
        exe = self.gw.create_executor("alice")
        ws = uid("ws")
        self.gw.bind(ws, exe)
        ex = self.track(connect_executor(self.gw, exe, reader=False, rcvbuf=4096))
        wait_online(self.gw, exe)
        a, sa = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws), name="A", check=False)
        b, sb = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws), name="B", check=False)
        self.track(a), self.track(b)
        msg_a = [data_frame(sa, pad_payload(64 * KiB), i) for i in range(4)]
        max_a = max(len(m) for m in msg_a)
        sent = [0]
        stop = threading.Event()
        cap = 64 * MiB

        def flood():
            i = 0
            try:
                while not stop.is_set() and sent[0] < cap:
                    a.send_binary(msg_a[i % 4])
                    sent[0] += len(msg_a[i % 4])
                    i += 1
            except OSError:
                pass
        t = threading.Thread(target=flood, daemon=True)
        t.start()
        # wait until A's sender is blocked by TCP backpressure
        last, deadline = -1, time.monotonic() + 15
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if sent[0] == last:
                break
            last = sent[0]
        self.assertLess(sent[0], cap, "the gateway kept reading A although the executor reads nothing")
        kernel = kernel_bytes_between(self.gw, ex)
        mb = data_frame(sb, '{"id":"from-B","method":"m","params":{}}')
        t_b = time.monotonic()
        b.send_binary(mb)  # B is not paused by A
        self.assertLess(time.monotonic() - t_b, 1.0)
        stop.set()

        ex.start()
        ahead_wire, ahead_a = 0, 0
        deadline = time.monotonic() + 20
        while True:
            m = ex.get_binary(timeout=max(0.1, deadline - time.monotonic()))
            if m == mb:
                break
            ahead_wire += ws_wire_size(len(m))
            f = parse_frame(m)
            if f["stream_id"] == sa and f["body"] == "data":
                ahead_a += len(m)
        # what the gateway itself held for A when B's message came is what arrived before B
        # minus what already sat in the kernel socket buffers at that moment
        held = ahead_wire - kernel
        debug("L2: A sent %d before stalling; ahead of B %d wire bytes, kernel %d, held %d"
              % (sent[0], ahead_wire, kernel, held))
        self.assertLessEqual(held, self.INFLIGHT + ws_wire_size(max_a) + 4 * KiB,
                             "A data ahead of B: %d bytes in total, %d of them in kernel buffers; the "
                             "gateway held %d > CXG_STREAM_INFLIGHT_BYTES (%d) + one message"
                             % (ahead_wire, kernel, held, self.INFLIGHT))
        t.join(10)
        self.assertTrue(a.is_open and b.is_open)


class WriteTimeoutTests(RelayTestCase, GatewayTestCase):
    # the queue cap is far above what is sent, so only the write deadline can act
    GATEWAY_ENV = {"CXG_WRITE_TIMEOUT": "2s", "CXG_BRIDGE_QUEUE_BYTES": "256MiB"}

    def test_L6_bridge_write_stuck_past_write_timeout_is_closed_others_unaffected(self):
        exe, ws, ex = online_executor(self.gw)
        self.track(ex)
        a = self.track(open_bridge(self.gw, exe, cap_for(self.gw, ws), reader=False, rcvbuf=4096, name="A"))
        sa = uid("st")
        a.send_binary(resume_frame(sa))
        self.assertEqual(ex.get_binary(), resume_frame(sa))
        b, sb = relay_bridge(self.gw, ex, exe, cap_for(self.gw, ws), name="B")
        self.track(b)

        total_a = 12 * MiB
        a_wire = ws_frame(OP_BINARY, data_frame(sa, pad_payload(256 * KiB)))
        t0 = time.monotonic()
        for _ in range(total_a // (256 * KiB)):
            ex.send_raw(a_wire)
        # B keeps flowing for 4 s while A's writes are stuck
        sent_b, k = [], 0
        reset_at = None
        resets = []
        while time.monotonic() - t0 < 4.0:
            f = data_frame(sb, '{"id":%d,"result":{}}' % k, k)
            sent_b.append((time.monotonic(), f))
            ex.send_binary(f)
            k += 1
            for m in ex.drain(0.1):
                r = resets_in([m])
                if r:
                    resets += r
                    reset_at = reset_at or (m.t - t0)
        resets += resets_in(ex.drain(0.3))
        lat = []
        for ts, f in sent_b:
            m = b.get_data(timeout=5)
            self.assertEqual(m.data, f)
            lat.append(m.t - ts)
        self.assertLess(max(lat), 0.100, "B latencies: %r" % [round(x, 3) for x in lat])
        debug("L6: reset at %r, max B latency %.4f" % (reset_at, max(lat)))
        self.assertEqual(len(resets), 1, resets)
        self.assertEqual(resets[0][0], sa)
        self.assertIn(resets[0][1], ("bridge_overflow", "harness_disconnected"))
        self.assertIsNotNone(reset_at)
        self.assertGreater(reset_at, 1.5, "A closed before CXG_WRITE_TIMEOUT (2s)")
        self.assertLess(reset_at, 2.0 + 1.5, "A closed %.1fs after its writes stalled, CXG_WRITE_TIMEOUT is 2s"
                        % reset_at)
        # A's connection is gone: reading it ends (EOF, or a 4106 close) long before 12 MiB
        a.start()
        self.assertTrue(a.wait_eof(5), "A's connection was not closed")
        if a.closed_by_peer is not None:
            self.assertEqual(a.closed_by_peer.close_code, 4106)
        got = sum(len(m.data) for m in a.drain(0.0) if m.op == OP_BINARY)
        self.assertLess(got, total_a)
        self.assertTrue(ex.is_open and b.is_open)
        self.assertRoundTrip(ex, b, sb)


if __name__ == "__main__":
    unittest.main()
