"""Fault injection on the relay peers (issue 5 item 3; behaviour.md S1, S2, S5, E4).

test_relay_streams.py (S1, S5) and test_relay_eviction.py (E4) already end idle executor and
bridge sockets with a close frame, a FIN or a RST.  This module fills the gaps:
  - an executor *process* SIGKILLed while its bridges are busy round-tripping, and one that
    dies half-way through writing a frame: every bridge gets `4100 executor disconnected`
    promptly, nothing hangs, the gauges return to zero, and the executor can reconnect;
  - a bridge that dies half-way through writing a frame while its stream is busy: the
    executor gets exactly one `Reset{harness_disconnected}` for it and the other stream on
    the same executor is unaffected."""

import os
import signal
import subprocess
import sys
import time
import unittest
import urllib.parse

from cxg_harness import GatewayTestCase, wait_until
from faults_helpers import EchoExecutor, RoundTripper, report
from relay_helpers import (RelayTestCase, cap_for, connect_executor, data_frame, metric_sum, metrics,
                           online_executor, register_url, relay_bridge, wait_online)

HERE = os.path.dirname(os.path.abspath(__file__))

# A scripted executor in its own process: connects to the ticket URL and echoes every Data
# frame, so that it can be SIGKILLed like a real one.
ECHO_EXECUTOR = """
import sys, time
sys.path.insert(0, %r)
from relay_helpers import connect
from faults_helpers import EchoExecutor
class G: pass
g = G(); g.host, g.port = sys.argv[1], int(sys.argv[2])
c = connect(g, sys.argv[3], name="subprocess-executor")
if not hasattr(c, "sock"):
    print("refused %%r" %% (c,), flush=True); sys.exit(1)
e = EchoExecutor(c); e.start()
print("connected", flush=True)
while True:
    time.sleep(1)
""" % HERE


def masked_partial_frame(declared, sent):
    """The start of a masked binary websocket frame announcing `declared` payload bytes, of
    which only `sent` follow."""
    if declared < 126:
        head = bytes([0x82, 0x80 | declared])
    elif declared < 65536:
        head = bytes([0x82, 0x80 | 126]) + declared.to_bytes(2, "big")
    else:
        head = bytes([0x82, 0x80 | 127]) + declared.to_bytes(8, "big")
    return head + os.urandom(4) + os.urandom(sent)


def gauge_total(gw, name):
    return metric_sum(metrics(gw), name)


class PeerDeathTests(RelayTestCase, GatewayTestCase):

    def spawn_executor(self, exe):
        url = urllib.parse.urlsplit(register_url(self.gw, exe))
        path = url.path + "?" + url.query
        p = subprocess.Popen([sys.executable, "-c", ECHO_EXECUTOR, self.gw.host, str(self.gw.port), path],
                             stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (p.kill(), p.wait(), p.stdout.close()))
        self.assertEqual(p.stdout.readline().strip(), "connected")
        wait_online(self.gw, exe, True, timeout=5)
        return p

    def test_executor_process_sigkilled_mid_stream_every_bridge_gets_4100(self):
        gw = self.gw
        exe = gw.create_executor("alice")
        ws = "ws-" + exe
        gw.bind(ws, exe)
        proc = self.spawn_executor(exe)
        # The executor runs in another process: RoundTripper does not check the Resume there
        # (check=False), its first echoed round trips prove the streams instead.
        rts = [RoundTripper(gw, None, exe, cap_for(gw, ws), interval=0, name="busy-%d" % i) for i in range(4)]
        for rt in rts:
            self.track(rt.bridge)
            rt.start()
        self.assertTrue(wait_until(lambda: all(rt.sent >= 20 for rt in rts), 20), "streams never got busy")
        sent_at_kill = sum(rt.sent for rt in rts)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        closes = []
        for rt in rts:
            rt.stop()
            # The round-tripping thread consumes the close message; the Conn keeps it.
            wait_until(lambda: rt.bridge.closed_by_peer is not None or rt.bridge.eof.is_set(), 10)
            m = rt.bridge.closed_by_peer
            closes.append((m.close_code, m.close_reason) if m else "no close frame")
        took = time.monotonic() - t0
        for rt in rts:
            rt.join(35)
        report("executor process SIGKILLed after %d round trips on 4 busy streams: all bridges closed in %.2fs"
               % (sent_at_kill, took))
        self.assertEqual(closes, [(4100, "executor disconnected")] * 4)
        wait_online(gw, exe, False, timeout=5)
        self.assertTrue(wait_until(lambda: gauge_total(gw, "cxg_streams_active") == 0
                                   and gauge_total(gw, "cxg_bridges_active") == 0, 5),
                        "gauges did not return to zero")
        # The executor comes back and serves a new bridge.
        ex = self.track(connect_executor(gw, exe))
        wait_online(gw, exe, True, timeout=5)
        b, sid = relay_bridge(gw, ex, exe, cap_for(gw, ws))
        self.track(b)
        self.assertRoundTrip(ex, b, sid)

    def test_executor_dying_half_way_through_a_frame_closes_its_bridges_4100(self):
        gw = self.gw
        exe, ws, ex = online_executor(gw)
        self.track(ex)
        bridges = [relay_bridge(gw, ex, exe, cap_for(gw, ws))[0] for _ in range(3)]
        for b in bridges:
            self.track(b)
        # A binary frame header announcing 1 MiB, 100 bytes of it, then the connection is lost.
        ex.send_raw(masked_partial_frame(1 << 20, 100))
        ex.abort()
        t0 = time.monotonic()
        for b in bridges:
            self.assertClose(b, 4100, "executor disconnected", timeout=10)
        report("executor lost half-way through a frame: bridges closed in %.2fs" % (time.monotonic() - t0))
        wait_online(gw, exe, False, timeout=5)

    def test_bridge_dying_half_way_through_a_frame_resets_only_its_stream(self):
        gw = self.gw
        exe, ws, ex = online_executor(gw)
        self.track(ex)
        dying, dying_sid = relay_bridge(gw, ex, exe, cap_for(gw, ws), name="dying")
        self.track(dying)
        echo = EchoExecutor(ex)
        keeper = RoundTripper(gw, ex, exe, cap_for(gw, ws), interval=0.01, name="keeper")
        self.track(keeper.bridge)
        echo.start()
        keeper.start()
        self.assertTrue(wait_until(lambda: keeper.sent >= 20, 20))
        # Busy on the dying stream as well, then half a frame and the connection is gone.
        for i in range(50):
            dying.send_binary(data_frame(dying_sid, b'{"id":%d,"method":"x","params":{}}' % i, i))
        dying.send_raw(masked_partial_frame(4096, 100))
        dying.abort()
        time.sleep(1.0)
        keeper.stop()
        keeper.join(35)
        echo.stop()
        echo.join(5)
        self.assertEqual(keeper.errors, [], "the other stream broke")
        self.assertTrue(keeper.bridge.is_open)
        self.assertTrue(ex.is_open, "the executor socket was closed")
        self.assertEqual(echo.resets, [(dying_sid, "harness_disconnected")])


if __name__ == "__main__":
    unittest.main()
