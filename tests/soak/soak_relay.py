"""Relay soak run against the real `cxg serve` (issue 5, item 4).

One gateway (SQLite in a temp dir), many fake relay-v1 executors, several relay-v1 bridges
per executor, Data in both directions with mixed sizes up to the configured message limit,
random bridge churn and executor restarts.  Every Data payload names its (stream, seq), and
the receiving side checks each stream's sequence frame by frame, so a lost, duplicated,
reordered, corrupted or misrouted frame is reported with the stream it happened on.

Afterwards every connection is closed, the gateway's live gauges must be back to zero and
its RSS must come back near the baseline measured after a warm-up round.

Driven by test_soak_relay.py (CTest label `soak`) or run directly:
    CXG_BIN=build/src/cli/cxg /usr/bin/python3 tests/soak/soak_relay.py
Knobs (environment): CXG_SOAK_SECONDS, CXG_SOAK_EXECUTORS, CXG_SOAK_STREAMS, CXG_SOAK_RATE,
CXG_SOAK_WARMUP_SECONDS, CXG_SOAK_SEED (see SoakConfig).

Vocabulary: "up" is bridge -> executor, "dn" is executor -> bridge.
"""

import asyncio
import base64
import collections
import dataclasses
import hashlib
import json
import os
import random
import socket
import struct
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from cxg_harness import Gateway, make_cap, relay_data, relay_resume, uid  # noqa: E402
from relay_helpers import metric_sum, metrics, register_url, relay_reset  # noqa: E402

KiB = 1024
MiB = 1024 * KiB

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10

# Reset reasons and close statuses of wire-protocol.md §5 and §10 that the soak expects.
RESET_BRIDGE_LEFT = "harness_disconnected"
RESET_BY_SOAK_BRIDGE = "soak_bridge_reset"
RESET_BY_SOAK_EXECUTOR = "soak_executor_reset"
CLOSE_RESET_BY_BRIDGE = (1000, "stream reset by bridge")
CLOSE_RESET_BY_EXECUTOR = (1000, "stream reset by executor")
CLOSE_EXECUTOR_GONE = (4100, "executor disconnected")
CLOSE_EXECUTOR_REPLACED = (4101, "executor replaced")
CLOSE_EXECUTOR_EVICTED = (4001, "replaced by newer connection")

CHURN_KINDS = ("bridge_close", "bridge_abort", "bridge_reset", "executor_reset",
               "restart_close", "restart_abort", "restart_replace")

LIVE_GAUGES = ("cxg_executors_connected", "cxg_streams_active", "cxg_bridges_active")


def env_number(name, default, kind=float):
    text = os.environ.get(name, "").strip()
    return kind(text) if text else default


@dataclasses.dataclass
class SoakConfig:
    seconds: float = 120.0          # main phase
    warmup_seconds: float = 15.0    # same workload before the RSS baseline
    executors: int = 40
    streams: int = 8                # bridge slots per executor (each reopens after churn)
    rate: float = 4.0               # mean Data frames per second, per stream and direction
    max_message: int = 128 * KiB    # CXG_MAX_{BRIDGE,EXECUTOR}_MESSAGE_BYTES for the run
    window_frames: int = 48         # unreceived frames allowed per stream and direction
    window_bytes: int = 1 * MiB     # unreceived bytes allowed per stream and direction
    stream_churn_per_second: float = 3.0
    restarts_per_second: float = 0.25
    ping_interval: str = "5s"       # CXG_PING_INTERVAL: keepalive traffic mixed in
    settle_timeout: float = 60.0    # for in-flight frames to arrive once senders stop
    seed: int = 0

    @classmethod
    def from_env(cls):
        c = cls()
        c.seconds = env_number("CXG_SOAK_SECONDS", c.seconds)
        c.warmup_seconds = env_number("CXG_SOAK_WARMUP_SECONDS", c.warmup_seconds)
        c.executors = env_number("CXG_SOAK_EXECUTORS", c.executors, int)
        c.streams = env_number("CXG_SOAK_STREAMS", c.streams, int)
        c.rate = env_number("CXG_SOAK_RATE", c.rate)
        c.seed = env_number("CXG_SOAK_SEED", random.randrange(1 << 31), int)
        return c


class SoakError(Exception):
    pass


# --------------------------------------------------------------------------- websocket client

