"""Socket-level helpers for the relay integration tests (tests/integration/test_relay_*.py).

Builds on cxg_harness (Gateway, relay frame helpers, cap-tokens) and adds:
  - Conn: an RFC 6455 client with a background reader thread (answers Pings, records every
    frame header, reassembles messages into a queue), fast masking and a send lock, so a
    scripted executor or bridge can be driven from several threads;
  - raw_connect(): the handshake only, optionally with a small SO_RCVBUF set *before*
    connect(), for peers that must exert real TCP backpressure (they simply do not read);
  - relay v1 frame builders/decoders for every body, metrics parsing, and setup shortcuts
    (executor online + bound, relay/plain bridges with the executor's view checked).
"""

import base64
import collections
import hashlib
import http.client
import json
import os
import queue
import re
import socket
import struct
import threading
import time
import unittest
import urllib.parse

from cxg_harness import (ALICE_TOKEN, Resp, make_cap, pb_varint, relay_data, relay_decode,
                         relay_frame, relay_resume, uid)

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
EOF = None  # opcode of the pseudo-message queued when the TCP connection ends

UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


# --------------------------------------------------------------------------- frame encoding

def mask_bytes(data, key):
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def ws_frame(opcode, payload=b"", fin=True, mask=True, rsv=0):
    """One websocket frame (client frames are masked)."""
    if isinstance(payload, str):
        payload = payload.encode()
    hdr = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr += bytes([mbit | n])
    elif n < 65536:
        hdr += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        hdr += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + mask_bytes(payload, key)


# --------------------------------------------------------------------------- connections

class Msg(collections.namedtuple("Msg", "op data t")):
    """A received message: op 1/2 data, 8 close (data = code+reason), None = EOF."""

    @property
    def close_code(self):
        return struct.unpack("!H", self.data[:2])[0] if self.op == OP_CLOSE and len(self.data) >= 2 else None

    @property
    def close_reason(self):
        return self.data[2:].decode("utf-8", "replace") if self.op == OP_CLOSE else None

    def __repr__(self):
        if self.op == OP_CLOSE:
            return "Msg(close %r %r)" % (self.close_code, self.close_reason)
        if self.op is EOF:
            return "Msg(EOF)"
        d = self.data if len(self.data) <= 120 else self.data[:120] + b"...(%d bytes)" % len(self.data)
        return "Msg(%s %r)" % ({1: "text", 2: "binary"}.get(self.op, self.op), d)


