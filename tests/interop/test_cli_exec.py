"""`cxg exec` through a real `cxg serve` against real `codex exec-server` releases (0.138.0, and
0.130.0 for the legacy JSON path): output bytes and exit codes match a local run, stdin
forwarding, Ctrl-C terminates the remote process, a revoked turn or a vanished executor ends
the run with 125. CXG_INTEROP_CLI_VERSIONS (space separated) overrides the versions."""

import hashlib
import os
import random
import signal
import subprocess
import sys
import time

import interop_util as IU

sys.path.insert(0, IU._IT)
import cli_helpers as C  # noqa: E402
import cxg_harness as H  # noqa: E402

CLI_VERSIONS = tuple(os.environ.get("CXG_INTEROP_CLI_VERSIONS", "").split()) or \
    tuple(v for v in ("0.130.0", "0.138.0") if v in IU.VERSIONS)


def local(argv, input=None):
    return subprocess.run(argv, capture_output=True, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL, timeout=120)


class CliExecTests:
    def setUp(self):
        self.ensure_server()

    def cxg(self, *args, cap=None, **kw):
        return C.run_cli(self.gw, *args, env={"CODEX_EXEC_GATEWAY_TOKEN": cap or self.env.cap}, **kw)

    def remote(self, argv, opts=(), **kw):
        return self.cxg("exec", *opts, self.exe, "--", *argv, **kw)

    def assertSameRun(self, argv, opts=(), input=None):
        want = local(argv, input)
        got = self.remote(argv, opts, input=input)
        self.assertEqual(got.returncode, want.returncode, got.stderr[-500:])
        self.assertEqual(len(got.stdout), len(want.stdout))
        self.assertEqual(hashlib.sha256(got.stdout).hexdigest(), hashlib.sha256(want.stdout).hexdigest())
        self.assertEqual(got.stderr, want.stderr)
        return got

    def shared_dir(self):
        d = os.path.join(self.env.tmp, "cli-exec")
        os.makedirs(d, exist_ok=True)
        return d

    # -- output and exit codes
    def test_smoke_matches_local_run(self):
        """interop.md §6 through `cxg exec` and `cxg exec --relay`: hello / oops / 3."""
        for opts in ([], ["--relay"]):
            got = self.assertSameRun(IU.SMOKE_ARGV, opts)
            self.assertEqual((got.stdout, got.stderr, got.returncode), (b"hello\n", b"oops\n", 3))

    def test_exit_codes_match_local_run(self):
        for code in (0, 1, 2, 42, 126, 255):
            self.assertEqual(self.remote(["/bin/sh", "-c", "exit %d" % code]).returncode, code)

    def test_death_by_signal_is_255(self):
        """The exec-servers report exitCode -1 for a process killed by a signal, so cxg exits 255
        where a local shell would report 128+N."""
        self.assertEqual(self.remote(["/bin/sh", "-c", "kill -9 $$"]).returncode, 255)

    def test_binary_output(self):
        """300 000 bytes from /dev/urandom, tee'd into a shared file by the remote command:
        stdout is byte-identical to the file (and to a local `cat` of it)."""
        path = os.path.join(self.shared_dir(), "urandom-%d.bin" % random.randrange(1 << 30))
        got = self.remote(["/bin/sh", "-c", 'head -c 300000 /dev/urandom | tee "$0"', path])
        self.assertEqual(got.returncode, 0, got.stderr)
        with open(path, "rb") as f:
            data = f.read()
        self.assertEqual(len(data), 300000)
        self.assertEqual(got.stdout, data)
        self.assertSameRun(["cat", path])
        digest = self.remote(["sha256sum", path]).stdout.split()[0].decode()
        self.assertEqual(digest, hashlib.sha256(got.stdout).hexdigest())

    def test_multi_megabyte_output(self):
        got = self.assertSameRun(["/bin/sh", "-c", "seq 1 1500000; head -c 12000000 /dev/zero | base64"])
        self.assertGreater(len(got.stdout), 25_000_000)

    def test_relay_flavour_large_output(self):
        self.assertSameRun(["/bin/sh", "-c", "seq 1 800000 >&2; seq 1 800000"], opts=["--relay"])

    def test_stalled_local_consumer(self):
        """The executor pushes output without flow control and the gateway closes a bridge that
        stops reading (4106); cxg keeps reading into memory while its stdout is stalled for 4 s.
        The remote side writes 60 MB in 1 MB steps (not as one burst from /dev/zero): racing an
        exec-server that bursts at full speed on a loaded 2-core CI machine measures the
        scheduler, not this behaviour."""
        env = C.cli_env(self.gw, {"CODEX_EXEC_GATEWAY_TOKEN": self.env.cap})
        remote = "for i in $(seq 60); do head -c 1000000 /dev/zero; sleep 0.02; done"
        cmd = "%s exec %s -- /bin/sh -c '%s' < /dev/null | (sleep 4; wc -c); exit ${PIPESTATUS[0]}" % (
            C.CXG_BIN, self.exe, remote)
        p = subprocess.run(["/bin/bash", "-c", cmd], env=env, capture_output=True, timeout=120)
        self.assertEqual((p.returncode, p.stdout.strip()), (0, b"60000000"), p.stderr)

    def test_cwd_and_env(self):
        d = self.shared_dir()
        got = self.remote(["/bin/sh", "-c", 'pwd; echo "$FOO|$BAR"; test -n "$PATH" && test -n "$HOME" && echo ok'],
                          opts=["--cwd", d, "-e", "FOO=bar", "--env", "BAR=a=b"])
        self.assertEqual((got.returncode, got.stdout), (0, ("%s\nbar|a=b\nok\n" % d).encode()), got.stderr)

    def test_start_failure(self):
        got = self.remote(["/nonexistent/command"])
        self.assertEqual(got.returncode, 127)
        self.assertIn(b"No such file or directory", got.stderr)

    # -- stdin
    def test_stdin_forwarding(self):
        got = self.remote(["head", "-c", "12"], input=b"hello\nworld\nmore")
        self.assertEqual((got.returncode, got.stdout), (0, b"hello\nworld\n"), got.stderr)
        data = os.urandom(3_000_000)
        self.assertSameRun(["/bin/sh", "-c", "head -c 3000000 | sha256sum"], input=data)

    def test_tty_stdin_eof_as_ctrl_d(self):
        """A pipe cannot be closed through the exec-server; with --tty cxg sends EOF as ^D and the
        remote pty ends `sort`'s input (the pty echoes the input first, with CRLF)."""
        got = self.remote(["sort"], opts=["-t"], input=b"b\na\n")
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertTrue(got.stdout.endswith(b"a\r\nb\r\n"), got.stdout)

    # -- signals and failures
    def ps(self):
        """The command lines of the executor machine's processes, through another `cxg exec`."""
        got = self.remote(["ps", "-eo", "args"])
        self.assertEqual(got.returncode, 0, got.stderr)
        return [line.strip() for line in got.stdout.decode().splitlines()]

    def test_sigint_terminates_the_remote_process(self):
        mark = "sleep %d" % random.randrange(7000, 9000)
        proc = C.start_cli(self.gw, "exec", self.exe, "--", "/bin/sh", "-c", "echo ready; %s; echo after" % mark,
                           env={"CODEX_EXEC_GATEWAY_TOKEN": self.env.cap})
        try:
            C.read_until(proc.stdout, b"ready\n", 20)
            if not self.legacy:  # a legacy executor serves one bridge at a time
                self.assertIn(mark, self.ps())
            proc.send_signal(signal.SIGINT)
            proc.wait(10)
            out = proc.stdout.read()
        finally:
            C.stop_proc(proc)
        self.assertEqual(proc.returncode, 255)  # killed by SIGKILL: exitCode -1
        self.assertNotIn(b"after", out)
        self.assertNotIn(mark, self.ps())

    def test_revoked_turn_ends_the_run(self):
        """interop.md I9: revoking the turn of a running `cxg exec` makes it exit 125 with 4103."""
        turn = H.uid("trn")
        cap = self.gw.mint_cap(IU.WORKSPACE, turn=turn)
        proc = C.start_cli(self.gw, "exec", "--token", cap, self.exe, "--", "/bin/sh", "-c", "echo ready; sleep 60")
        code, _, err = C.act_once_ready(proc, lambda: self.assertEqual(self.gw.revoke(turn).status, 204), ready_timeout=20)
        self.assertEqual(code, 125)
        self.assertEqual(err.decode().strip(), "cxg: connection lost: gateway closed the bridge with 4103 turn revoked")

    def test_executor_gone_mid_run(self):
        proc = C.start_cli(self.gw, "exec", self.exe, "--", "/bin/sh", "-c", "echo ready; sleep 60",
                           env={"CODEX_EXEC_GATEWAY_TOKEN": self.env.cap})
        code, _, err = C.act_once_ready(proc, lambda: type(self).server.kill(), ready_timeout=20)
        self.assertEqual(code, 125)
        self.assertEqual(err.decode().strip(),
                         "cxg: connection lost: gateway closed the bridge with 4100 executor disconnected")

    def test_offline_executor(self):
        exe = self.env.new_executor()
        got = self.cxg("exec", "--wait-online", "0", exe, "--", "true")
        self.assertEqual(got.returncode, 125)
        self.assertEqual(got.stderr.decode().strip(), "cxg: executor %s is offline: no exec-server is connected "
                                                      "for it (HTTP 503 executor not connected)" % exe)

    def test_busy_legacy_executor(self):
        if not self.legacy:
            self.skipTest("only legacy (0.130) executors are limited to one bridge")
        br = self.bridge("plain")
        br.initialize()
        got = self.cxg("exec", "--wait-online", "0", self.exe, "--", "true")
        self.assertEqual(got.returncode, 125)
        self.assertIn("is busy: a legacy (0.130) executor serves one bridge at a time (HTTP 409 executor busy)",
                      got.stderr.decode())
        br.leave()
        # cxg waits out the reconnection that follows (wire-protocol §6.5)
        got = self.remote(["echo", "free"])
        self.assertEqual((got.returncode, got.stdout), (0, b"free\n"), got.stderr)


IU.parametrise(CliExecTests, globals(), versions=CLI_VERSIONS)