def client_frame(opcode, payload, mask_key):
    """One masked client frame (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    if n == 0:
        return hdr + mask_key
    repeated = (mask_key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(n, "little")
    return hdr + mask_key + masked


class AsyncWs:
    """A minimal asyncio RFC 6455 client: answers Pings, echoes the server's close, and
    remembers the close status it got.  Writes are whole frames, so tasks sharing one
    connection never interleave bytes."""

    def __init__(self, reader, writer, name, rng):
        self.reader = reader
        self.writer = writer
        self.name = name
        self.rng = rng
        self.sent_close = False
        self.gone = False            # no more writes: close sent and answered, EOF or aborted
        self.close_code = None
        self.close_reason = None

    @classmethod
    async def connect(cls, host, port, path, name, rng):
        """Returns (101, AsyncWs) or (status, body) when the upgrade is refused."""
        reader, writer = await asyncio.open_connection(host, port, limit=1 * MiB)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(rng.randbytes(16)).decode()
        writer.write(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key)).encode())
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            if status != 101:
                n = int(headers.get("content-length", "0") or 0)
                body = await reader.readexactly(n) if n else b""
                writer.close()
                return status, body
        except (asyncio.IncompleteReadError, ConnectionError) as e:
            writer.close()
            raise SoakError("%s: handshake failed: %r" % (name, e))
        digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        accept = base64.b64encode(digest).decode()
        if headers.get("sec-websocket-accept") != accept:
            writer.close()
            raise SoakError("%s: bad Sec-WebSocket-Accept" % name)
        return 101, cls(reader, writer, name, rng)

    def _write(self, opcode, payload):
        if self.gone:
            return False
        self.writer.write(client_frame(opcode, payload, self.rng.randbytes(4)))
        return True

    def send_binary(self, data):
        return self._write(OP_BINARY, data)

    async def flush(self, high_water=256 * KiB):
        """Waits for the kernel to take our bytes when too many are buffered."""
        if self.gone or self.writer.transport.get_write_buffer_size() <= high_water:
            return
        try:
            await self.writer.drain()
        except ConnectionError:
            pass

    def send_close(self, code=1000):
        if not self.sent_close:
            self.sent_close = True
            self._write(OP_CLOSE, struct.pack("!H", code))

    def abort(self):
        """Ends the TCP connection with a RST and no close frame."""
        self.gone = True
        sock = self.writer.get_extra_info("socket")
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.writer.transport.abort()

    async def recv(self):
        """Next data message as (opcode, bytes), or None once the connection is over."""
        parts, first_op = [], None
        try:
            while True:
                b0, b1 = await self.reader.readexactly(2)
                n = b1 & 0x7F
                if n == 126:
                    n = struct.unpack("!H", await self.reader.readexactly(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
                if b1 & 0x80:
                    raise SoakError("%s: the server masked a frame" % self.name)
                data = await self.reader.readexactly(n) if n else b""
                op = b0 & 0x0F
                if op == OP_PING:
                    self._write(OP_PONG, data)
                elif op == OP_PONG:
                    pass
                elif op == OP_CLOSE:
                    self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                    self.close_reason = data[2:].decode("utf-8", "replace")
                    if not self.sent_close:
                        sendable = self.close_code < 5000 and self.close_code not in (1005, 1006)
                        self.send_close(self.close_code if sendable else 1000)
                    self._finish()
                    return None
                else:
                    if op != OP_CONT:
                        first_op = op
                    parts.append(data)
                    if b0 & 0x80:
                        return first_op, parts[0] if len(parts) == 1 else b"".join(parts)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            self._finish()
            return None

    def _finish(self):
        self.gone = True
        try:
            self.writer.close()
        except (ConnectionError, OSError, RuntimeError):
            pass


# --------------------------------------------------------------------------- relay frames

def read_varint(buf, i):
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, i
        shift += 7


def decode_fields(buf):
    """{field: value} of one protobuf message (last wins); LEN fields as memoryview slices."""
    out, i, n = {}, 0, len(buf)
    while i < n:
        key, i = read_varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            out[field], i = read_varint(buf, i)
        elif wire == 2:
            size, i = read_varint(buf, i)
            out[field] = buf[i:i + size]
            i += size
        else:
            raise ValueError("wire type %d" % wire)
    return out


BODIES = {5: "data", 6: "ack", 7: "resume", 8: "reset", 9: "heartbeat", 10: "handshake"}


def decode_frame(data):
    """(stream_id, body name, seq, payload bytes / reset reason) of a relay frame."""
    f = decode_fields(memoryview(data))
    if f.get(1) != 1:
        raise ValueError("version %r" % f.get(1))
    sid = bytes(f.get(2, b"")).decode("utf-8")
    for field, name in BODIES.items():
        if field in f:
            inner = decode_fields(f[field])
            if name == "data":
                if inner.get(3) != 1 or inner.get(2, 0) != 0:
                    raise ValueError("segmentation fields changed")
                return sid, name, inner.get(1, 0), bytes(inner.get(4, b""))
            if name == "reset":
                return sid, name, 0, bytes(inner.get(1, b"")).decode("utf-8")
            return sid, name, 0, None
    raise ValueError("no body")


PAD_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def soak_data_frame(sid, seq, direction, size):
    """A Data frame of `size` bytes (one or two less at a varint boundary) whose payload is
    compact JSON naming its stream, seq and direction, padded with a character that depends on
    seq, so the receiver can tell a corrupted frame from a misplaced one."""
    head = '{"s":"%s","q":%d,"d":"%s","p":"' % (sid, seq, direction)
    ch = PAD_ALPHABET[seq % len(PAD_ALPHABET)]
    pad = max(0, size - len(relay_data(sid, head + '"}', seq)))
    for _ in range(4):
        frame = relay_data(sid, head + ch * pad + '"}', seq)
        excess = len(frame) - size
        if excess <= 0 or pad == 0:
            return frame
        pad = max(0, pad - excess)
    return frame


def check_payload(payload, sid, seq, direction):
    """None when the payload is the one soak_data_frame built for (sid, seq, direction)."""
    try:
        obj = json.loads(payload)
    except ValueError as e:
        return "payload is not JSON (%s)" % e
    if obj.get("s") != sid or obj.get("q") != seq or obj.get("d") != direction:
        return "payload names stream %r seq %r dir %r" % (obj.get("s"), obj.get("q"), obj.get("d"))
    pad = obj.get("p", "")
    if pad and pad != PAD_ALPHABET[seq % len(PAD_ALPHABET)] * len(pad):
        return "payload padding corrupted"
    return None


def pick_frame_size(rng, max_message):
    """Mostly small JSON-RPC-like messages, some file-chunk sized ones, a few at the limit."""
    r = rng.random()
    if r < 0.55:
        return rng.randint(60, 400)
    if r < 0.80:
        return rng.randint(400, 8 * KiB)
    if r < 0.94:
        return rng.randint(8 * KiB, 64 * KiB)
    if r < 0.98:
        return rng.randint(64 * KiB, max_message)
    return max_message - rng.randint(0, 2)


# --------------------------------------------------------------------------- bookkeeping

class Direction:
    """One direction of one stream, as seen by its sender and its receiver."""

    __slots__ = ("sent", "recv", "bytes_sent", "bytes_recv")

    def __init__(self):
        self.sent = self.recv = self.bytes_sent = self.bytes_recv = 0

    def window_full(self, cfg):
        return self.sent - self.recv >= cfg.window_frames or self.bytes_sent - self.bytes_recv >= cfg.window_bytes

    @property
    def complete(self):
        return self.sent == self.recv


class Stats:
    def __init__(self):
        self.c = collections.Counter()

    def add(self, key, n=1):
        self.c[key] += n


class Stream:
    """One relay bridge and the stream it carries.  `end` says who ended it and decides what
    its final check expects."""

    def __init__(self, soak, exe):
        self.soak = soak
        self.exe = exe
        self.sid = uid("st")
        self.turn = uid("trn")
        self.up = Direction()
        self.dn = Direction()
        self.ws = None
        self.exec_conn = None         # the executor connection that got our Resume
        self.resumed = asyncio.Event()
        self.done = asyncio.Event()    # refused, or the bridge connection is over
        self.exec_reset = asyncio.Event()
        self.exec_resets = []          # reasons of the Resets the executor got for us
        self.reset_at_bridge = None    # reason of a Reset the bridge got (executor reset)
        self.end = None                # who ended it (see Soak.check_stream)
        self.up_stop = False
        self.dn_stop = False
        self.dn_task = None            # the executor's sender for this stream
        self.expect_close = None       # set when an executor restart is to close the bridge
        self.refused = None            # HTTP status when the upgrade was refused
        self.errors = 0

    def error(self, what):
        self.errors += 1
        if self.errors <= 3:
            self.soak.error("stream %s (exe %s, end %s): %s" % (self.sid, self.exe.exe_id, self.end, what))

    def receive(self, d, direction, seq, payload, frame_size):
        """Checks one Data frame against the next expected seq of direction d."""
        if seq != d.recv:
            kind = "duplicate or reordered" if seq < d.recv else "gap (lost or reordered)"
            self.error("%s: got seq %d, expected %d: %s" % (direction, seq, d.recv, kind))
        else:
            problem = check_payload(payload, self.sid, seq, direction)
            if problem:
                self.error("%s seq %d: %s" % (direction, seq, problem))
        d.recv = max(d.recv, seq + 1)
        d.bytes_recv += frame_size
        self.soak.stats.add(direction + "_frames_recv")
        self.soak.stats.add(direction + "_bytes_recv", frame_size)

    async def send_loop(self, d, direction, conn_of, stopped):
        """Data frames on one direction until stopped(); never more than the window ahead of
        the receiver, so a slow machine slows the senders instead of filling gateway queues."""
        soak, rng, cfg = self.soak, self.soak.rng, self.soak.cfg
        while True:
            await asyncio.sleep(rng.expovariate(cfg.rate))
            if stopped() or soak.traffic_stopped:
                return
            if d.window_full(cfg):
                soak.stats.add("window_waits")
                continue
            ws = conn_of()
            frame = soak_data_frame(self.sid, d.sent, direction, pick_frame_size(rng, cfg.max_message))
            if not ws.send_binary(frame):
                return
            d.sent += 1
            d.bytes_sent += len(frame)
            if len(frame) >= cfg.max_message - 2:
                soak.stats.add(direction + "_frames_at_limit")
            soak.stats.add(direction + "_frames_sent")
            soak.stats.add(direction + "_bytes_sent", len(frame))
            await ws.flush()


class ExecutorConn:
    """One websocket of a fake relay executor: routes frames by stream_id to the streams
    whose Resume came on this connection and checks them."""

    def __init__(self, exe, ws, generation):
        self.exe = exe
        self.soak = exe.soak
        self.ws = ws
        self.generation = generation
        self.streams = {}
        self.closed = asyncio.Event()
        self.task = self.soak.spawn(self.read_loop(), "executor %s reader" % exe.exe_id)

    async def read_loop(self):
        try:
            while True:
                msg = await self.ws.recv()
                if msg is None:
                    break
                op, data = msg
                if op != OP_BINARY:
                    self.soak.error("executor %s: a text message on a relay socket" % self.exe.exe_id)
                    continue
                try:
                    self.on_frame(data)
                except ValueError as e:
                    self.soak.error("executor %s: undecodable frame: %s" % (self.exe.exe_id, e))
        finally:
            for s in self.streams.values():
                s.dn_stop = True
            self.closed.set()

    def on_frame(self, data):
        sid, body, seq, value = decode_frame(data)
        stream = self.streams.get(sid)
        if body == "resume":
            s = self.soak.streams_by_id.get(sid)
            if s is None or s.exe is not self.exe:
                return self.soak.error("executor %s: Resume for a stream it does not serve: %s"
                                       % (self.exe.exe_id, sid))
            if stream is not None or s.exec_conn is not None:
                return s.error("Resume delivered twice")
            if data != relay_resume(sid):
                s.error("Resume bytes changed")
            s.exec_conn = self
            self.streams[sid] = s
            s.resumed.set()
            s.dn_task = self.soak.spawn(s.send_loop(s.dn, "dn", lambda: self.ws, lambda: s.dn_stop or self.ws.gone),
                                        "executor sender of %s" % sid)
            return
        if stream is None:
            return self.soak.error("executor %s (conn %d): %s frame for stream %s not opened on this connection"
                                   % (self.exe.exe_id, self.generation, body, sid))
        if stream.exec_resets:
            return stream.error("%s frame reached the executor after the gateway's Reset" % body)
        if body == "data":
            stream.receive(stream.up, "up", seq, value, len(data))
        elif body == "reset":
            stream.exec_resets.append(value)
            stream.dn_stop = True
            stream.exec_reset.set()
            self.soak.stats.add("executor_reset_" + value)
        else:
            stream.error("unexpected %s frame at the executor" % body)


class Executor:
    """A fake relay executor: registers, keeps one websocket, restarts when told."""

    def __init__(self, soak, exe_id, workspace):
        self.soak = soak
        self.exe_id = exe_id
        self.workspace = workspace
        self.conn = None
        self.generation = 0
        self.online = asyncio.Event()
        self.busy = False              # one churn action at a time per executor
        self.restarting = False
        self.live = set()              # streams whose bridge is opening or open

    async def connect(self):
        gw = self.soak.gw
        url = await asyncio.to_thread(register_url, gw, self.exe_id)
        u = urllib.parse.urlsplit(url)
        status, ws = await AsyncWs.connect(gw.host, gw.port, u.path + "?" + u.query,
                                           "executor-" + self.exe_id, self.soak.rng)
        if status != 101:
            raise SoakError("executor %s upgrade refused: %d %r" % (self.exe_id, status, ws))
        self.generation += 1
        self.conn = ExecutorConn(self, ws, self.generation)
        self.soak.stats.add("executor_connects")
        return self.conn


# --------------------------------------------------------------------------- the run

class Soak:
    def __init__(self, gw, cfg, log=print):
        self.gw = gw
        self.cfg = cfg
        self.log = log
        self.rng = random.Random(cfg.seed)
        self.stats = Stats()
        self.errors = []
        self.error_count = 0
        self.executors = []
        self.streams_by_id = {}
        self.all_streams = []
        self.stopping = False          # slots stop opening bridges
        self.churn_stopped = False
        self.traffic_stopped = False
        self.rss = {}
        self.rss_peak = 0

    def error(self, what):
        self.error_count += 1
        if len(self.errors) < 60:
            self.errors.append(what)

    def spawn(self, coro, what):
        """A background task whose crash is reported as a soak error, not lost."""
        def reap(task):
            if not task.cancelled() and task.exception() is not None:
                self.error("%s crashed: %r" % (what, task.exception()))
        task = asyncio.create_task(coro)
        task.add_done_callback(reap)
        return task

    # ---------------------------------------------------------------- setup

    async def create_executors(self):
        def create():
            out = []
            for _ in range(self.cfg.executors):
                exe = self.gw.create_executor("alice")
                ws = uid("ws")
                self.gw.bind(ws, exe)
                out.append((exe, ws))
            return out
        for exe_id, ws in await asyncio.to_thread(create):
            self.executors.append(Executor(self, exe_id, ws))

    async def connect_all(self):
        for exe in self.executors:
            await exe.connect()
        # The gateway attaches an executor right after the 101: wait until every one counts.
        await self.wait_gauges({"cxg_executors_connected": len(self.executors)}, 10)
        for exe in self.executors:
            exe.online.set()

    # ---------------------------------------------------------------- bridges

    async def slot_loop(self, exe):
        rng = self.rng
        while not self.stopping:
            await exe.online.wait()
            if self.stopping:
                return
            s = Stream(self, exe)
            exe.live.add(s)
            try:
                if await self.open_bridge(s):
                    await self.run_bridge(s)
            finally:
                exe.live.discard(s)
                s.done.set()
            await asyncio.sleep(rng.uniform(0.05, 0.5))

    async def open_bridge(self, s):
        exe = s.exe
        cap = make_cap(self.gw.cap_key, exe.workspace, turn=s.turn)
        status, ws = await AsyncWs.connect(self.gw.host, self.gw.port, "/bridge/%s?token=%s" % (exe.exe_id, cap),
                                           "bridge-" + s.sid, self.rng)
        if status != 101:
            # 503 `executor not connected` is the race with a restart (the slot saw the
            # executor online just before); any other refusal is a failure.
            s.refused = status
            self.stats.add("bridge_refused_%d" % status)
            if status != 503:
                self.error("bridge to %s refused: %d %r" % (exe.exe_id, status, ws))
            return False
        s.ws = ws
        self.streams_by_id[s.sid] = s
        self.all_streams.append(s)
        self.stats.add("bridges_opened")
        ws.send_binary(relay_resume(s.sid))
        return True

    async def run_bridge(self, s):
        sender = asyncio.create_task(s.send_loop(s.up, "up", lambda: s.ws, lambda: s.up_stop))
        while True:
            msg = await s.ws.recv()
            if msg is None:
                break
            op, data = msg
            if op != OP_BINARY:
                s.error("text message on a relay bridge")
                continue
            try:
                sid, body, seq, value = decode_frame(data)
            except ValueError as e:
                s.error("undecodable frame at the bridge: %s" % e)
                continue
            if sid != s.sid:
                s.error("frame for stream %s reached this bridge" % sid)
            elif s.reset_at_bridge is not None:
                s.error("%s frame after the executor's Reset" % body)
            elif body == "data":
                s.receive(s.dn, "dn", seq, value, len(data))
            elif body == "reset":
                s.reset_at_bridge = value
            else:
                s.error("unexpected %s frame at the bridge" % body)
        s.up_stop = True
        s.dn_stop = True
        if s.end is None:
            close = (s.ws.close_code, s.ws.close_reason)
            if close in (CLOSE_EXECUTOR_GONE, CLOSE_EXECUTOR_REPLACED) and s.exe.restarting:
                s.end = "executor_restart"
            else:
                s.end = "unexpected"
                s.error("bridge closed unexpectedly: %r %r" % (s.ws.close_code, s.ws.close_reason))
        await sender

    # ---------------------------------------------------------------- churn

    def idle_executors(self):
        return [e for e in self.executors if not e.busy and not e.restarting and e.online.is_set()]

    async def churn_loop(self):
        cfg, rng = self.cfg, self.rng
        actions = [("bridge_close", 4), ("bridge_abort", 2), ("bridge_reset", 2), ("executor_reset", 2)]
        total = cfg.stream_churn_per_second + cfg.restarts_per_second
        tasks = set()
        while not self.churn_stopped:
            await asyncio.sleep(rng.expovariate(total))
            if self.churn_stopped:
                break
            candidates = self.idle_executors()
            if not candidates:
                continue
            exe = rng.choice(candidates)
            if rng.random() < cfg.restarts_per_second / total:
                action = rng.choice(["restart_close", "restart_abort", "restart_replace"])
            else:
                action = rng.choices([a for a, _ in actions], [w for _, w in actions])[0]
                streams = [s for s in exe.live if s.end is None and s.resumed.is_set() and not s.done.is_set()]
                if not streams:
                    continue
                target = rng.choice(streams)
            exe.busy = True
            if action.startswith("restart_"):
                t = asyncio.create_task(self.restart_executor(exe, action))
            else:
                t = asyncio.create_task(self.end_stream(exe, target, action))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)

    async def wait(self, what, events, timeout=20.0):
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), timeout)
            return True
        except asyncio.TimeoutError:
            self.error("timed out after %.0fs waiting for %s" % (timeout, what))
            return False

    async def end_stream(self, exe, s, action):
        """One stream-level churn event; waits until both ends saw what the spec promises."""
        try:
            self.stats.add("churn_" + action)
            s.end = action
            if action == "bridge_close":
                s.up_stop = True
                s.ws.send_close(1000)
                await self.wait("Reset after a bridge close", [s.exec_reset, s.done])
            elif action == "bridge_abort":
                s.up_stop = True
                s.ws.abort()
                await self.wait("Reset after a bridge abort", [s.exec_reset, s.done])
            elif action == "bridge_reset":
                s.up_stop = True
                s.ws.send_binary(relay_reset(s.sid, RESET_BY_SOAK_BRIDGE))
                await self.wait("bridge Reset forwarded", [s.exec_reset, s.done])
            elif action == "executor_reset":
                s.dn_stop = True
                s.exec_conn.ws.send_binary(relay_reset(s.sid, RESET_BY_SOAK_EXECUTOR))
                await self.wait("executor Reset forwarded", [s.done])
        finally:
            exe.busy = False

    async def restart_executor(self, exe, how):
        """Drops (close frame or TCP abort) or replaces the executor's websocket, checks that
        its bridges get the specified close, and brings the executor back online."""
        try:
            self.stats.add("churn_" + how)
            exe.restarting = True
            exe.online.clear()
            # Bridges still opening settle first (resumed at the executor, or refused), so
            # that each one's fate is known: closed by this restart.
            await self.wait_until(lambda: all(s.resumed.is_set() or s.done.is_set() for s in exe.live), 10,
                                  "bridges of %s to settle before a restart" % exe.exe_id)
            victims = [s for s in exe.live if not s.done.is_set()]
            for s in victims:
                s.end = "executor_restart"
                s.expect_close = CLOSE_EXECUTOR_REPLACED if how == "restart_replace" else CLOSE_EXECUTOR_GONE
                s.up_stop = s.dn_stop = True
            old = exe.conn
            if how == "restart_replace":
                await exe.connect()
                await self.wait("old executor socket evicted", [old.closed])
                if (old.ws.close_code, old.ws.close_reason) != CLOSE_EXECUTOR_EVICTED:
                    self.error("evicted executor %s got close %r %r"
                               % (exe.exe_id, old.ws.close_code, old.ws.close_reason))
                await self.wait("bridges closed by the replacement", [s.done for s in victims])
            else:
                if how == "restart_close":
                    old.ws.send_close(1000)
                else:
                    old.ws.abort()
                await self.wait("executor socket closed", [old.closed])
                await self.wait("bridges closed by the executor's loss", [s.done for s in victims])
                await exe.connect()
            self.stats.add("executor_restart_bridges_closed", len(victims))
        finally:
            exe.restarting = False
            exe.online.set()
            exe.busy = False

    async def wait_until(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                self.error("timed out after %.0fs waiting for %s" % (timeout, what))
                return False
            await asyncio.sleep(0.02)
        return True

    # ---------------------------------------------------------------- gateway observations

    def memory_kib(self):
        """{"VmRSS": KiB, "RssAnon": KiB, "RssFile": KiB} of the gateway process."""
        out = {}
        with open("/proc/%d/status" % self.gw.proc.pid) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile"):
                    out[key] = int(value.split()[0])
        return out

    def rss_kib(self):
        return self.memory_kib()["VmRSS"]

    async def rss_sampler(self):
        while True:
            self.rss_peak = max(self.rss_peak, self.rss_kib())
            await asyncio.sleep(0.5)

    async def idle_rss(self, seconds, good_enough=None):
        """The lowest RSS sampled while the gateway idles for `seconds` (stopping early once it
        is at most `good_enough`).  The window spans the gateway's memory-trim period, so the
        value is the RSS after freed heap pages went back to the kernel."""
        deadline = time.monotonic() + seconds
        best = None
        while True:
            m = self.memory_kib()
            if best is None or m["VmRSS"] < best["VmRSS"]:
                best = m
            if time.monotonic() >= deadline or (good_enough is not None and best["VmRSS"] <= good_enough):
                return best
            await asyncio.sleep(0.5)

    async def gauges(self):
        snap = await asyncio.to_thread(metrics, self.gw)
        return snap, {g: metric_sum(snap, g) for g in LIVE_GAUGES}

    async def wait_gauges(self, want, timeout):
        """Polls /metrics until each gauge in `want` has its value; reports the last values."""
        deadline = time.monotonic() + timeout
        while True:
            snap, values = await self.gauges()
            if all(values[g] == v for g, v in want.items()):
                return snap
            if time.monotonic() > deadline:
                self.error("gauges %r, expected %r" % (values, want))
                return snap
            await asyncio.sleep(0.2)

    # ---------------------------------------------------------------- phases

    async def run_phase(self, name, seconds):
        self.stopping = self.churn_stopped = self.traffic_stopped = False
        await self.connect_all()
        slots = [asyncio.create_task(self.slot_loop(exe)) for exe in self.executors for _ in range(self.cfg.streams)]
        churn = asyncio.create_task(self.churn_loop())
        t0 = time.monotonic()
        await asyncio.sleep(seconds)
        self.log("[soak] %s: %.0fs of traffic done, stopping churn" % (name, time.monotonic() - t0))

        self.churn_stopped = True
        await churn
        self.stopping = True
        for exe in self.executors:
            await self.wait_until(lambda: all(s.resumed.is_set() or s.done.is_set() for s in exe.live), 10,
                                  "bridges of %s to settle" % exe.exe_id)
        self.traffic_stopped = True
        survivors = [s for exe in self.executors for s in exe.live if not s.done.is_set()]
        # Everything sent must arrive: this is the 0-lost check for streams nobody ended.
        await self.wait_until(lambda: all(s.up.complete and s.dn.complete for s in survivors),
                              self.cfg.settle_timeout, "in-flight frames of %d streams" % len(survivors))
        for s in survivors:
            s.end = "final"
            s.up_stop = True
            s.ws.send_close(1000)
        await self.wait("final bridge closes and their Resets",
                        [e for s in survivors for e in (s.done, s.exec_reset)], 30)
        for exe in self.executors:
            exe.online.clear()
            exe.conn.ws.send_close(1000)
        await self.wait("executor sockets closed", [exe.conn.closed for exe in self.executors], 30)
        for exe in self.executors:
            exe.online.set()  # lets idle slot loops see `stopping`
        await asyncio.gather(*slots)
        for exe in self.executors:
            exe.online.clear()
        snap = await self.wait_gauges({g: 0 for g in LIVE_GAUGES}, 15)
        self.stats.add("streams_survived_" + name, len(survivors))
        return snap

    # ---------------------------------------------------------------- verdicts

    def check_stream(self, s):
        """The end-of-run check of one stream, by who ended it (wire-protocol §5, §7.1, §10)."""
        close = (s.ws.close_code, s.ws.close_reason)
        complete = {"up": s.up.complete, "dn": s.dn.complete}

        def need(cond, what):
            if not cond:
                s.error(what + " (up %d/%d, dn %d/%d, close %r, executor Resets %r, bridge Reset %r)"
                        % (s.up.recv, s.up.sent, s.dn.recv, s.dn.sent, close, s.exec_resets, s.reset_at_bridge))

        e = s.end
        if e in ("final", "bridge_close"):
            need(complete["up"], "frames from the bridge lost before its close")
            need(s.exec_resets == [RESET_BRIDGE_LEFT], "executor must get exactly one Reset harness_disconnected")
            need(close[0] == 1000, "close handshake must echo 1000")
            if e == "final":
                need(complete["dn"], "frames to the bridge lost")
        elif e == "bridge_abort":
            need(s.exec_resets == [RESET_BRIDGE_LEFT], "executor must get exactly one Reset harness_disconnected")
        elif e == "bridge_reset":
            need(complete["up"], "frames from the bridge lost before its Reset")
            need(s.exec_resets == [RESET_BY_SOAK_BRIDGE], "executor must get the bridge's Reset once, unchanged")
            need(close == CLOSE_RESET_BY_BRIDGE, "bridge must be closed 1000 stream reset by bridge")
        elif e == "executor_reset":
            need(complete["dn"], "frames from the executor lost before its Reset")
            need(s.reset_at_bridge == RESET_BY_SOAK_EXECUTOR, "bridge must get the executor's Reset")
            need(close == CLOSE_RESET_BY_EXECUTOR, "bridge must be closed 1000 stream reset by executor")
            need(s.exec_resets == [], "no Reset back to an executor that reset the stream")
        elif e == "executor_restart":
            need(close == s.expect_close if s.expect_close else close in (CLOSE_EXECUTOR_GONE, CLOSE_EXECUTOR_REPLACED),
                 "bridge must get the specified close when its executor goes")
            need(s.exec_resets == [], "no Reset when the executor socket is gone")
        else:
            need(False, "ended without a known cause")
        self.stats.add("streams_end_" + str(e))
        if e == "final":
            self.stats.add("streams_complete_both_directions")
        elif e in ("bridge_close", "bridge_reset"):
            self.stats.add("streams_complete_up_reset")
        elif e == "executor_reset":
            self.stats.add("streams_complete_dn_reset")
        else:
            self.stats.add("streams_prefix_only")
        self.stats.add("frames_lost_to_churn_up", s.up.sent - s.up.recv)
        self.stats.add("frames_lost_to_churn_dn", s.dn.sent - s.dn.recv)

    async def run(self):
        """Warm-up round, RSS baseline, main round, final checks.  Returns the summary dict."""
        cfg = self.cfg
        self.log("[soak] seed %d, %d executors x %d streams, %.0fs (+%.0fs warm-up), rate %.1f/s/stream/dir, "
                 "frames up to %d bytes" % (cfg.seed, cfg.executors, cfg.streams, cfg.seconds, cfg.warmup_seconds,
                                            cfg.rate, cfg.max_message))
        sampler = asyncio.create_task(self.rss_sampler())
        try:
            self.rss["start"] = self.rss_kib()
            await self.create_executors()
            t0 = time.monotonic()
            await self.run_phase("warmup", cfg.warmup_seconds)
            self.rss["peak_warmup"] = self.rss_peak
            baseline = await self.idle_rss(RSS_IDLE_WINDOW)
            self.rss["baseline"], self.rss["baseline_anon"] = baseline["VmRSS"], baseline["RssAnon"]
            self.rss["tolerance"] = rss_tolerance_kib(self.rss["baseline"])
            self.log("[soak] RSS baseline %d KiB after warm-up (peak %d KiB)" % (self.rss["baseline"], self.rss_peak))
            self.rss_peak = 0
            t1 = time.monotonic()
            after = await self.run_phase("soak", cfg.seconds)
            t2 = time.monotonic()
            self.rss["peak"] = self.rss_peak
            # Under load the trim may come late: allow a longer window, but stop as soon as
            # the RSS is back within tolerance.
            back = await self.idle_rss(RSS_IDLE_WINDOW * 3, self.rss["baseline"] + self.rss["tolerance"])
            self.rss["after"], self.rss["after_anon"] = back["VmRSS"], back["RssAnon"]
        finally:
            sampler.cancel()
        for s in self.all_streams:
            self.check_stream(s)
        return self.summary(after, t1 - t0, t2 - t1)

    def summary(self, after, warmup_s, soak_s):
        c = self.stats.c

        def by_label(name, label):
            return {dict(ls).get(label): int(v) for (n, ls), v in after.items() if n in (name, name + "_total")}

        def with_prefix(prefix):
            return {k[len(prefix):]: v for k, v in sorted(c.items()) if k.startswith(prefix)}

        return {
            "seed": self.cfg.seed,
            "config": dataclasses.asdict(self.cfg),
            "seconds": {"warmup": round(warmup_s, 1), "soak": round(soak_s, 1)},
            "frames": {d: {"sent": c[d + "_frames_sent"], "received": c[d + "_frames_recv"],
                           "bytes_sent": c[d + "_bytes_sent"], "bytes_received": c[d + "_bytes_recv"],
                           "at_size_limit": c[d + "_frames_at_limit"]}
                       for d in ("up", "dn")},
            "streams": {"checked": len(self.all_streams),
                        "complete_both_directions": c["streams_complete_both_directions"],
                        "reset_after_complete_upstream": c["streams_complete_up_reset"],
                        "reset_after_complete_downstream": c["streams_complete_dn_reset"],
                        "aborted_or_executor_gone": c["streams_prefix_only"],
                        "by_end": with_prefix("streams_end_"),
                        "frames_in_flight_when_ended": {"up": c["frames_lost_to_churn_up"],
                                                        "dn": c["frames_lost_to_churn_dn"]}},
            "churn": with_prefix("churn_"),
            "executor_connects": c["executor_connects"],
            "resets_at_executors": with_prefix("executor_reset_"),
            "bridges_refused": with_prefix("bridge_refused_"),
            "window_waits": c["window_waits"],
            "gateway": {"stream_resets": by_label("cxg_stream_resets", "reason"),
                        "frames_dropped": by_label("cxg_frames_dropped", "reason"),
                        "frames": by_label("cxg_frames", "direction"),
                        "slow_consumer_closes": int(metric_sum(after, "cxg_slow_consumer_closes_total")),
                        "live_gauges_after": {g: int(metric_sum(after, g)) for g in LIVE_GAUGES}},
            "rss_kib": dict(self.rss),
            "errors": self.error_count,
        }


# --------------------------------------------------------------------------- verdicts

# RSS is compared idle with idle: the baseline is taken after a warm-up round that ran the same
# workload (so lazily grown state exists: metrics series, SQLite page cache, thread arenas) and
# every connection was closed; "after" is taken the same way after the main round.  Both are the
# lowest sample over a window that spans the gateway's periodic malloc_trim.  What may differ
# legitimately is heap fragmentation that trimming cannot give back (partly used pages), bounded
# ticket/auth caches and allocator bookkeeping: about 1 MiB in practice.  4 MiB (or 10% of the
# baseline if that is more) stays far below what a leak would add over a default run (~2 000
# bridges, ~300 000 frames, ~3.5 GB relayed): 2 KiB per bridge, 16 bytes per frame or 0.1% of
# the bytes relayed would each exceed it.
RSS_IDLE_WINDOW = 12.0  # seconds: longer than the gateway's 10 s memory-trim period
RSS_TOLERANCE_MIN_KIB = 4 * 1024


def rss_tolerance_kib(baseline_kib):
    return max(RSS_TOLERANCE_MIN_KIB, baseline_kib // 10)


def verdicts(summary, errors, gateway_log):
    """Every failed expectation of a finished run, as readable lines (empty: passed)."""
    fails = []
    if not summary["gateway_alive"]:
        fails.append("the gateway process died")
    if errors:
        fails.append("%d stream errors, first ones:\n  " % summary["errors"] + "\n  ".join(errors[:20]))
    bad_log = [r for r in gateway_log if r.get("level") == "error"]
    if bad_log:
        fails.append("gateway logged %d errors, first: %r" % (len(bad_log), bad_log[:3]))
    live = summary["gateway"]["live_gauges_after"]
    if any(live.values()):
        fails.append("live gauges not back to zero: %r" % live)

    # The gateway's own counters must agree with what the executors saw (every Reset it sent
    # arrived: restarts never overlap stream churn on the same executor).
    gw_resets = summary["gateway"]["stream_resets"]
    seen = summary["resets_at_executors"]
    churn = summary["churn"]
    for label, want in ((RESET_BRIDGE_LEFT, seen.get(RESET_BRIDGE_LEFT, 0)),
                        ("bridge_reset", churn.get("bridge_reset", 0)),
                        ("executor_reset", churn.get("executor_reset", 0))):
        if gw_resets.get(label, 0) != want:
            fails.append("gateway counted %d Resets %s, the soak expected %d" % (gw_resets.get(label, 0), label, want))
    unexpected_drops = {k: v for k, v in summary["gateway"]["frames_dropped"].items() if k != "no_route"}
    if unexpected_drops:
        fails.append("gateway dropped frames: %r" % unexpected_drops)
    if summary["gateway"]["slow_consumer_closes"]:
        fails.append("%d slow-consumer closes" % summary["gateway"]["slow_consumer_closes"])

    # The run must have done what it claims.
    for d in ("up", "dn"):
        f = summary["frames"][d]
        if not f["received"] or not f["at_size_limit"]:
            fails.append("no %s traffic%s: %r" % (d, " at the size limit" if f["received"] else "", f))
    if not summary["streams"]["complete_both_directions"]:
        fails.append("no stream survived to the end to be checked complete")
    if summary["config"]["seconds"] >= 60:
        # ~0.25 restarts and ~3 stream churn events a second: each kind is all but certain
        missing = [k for k in CHURN_KINDS if not churn.get(k)]
        if missing:
            fails.append("churn kinds that never happened: %r" % missing)

    rss = summary["rss_kib"]
    grown = rss["after"] - rss["baseline"]
    if grown > rss["tolerance"]:
        fails.append("gateway RSS did not return to baseline: %d KiB -> %d KiB (%+d KiB, tolerance %d KiB)"
                     % (rss["baseline"], rss["after"], grown, rss["tolerance"]))
    return fails


def format_summary(s):
    """A short human-readable report of a run."""
    mib = lambda n: n / MiB
    st, gw, rss = s["streams"], s["gateway"], s["rss_kib"]
    lines = ["relay soak: seed %d, %d executors x %d streams, warm-up %.0fs + soak %.0fs"
             % (s["seed"], s["config"]["executors"], s["config"]["streams"], s["seconds"]["warmup"],
                s["seconds"]["soak"])]
    for d, name in (("up", "bridge->executor"), ("dn", "executor->bridge")):
        f = s["frames"][d]
        lines.append("  %-17s %7d frames sent, %7d received, %8.1f MiB received, %d at the size limit"
                     % (name, f["sent"], f["received"], mib(f["bytes_received"]), f["at_size_limit"]))
    lines.append("  streams checked %d: %d complete both ways; reset after a complete upstream %d, after a complete "
                 "downstream %d; aborted or executor gone %d (prefix checked); frames in flight when ended up %d dn %d"
                 % (st["checked"], st["complete_both_directions"], st["reset_after_complete_upstream"],
                    st["reset_after_complete_downstream"], st["aborted_or_executor_gone"],
                    st["frames_in_flight_when_ended"]["up"], st["frames_in_flight_when_ended"]["dn"]))
    lines.append("  ended by: %s" % ", ".join("%s %d" % kv for kv in sorted(st["by_end"].items())))
    lines.append("  churn events: %s; executor connects %d; bridges refused %r; window waits %d"
                 % (", ".join("%s %d" % kv for kv in sorted(s["churn"].items())), s["executor_connects"],
                    s["bridges_refused"], s["window_waits"]))
    lines.append("  Resets at executors %r; gateway resets %r, drops %r, slow consumers %d, live gauges %r"
                 % (s["resets_at_executors"], gw["stream_resets"], gw["frames_dropped"], gw["slow_consumer_closes"],
                    gw["live_gauges_after"]))
    lines.append("  RSS KiB: start %d, warm-up peak %d, baseline %d (anon %d), soak peak %d, after %d (anon %d): "
                 "%+d KiB, tolerance %d KiB"
                 % (rss["start"], rss["peak_warmup"], rss["baseline"], rss["baseline_anon"], rss["peak"],
                    rss["after"], rss["after_anon"], rss["after"] - rss["baseline"], rss["tolerance"]))
    lines.append("  gateway warnings and errors logged: %r" % s.get("gateway_log", {}))
    lines.append("  stream errors: %d" % s["errors"])
    return "\n".join(lines)


def gateway_env(cfg):
    return {"CXG_LOG_LEVEL": "info",
            "CXG_MAX_BRIDGE_MESSAGE_BYTES": str(cfg.max_message),
            "CXG_MAX_EXECUTOR_MESSAGE_BYTES": str(cfg.max_message),
            "CXG_MAX_STREAMS_PER_EXECUTOR": str(max(64, cfg.streams * 2)),
            "CXG_PING_INTERVAL": cfg.ping_interval}


def run_soak(cfg, log=print):
    """Runs the whole soak against a fresh gateway; returns (summary, stream errors, gateway
    log records)."""
    with Gateway(env=gateway_env(cfg)) as gw:
        soak = Soak(gw, cfg, log)
        summary = asyncio.run(soak.run())
        summary["gateway_alive"] = gw.alive()
        records = gw.log_records()
        summary["gateway_log"] = dict(collections.Counter(
            "%s: %s" % (r.get("level"), r.get("msg")) for r in records if r.get("level") in ("warn", "error")))
        return summary, soak.errors, records


def main():
    cfg = SoakConfig.from_env()
    summary, errors, gateway_log = run_soak(cfg, log=lambda m: print(m, flush=True))
    if "--json" in sys.argv[1:]:
        print(json.dumps(summary, indent=2))
    print(format_summary(summary))
    fails = verdicts(summary, errors, gateway_log)
    for f in fails:
        print("FAIL:", f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