class Conn:
    """A websocket client connection (after a 101).  Call start() to run the reader thread
    (connect() does so unless reader=False).  Messages go to a queue; get()/expect_*()
    consume it."""

    def __init__(self, sock, leftover=b"", headers=None, name="conn"):
        self.sock = sock
        self.headers = headers
        self.name = name
        self.buf = bytearray(leftover)
        self.q = queue.Queue()
        self.send_lock = threading.Lock()
        self.frames = []          # (fin, opcode, payload length, rsv bits, masked) per frame received
        self.pings = []           # monotonic times of Pings received
        self.pongs = []           # (time, payload) of Pongs received
        self.auto_pong = True
        self.auto_close_reply = True
        self.closed_by_peer = None  # Msg of the close frame received
        self.eof = threading.Event()
        self.thread = None
        self._stop = False
        self.sent_close = False

    # -- sending
    def send_raw(self, data):
        with self.send_lock:
            self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0):
        self.send_raw(ws_frame(opcode, payload, fin, rsv=rsv))

    def send_binary(self, b):
        self.send_frame(OP_BINARY, b)

    def send_text(self, s):
        self.send_frame(OP_TEXT, s)

    def send_ping(self, payload=b""):
        self.send_frame(OP_PING, payload)

    def send_close(self, code=1000, reason=b""):
        if isinstance(reason, str):
            reason = reason.encode()
        self.sent_close = True
        try:
            self.send_frame(OP_CLOSE, struct.pack("!H", code) + reason)
        except OSError:
            pass

    # -- reading (reader thread)
    def start(self):
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="reader-" + self.name, daemon=True)
            self.thread.start()
        return self

    def _fill(self, n):
        while len(self.buf) < n:
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                if self._stop:
                    raise EOFError("stopped")
                continue
            except OSError as e:
                raise EOFError(str(e))
            if not chunk:
                raise EOFError("EOF")
            self.buf += chunk

    def _read_frame(self):
        self._fill(2)
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        hl = 2
        if n == 126:
            self._fill(4)
            n = struct.unpack("!H", bytes(self.buf[2:4]))[0]
            hl = 4
        elif n == 127:
            self._fill(10)
            n = struct.unpack("!Q", bytes(self.buf[2:10]))[0]
            hl = 10
        masked = bool(b1 & 0x80)
        if masked:
            hl += 4
        self._fill(hl + n)
        data = bytes(self.buf[hl:hl + n])
        if masked:
            data = mask_bytes(data, bytes(self.buf[hl - 4:hl]))
        del self.buf[:hl + n]
        fin, rsv, op = bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F
        self.frames.append((fin, op, n, rsv, masked))
        return fin, op, data

    def _run(self):
        self.sock.settimeout(0.2)
        parts, first_op = [], None
        try:
            while True:
                fin, op, data = self._read_frame()
                now = time.monotonic()
                if op == OP_PING:
                    self.pings.append(now)
                    if self.auto_pong:
                        try:
                            self.send_frame(OP_PONG, data)
                        except OSError:
                            pass
                    continue
                if op == OP_PONG:
                    self.pongs.append((now, data))
                    continue
                if op == OP_CLOSE:
                    m = Msg(OP_CLOSE, data, now)
                    self.closed_by_peer = m
                    if self.auto_close_reply and not self.sent_close:
                        code = m.close_code or 1000
                        self.send_close(code if code not in (1005, 1006) else 1000)
                    self.q.put(m)
                    continue
                if op != OP_CONT:
                    first_op = op
                parts.append(data)
                if fin:
                    self.q.put(Msg(first_op, b"".join(parts), now))
                    parts, first_op = [], None
        except EOFError:
            pass
        finally:
            self.eof.set()
            self.q.put(Msg(EOF, b"", time.monotonic()))

    # -- consuming
    def get(self, timeout=5.0):
        """Next message, or raises AssertionError on timeout.  EOF is returned once and then
        again on every later call."""
        try:
            m = self.q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("%s: nothing received within %.1fs" % (self.name, timeout))
        if m.op is EOF:
            self.q.put(m)
        return m

    def get_data(self, timeout=5.0):
        """Next text/binary message; fails on close/EOF."""
        m = self.get(timeout)
        if m.op not in (OP_TEXT, OP_BINARY):
            raise AssertionError("%s: expected a data message, got %r" % (self.name, m))
        return m

    def get_binary(self, timeout=5.0):
        m = self.get_data(timeout)
        if m.op != OP_BINARY:
            raise AssertionError("%s: expected binary, got %r" % (self.name, m))
        return m.data

    def get_text(self, timeout=5.0):
        m = self.get_data(timeout)
        if m.op != OP_TEXT:
            raise AssertionError("%s: expected text, got %r" % (self.name, m))
        return m.data.decode("utf-8")

    def drain(self, seconds):
        """Everything that arrives within `seconds` (EOF excluded)."""
        out = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            try:
                m = self.q.get(timeout=left)
            except queue.Empty:
                return out
            if m.op is EOF:
                self.q.put(m)
                time.sleep(max(0, deadline - time.monotonic()))
                return out
            out.append(m)

    def expect_silence(self, seconds, what=""):
        got = self.drain(seconds)
        if got:
            raise AssertionError("%s: expected nothing%s within %.1fs, got %r"
                                 % (self.name, (" (" + what + ")") if what else "", seconds, got[:5]))

    def expect_close(self, timeout=5.0):
        """Skips data messages until the close frame; returns (code, reason, skipped messages).
        Fails if the connection ends without a close frame."""
        skipped = []
        deadline = time.monotonic() + timeout
        while True:
            m = self.get(max(0.01, deadline - time.monotonic()))
            if m.op == OP_CLOSE:
                return m.close_code, m.close_reason, skipped
            if m.op is EOF:
                raise AssertionError("%s: connection ended without a close frame (after %d messages)"
                                     % (self.name, len(skipped)))
            skipped.append(m)

    def wait_eof(self, timeout=5.0):
        return self.eof.wait(timeout)

    @property
    def is_open(self):
        return not self.eof.is_set() and self.closed_by_peer is None

    def close(self, code=1000):
        if self.sock is None:
            return
        if not self.eof.is_set() and self.closed_by_peer is None and not self.sent_close:
            self.send_close(code)
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Ends the TCP connection without a close frame (RST when SO_LINGER 0)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass


