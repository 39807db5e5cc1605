"""Integration-test harness for cxg: runs the real `cxg serve` binary.

Stdlib only (plus `cryptography` for RSA/JWT).  Pieces:
  - Gateway: starts `$CXG_BIN serve` on a free port with a temporary SQLite database.
  - StubAgentServer: a scripted `/internal/codex-auth/validate` endpoint.
  - JWT helpers: RSA keys, JWKS files, RS256 signing, forged `none`/HS256 tokens.
  - Credential helpers: cap-tokens and ws tickets computed in Python (for forgeries).
  - WebSocket: a raw RFC 6455 client (fake executors and bridges).
  - StoreLocker: makes the SQLite store unusable for the gateway (store-failure rows).
"""

import base64
import collections
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

CXG_BIN = os.environ.get("CXG_BIN", "/work/main/build/src/cli/cxg")
KEEP_TMP = bool(os.environ.get("CXG_IT_KEEP"))

PLAIN_CT = "text/plain; charset=utf-8"

# Secrets used by default (explicit configuration). Distinctive so log scans are meaningful.
DEFAULT_SECRETS = {
    "CXG_CAPTOKEN_HMAC_SECRET": "it-capkey-" + "Qz7Lw3" * 6,
    "CXG_INTERNAL_SHARED_SECRET": "it-shared-" + "Hv2Rk9" * 6,
    "CXG_WS_TICKET_SECRET": "it-ticket-" + "Pn4Xs8" * 6,
    "CXG_AGENTSERVER_INTERNAL_SECRET": "it-admin-" + "Jt6Yb1" * 6,
}
SECRET_NAMES = ("CXG_CAPTOKEN_HMAC_SECRET", "CXG_INTERNAL_SHARED_SECRET", "CXG_WS_TICKET_SECRET",
                "CXG_AGENTSERVER_INTERNAL_SECRET", "CXG_PEER_SECRET")

DEFAULT_TOKENS = {
    "tok-alice-" + "a1" * 12: "alice",
    "tok-bob-" + "b2" * 12: "bob",
}
ALICE_TOKEN = "tok-alice-" + "a1" * 12
BOB_TOKEN = "tok-bob-" + "b2" * 12

UUID4_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
RFC3339_MS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

_counter = [0]
_counter_lock = threading.Lock()


def uid(prefix="exe"):
    """A unique, valid exe_id / workspace id / turn id."""
    with _counter_lock:
        _counter[0] += 1
        n = _counter[0]
    return "%s-%d-%s" % (prefix, n, uuid.uuid4().hex[:8])


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def non_loopback_ipv4():
    """A local IPv4 address that is not in 127.0.0.0/8, or None."""
    cands = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.123", 9))  # no packet is sent
            cands.append(s.getsockname()[0])
    except OSError:
        pass
    try:
        cands += socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        pass
    for ip in cands:
        if ip and not ip.startswith("127.") and ip != "0.0.0.0":
            return ip
    return None


