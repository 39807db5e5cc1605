"""Helpers for the CLI tests (test_cli_*.py here and in tests/interop): running the `cxg` client
against a Gateway, and a scripted fake exec-server that answers JSON-RPC over a relay-v1 (or
legacy JSON) executor socket, so that `cxg exec` can be driven through orderings the real
binaries produce only sometimes (out-of-order seqs, duplicates, exited before output, the
process/start answer after the output...)."""

import base64
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid

import cxg_harness as H

CXG_BIN = H.CXG_BIN


def cli_env(gw, extra=None, drop=()):
    """The gateway's environment (its CXG_* secrets), CXG_URL pointing at it, minus `drop`."""
    env = {k: v for k, v in gw.env.items() if k not in ("CXG_LISTEN",)}
    env["CXG_URL"] = "http://127.0.0.1:%d" % gw.port
    for k in drop:
        env.pop(k, None)
    env.update(extra or {})
    return env


def run_cli(gw, *args, env=None, drop=(), input=None, timeout=90, stdin=subprocess.DEVNULL):
    """Runs `cxg args...` and returns CompletedProcess with bytes stdout/stderr."""
    e = cli_env(gw, env, drop) if gw is not None else dict(env or {})
    kw = {"input": input} if input is not None else {"stdin": stdin}
    return subprocess.run([CXG_BIN] + [str(a) for a in args], env=e, capture_output=True,
                          timeout=timeout, **kw)


