"""Fault injection: a flood of websocket upgrades with bad credentials while good bridges
keep relaying (issue 5 item 3; behaviour.md B2, B4, T1; wire-protocol streams).

CXG_FAULT_BAD_WS_ATTEMPTS (default 10 000) upgrade attempts are made from
CXG_FAULT_FLOOD_THREADS (default 64) threads, a mix of
  - /bridge with a cap-token signed by the wrong key  -> 401 `unauthorized`,
  - /bridge with an expired cap-token                 -> 401 `token expired`,
  - /bridge without any credential                    -> 401 `missing Bearer`,
  - /codex-exec with a forged ticket                  -> 401 `unauthorized`.
Every attempt must get exactly its specified rejection.  Meanwhile six relay streams on three
executors do request/echo round trips; none may break or lose, duplicate or reorder a frame,
and their round-trip p50 during the flood must stay under 250 ms (absolute, loose enough for
a loaded 2-core CI machine and sanitizer builds; the measured numbers are printed).  Afterwards
the gateway's descriptor count returns to near its baseline."""

import socket
import threading
import time
import unittest

from cxg_harness import GatewayTestCase, make_cap, mint_ticket, wait_until
from faults_helpers import EchoExecutor, RoundTripper, env_int, fd_count, percentile, report
from relay_helpers import RelayTestCase, cap_for, metric_delta, metrics, online_executor

ATTEMPTS = env_int("CXG_FAULT_BAD_WS_ATTEMPTS", 10000)
THREADS = env_int("CXG_FAULT_FLOOD_THREADS", 64)
P50_BOUND = 0.250


def upgrade_request(path):
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    return ("GET %s HTTP/1.1\r\nHost: cxg\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, key)).encode()


def read_response(sock):
    """(status, body) of one HTTP response with Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the response head: %r" % data)
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return status, body


class BadCredentialFloodTests(RelayTestCase, GatewayTestCase):
    GATEWAY_ENV = {"CXG_LOG_LEVEL": "info"}

    def test_bad_credential_flood_is_rejected_while_good_streams_keep_relaying(self):
        gw = self.gw
        trippers, echoes = [], []
        for _ in range(3):
            exe, ws, ex = online_executor(gw)
            self.track(ex)
            echo = EchoExecutor(ex)
            echo.start()
            echoes.append(echo)
            for _ in range(2):
                rt = RoundTripper(gw, ex, exe, cap_for(gw, ws), interval=0.02, name="good-%d" % len(trippers))
                self.track(rt.bridge)
                trippers.append(rt)
        target_exe, target_ws = exe, ws
        for rt in trippers:
            rt.start()

        time.sleep(3.0)  # baseline
        fds_before = fd_count(gw.proc.pid)
        before = metrics(gw)
        now = int(time.time())
        cases = [
            ("/bridge/%s?token=%s" % (target_exe, make_cap("wrong-key", target_ws)), b"unauthorized\n"),
            ("/bridge/%s?token=%s" % (target_exe, make_cap(gw.cap_key, target_ws, exp=now - 60)), b"token expired\n"),
            ("/bridge/%s" % target_exe, b"missing Bearer\n"),
            ("/codex-exec/%s?token=%s" % (target_exe, mint_ticket("forged-key", target_exe, now + 300)),
             b"unauthorized\n"),
        ]
        requests = [(upgrade_request(p), body) for p, body in cases]
        outcomes = {"ok": 0}
        failures = []
        lock = threading.Lock()
        counter = iter(range(ATTEMPTS))

        def attacker():
            ok = 0
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    break
                req, want = requests[i % len(requests)]
                try:
                    with socket.create_connection((gw.host, gw.port), timeout=30) as s:
                        s.sendall(req)
                        status, body = read_response(s)
                    if (status, body) == (401, want):
                        ok += 1
                        continue
                    got = (status, body[:80])
                except (OSError, ValueError, IndexError) as e:  # no or unparsable answer
                    got = repr(e)
                with lock:
                    failures.append((i, got))
            with lock:
                outcomes["ok"] += ok

        flood_start = time.monotonic()
        attackers = [threading.Thread(target=attacker, daemon=True) for _ in range(THREADS)]
        for t in attackers:
            t.start()
        for t in attackers:
            t.join(600)
        flood_end = time.monotonic()
        time.sleep(1.0)  # a little tail after the flood
        for rt in trippers:
            rt.stop()
        for rt in trippers:
            rt.join(35)
        for e in echoes:
            e.stop()

        base = [dt for rt in trippers for dt in rt.latencies(until=flood_start)]
        during = [dt for rt in trippers for dt in rt.latencies(since=flood_start, until=flood_end)]
        took = flood_end - flood_start
        report("bad-credential flood: %d attempts from %d threads in %.1fs (%.0f/s), %d rejected as specified"
               % (ATTEMPTS, THREADS, took, ATTEMPTS / took, outcomes["ok"]))
        report("good streams: baseline %d round trips p50 %.1f ms p99 %.1f ms max %.1f ms; during flood %d round trips "
               "p50 %.1f ms p99 %.1f ms max %.1f ms" % (
                   len(base), 1000 * percentile(base, 50), 1000 * percentile(base, 99), 1000 * max(base),
                   len(during), 1000 * percentile(during, 50), 1000 * percentile(during, 99),
                   1000 * max(during) if during else float("nan")))

        self.assertEqual(failures[:10], [], "%d attempts did not get their specified rejection" % len(failures))
        self.assertEqual(outcomes["ok"], ATTEMPTS)
        for rt in trippers:
            self.assertEqual(rt.errors, [], "a good stream broke during the flood")
            self.assertTrue(rt.bridge.is_open, "a good bridge was closed during the flood")
        self.assertGreater(len(during), 0, "no round trip completed during the flood")
        self.assertLess(percentile(during, 50), P50_BOUND, "good streams' p50 round trip during the flood")

        after = metrics(gw)
        bridge_attempts = sum(1 for i in range(ATTEMPTS) if i % len(requests) != 3)
        self.assertEqual(metric_delta(before, after, "cxg_bridge_rejections_total"), bridge_attempts,
                         "every bad bridge attempt is counted once")
        # Every rejected connection is gone again (the clients closed them).
        settled = wait_until(lambda: fd_count(gw.proc.pid) <= fds_before + 10, 20, 0.25)
        report("gateway fds: %d before the flood, %d after" % (fds_before, fd_count(gw.proc.pid)))
        self.assertTrue(settled, "descriptors did not return to baseline (%d before, %d now)"
                        % (fds_before, fd_count(gw.proc.pid)))
        self.assertEqual(gw.request("GET", "/readyz").status, 200)


if __name__ == "__main__":
    unittest.main()