def raw_connect(host, port, path, headers=None, rcvbuf=None, offer_deflate=False, timeout=10):
    """Performs the websocket handshake.  Returns (status, sock, leftover, response headers,
    body).  With `rcvbuf`, SO_RCVBUF is set before connect() so the advertised window stays
    small.  On a non-101 answer the socket is closed and `body` holds the response body."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port), "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
    if offer_deflate:
        lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(65536)
        if not chunk:
            s.close()
            raise ConnectionError("closed during handshake: %r" % head)
        head += chunk
    head, rest = head.split(b"\r\n\r\n", 1)
    hl = head.decode("latin-1").split("\r\n")
    status = int(hl[0].split(" ")[1])
    hdrs = http.client.HTTPMessage()  # case-insensitive
    for line in hl[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip()] = v.strip()
    if status != 101:
        n = int(hdrs.get("content-length", "0") or 0)
        body = rest
        s.settimeout(3)
        try:
            while len(body) < n:
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
        except OSError:
            pass
        s.close()
        return status, None, b"", hdrs, body[:n] if n else body
    expect = base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    if hdrs.get("sec-websocket-accept") != expect:
        s.close()
        raise AssertionError("bad Sec-WebSocket-Accept %r" % hdrs.get("sec-websocket-accept"))
    return status, s, rest, hdrs, b""


def connect(gw, path, headers=None, reader=True, name="conn", **kw):
    """A Conn to `path` on the gateway, or a Resp when the upgrade is refused."""
    status, s, rest, hdrs, body = raw_connect(gw.host, gw.port, path, headers, **kw)
    if status != 101:
        return Resp(status, hdrs, body)
    c = Conn(s, rest, hdrs, name=name)
    if reader:
        c.start()
    return c


# --------------------------------------------------------------------------- relay frames

def relay_reset(stream_id, reason):
    r = reason.encode() if isinstance(reason, str) else reason
    return relay_frame(stream_id, 8, (b"\x0a" + pb_varint(len(r)) + r) if r else b"")


def relay_heartbeat(stream_id):
    return relay_frame(stream_id, 9, b"")


def relay_ack(stream_id):
    return relay_frame(stream_id, 6, b"")


def relay_handshake(stream_id, payload):
    return relay_frame(stream_id, 10, b"\x0a" + pb_varint(len(payload)) + payload)


def data_frame(stream_id, payload, seq=0):
    """Exactly the encoding cxg uses for Data it creates (wire-protocol §3)."""
    return relay_data(stream_id, payload, seq)


def resume_frame(stream_id, next_seq=0):
    return relay_resume(stream_id, next_seq)


BODY_NAMES = {5: "data", 6: "ack", 7: "resume", 8: "reset", 9: "heartbeat", 10: "handshake"}


def parse_frame(buf):
    """Decodes a relay frame: dict(version, stream_id, body, seq, payload, reason, next_seq)."""
    f = relay_decode(buf)
    out = {"version": f.get(1, 0), "stream_id": f.get(2, b"").decode("utf-8"), "body": None}
    bodies = [k for k in BODY_NAMES if k in f]
    if bodies:
        # the last oneof member wins; relay_decode keeps the last of each field only, so
        # this is exact for the frames used here (one body each)
        k = bodies[-1]
        out["body"] = BODY_NAMES[k]
        inner = relay_decode(f[k])
        if k == 5:
            out["seq"] = inner.get(1, 0)
            out["segment_index"] = inner.get(2, 0)
            out["segment_count"] = inner.get(3, 0)
            out["payload"] = inner.get(4, b"")
        elif k == 7:
            out["next_seq"] = inner.get(1, 0)
        elif k == 8:
            out["reason"] = inner.get(1, b"").decode("utf-8")
        elif k == 10:
            out["payload"] = inner.get(1, b"")
    return out


def is_reset(buf, stream_id=None, reason=None):
    try:
        f = parse_frame(buf)
    except Exception:
        return False
    return (f["body"] == "reset" and (stream_id is None or f["stream_id"] == stream_id)
            and (reason is None or f["reason"] == reason))


# --------------------------------------------------------------------------- metrics

_METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metrics(gw):
    """{(name, frozenset(labels.items())): float} from /metrics."""
    r = gw.request("GET", "/metrics")
    if r.status != 200:
        raise AssertionError("/metrics: %r" % (r,))
    out = {}
    for line in r.text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _METRIC_RE.match(line)
        if not m:
            continue
        labels = frozenset(_LABEL_RE.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric(snapshot, name, **labels):
    """Value of one series (None when absent)."""
    return snapshot.get((name, frozenset(labels.items())))


def metric_sum(snapshot, name, **labels):
    """Sum over every series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in snapshot.items() if n == name and want <= set(ls))