def wait_until(pred, timeout, interval=0.05, desc="condition"):
    """Polls pred() until it returns a truthy value; returns it, or the last value on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            return last
        time.sleep(interval)


# --------------------------------------------------------------------------- base64 / HMAC

def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def hmac_b64u(key, msg):
    if isinstance(key, str):
        key = key.encode()
    if isinstance(msg, str):
        msg = msg.encode()
    return b64u(hmac.new(key, msg, hashlib.sha256).digest())


def sha8(s):
    if isinstance(s, str):
        s = s.encode()
    return hashlib.sha256(s).hexdigest()[:8]


# --------------------------------------------------------------------------- credentials

def mint_ticket(key, exe_id, expiry):
    """WS ticket <exe_id>.<expiry>.<sig> (http-api §3.1)."""
    msg = "%s.%s" % (exe_id, expiry)
    return "%s.%s" % (msg, hmac_b64u(key, msg))


def ticket_sig_ok(key, ticket):
    parts = ticket.split(".")
    if len(parts) != 3:
        return False
    return hmac.compare_digest(hmac_b64u(key, parts[0] + "." + parts[1]), parts[2])


CAP_HEADER = {"alg": "HS256", "typ": "CXG"}


def make_cap(key, workspace, turn=None, user=None, exp=None, iat=None, header=None,
             payload=None, raw_header=None, raw_payload=None):
    """Cap-token B64U(header).B64U(payload).B64U(sig) computed in Python (http-api §3.2).

    `payload` replaces the claims entirely; raw_* give the exact base64 text of a part."""
    now = int(time.time())
    if payload is None:
        payload = {"turn_id": turn or uid("trn"), "workspace_id": workspace,
                   "iat": now if iat is None else iat,
                   "exp": now + 3600 if exp is None else exp}
        if user is not None:
            payload["user_id"] = user
    h = raw_header if raw_header is not None else b64u(json.dumps(header or CAP_HEADER,
                                                                  separators=(",", ":")))
    p = raw_payload if raw_payload is not None else b64u(json.dumps(payload, separators=(",", ":")))
    return "%s.%s.%s" % (h, p, hmac_b64u(key, h + "." + p))


def decode_cap(token):
    h, p, s = token.split(".")
    return json.loads(b64u_decode(h)), json.loads(b64u_decode(p)), s


# --------------------------------------------------------------------------- HTTP responses

class Resp(collections.namedtuple("Resp", "status headers body")):
    """(status, headers: http.client.HTTPMessage, body: bytes)."""

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def ctype(self):
        return self.headers.get("Content-Type", "")

    def __repr__(self):
        return "Resp(%d, %r, %r)" % (self.status, self.ctype, self.body[:300])


def http_request(host, port, method, path, headers=None, body=None, timeout=15):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=dict(headers or {}))
        r = conn.getresponse()
        data = r.read()
        return Resp(r.status, r.headers, data)
    finally:
        conn.close()


def raw_http(host, port, data, method="GET", timeout=15):
    """Sends exact bytes and parses one HTTP response."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(data)
        r = http.client.HTTPResponse(s, method=method)
        r.begin()
        body = r.read()
        return Resp(r.status, r.headers, body)
    finally:
        s.close()


# --------------------------------------------------------------------------- WebSocket client

class WSClosed(Exception):
    pass


