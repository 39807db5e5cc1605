"""Shared pieces of the fault-injection tests (tests/integration/test_faults_*.py).

Builds on cxg_harness and relay_helpers and adds:
  - env_int(): test sizes that CI can shrink or a developer can grow (CXG_FAULT_* variables);
  - sqlite_integrity(): PRAGMA integrity_check on a *copy* of the database files, so the check
    never recovers or checkpoints the WAL the gateway is about to reopen;
  - fd_count(): open descriptors of a process, from /proc/<pid>/fd;
  - EchoExecutor: a scripted executor thread that answers every Data frame on its socket;
  - RoundTripper: one relay bridge doing timed request/response round trips through it;
  - percentile(): for reporting latencies.
"""

import json
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time

from relay_helpers import OP_BINARY, EOF, data_frame, parse_frame, relay_bridge


def env_int(name, default):
    """An integer test size from the environment (e.g. CXG_FAULT_BAD_WS_ATTEMPTS)."""
    v = os.environ.get(name)
    return int(v) if v else default


def report(*args):
    """Measurements the report and docs/hardening.md quote; always printed to stderr."""
    print("[faults]", *args, file=sys.stderr, flush=True)


def sqlite_integrity(db_path):
    """`PRAGMA integrity_check` of db_path (with its -wal/-shm) copied aside: "ok" when sound."""
    tmp = tempfile.mkdtemp(prefix="cxg-integrity-")
    try:
        copy = os.path.join(tmp, "copy.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db_path + suffix):
                shutil.copyfile(db_path + suffix, copy + suffix)
        con = sqlite3.connect(copy, timeout=5)
        try:
            rows = con.execute("PRAGMA integrity_check").fetchall()
            fk = con.execute("PRAGMA foreign_key_check").fetchall()
        finally:
            con.close()
        result = "; ".join(r[0] for r in rows)
        return result if not fk else "%s; foreign_key_check: %r" % (result, fk[:5])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


class EchoExecutor(threading.Thread):
    """Answers each Data frame on a scripted executor Conn with a Data frame on the same
    stream carrying the same payload, until the socket ends or stop() is called."""

    def __init__(self, conn):
        super().__init__(daemon=True, name="echo-" + conn.name)
        self.conn = conn
        self.stopping = False
        self.echoed = 0
        self.resets = []  # (stream_id, reason) of the Reset frames received

    def run(self):
        while not self.stopping:
            try:
                m = self.conn.get(timeout=0.2)
            except AssertionError:
                continue  # nothing yet
            if m.op is EOF or m.op != OP_BINARY:
                if m.op is EOF:
                    return
                continue
            try:
                f = parse_frame(m.data)
            except Exception:
                continue
            if f["body"] == "reset":
                self.resets.append((f["stream_id"], f["reason"]))
            if f["body"] != "data":
                continue
            try:
                self.conn.send_binary(data_frame(f["stream_id"], f["payload"], f.get("seq", 0)))
                self.echoed += 1
            except OSError:
                return

    def stop(self):
        self.stopping = True


class RoundTripper(threading.Thread):
    """Drives one relay bridge: sends Data with a counter payload, waits for the echo and
    records the round-trip time.  `errors` holds anything unexpected (lost, duplicated,
    reordered or corrupted payloads, a closed bridge)."""

    def __init__(self, gw, ex, exe_id, cap, interval=0.02, name="rt"):
        super().__init__(daemon=True, name=name)
        # check=False: an EchoExecutor thread may already be consuming the executor's queue
        self.bridge, self.sid = relay_bridge(gw, ex, exe_id, cap, name=name, check=False)
        self.interval = interval
        self.stopping = False
        self.samples = []   # (monotonic send time, seconds)
        self.errors = []
        self.sent = 0

    def run(self):
        while not self.stopping:
            payload = json.dumps({"id": self.sent, "method": "ping", "params": {}},
                                 separators=(",", ":")).encode()
            t0 = time.monotonic()
            try:
                self.bridge.send_binary(data_frame(self.sid, payload, self.sent))
                got = self.bridge.get_binary(timeout=30)
            except Exception as e:  # noqa: any failure is a broken stream
                self.errors.append("round trip %d: %s" % (self.sent, e))
                return
            dt = time.monotonic() - t0
            f = parse_frame(got)
            if f["stream_id"] != self.sid or f["payload"] != payload:
                self.errors.append("round trip %d: got %r" % (self.sent, f))
                return
            self.samples.append((t0, dt))
            self.sent += 1
            time.sleep(self.interval)

    def latencies(self, since=None, until=None):
        return [dt for t, dt in self.samples
                if (since is None or t >= since) and (until is None or t < until)]

    def stop(self):
        self.stopping = True