def metric_delta(before, after, name, **labels):
    return metric_sum(after, name, **labels) - metric_sum(before, name, **labels)


# --------------------------------------------------------------------------- setup shortcuts

def register_url(gw, exe_id, legacy=False, token=ALICE_TOKEN):
    """Registers exe_id and returns the websocket URL.

    Known gateway bug (R11): two registrations within the same second return the same
    ticket, which is single-use, so the second URL would be refused with 401.  These relay
    tests are not about R11 (test_registration covers it): when a URL repeats one already
    issued, registration is repeated once the clock has moved on."""
    body = (json.dumps({"idempotency_id": "codex-exec-server-" + "ab" * 32,
                        "executor_id": exe_id, "name": "x", "labels": {}, "metadata": {}})
            if legacy else b"")
    issued = gw.__dict__.setdefault("_relay_issued_urls", set())
    deadline = time.monotonic() + 3
    while True:
        r = gw.register(exe_id, token, body=body)
        if r.status != 200:
            raise AssertionError("register %s: %r" % (exe_id, r))
        url = r.json()["url"]
        if url not in issued or time.monotonic() > deadline:
            issued.add(url)
            return url
        time.sleep(0.1)


def connect_executor(gw, exe_id, legacy=False, reader=True, name="executor", **kw):
    """Registers exe_id and connects the scripted executor to the returned URL."""
    url = register_url(gw, exe_id, legacy)
    u = urllib.parse.urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    c = connect(gw, path, reader=reader, name=name, **kw)
    if not isinstance(c, Conn):
        raise AssertionError("executor upgrade for %s: %r" % (exe_id, c))
    c.exe_id = exe_id
    c.url = url
    return c


def wait_online(gw, exe_id, online=True, timeout=2.0):
    deadline = time.monotonic() + timeout
    e = None
    while True:
        e = gw.get_executor(exe_id)
        if e.get("is_online") is online:
            return e
        if time.monotonic() >= deadline:
            raise AssertionError("executor %s not is_online=%s within %.1fs: %r" % (exe_id, online, timeout, e))
        time.sleep(0.02)


def online_executor(gw, legacy=False, workspace=None, user="alice"):
    """Creates, binds and connects an executor and waits until it is online.
    Returns (exe_id, workspace, executor Conn)."""
    exe = gw.create_executor(user)
    ws = workspace or uid("ws")
    gw.bind(ws, exe)
    ex = connect_executor(gw, exe, legacy)
    wait_online(gw, exe)
    return exe, ws, ex


def cap_for(gw, workspace, turn=None):
    return make_cap(gw.cap_key, workspace, turn=turn or uid("trn"))


def bridge_path(exe_id, cap):
    return "/bridge/%s?token=%s" % (exe_id, cap)


def open_bridge(gw, exe_id, cap, name="bridge", **kw):
    """Upgrades /bridge/{exe_id}; returns a Conn (no first frame sent) or a Resp."""
    return connect(gw, bridge_path(exe_id, cap), name=name, **kw)


def relay_bridge(gw, ex, exe_id, cap, stream_id=None, name=None, check=True):
    """Opens a relay bridge, sends Resume and (with check) asserts the executor receives the
    Resume bytes unchanged.  Returns (Conn, stream_id)."""
    sid = stream_id or uid("st")
    b = open_bridge(gw, exe_id, cap, name=name or ("bridge-" + sid))
    if not isinstance(b, Conn):
        raise AssertionError("bridge upgrade refused: %r" % (b,))
    resume = relay_resume(sid)
    b.send_binary(resume)
    if check:
        got = ex.get_binary(5)
        if got != resume:
            raise AssertionError("executor expected Resume %r, got %r" % (resume, got))
    return b, sid