class WebSocket:
    """A minimal RFC 6455 client over a raw socket.

    Use WebSocket.connect(); `status` is the handshake status.  When it is not 101 the
    response is in `resp` and the socket is closed."""

    def __init__(self):
        self.sock = None
        self.buf = b""
        self.status = None
        self.resp = None
        self.close_code = None
        self.close_reason = None
        self.closed = False
        self.server_masked = False
        self.pings = 0

    @classmethod
    def connect(cls, host, port, path, headers=None, timeout=10, upgrade=True,
                offer_deflate=False, host_header=None):
        ws = cls()
        ws.sock = socket.create_connection((host, port), timeout=timeout)
        ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: %s" % (host_header or "%s:%d" % (host, port))]
        if upgrade:
            lines += ["Upgrade: websocket", "Connection: Upgrade",
                      "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
            if offer_deflate:
                lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        ws.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = ws.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed during handshake: %r" % head)
            head += chunk
        head, rest = head.split(b"\r\n\r\n", 1)
        hl = head.decode("latin-1").split("\r\n")
        ws.status = int(hl[0].split(" ")[1])
        msg = http.client.HTTPMessage()
        for line in hl[1:]:
            k, _, v = line.partition(":")
            msg[k.strip()] = v.strip()
        ws.headers = msg
        if ws.status != 101:
            n = int(msg.get("Content-Length", "0") or 0)
            body = rest
            ws.sock.settimeout(5)
            try:
                while len(body) < n:
                    chunk = ws.sock.recv(65536)
                    if not chunk:
                        break
                    body += chunk
            except socket.timeout:
                pass
            ws.resp = Resp(ws.status, msg, body[:n] if n else body)
            ws.sock.close()
            ws.closed = True
            return ws
        expect = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        if msg.get("Sec-WebSocket-Accept") != expect:
            raise AssertionError("bad Sec-WebSocket-Accept %r" % msg.get("Sec-WebSocket-Accept"))
        ws.buf = rest
        return ws

    # -- sending
    def send_frame(self, opcode, payload=b"", fin=True):
        if isinstance(payload, str):
            payload = payload.encode()
        hdr = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(hdr + mask + masked)

    def send_text(self, s):
        self.send_frame(0x1, s)

    def send_binary(self, b):
        self.send_frame(0x2, b)

    def send_close(self, code=1000, reason=b""):
        if isinstance(reason, str):
            reason = reason.encode()
        try:
            self.send_frame(0x8, struct.pack("!H", code) + reason)
        except OSError:
            pass

    # -- receiving
    def _read(self, n):
        while len(self.buf) < n:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionError, OSError) as e:
                if isinstance(e, (socket.timeout, TimeoutError)):
                    raise
                raise WSClosed(str(e))
            if not chunk:
                raise WSClosed("EOF")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self):
        b0, b1 = self._read(2)
        op = b0 & 0x0F
        fin = bool(b0 & 0x80)
        n = b1 & 0x7F
        if b1 & 0x80:
            self.server_masked = True
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        mask = self._read(4) if b1 & 0x80 else None
        data = self._read(n)
        if mask:
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        return fin, op, data

    def recv(self, timeout=5):
        """Next data message as (opcode, payload); answers pings; on close returns (8, payload)."""
        if self.closed and not self.buf:
            raise WSClosed("closed")
        self.sock.settimeout(timeout)
        parts, first_op = [], None
        while True:
            fin, op, data = self._frame()
            if op == 0x9:
                self.pings += 1
                self.send_frame(0xA, data)
                continue
            if op == 0xA:
                continue
            if op == 0x8:
                self.closed = True
                if len(data) >= 2:
                    self.close_code = struct.unpack("!H", data[:2])[0]
                    self.close_reason = data[2:].decode("utf-8", "replace")
                self.send_close(self.close_code or 1000)
                return 0x8, data
            if op != 0x0:
                first_op = op
            parts.append(data)
            if fin:
                return first_op, b"".join(parts)

    def wait_close(self, timeout=5):
        """Reads until the server's close frame (or EOF); returns (code, reason)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no close within %.1fs" % timeout)
            try:
                op, _ = self.recv(timeout=left)
            except WSClosed:
                return self.close_code, self.close_reason
            if op == 0x8:
                return self.close_code, self.close_reason

    def is_open_for(self, seconds):
        """True if no close/EOF arrives within `seconds` (data frames are discarded)."""
        try:
            self.wait_close(seconds)
            return False
        except (socket.timeout, TimeoutError):
            return True

    def close(self):
        if self.sock is None:
            return
        try:
            if not self.closed:
                self.send_close(1000)
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


# --------------------------------------------------------------------------- relay v1 frames

def pb_varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def relay_frame(stream_id, body_field, body=b"", version=1):
    sid = stream_id.encode() if isinstance(stream_id, str) else stream_id
    out = b""
    if version:
        out += b"\x08" + pb_varint(version)
    if sid:
        out += b"\x12" + pb_varint(len(sid)) + sid
    out += bytes([(body_field << 3) | 2]) + pb_varint(len(body)) + body
    return out


def relay_resume(stream_id, next_seq=0):
    return relay_frame(stream_id, 7, (b"\x08" + pb_varint(next_seq)) if next_seq else b"")


def relay_data(stream_id, payload, seq=0):
    if isinstance(payload, str):
        payload = payload.encode()
    body = (b"\x08" + pb_varint(seq) if seq else b"") + b"\x18\x01" + b"\x22" + pb_varint(len(payload)) + payload
    return relay_frame(stream_id, 5, body)


def relay_decode(buf):
    """Returns {field_number: value} (last wins) for a relay frame; bytes for LEN fields."""
    out, i = {}, 0
    while i < len(buf):
        key, i = _pb_read_varint(buf, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _pb_read_varint(buf, i)
        elif wt == 2:
            n, i = _pb_read_varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        out[f] = v
    return out


def _pb_read_varint(buf, i):
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


# --------------------------------------------------------------------------- stub agentserver

class StubAgentServer:
    """Scripted stand-in for agentserver's POST /internal/codex-auth/validate.

    Default behaviour: the credential (bearer token or assertion) is looked up in `users`
    (200 {"user_id": U}); unknown credentials get 401.  `script` entries (FIFO) override
    the default for one request each: (status, body_obj_or_bytes, delay_seconds).
    `mode` may be set to "sleep" (sleep `sleep_seconds`, then answer normally),
    "500" (always 500)."""

    def __init__(self, users=None):
        self.users = dict(users or {})
        self.requests = []
        self.script = []
        self.mode = "normal"
        self.sleep_seconds = 6.5
        self.lock = threading.Lock()
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    parsed = json.loads(raw.decode())
                except Exception:
                    parsed = None
                req = {"method": "POST", "path": self.path,
                       "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": raw, "json": parsed, "time": time.time()}
                with stub.lock:
                    stub.requests.append(req)
                    step = stub.script.pop(0) if stub.script else None
                    mode = stub.mode
                if step is not None:
                    status, body, delay = step
                else:
                    delay = stub.sleep_seconds if mode == "sleep" else 0
                    if mode == "500":
                        status, body = 500, {"error": "boom"}
                    else:
                        cred = None
                        if isinstance(parsed, dict):
                            cred = parsed.get("token") or parsed.get("assertion")
                        if cred in stub.users:
                            status, body = 200, {"user_id": stub.users[cred]}
                        else:
                            status, body = 401, {"error": "invalid token"}
                if delay:
                    time.sleep(delay)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.script.clear()
            self.mode = "normal"

    def count(self):
        with self.lock:
            return len(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- JWT helpers

class RsaKey:
    def __init__(self, kid=None):
        from cryptography.hazmat.primitives.asymmetric import rsa
        self.kid = kid or uid("kid")
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self):
        pub = self.key.public_key().public_numbers()

        def i2b(i):
            return i.to_bytes((i.bit_length() + 7) // 8, "big")
        return {"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256",
                "n": b64u(i2b(pub.n)), "e": b64u(i2b(pub.e))}

    def sign(self, claims, header=None, kid=True):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        h = {"alg": "RS256", "typ": "JWT"}
        if kid:
            h["kid"] = self.kid if kid is True else kid
        h.update(header or {})
        si = b64u(json.dumps(h, separators=(",", ":"))) + "." + b64u(json.dumps(claims, separators=(",", ":")))
        sig = self.key.sign(si.encode(), padding.PKCS1v15(), hashes.SHA256())
        return si + "." + b64u(sig)


def write_self_signed_cert(dirpath, prefix=""):
    """A self-signed certificate for localhost and 127.0.0.1 (TLS listener tests).
    Returns (cert_path, key_path) of PEM files in dirpath."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path = os.path.join(dirpath, prefix + "cert.pem")
    key_path = os.path.join(dirpath, prefix + "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


def write_jwks(path, keys):
    with open(path, "w") as f:
        json.dump({"keys": [k.jwk() for k in keys]}, f)


def jwt_none(claims, kid=None):
    h = {"alg": "none", "typ": "JWT"}
    if kid:
        h["kid"] = kid
    return b64u(json.dumps(h)) + "." + b64u(json.dumps(claims)) + "."


def jwt_hs256(claims, secret, kid=None):
    h = {"alg": "HS256", "typ": "JWT"}
    if kid:
        h["kid"] = kid
    si = b64u(json.dumps(h)) + "." + b64u(json.dumps(claims))
    return si + "." + hmac_b64u(secret, si)


def chatgpt_claims(account, exp_in=3600, **extra):
    now = int(time.time())
    c = {"sub": "user-" + account, "iat": now, "exp": now + exp_in,
         "https://api.openai.com/auth": {"chatgpt_account_id": account}}
    c.update(extra)
    return c


# --------------------------------------------------------------------------- store locker

class StoreLocker:
    """Holds every WAL lock byte of `<db>-shm` from a child process so that the gateway's
    SQLite reads and writes fail (SQLITE_PROTOCOL after ~10 s of retries)."""

    def __init__(self, db_path):
        self.db_path = db_path
        self.proc = None

    def __enter__(self):
        shm = self.db_path + "-shm"
        if not os.path.exists(shm):
            raise unittest.SkipTest("no %s: cannot simulate a store failure" % shm)
        code = ("import fcntl,os,sys,time\n"
                "fd=os.open(sys.argv[1],os.O_RDWR)\n"
                "fcntl.lockf(fd,fcntl.LOCK_EX,8,120)\n"
                "print('locked',flush=True)\n"
                "sys.stdin.read()\n")
        self.proc = subprocess.Popen([sys.executable, "-c", code, shm], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "locked":
            raise RuntimeError("store locker failed")
        return self

    def __exit__(self, *exc):
        if self.proc:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self.proc.stdout.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return False


# --------------------------------------------------------------------------- the gateway

class GatewayStartError(RuntimeError):
    pass


class Gateway:
    """One `cxg serve` process with its own temp dir and SQLite database.

    env: overrides applied on top of the defaults; a value of None removes the variable.
    secrets: when True (default) the four secrets of DEFAULT_SECRETS are configured
             explicitly; when False none is set (zero-configuration start).
    tokens: {token: user} written to <tmp>/tokens.txt and used as CXG_STATIC_TOKENS_FILE
            (None: the variable is not set, the gateway's default path applies).
    """

    def __init__(self, env=None, secrets=True, tokens=DEFAULT_TOKENS, listen_host="127.0.0.1",
                 start=True, tmpdir=None, ready_timeout=15):
        self.tmp = tmpdir or tempfile.mkdtemp(prefix="cxg-it-")
        self.db_path = os.path.join(self.tmp, "cxg.db")
        self.listen_host = listen_host
        self.host = "127.0.0.1"
        self.port = None
        self.proc = None
        self.ready_timeout = ready_timeout
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self.stdout_path = os.path.join(self.tmp, "stdout.log")
        self.tokens_path = os.path.join(self.tmp, "tokens.txt")
        base = {k: v for k, v in os.environ.items()
                if not k.startswith("CXG_") and k != "CODEX_EXEC_GATEWAY_TOKEN"}
        base["CXG_DATABASE_URL"] = "sqlite://" + self.db_path
        base["CXG_LOG_LEVEL"] = "debug"
        if secrets:
            base.update(DEFAULT_SECRETS)
        if tokens is not None:
            self.write_tokens(tokens)
            base["CXG_STATIC_TOKENS_FILE"] = self.tokens_path
        for k, v in (env or {}).items():
            if v is None:
                base.pop(k, None)
            else:
                base[k] = v
        self.fixed_listen = "CXG_LISTEN" in (env or {})
        self.env = base
        self.runs = 0
        if start:
            try:
                self.start()
            except BaseException:
                self.close()  # the error message carries the stderr tail
                raise

    # -- process control
    # Runs in the child between fork and exec (e.g. to set signal dispositions that Popen's
    # restore_signals would otherwise reset); subclasses override it.
    preexec_fn = None

    def start(self, wait=True):
        if self.fixed_listen:
            self.port = int(self.env["CXG_LISTEN"].rsplit(":", 1)[1])
        else:
            self.port = free_port(self.listen_host)
            self.env["CXG_LISTEN"] = "%s:%d" % (self.listen_host, self.port)
        self.runs += 1
        err = open(self.stderr_path, "ab")
        out = open(self.stdout_path, "ab")
        try:
            self.proc = subprocess.Popen([CXG_BIN, "serve"], env=self.env, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, preexec_fn=self.preexec_fn)
        finally:
            err.close()
            out.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.ready_timeout)
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise GatewayStartError("cxg serve exited with %s during startup:\n%s"
                                        % (self.proc.returncode, self.stderr_tail()))
            try:
                last = self.request("GET", "/readyz", timeout=2)
                if last.status == 200:
                    return
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise GatewayStartError("cxg not ready within %ss (last: %r):\n%s"
                                % (timeout or self.ready_timeout, last, self.stderr_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=40):
        """Signals the process and returns its exit code (negative: killed by a signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("cxg did not exit within %ss of signal %s" % (timeout, sig))
        return self.proc.returncode

    def restart(self, env=None):
        self.stop()
        for k, v in (env or {}).items():
            if v is None:
                self.env.pop(k, None)
            else:
                self.env[k] = v
        self.start()

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not KEEP_TMP:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- output
    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stderr_tail(self, n=40):
        return "\n".join(self.stderr_text().splitlines()[-n:])

    def log_records(self):
        out = []
        for line in self.stderr_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    # -- configuration views
    def secrets_file(self):
        return os.path.join(self.tmp, "cxg-secrets.env")

    def file_secrets(self):
        vals = {}
        try:
            with open(self.secrets_file()) as f:
                for line in f:
                    line = line.strip()
                    if not line or line.startswith("#") or "=" not in line:
                        continue
                    k, v = line.split("=", 1)
                    v = v.strip()
                    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                        v = v[1:-1]
                    vals[k.strip()] = v
        except FileNotFoundError:
            pass
        return vals

    def secret(self, name):
        v = self.env.get(name)
        if v:
            return v
        return self.file_secrets().get(name, "")

    @property
    def cap_key(self):
        return self.secret("CXG_CAPTOKEN_HMAC_SECRET")

    @property
    def shared_secret(self):
        return self.secret("CXG_INTERNAL_SHARED_SECRET")

    @property
    def admin_secret(self):
        return self.env.get("CXG_AGENTSERVER_INTERNAL_SECRET", "")

    @property
    def ticket_key(self):
        return self.secret("CXG_WS_TICKET_SECRET") or self.admin_secret

    def write_tokens(self, tokens, path=None):
        path = path or self.tokens_path
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("# integration-test tokens\n")
            for t, u in tokens.items():
                f.write("%s %s\n" % (t, u))
        os.replace(tmp, path)
        # Make every rewrite visible to an mtime check, even within one timestamp tick.
        mt = max(time.time_ns(), getattr(self, "_last_mtime", 0) + 1_000_000_000)
        self._last_mtime = mt
        os.utime(path, ns=(mt, mt))

    # -- HTTP
    def request(self, method, path, headers=None, body=None, timeout=15, host=None):
        return http_request(host or self.host, self.port, method, path, headers, body, timeout)

    def raw(self, data, method="GET", timeout=15):
        return raw_http(self.host, self.port, data, method, timeout)

    def admin(self, method, path, headers=None, body=None, user=None, timeout=15):
        h = dict(headers or {})
        if self.admin_secret and "X-Internal-Secret" not in h:
            h["X-Internal-Secret"] = self.admin_secret
        if user is not None:
            h["X-User-Id"] = user
        return self.request(method, path, h, body, timeout)

    def register(self, exe_id, token=ALICE_TOKEN, kind="executor", body=b"", headers=None,
                 scheme="Bearer", timeout=15):
        h = {}
        if token is not None:
            h["Authorization"] = "%s %s" % (scheme, token)
        h.update(headers or {})
        return self.request("POST", "/cloud/%s/%s/register" % (kind, exe_id), h, body, timeout)

    # -- admin conveniences (assert success)
    def create_executor(self, user="alice", exe_id=None, **fields):
        exe_id = exe_id or uid("exe")
        body = dict(fields, exe_id=exe_id)
        r = self.admin("POST", "/api/codex-exec/register", body=body, user=user)
        if r.status not in (200, 201):
            raise AssertionError("create_executor %s: %r" % (exe_id, r))
        return exe_id

    def bind(self, workspace, exe_id, name=None, **fields):
        body = dict(fields, exe_id=exe_id, name=name or ("n-" + exe_id))
        r = self.admin("POST", "/api/codex-exec/workspaces/%s/executors" % workspace, body=body)
        if r.status != 201:
            raise AssertionError("bind %s/%s: %r" % (workspace, exe_id, r))
        return r

    def get_executor(self, exe_id):
        r = self.admin("GET", "/api/codex-exec/executors/%s" % exe_id)
        if r.status != 200:
            raise AssertionError("get_executor %s: %r" % (exe_id, r))
        return r.json()

    def list_bindings(self, workspace):
        r = self.admin("GET", "/api/codex-exec/workspaces/%s/executors" % workspace)
        if r.status != 200:
            raise AssertionError("list %s: %r" % (workspace, r))
        return r.json()

    def connected(self, cap, path="/api/exec-gateway/connected"):
        return self.request("GET", path, {"Authorization": "Bearer " + cap})

    def revoke(self, turn_id, exp=None, secret=None):
        body = {"turn_id": turn_id}
        if exp is not None:
            body["exp"] = exp
        return self.request("POST", "/api/exec-gateway/revoke-turn",
                            {"Authorization": "Bearer " + (secret or self.shared_secret),
                             "Content-Type": "application/json"}, body)

    # -- CLI
    def cli(self, *args, timeout=30, env=None):
        e = dict(self.env)
        e.update(env or {})
        return subprocess.run([CXG_BIN] + list(args), env=e, capture_output=True, text=True,
                              timeout=timeout)

    def mint_cap(self, workspace, turn=None, user=None, ttl=None):
        args = ["token", "cap", "--workspace", workspace]
        if turn is not None:
            args += ["--turn", turn]
        if user is not None:
            args += ["--user", user]
        if ttl is not None:
            args += ["--ttl", ttl]
        p = self.cli(*args)
        if p.returncode != 0:
            raise AssertionError("cxg token cap failed (%d): %s %s" % (p.returncode, p.stdout, p.stderr))
        return p.stdout.strip()

    # -- websockets
    def ws(self, path, headers=None, **kw):
        return WebSocket.connect(self.host, self.port, path, headers, **kw)

    def connect_executor(self, url, headers=None, **kw):
        """Opens the executor websocket at a registration `url` (ws://host:port/...)."""
        u = urllib.parse.urlsplit(url)
        path = u.path + ("?" + u.query if u.query else "")
        return WebSocket.connect(self.host, self.port, path, headers, **kw)

    def online_executor(self, user="alice", token=ALICE_TOKEN, exe_id=None, legacy=False):
        """Creates (if needed), registers and connects a fake executor. Returns (exe_id, ws)."""
        exe_id = exe_id or self.create_executor(user)
        body = (json.dumps({"idempotency_id": "codex-exec-server-" + "ab" * 32,
                            "executor_id": exe_id, "name": "x", "labels": {}, "metadata": {}})
                if legacy else b"")
        r = self.register(exe_id, token, body=body)
        if r.status != 200:
            raise AssertionError("register %s: %r" % (exe_id, r))
        ws = self.connect_executor(r.json()["url"])
        if ws.status != 101:
            raise AssertionError("executor upgrade for %s: %r" % (exe_id, ws.resp))
        return exe_id, ws

    def wait_online(self, exe_id, online=True, timeout=2.0):
        def check():
            e = self.get_executor(exe_id)
            return e if e.get("is_online") is online else None
        return wait_until(check, timeout)

    # -- database (read-only peek; schema per http-api §6)
    def db_query(self, sql, args=()):
        con = sqlite3.connect("file:%s?mode=ro" % self.db_path, uri=True, timeout=5)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()


# --------------------------------------------------------------------------- test base

class GatewayTestCase(unittest.TestCase):
    """Base class: one shared gateway per test class (override GATEWAY_ENV etc.)."""

    GATEWAY_ENV = {}
    GATEWAY_SECRETS = True
    GATEWAY_TOKENS = DEFAULT_TOKENS
    GATEWAY_LISTEN = "127.0.0.1"
    gw = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gw = Gateway(env=cls.make_env(), secrets=cls.GATEWAY_SECRETS, tokens=cls.GATEWAY_TOKENS,
                         listen_host=cls.GATEWAY_LISTEN)

    @classmethod
    def make_env(cls):
        return dict(cls.GATEWAY_ENV)

    @classmethod
    def tearDownClass(cls):
        if cls.gw is not None:
            cls.gw.close()
        super().tearDownClass()

    # -- assertion helpers
    def assertPlain(self, resp, status, message):
        """Plain error: exact status, Content-Type text/plain; charset=utf-8, body message\\n."""
        self.assertEqual((resp.status, resp.body), (status, (message + "\n").encode()), repr(resp))
        self.assertEqual(resp.ctype.replace(" ", "").lower(), PLAIN_CT.replace(" ", ""), repr(resp))

    def assertAdminError(self, resp, status, message=None):
        """Admin shape {"error":"<text>"} as application/json."""
        self.assertEqual(resp.status, status, repr(resp))
        self.assertTrue(resp.ctype.startswith("application/json"), repr(resp))
        obj = resp.json()
        self.assertIsInstance(obj, dict, repr(resp))
        self.assertEqual(list(obj.keys()), ["error"], repr(resp))
        self.assertIsInstance(obj["error"], str)
        self.assertTrue(obj["error"])
        if message is not None:
            self.assertEqual(obj["error"], message, repr(resp))

    def assertCodexError(self, resp, status, code, message=None):
        """Codex shape {"error":{"code":..,"message":..}} as application/json."""
        self.assertEqual(resp.status, status, repr(resp))
        self.assertTrue(resp.ctype.startswith("application/json"), repr(resp))
        obj = resp.json()
        self.assertIsInstance(obj, dict, repr(resp))
        self.assertEqual(list(obj.keys()), ["error"], repr(resp))
        err = obj["error"]
        self.assertIsInstance(err, dict, repr(resp))
        self.assertEqual(err.get("code"), code, repr(resp))
        self.assertIsInstance(err.get("message"), str, repr(resp))
        self.assertTrue(err["message"], repr(resp))
        if message is not None:
            self.assertEqual(err["message"], message, repr(resp))

    def assertJson(self, resp, status):
        self.assertEqual(resp.status, status, repr(resp))
        self.assertTrue(resp.ctype.startswith("application/json"), repr(resp))
        return resp.json()
