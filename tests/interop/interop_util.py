"""Interop tests: real `codex exec-server` releases (npm) against a live `cxg serve`.

Spec: /work/shared/spec/interop.md.  Binaries come from tests/interop/fetch_codex.sh.

Everything is skipped unless CXG_INTEROP=1.  A version whose binary is not in the cache is
skipped.  CXG_INTEROP_VERSIONS (space separated) narrows the matrix.

Building blocks (the gateway process, the raw websocket client, relay v1 frame helpers and
RSA/JWKS helpers) come from tests/integration/cxg_harness.py; this module adds what is
specific to real Codex: the binary cache, credentials (bearer env or auth.json with an RS256
JWT checked by cxg's `jwks` validator), exec-server processes, JSON-RPC bridges of both
flavours and the smoke sequence of interop.md §6.
"""

import base64
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
_IT = os.path.join(os.path.dirname(HERE), "integration")
if _IT not in sys.path:
    sys.path.append(_IT)

import cxg_harness as H  # noqa: E402  (shared harness, owned by the integration tests)

ENABLED = os.environ.get("CXG_INTEROP") == "1"
DEFAULT_VERSIONS = ("0.130.0", "0.131.0", "0.132.0", "0.134.0", "0.138.0")
VERSIONS = tuple(os.environ.get("CXG_INTEROP_VERSIONS", "").split()) or DEFAULT_VERSIONS

WORKSPACE = "ws-interop"
BEARER_TOKEN = "tok-interop"          # 0.130 / 0.131 (CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN)
STATIC_USER = "user-interop"          # what the static validator maps tok-interop to
CHATGPT_ACCOUNT = "acct-interop"      # 0.132+: the validated user under the jwks validator
JWKS_USER_CLAIM = "https://api.openai.com/auth.chatgpt_account_id"

ONLINE_TIMEOUT = 10.0                 # interop.md I1
RPC_TIMEOUT = 10.0
PROCESS_TIMEOUT = 15.0

SMOKE_ARGV = ["/bin/sh", "-c", "echo hello; echo oops >&2; exit 3"]
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


# --------------------------------------------------------------------------- versions / cache

def vtuple(v):
    return tuple(int(x) for x in v.split("."))


def is_legacy(v):
    """0.130: JSON body on registration, plain JSON-RPC executor socket (mode=json)."""
    return vtuple(v) < (0, 131)


def uses_chatgpt_auth(v):
    """0.132+: credentials from $CODEX_HOME/auth.json (interop.md §3)."""
    return vtuple(v) >= (0, 132)


def uses_environment_id(v):
    """0.133+: --environment-id and /cloud/environment/{id}/register."""
    return vtuple(v) >= (0, 133)


def cache_dir():
    base = os.environ.get("CXG_CODEX_CACHE")
    if base:
        return base
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "cxg", "codex")


def codex_binary(v):
    """The file named `codex` under package/vendor/x86_64-unknown-linux-musl/, or None."""
    root = os.path.join(cache_dir(), v, "package", "vendor", "x86_64-unknown-linux-musl")
    for d, _, files in sorted(os.walk(root)):
        if "codex" in files:
            p = os.path.join(d, "codex")
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return p
    return None


def codex_home(v, tag):
    """A CODEX_HOME in the cache directory (never /tmp: interop.md §3), one per test module so
    that parallel ctest jobs never share one."""
    d = os.path.join(cache_dir(), "interop-homes", "%s-%s" % (v, tag))
    os.makedirs(d, exist_ok=True)
    return d


# --------------------------------------------------------------------------- metrics