def start_cli(gw, *args, env=None, drop=(), stdin=subprocess.DEVNULL):
    """Starts `cxg args...` in the background (stdout/stderr pipes)."""
    e = cli_env(gw, env, drop)
    return subprocess.Popen([CXG_BIN] + [str(a) for a in args], env=e, stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def stop_proc(proc):
    """Kills a start_cli() process if it still runs, reaps it and closes its pipes."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for f in (proc.stdin, proc.stdout, proc.stderr):
        if f is not None:
            f.close()


def act_once_ready(proc, action, ready_timeout=10, exit_timeout=10):
    """For a start_cli() process whose remote command prints "ready": waits for that line,
    runs action(), waits for cxg to end and returns (returncode, stdout rest, stderr), both
    bytes. The process is reaped and its pipes closed whatever happens."""
    try:
        read_until(proc.stdout, b"ready\n", ready_timeout)
        action()
        proc.wait(exit_timeout)
        return proc.returncode, proc.stdout.read(), proc.stderr.read()
    finally:
        stop_proc(proc)


def read_until(stream, marker, timeout):
    """Reads a pipe until `marker` (bytes) has been seen; returns what was read."""
    buf = b""
    deadline = time.monotonic() + timeout
    fd = stream.fileno()
    os.set_blocking(fd, False)
    try:
        while marker not in buf:
            if time.monotonic() > deadline:
                raise AssertionError("no %r within %.1fs; got %r" % (marker, timeout, buf[-300:]))
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                time.sleep(0.02)
                continue
            if not chunk:
                raise AssertionError("EOF before %r; got %r" % (marker, buf[-300:]))
            buf += chunk
    finally:
        os.set_blocking(fd, True)
    return buf


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


class FakeExecServer:
    """A scripted exec-server on an executor socket (relay v1, or plain JSON for legacy).

    process/start behaviour is chosen by argv[0]:
      echo ARGS...   stdout "ARGS\\n", exit 0 (answer, output 1, exited 2, closed 3)
      split          stdout "out\\n", stderr "err\\n", exit 3
      ooo            out-of-order: output 2 "B", output 1 "A", output 2 again, exited 4
                     (code 7) before output 3 "C", then the start answer, then closed 5
      noclose        output 1 "x", exited 2 code 5, never closed
      from0          seqs from 0: output 0 "zero", output 1 "one", exited 2, closed 3
      bigcode        exited with exitCode 300 (→ 255)
      fail           JSON-RPC error "No such file or directory (os error 2)"
      hang           stdout "ready\n", then nothing until process/terminate (then exited -1,
                     closed)
      stubborn       like hang, but process/terminate answers running:true and nothing ends
      cat N          pipeStdin: echoes process/write chunks as stdout; exits 0 after N bytes
      reset          sends Reset{reason "boom"} on the stream
      drop           closes the executor socket
    Every received JSON-RPC message is kept in `received` as (stream_id, obj)."""

    def __init__(self, gw, legacy=False, exe_id=None):
        self.gw = gw
        self.legacy = legacy
        self.exe_id, self.ws = gw.online_executor(legacy=legacy, exe_id=exe_id)
        self.received = []
        self.lock = threading.Lock()
        self.out_seq = {}
        self.procs = {}          # (stream, processId) -> dict
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    # -- wire
    def _send(self, stream, obj):
        data = json.dumps(obj, separators=(",", ":"))
        with self.lock:
            if self.legacy:
                self.ws.send_text(data)
            else:
                seq = self.out_seq.get(stream, 0)
                self.out_seq[stream] = seq + 1
                self.ws.send_binary(H.relay_data(stream, data, seq))

    def _note(self, stream, method, params):
        self._send(stream, {"method": method, "params": params})

    def _run(self):
        while not self.stop:
            try:
                op, payload = self.ws.recv(timeout=0.3)
            except (socket.timeout, TimeoutError):
                continue
            except (H.WSClosed, OSError):
                return
            if op == 0x8:
                return
            if self.legacy:
                if op != 0x1:
                    continue
                stream, obj = "legacy", json.loads(payload.decode())
            else:
                if op != 0x2:
                    continue
                fr = H.relay_decode(payload)
                stream = fr.get(2, b"").decode()
                if 5 not in fr:
                    continue
                data = H.relay_decode(fr[5])
                obj = json.loads(data[4].decode())
            with self.lock:
                self.received.append((stream, obj))
            try:
                self._handle(stream, obj)
            except OSError:
                return

    def requests(self, method):
        with self.lock:
            return [o for _, o in self.received if o.get("method") == method]

    # -- behaviour
    def _handle(self, stream, m):
        method, rid, p = m.get("method"), m.get("id"), m.get("params") or {}
        if method == "initialize":
            self._send(stream, {"id": rid, "result": {"sessionId": str(uuid.uuid4())}})
        elif method == "process/start":
            self._start(stream, rid, p)
        elif method == "process/write":
            proc = self.procs.get((stream, p.get("processId")))
            if proc is None:
                self._send(stream, {"id": rid, "result": {"status": "unknownProcess"}})
                return
            self._send(stream, {"id": rid, "result": {"status": "accepted"}})
            chunk = base64.b64decode(p.get("chunk", ""))
            proc["got"] += len(chunk)
            proc["seq"] += 1
            self._note(stream, "process/output", {"processId": proc["id"], "seq": proc["seq"],
                                                  "stream": "stdout", "chunk": b64(chunk)})
            if proc.get("want") is not None and proc["got"] >= proc["want"]:
                self._finish(stream, proc, 0)
        elif method == "process/terminate":
            proc = self.procs.get((stream, p.get("processId")))
            self._send(stream, {"id": rid, "result": {"running": proc is not None and not proc["done"]}})
            if proc is not None and not proc["done"] and not proc.get("stubborn"):
                self._finish(stream, proc, -1)

    def _finish(self, stream, proc, code):
        proc["done"] = True
        proc["seq"] += 1
        self._note(stream, "process/exited", {"processId": proc["id"], "seq": proc["seq"], "exitCode": code})
        proc["seq"] += 1
        self._note(stream, "process/closed", {"processId": proc["id"], "seq": proc["seq"]})

    def _start(self, stream, rid, p):
        pid = p["processId"]
        argv = p.get("argv") or [""]
        kind = argv[0]
        proc = {"id": pid, "seq": 0, "got": 0, "want": None, "done": False}
        ok = {"id": rid, "result": {"processId": pid}}
        out = lambda seq, data, s="stdout": self._note(stream, "process/output", {  # noqa: E731
            "processId": pid, "seq": seq, "stream": s, "chunk": b64(data)})
        ex = lambda seq, code: self._note(stream, "process/exited", {  # noqa: E731
            "processId": pid, "seq": seq, "exitCode": code})
        cl = lambda seq: self._note(stream, "process/closed", {"processId": pid, "seq": seq})  # noqa: E731
        if kind == "fail":
            self._send(stream, {"id": rid, "error": {"code": -32603, "message": "No such file or directory (os error 2)"}})
            return
        self.procs[(stream, pid)] = proc
        if kind == "echo":
            self._send(stream, ok)
            out(1, " ".join(argv[1:]) + "\n")
            ex(2, 0)
            cl(3)
            proc["done"] = True
        elif kind == "split":
            self._send(stream, ok)
            out(1, "out\n")
            out(2, "err\n", "stderr")
            ex(3, 3)
            cl(4)
            proc["done"] = True
        elif kind == "ooo":
            out(2, "B")
            out(1, "A")
            out(2, "B")
            ex(4, 7)
            out(3, "C")
            self._send(stream, ok)
            cl(5)
            proc["done"] = True
        elif kind == "noclose":
            self._send(stream, ok)
            out(1, "x")
            ex(2, 5)
            proc["done"] = True
        elif kind == "from0":
            self._send(stream, ok)
            out(0, "zero ")
            out(1, "one")
            ex(2, 0)
            cl(3)
            proc["done"] = True
        elif kind == "bigcode":
            self._send(stream, ok)
            ex(1, 300)
            cl(2)
            proc["done"] = True
        elif kind in ("hang", "stubborn"):
            proc["stubborn"] = kind == "stubborn"
            self._send(stream, ok)
            out(1, "ready\n")
            proc["seq"] = 1
        elif kind == "cat":
            self._send(stream, ok)
            proc["want"] = int(argv[1]) if len(argv) > 1 else None
        elif kind == "reset":
            self._send(stream, ok)
            with self.lock:
                self.ws.send_binary(H.relay_frame(stream, 8, b"\x0a\x04boom"))
        elif kind == "drop":
            self._send(stream, ok)
            self.close()
        else:
            self._send(stream, {"id": rid, "error": {"code": -32603, "message": "unknown fake " + kind}})

    def close(self):
        self.stop = True
        try:
            self.ws.close()
        except OSError:
            pass
