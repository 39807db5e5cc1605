"""Bad input at the HTTP and websocket framing level that the existing tests do not send
(issue 5 item 3 "oversized frames and bodies"; behaviour.md Z1, L3, L4, T7; http-api.md §1).

test_limits.py covers 431 for big headers, 413 for big and chunked bodies; test_relay_limits.py
covers websocket messages over the caps.  Added here:
  - a Content-Length of 10^12 (413 at once, without waiting for a body), a request-target
    over 16 KiB (431), 3000 header lines (431), request smuggling shapes (Content-Length with
    Transfer-Encoding, two Content-Lengths), a bad chunk size, HTTP/0.9, a TLS ClientHello and
    binary garbage on the plain listener (400 `bad request`);
  - a websocket frame header announcing 2^62 payload bytes followed by silence, from a bridge
    and from an executor: the connection is held only until CXG_IDLE_TIMEOUT, and nothing else
    is affected.  (Bytes that do arrive count as activity, even a Pong the peer sends inside
    the frame, which can only be read as payload; such a peer is bounded by the message cap,
    CXG_MAX_BRIDGE_MESSAGE_BYTES / CXG_MAX_EXECUTOR_MESSAGE_BYTES, as test_relay_limits covers.)
Each case checks that the gateway goes on serving."""

import socket
import time
import unittest

from cxg_harness import ALICE_TOKEN, GatewayTestCase
from faults_helpers import report
from relay_helpers import (RelayTestCase, cap_for, connect_executor, online_executor, relay_bridge, resets_in,
                           wait_online)

HUGE = 1 << 62


def exchange(gw, data, timeout=10):
    """Sends raw bytes; returns (status, content type, body) of the answer and whether the
    gateway closed the connection after it."""
    s = socket.create_connection((gw.host, gw.port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict((k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:]))
    return int(lines[0].split(" ")[1]), headers.get("content-type", ""), body


def announce(declared):
    """A masked binary frame header announcing `declared` bytes, its mask key, 10 bytes."""
    return bytes([0x82, 0x80 | 127]) + declared.to_bytes(8, "big") + b"\x01\x02\x03\x04" + b"x" * 10


class MalformedHttpTests(GatewayTestCase):
    GATEWAY_ENV = {"CXG_LOG_LEVEL": "info"}

    def assertServing(self):
        self.assertEqual(self.gw.request("GET", "/healthz").status, 200)

    def test_huge_content_length_gets_413_at_once(self):
        exe = self.gw.create_executor("alice")
        req = (b"POST /cloud/executor/%s/register HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               b"Content-Length: 1000000000000\r\n\r\n{" % (exe.encode(), ALICE_TOKEN.encode()))
        t0 = time.monotonic()
        status, ctype, body = exchange(self.gw, req)
        self.assertEqual((status, body), (413, b'{"error":{"code":"body_too_large","message":"request body over 64 KiB"}}'))
        self.assertLess(time.monotonic() - t0, 5, "413 must not wait for the announced body")
        self.assertNotIn("last_seen_at", self.gw.get_executor(exe))
        self.assertServing()

    def test_oversized_request_line_and_header_count_get_431(self):
        for what, req in [("20 KiB request-target", b"GET /healthz?" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
                          ("3000 header lines", b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"a: b\r\n" * 3000 + b"\r\n")]:
            with self.subTest(what):
                status, ctype, body = exchange(self.gw, req)
                self.assertEqual((status, body), (431, b"request header fields too large\n"))
                self.assertTrue(ctype.startswith("text/plain"), ctype)
        self.assertServing()

    def test_malformed_framing_gets_400_bad_request_and_changes_nothing(self):
        secret = self.gw.shared_secret.encode()
        revoke = b"POST /api/exec-gateway/revoke-turn HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + secret + b"\r\n"
        cases = {
            "Content-Length with Transfer-Encoding": revoke + b"Content-Length: 22\r\nTransfer-Encoding: chunked\r\n\r\n"
                                                     b"0\r\n\r\n{\"turn_id\":\"smuggled\"}",
            "two Content-Lengths": revoke + b"Content-Length: 22\r\nContent-Length: 23\r\n\r\n{\"turn_id\":\"smuggled\"} ",
            "bad chunk size": revoke + b"Transfer-Encoding: chunked\r\n\r\nzzzz\r\n{\"turn_id\":\"smuggled\"}\r\n0\r\n\r\n",
            "HTTP/0.9 request": b"GET /healthz\r\n\r\n",
            "TLS ClientHello on the plain listener": bytes.fromhex("16030100a5010000a10303") + b"\0" * 40,
            "binary garbage": b"\x00\xff\x13\x37" * 100 + b"\r\n\r\n",
        }
        for what, req in cases.items():
            with self.subTest(what):
                status, ctype, body = exchange(self.gw, req)
                self.assertEqual((status, body), (400, b"bad request\n"))
        self.assertEqual(self.gw.db_query("SELECT count(*) FROM turn_revocations WHERE turn_id='smuggled'"), [(0,)])
        self.assertServing()


class AnnouncedGiantFrameTests(RelayTestCase, GatewayTestCase):
    GATEWAY_ENV = {"CXG_PING_INTERVAL": "1s", "CXG_IDLE_TIMEOUT": "3s", "CXG_LOG_LEVEL": "info"}

    def test_bridge_announcing_a_giant_frame_then_silent_is_closed_by_the_idle_timeout(self):
        gw = self.gw
        exe, ws, ex = online_executor(gw)
        self.track(ex)
        stuck, stuck_sid = relay_bridge(gw, ex, exe, cap_for(gw, ws), name="stuck")
        other, other_sid = relay_bridge(gw, ex, exe, cap_for(gw, ws), name="other")
        self.track(stuck), self.track(other)
        t0 = time.monotonic()
        stuck.auto_pong = False  # truly silent: a Pong would only be read as payload bytes
        stuck.send_raw(announce(HUGE))
        code, reason, _ = stuck.expect_close(3 + 1 + 15)
        took = time.monotonic() - t0
        report("bridge frame header announcing 2^62 bytes, then silence: closed %s %r after %.1fs" % (code, reason, took))
        self.assertEqual((code, reason), (4000, "keepalive timeout"))
        # The executor learns of the stuck stream's end (S2), and only of that one.
        self.assertEqual(resets_in(ex.drain(1.0)), [(stuck_sid, "harness_disconnected")])
        self.assertRoundTrip(ex, other, other_sid)
        self.assertTrue(ex.is_open)

    def test_executor_announcing_a_giant_frame_then_silent_is_closed_and_can_reconnect(self):
        gw = self.gw
        exe, ws, ex = online_executor(gw)
        self.track(ex)
        b, sid = relay_bridge(gw, ex, exe, cap_for(gw, ws))
        self.track(b)
        t0 = time.monotonic()
        ex.auto_pong = False  # truly silent: a Pong would only be read as payload bytes
        ex.send_raw(announce(HUGE))
        self.assertClose(b, 4100, "executor disconnected", timeout=3 + 1 + 15)
        report("executor frame header announcing 2^62 bytes, then silence: bridges closed 4100 after %.1fs"
               % (time.monotonic() - t0))
        wait_online(gw, exe, False, timeout=5)
        ex2 = self.track(connect_executor(gw, exe))
        wait_online(gw, exe, True, timeout=5)
        b2, sid2 = relay_bridge(gw, ex2, exe, cap_for(gw, ws))
        self.track(b2)
        self.assertRoundTrip(ex2, b2, sid2)


if __name__ == "__main__":
    unittest.main()