def plain_bridge(gw, ex, exe_id, cap, first='{"id":1,"method":"initialize","params":{}}', name=None):
    """Opens a plain bridge with a first text message; asserts the executor receives
    Resume{cxg-<uuid>, 0} and Data{seq 0, first}.  Returns (Conn, stream_id)."""
    b = open_bridge(gw, exe_id, cap, name=name or "plain-bridge")
    if not isinstance(b, Conn):
        raise AssertionError("bridge upgrade refused: %r" % (b,))
    b.send_text(first)
    r = parse_frame(ex.get_binary(5))
    if r["body"] != "resume" or not r["stream_id"].startswith("cxg-"):
        raise AssertionError("expected a Resume on cxg-<uuid>, got %r" % (r,))
    sid = r["stream_id"]
    d = ex.get_binary(5)
    if d != data_frame(sid, first, 0):
        raise AssertionError("expected Data seq 0 %r, got %r" % (data_frame(sid, first, 0), d))
    return b, sid


def resets_in(msgs):
    """[(stream_id, reason)] of the Reset frames among executor messages."""
    out = []
    for m in msgs:
        if m.op == OP_BINARY:
            try:
                f = parse_frame(m.data)
            except Exception:
                continue
            if f["body"] == "reset":
                out.append((f["stream_id"], f["reason"]))
    return out


class RelayTestCase(unittest.TestCase):
    """Closes every Conn registered with track() after each test."""

    def setUp(self):
        super().setUp()
        self._conns = []

    def tearDown(self):
        for c in self._conns:
            try:
                c.close()
            except Exception:
                pass
        super().tearDown()

    def track(self, c):
        if isinstance(c, Conn):
            self._conns.append(c)
        return c

    def assertClose(self, conn, code, reason, timeout=5.0, allow_data=False):
        got_code, got_reason, skipped = conn.expect_close(timeout)
        self.assertEqual((got_code, got_reason), (code, reason), "%s close" % conn.name)
        if not allow_data:
            self.assertEqual(skipped, [], "%s got data before the close" % conn.name)
        return skipped

    def assertRoundTrip(self, ex, b, sid, tag="ping"):
        """A Data frame from bridge b reaches the executor unchanged, and one back reaches b."""
        up = data_frame(sid, json.dumps({"id": tag, "method": "x", "params": {}}, separators=(",", ":")), 7)
        b.send_binary(up)
        self.assertEqual(ex.get_binary(5), up, "bridge %s -> executor" % sid)
        down = data_frame(sid, json.dumps({"id": tag, "result": {}}, separators=(",", ":")), 3)
        ex.send_binary(down)
        self.assertEqual(b.get_binary(5), down, "executor -> bridge %s" % sid)


# --------------------------------------------------------------------------- kernel queues

def _proc_tcp_addr(ip, port):
    return "%s:%04X" % ("".join("%02X" % int(x) for x in reversed(ip.split("."))), port)


def tcp_queue_bytes(local, remote):
    """(tx_queue, rx_queue) of the IPv4 TCP socket local=(ip, port) -> remote=(ip, port), from
    /proc/net/tcp: bytes not yet acknowledged by the peer, and bytes received but not yet
    read by the application.  None when the socket is not listed."""
    want_l, want_r = _proc_tcp_addr(*local), _proc_tcp_addr(*remote)
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[1] == want_l and parts[2] == want_r:
                tx, rx = parts[4].split(":")
                return int(tx, 16), int(rx, 16)
    return None


def kernel_bytes_between(gw, conn):
    """Bytes sitting in the kernel between the gateway and `conn` in the gateway -> conn
    direction: the gateway socket's unacknowledged send queue plus conn's unread receive
    queue."""
    ours = conn.sock.getsockname()
    theirs = conn.sock.getpeername()
    g = tcp_queue_bytes(theirs, ours)
    c = tcp_queue_bytes(ours, theirs)
    if g is None or c is None:
        raise unittest.SkipTest("cannot read TCP queues from /proc/net/tcp")
    return g[0] + c[1]


def ws_wire_size(payload_len):
    """Size of an unmasked (server) websocket frame carrying payload_len bytes."""
    return payload_len + (2 if payload_len < 126 else 4 if payload_len < 65536 else 10)


def debug(*args):
    """Prints to stderr when CXG_IT_DEBUG is set (measurements behind timing assertions)."""
    if os.environ.get("CXG_IT_DEBUG"):
        import sys
        print("[debug]", *args, file=sys.stderr, flush=True)