_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metric(gw, name, **labels):
    """Sum of the samples of `name` whose labels include `labels` (0 when absent)."""
    r = gw.request("GET", "/metrics", timeout=5)
    total = 0.0
    for line in r.text.splitlines():
        m = _SAMPLE_RE.match(line.strip())
        if not m or m.group(1) != name:
            continue
        got = dict(_LABEL_RE.findall(m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total


# --------------------------------------------------------------------------- JSON-RPC bridges

class BridgeClosed(AssertionError):
    def __init__(self, code, reason):
        super().__init__("bridge closed: %r %r" % (code, reason))
        self.code = code
        self.reason = reason


class RpcError(AssertionError):
    def __init__(self, method, error):
        super().__init__("%s failed: %r" % (method, error))
        self.method = method
        self.error = error


class BridgeRejected(AssertionError):
    def __init__(self, resp):
        super().__init__("bridge rejected before upgrade: %r" % (resp,))
        self.resp = resp


class Bridge:
    """One bridge websocket on /bridge/{exe_id}, carrying one JSON-RPC stream.

    flavour "relay": relay v1 binary frames; Resume on a fresh uuid stream_id first, then one
    Data frame per JSON-RPC message with seq from 0 (wire-protocol §7.1).
    flavour "plain": one JSON-RPC message per text message (§7.2)."""

    def __init__(self, gw, exe_id, cap, flavour, stream_id=None, timeout=10):
        assert flavour in ("relay", "plain")
        self.gw = gw
        self.flavour = flavour
        self.stream_id = stream_id or str(uuid.uuid4())
        self.ws = gw.ws("/bridge/%s" % exe_id, {"Authorization": "Bearer " + cap}, timeout=timeout)
        if self.ws.status != 101:
            raise BridgeRejected(self.ws.resp)
        self.out_seq = 0
        self.in_seqs = []          # seq of every Data frame received (relay flavour)
        self.backlog = []          # received messages not consumed yet
        self.next_id = 1
        self.session_id = None
        if flavour == "relay":
            self.ws.send_binary(H.relay_resume(self.stream_id))

    # -- raw messages
    def send(self, obj):
        data = json.dumps(obj, separators=(",", ":"))
        if self.flavour == "relay":
            self.ws.send_binary(H.relay_data(self.stream_id, data, self.out_seq))
            self.out_seq += 1
        else:
            self.ws.send_text(data)

    def _recv_wire(self, timeout):
        try:
            op, payload = self.ws.recv(timeout=timeout)
        except H.WSClosed:
            raise BridgeClosed(self.ws.close_code, self.ws.close_reason)
        if op == 0x8:
            raise BridgeClosed(self.ws.close_code, self.ws.close_reason)
        if self.flavour == "plain":
            if op != 0x1:
                raise AssertionError("plain bridge got opcode %d: %r" % (op, payload[:200]))
            return json.loads(payload.decode("utf-8"))
        if op != 0x2:
            raise AssertionError("relay bridge got opcode %d: %r" % (op, payload[:200]))
        fr = H.relay_decode(payload)
        if fr.get(1) != 1:
            raise AssertionError("relay frame version %r: %r" % (fr.get(1), payload[:200]))
        if fr.get(2, b"").decode() != self.stream_id:
            raise AssertionError("relay frame for stream %r on bridge %r" % (fr.get(2), self.stream_id))
        if 8 in fr:
            raise AssertionError("relay bridge got Reset %r" % H.relay_decode(fr[8]))
        if 5 not in fr:
            raise AssertionError("relay bridge got a non-Data frame: %r" % payload[:200])
        data = H.relay_decode(fr[5])
        self.in_seqs.append(data.get(1, 0))
        if data.get(3) != 1 or data.get(2, 0) != 0:
            raise AssertionError("unexpected segmentation in %r" % data)
        return json.loads(data[4].decode("utf-8"))

    def recv(self, timeout=RPC_TIMEOUT):
        if self.backlog:
            return self.backlog.pop(0)
        return self._recv_wire(timeout)

    # -- JSON-RPC
    def notify(self, method, params=None):
        self.send({"method": method, "params": {} if params is None else params})

    def request(self, method, params=None, timeout=RPC_TIMEOUT):
        """Sends a request; returns the whole response message.  Other messages that arrive
        meanwhile are kept in `backlog` in arrival order."""
        rid = self.next_id
        self.next_id += 1
        msg = {"id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        deadline = time.monotonic() + timeout
        kept = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no response to %s (id %d) within %.1fs" % (method, rid, timeout))
                try:
                    m = self._recv_wire(left)
                except socket.timeout:
                    raise AssertionError("no response to %s (id %d) within %.1fs" % (method, rid, timeout))
                if m.get("id") == rid and ("result" in m or "error" in m):
                    return m
                kept.append(m)
        finally:
            self.backlog.extend(kept)

    def call(self, method, params=None, timeout=RPC_TIMEOUT):
        m = self.request(method, params, timeout)
        if "error" in m:
            raise RpcError(method, m["error"])
        return m["result"]

    def initialize(self, resume_session_id=None, client_name="cxg-interop"):
        params = {"clientName": client_name}
        if resume_session_id is not None:
            params["resumeSessionId"] = resume_session_id
        res = self.call("initialize", params)
        self.session_id = res.get("sessionId")
        self.notify("initialized", {})
        return res

    # -- processes
    def start_process(self, process_id, argv, cwd="/", env=None, tty=False):
        return self.call("process/start", {"processId": process_id, "argv": argv, "cwd": cwd,
                                           "env": env or {}, "tty": tty})

    def collect_process(self, process_id, timeout=PROCESS_TIMEOUT):
        """Reads notifications until process/closed (and process/exited) for process_id.
        Returns a ProcessOutcome."""
        out = ProcessOutcome(process_id)
        deadline = time.monotonic() + timeout
        while not (out.closed and out.exited):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("process %s not finished within %.1fs: %r" % (process_id, timeout, out))
            try:
                m = self.recv(left)
            except socket.timeout:
                continue
            out.feed(m)
        return out

    def run_process(self, process_id, argv, **kw):
        res = self.start_process(process_id, argv, **kw)
        out = self.collect_process(process_id)
        out.start_result = res
        return out

    # -- closing
    def leave(self, timeout=5):
        """Closes with 1000 and waits for the gateway's close frame (so the departure has been
        processed), then drops the socket."""
        if self.ws.sock is None:
            return None
        if not self.ws.closed:
            self.ws.send_close(1000)
            try:
                self.ws.wait_close(timeout)
            except (socket.timeout, TimeoutError, OSError):
                pass
        self.ws.close()
        return self.ws.close_code

    def wait_closed(self, timeout=10):
        """Waits for the gateway to close the bridge; returns (code, reason).  Data messages
        that arrive meanwhile are discarded."""
        return self.ws.wait_close(timeout)

    def close(self):
        try:
            self.ws.close()
        except OSError:
            pass


class ProcessOutcome:
    def __init__(self, process_id):
        self.process_id = process_id
        self.stdout = b""
        self.stderr = b""
        self.pty = b""
        self.exit_code = None
        self.exited = False
        self.closed = False
        self.seqs = []
        self.notifications = []
        self.others = []
        self.start_result = None

    def feed(self, m):
        params = m.get("params") or {}
        method = m.get("method")
        if "id" in m or not method or not method.startswith("process/") \
                or params.get("processId") != self.process_id:
            self.others.append(m)
            return
        self.notifications.append(m)
        if "seq" in params:
            self.seqs.append(params["seq"])
        if method == "process/output":
            chunk = base64.b64decode(params.get("chunk", ""))
            stream = params.get("stream")
            if stream == "stdout":
                self.stdout += chunk
            elif stream == "stderr":
                self.stderr += chunk
            else:
                self.pty += chunk
        elif method == "process/exited":
            self.exited = True
            self.exit_code = params.get("exitCode")
        elif method == "process/closed":
            self.closed = True

    def __repr__(self):
        return ("ProcessOutcome(%s stdout=%r stderr=%r exit=%r exited=%r closed=%r notes=%r)"
                % (self.process_id, self.stdout, self.stderr, self.exit_code, self.exited,
                   self.closed, [n.get("method") for n in self.notifications]))


# --------------------------------------------------------------------------- exec-server process

def _die_with_parent():
    """In the child before exec: SIGKILL it if the test process dies (e.g. a ctest timeout),
    so that no exec-server outlives its test."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception:
        pass


class ExecServer:
    """One `codex exec-server --remote` process.  Only ever signalled by its own pid."""

    def __init__(self, version, binary, remote, exe_id, env, log_path):
        self.version = version
        self.exe_id = exe_id
        self.log_path = log_path
        flag = "--environment-id" if uses_environment_id(version) else "--executor-id"
        self.argv = [binary, "exec-server", "--remote", remote, flag, exe_id]
        err = open(log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         preexec_fn=_die_with_parent)
        finally:
            err.close()
        self.pid = self.proc.pid
        self.started = time.monotonic()

    def alive(self):
        return self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL, timeout=5):
        """Signals this exec-server by pid and reaps it; returns its exit status."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode

    def stop(self):
        """Teardown: SIGTERM, then SIGKILL after 2 s."""
        if self.proc.poll() is None:
            try:
                self.kill(signal.SIGTERM, timeout=2)
            except subprocess.TimeoutExpired:
                pass
            if self.proc.poll() is None:
                self.kill(signal.SIGKILL)
        return self.proc.returncode

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""


# --------------------------------------------------------------------------- one version's world

def _rfc3339_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class InteropEnv:
    """A gateway configured for one Codex release, its credentials and its exec-servers.

    0.130/0.131: static validator, tok-interop -> user-interop, bearer env for Codex.
    0.132+:      jwks validator over a throwaway RSA key; $CODEX_HOME/auth.json holds RS256
                 JWTs signed with it; the validated user is the account claim, acct-interop."""

    def __init__(self, version, tag):
        self.version = version
        self.tag = tag
        self.binary = codex_binary(version)
        self.servers = []
        self.gw = None
        self.tmp = tempfile.mkdtemp(prefix="cxg-interop-%s-" % version)
        self.home = codex_home(version, tag)
        self.codex_env = {k: v for k, v in os.environ.items()
                          if not k.startswith(("CODEX_", "OPENAI_", "CXG_"))}
        self.codex_env["CODEX_HOME"] = self.home
        self.codex_env["NO_PROXY"] = self.codex_env["no_proxy"] = "127.0.0.1,localhost"
        if uses_chatgpt_auth(version):
            self.validator = "jwks"
            self.user = CHATGPT_ACCOUNT
            self.key = H.RsaKey(kid="interop-" + uuid.uuid4().hex[:12])
            jwks = os.path.join(self.tmp, "jwks.json")
            H.write_jwks(jwks, [self.key])
            self._write_auth_json()
            gw_env = {"CXG_AUTH_VALIDATOR": "jwks", "CXG_JWKS_FILE": jwks,
                      "CXG_JWKS_USER_CLAIM": JWKS_USER_CLAIM}
            tokens = None
        else:
            self.validator = "static"
            self.user = STATIC_USER
            self.key = None
            self.codex_env["CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN"] = BEARER_TOKEN
            auth = os.path.join(self.home, "auth.json")
            if os.path.exists(auth):
                os.unlink(auth)
            gw_env = {"CXG_AUTH_VALIDATOR": "static"}
            tokens = {BEARER_TOKEN: STATIC_USER}
        try:
            self.gw = H.Gateway(env=gw_env, tokens=tokens, tmpdir=self.tmp)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        self.remote = "http://127.0.0.1:%d" % self.gw.port
        self.cap = self.gw.mint_cap(WORKSPACE)

    def _write_auth_json(self):
        now = int(time.time())
        auth_claims = {"chatgpt_account_id": CHATGPT_ACCOUNT, "chatgpt_plan_type": "plus"}
        access = {"sub": "auth0|interop", "iat": now, "exp": now + 30 * 86400,
                  "https://api.openai.com/auth": auth_claims}
        ident = dict(access, email="interop@example.invalid")
        self.access_token = self.key.sign(access)
        doc = {"OPENAI_API_KEY": None, "auth_mode": "chatgpt",
               "tokens": {"id_token": self.key.sign(ident), "access_token": self.access_token,
                          "refresh_token": "rt-interop", "account_id": CHATGPT_ACCOUNT},
               "last_refresh": _rfc3339_now()}
        path = os.path.join(self.home, "auth.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    # -- executors
    def new_executor(self, name=None):
        exe = "exe-i%s-%s" % (self.version.replace(".", ""), uuid.uuid4().hex[:10])
        self.gw.create_executor(self.user, exe)
        self.gw.bind(WORKSPACE, exe, name=name or exe)
        return exe

    def start_exec_server(self, exe_id):
        log = os.path.join(self.tmp, "codex-%s-%d.log" % (exe_id, len(self.servers)))
        s = ExecServer(self.version, self.binary, self.remote, exe_id, dict(self.codex_env), log)
        self.servers.append(s)
        return s

    def listing(self, exe_id):
        for e in self.gw.list_bindings(WORKSPACE):
            if e.get("exe_id") == exe_id:
                return e
        return None

    def wait_online(self, exe_id, server=None, timeout=ONLINE_TIMEOUT, after=None):
        """Polls the workspace listing every 100 ms (interop.md §2) until the executor is online
        (and, with `after`, its connected_at differs from `after`).  Returns the entry."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = self.listing(exe_id)
            if last and last.get("is_online") is True and (after is None or last.get("connected_at") != after):
                return last
            if server is not None and not server.alive():
                raise AssertionError("codex exec-server %s exited with %s before going online:\n%s\n"
                                     "gateway:\n%s" % (self.version, server.proc.returncode,
                                                       server.log()[-3000:], self.gw.stderr_tail(30)))
            if time.monotonic() >= deadline:
                raise AssertionError("executor %s (codex %s) not online within %.1fs: %r\ncodex:\n%s\n"
                                     "gateway:\n%s" % (exe_id, self.version, timeout, last,
                                                       server.log()[-3000:] if server else "",
                                                       self.gw.stderr_tail(30)))
            time.sleep(0.1)

    def wait_offline(self, exe_id, timeout=5):
        ok = H.wait_until(lambda: (self.listing(exe_id) or {}).get("is_online") is False, timeout, 0.05)
        if not ok:
            raise AssertionError("executor %s still online after %.1fs: %r"
                                 % (exe_id, timeout, self.listing(exe_id)))

    # -- bridges
    def bridge(self, exe_id, flavour, wait_connected=0.0, **kw):
        """Opens a bridge.  With wait_connected > 0, a 503 `executor not connected` is retried
        every 50 ms for that long (a legacy executor reconnects after every bridge)."""
        deadline = time.monotonic() + wait_connected
        while True:
            try:
                return Bridge(self.gw, exe_id, self.cap, flavour, **kw)
            except BridgeRejected as e:
                if e.resp.status != 503 or time.monotonic() >= deadline:
                    raise
            time.sleep(0.05)

    def close(self):
        for s in self.servers:
            try:
                s.stop()
            except Exception:
                pass
        if self.gw is not None:
            self.gw.close()


# --------------------------------------------------------------------------- test base

class VersionCase(unittest.TestCase):
    """Base of every interop test class: VERSION is set by parametrise(); setUpClass starts one
    gateway and one exec-server for the class (bound to ws-interop and online)."""

    VERSION = None
    TAG = "interop"
    START_EXEC_SERVER = True
    env = None
    exe = None
    server = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not ENABLED:
            raise unittest.SkipTest("interop tests run only with CXG_INTEROP=1")
        if cls.VERSION is None:
            raise unittest.SkipTest("abstract interop class")
        if codex_binary(cls.VERSION) is None:
            raise unittest.SkipTest("codex %s not in %s (run tests/interop/fetch_codex.sh)"
                                    % (cls.VERSION, cache_dir()))
        try:
            cls.env = InteropEnv(cls.VERSION, cls.TAG)
            cls.exe = cls.env.new_executor()
            if cls.START_EXEC_SERVER:
                t0 = time.monotonic()
                cls.server = cls.env.start_exec_server(cls.exe)
                cls.online_entry = cls.env.wait_online(cls.exe, cls.server)
                cls.online_after = time.monotonic() - t0
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.env is not None:
            cls.env.close()
            cls.env = None
        super().tearDownClass()

    # -- conveniences
    @property
    def gw(self):
        return self.env.gw

    @property
    def legacy(self):
        return is_legacy(self.VERSION)

    def require_relay_release(self):
        if self.legacy:
            self.skipTest("codex %s is a legacy JSON executor (one bridge at a time)" % self.VERSION)

    def ensure_server(self):
        """Makes sure the class's exec-server runs and is online (a previous test may have
        killed it)."""
        cls = type(self)
        if cls.server is None or not cls.server.alive():
            cls.server = self.env.start_exec_server(cls.exe)
        self.env.wait_online(cls.exe, cls.server)
        return cls.server

    def bridge(self, flavour, exe=None, **kw):
        """Opens a bridge to the class's executor.  For a legacy executor this first waits until
        cxg has released the previous bridge's stream (cxg completes a bridge's close handshake
        before it ends the stream, so an immediate new bridge could still get 409), then
        retries 503 while the executor reconnects."""
        if self.legacy:
            kw.setdefault("wait_connected", 8.0)
            H.wait_until(lambda: metric(self.gw, "cxg_streams_active") == 0, 5)
        br = self.env.bridge(exe or self.exe, flavour, **kw)
        self.addCleanup(br.close)
        return br

    def diag(self):
        s = type(self).server
        return "\n--- codex %s log:\n%s\n--- gateway log:\n%s" % (
            self.VERSION, s.log()[-2000:] if s else "", self.gw.stderr_tail(25))

    def assertSessionId(self, sid):
        self.assertIsInstance(sid, str)
        self.assertRegex(sid, UUID_RE)

    def assertSmokeOutcome(self, out, stdout=b"hello\n", stderr=b"oops\n", code=3):
        self.assertEqual(out.stdout, stdout, repr(out))
        self.assertEqual(out.stderr, stderr, repr(out))
        self.assertEqual(out.exit_code, code, repr(out))
        self.assertTrue(out.closed, repr(out))
        # Every notification carries its own seq, exactly once.  The arrival order is not
        # asserted: the real 0.132 exec-server occasionally sends a process's notifications out
        # of seq order (seen: 1, 3, 2, 4 and 2, 1, 3, 4) while the relay Data frames carrying
        # them have consecutive seqs (assertRelaySeqs), i.e. the executor itself sent them so.
        self.assertEqual(len(out.seqs), len(out.notifications), "seq missing: %r" % out)
        self.assertEqual(len(set(out.seqs)), len(out.seqs), "duplicate seq: %r" % out)

    def assertRelaySeqs(self, br):
        """Data frames of one stream arrive in order, exactly once: seq 0, 1, 2, ..."""
        if br.flavour == "relay":
            self.assertEqual(br.in_seqs, list(range(len(br.in_seqs))), "relay seqs %r" % br.in_seqs)

    def smoke(self, br, process_id="p1", argv=SMOKE_ARGV, stdout=b"hello\n", stderr=b"oops\n",
              code=3, fs_dir=None):
        """interop.md §6 on an open bridge: initialize, initialized, process/start, output
        notifications, then fs/readDirectory.  Returns (sessionId, ProcessOutcome)."""
        res = br.initialize()
        self.assertSessionId(res.get("sessionId"))
        out = br.run_process(process_id, argv)
        self.assertEqual(out.start_result, {"processId": process_id})
        self.assertSmokeOutcome(out, stdout, stderr, code)
        self.check_read_directory(br, fs_dir)
        self.assertRelaySeqs(br)
        return res["sessionId"], out

    def check_read_directory(self, br, path=None):
        path = path or self.fs_fixture()
        res = br.call("fs/readDirectory", {"path": path})
        entries = {e.get("fileName"): e for e in res.get("entries", [])}
        self.assertEqual(sorted(entries), ["hello.txt", "subdir"], repr(res))
        self.assertIs(entries["hello.txt"].get("isFile"), True, repr(res))
        self.assertIs(entries["hello.txt"].get("isDirectory"), False, repr(res))
        self.assertIs(entries["subdir"].get("isDirectory"), True, repr(res))
        self.assertIs(entries["subdir"].get("isFile"), False, repr(res))

    def fs_fixture(self):
        """A directory holding exactly hello.txt and subdir/ (created once per class)."""
        d = os.path.join(self.env.tmp, "fsdir")
        os.makedirs(os.path.join(d, "subdir"), exist_ok=True)
        with open(os.path.join(d, "hello.txt"), "w") as f:
            f.write("hi\n")
        return d


def parametrise(mixin, namespace, versions=VERSIONS):
    """Defines one unittest class per Codex version in `namespace`, e.g. SmokeTests ->
    SmokeTests_0_131_0(SmokeTests, VersionCase) with VERSION = "0.131.0"."""
    module = namespace["__name__"]
    tag = module.rsplit(".", 1)[-1]
    for v in versions:
        name = "%s_%s" % (mixin.__name__, v.replace(".", "_"))
        namespace[name] = type(name, (mixin, VersionCase),
                               {"VERSION": v, "TAG": tag, "__module__": module,
                                "__qualname__": name})
