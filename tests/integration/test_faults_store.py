"""Fault injection on the SQLite store: another process holding the write lock (SQLITE_BUSY),
and a full disk (issue 5 item 3; behaviour.md R10, B7, H1, A-rows; http-api.md §2.1, §2.5, §6).

The spec's error for each write route when the store fails: registration 503
`store_unavailable` (Codex shape), admin writes 500 with their `{"error": ...}` text,
revoke-turn 503 `store unavailable`.  Every case also checks: the process survives, reads of
earlier data keep working, nothing half-written appears, PRAGMA integrity_check is "ok", and
the same writes succeed once the fault is lifted.

Two ways to fill the disk are used:
  - RLIMIT_FSIZE lowered on the running gateway with prlimit(2) (SIGXFSZ ignored from
    before exec): every write to a regular file fails with EFBIG; works unprivileged;
  - a size-limited tmpfs holding the database, filled with a ballast file (true ENOSPC);
    needs root and mount(2), skipped otherwise.

Test store-failure rows that hold every WAL lock byte (SQLITE_PROTOCOL) live in
test_store_failure.py; this module covers the ordinary writer lock and a full disk."""

import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from cxg_harness import Gateway, GatewayTestCase, make_cap, uid, wait_until
from faults_helpers import report, sqlite_integrity


def call(fn):
    """fn() or the exception it raised, with the elapsed seconds."""
    t0 = time.monotonic()
    try:
        out = fn()
    except Exception as e:  # noqa
        out = e
    return out, time.monotonic() - t0


def in_parallel(calls):
    """Runs {name: fn} concurrently; returns {name: (result, seconds)}."""
    results = {}
    threads = [threading.Thread(target=lambda n=n, f=f: results.__setitem__(n, call(f))) for n, f in calls.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


class WriteLockHolder:
    """Another process holding SQLite's write lock (BEGIN EXCLUSIVE; in WAL mode readers
    continue): the gateway's writes wait busy_timeout (5 s) and then fail with SQLITE_BUSY."""

    CODE = ("import sqlite3,sys\n"
            "c=sqlite3.connect(sys.argv[1],isolation_level=None,timeout=30)\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "c.execute(\"CREATE TABLE IF NOT EXISTS zz_fault_probe(x)\")\n"
            "print('locked',flush=True)\n"
            "sys.stdin.read()\n"
            "c.execute('ROLLBACK')\n")

    def __init__(self, db_path):
        self.db_path = db_path
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", self.CODE, self.db_path], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "locked":
            raise RuntimeError("could not take the SQLite write lock")
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.proc.wait(10)
        return False


class StoreFaultMixin:
    """Seeds data, runs one write of each kind under a fault, and checks the outcome."""

    def seed(self):
        gw = self.gw
        self.exe = gw.create_executor("alice", display_name="seeded")
        self.ws = uid("ws")
        gw.bind(self.ws, self.exe, name="seeded")
        self.turn = uid("trn")
        self.assertEqual(gw.revoke(self.turn, exp=int(time.time()) + 3600).status, 204)
        self.assertEqual(gw.register(self.exe).status, 200)
        self.seeded_exe = gw.get_executor(self.exe)
        self.seeded_bindings = gw.list_bindings(self.ws)

    def write_calls(self, timeout=60):
        gw = self.gw
        self.new_exe, self.new_ws, self.new_turn = uid("exe"), uid("ws"), uid("trn")
        return {
            "create": lambda: gw.admin("POST", "/api/codex-exec/register", body={"exe_id": self.new_exe},
                                       user="alice", timeout=timeout),
            "bind": lambda: gw.admin("POST", "/api/codex-exec/workspaces/%s/executors" % self.new_ws,
                                     body={"exe_id": self.exe, "name": "x"}, timeout=timeout),
            "revoke": lambda: gw.request("POST", "/api/exec-gateway/revoke-turn",
                                         {"Authorization": "Bearer " + gw.shared_secret},
                                         {"turn_id": self.new_turn}, timeout=timeout),
        }

    def read_calls(self, timeout=60):
        gw = self.gw
        cap = make_cap(gw.cap_key, self.ws)
        return {
            "get": lambda: gw.admin("GET", "/api/codex-exec/executors/" + self.exe, timeout=timeout),
            "list": lambda: gw.admin("GET", "/api/codex-exec/workspaces/%s/executors" % self.ws, timeout=timeout),
            "connected": lambda: gw.request("GET", "/api/exec-gateway/connected",
                                            {"Authorization": "Bearer " + cap}, timeout=timeout),
            "healthz": lambda: gw.request("GET", "/healthz", timeout=timeout),
        }

    def assertWritesFailedCleanly(self, res):
        """The spec's statuses and error bodies for a failed store write."""
        with self.subTest("create"):
            self.assertAdminError(res["create"][0], 500, "create executor")
        with self.subTest("bind"):
            self.assertAdminError(res["bind"][0], 500, "bind failed")
        with self.subTest("revoke"):
            self.assertAdminError(res["revoke"][0], 503, "store unavailable")

    def assertReadsWorked(self, res):
        for name in ("get", "list", "connected", "healthz"):
            with self.subTest(read=name):
                self.assertEqual(getattr(res[name][0], "status", res[name][0]), 200, repr(res[name][0]))

    def assertNothingHalfWritten(self):
        gw = self.gw
        self.assertEqual(gw.admin("GET", "/api/codex-exec/executors/" + self.new_exe).status, 404)
        self.assertEqual(gw.list_bindings(self.new_ws), [])
        cap = make_cap(gw.cap_key, self.ws, turn=self.new_turn)
        self.assertEqual(gw.connected(cap).status, 200, "a failed revoke-turn must revoke nothing")

    def assertSeedIntact(self):
        gw = self.gw
        volatile = ("last_seen_at",)
        got = {k: v for k, v in gw.get_executor(self.exe).items() if k not in volatile}
        self.assertEqual(got, {k: v for k, v in self.seeded_exe.items() if k not in volatile})
        self.assertEqual(gw.list_bindings(self.ws), self.seeded_bindings)
        r = gw.connected(make_cap(gw.cap_key, self.ws, turn=self.turn))
        self.assertEqual((r.status, r.body), (401, b"unauthorized\n"), "seeded revocation lost")

    def assertRecovers(self):
        gw = self.gw
        self.assertTrue(wait_until(lambda: gw.request("GET", "/readyz").status == 200, 20, 0.25),
                        "readyz did not come back")
        res = {n: call(f) for n, f in self.write_calls().items()}
        self.assertEqual(res["create"][0].status, 201, repr(res["create"][0]))
        self.assertEqual(res["bind"][0].status, 201, repr(res["bind"][0]))
        self.assertEqual(res["revoke"][0].status, 204, repr(res["revoke"][0]))
        self.assertEqual(gw.register(self.exe).status, 200)
        self.assertEqual(gw.get_executor(self.new_exe)["exe_id"], self.new_exe)
        self.assertEqual(sqlite_integrity(gw.db_path), "ok")
        self.assertTrue(gw.alive())

    def faulted_calls(self, settle=6.0):
        """Runs every write and read call concurrently while /readyz is polled, and polls on
        for `settle` seconds (longer than the 5 s readiness window).  Returns (results,
        the set of (status, body) /readyz gave)."""
        seen = set()
        stop = threading.Event()

        def poll():
            while not stop.is_set():
                try:
                    r = self.gw.request("GET", "/readyz", timeout=5)
                    seen.add((r.status, r.body.rstrip(b"\n").decode()))
                except OSError as e:
                    seen.add(("error", str(e)))
                stop.wait(0.25)
        poller = threading.Thread(target=poll)
        poller.start()
        try:
            res = in_parallel(dict(self.write_calls(), **self.read_calls()))
            time.sleep(settle)
        finally:
            stop.set()
            poller.join(10)
        return res, seen

    def assertReadinessAnswers(self, seen):
        """/readyz always answers, with one of the two specified texts."""
        self.assertTrue(seen <= {(200, "ready"), (503, "not ready: store unavailable")}, seen)

    def check_writes_fail_cleanly_under(self, label, start_fault, end_fault):
        """Seeds data, runs the write and read calls while the fault holds, lifts it, and checks
        the whole contract: process alive, clear write errors, readiness answers, reads work,
        no corruption or half-written rows, seed intact, writes work again."""
        gw = self.gw
        self.seed()
        start_fault()
        try:
            res, ready = self.faulted_calls()
            alive = gw.alive()
        finally:
            end_fault()
        report("%s: %s; readyz seen %r" % (
            label, ", ".join("%s %s in %.1fs" % (n, getattr(r, "status", r), dt) for n, (r, dt) in sorted(res.items())),
            sorted(ready, key=str)))
        self.assertTrue(alive, "cxg died under %s:\n%s" % (label, gw.stderr_tail()))
        self.assertWritesFailedCleanly(res)
        self.assertReadinessAnswers(ready)
        self.assertReadsWorked(res)
        self.assertEqual(sqlite_integrity(gw.db_path), "ok")
        self.assertNothingHalfWritten()
        self.assertSeedIntact()
        self.assertRecovers()


class WriteLockTests(StoreFaultMixin, GatewayTestCase):
    GATEWAY_ENV = {"CXG_LOG_LEVEL": "info"}

    def test_writer_lock_held_elsewhere_writes_fail_after_busy_timeout_reads_continue_then_recover(self):
        gw = self.gw
        self.seed()
        with WriteLockHolder(gw.db_path):
            t0 = time.monotonic()
            res, ready = self.faulted_calls(settle=1.0)
            held = time.monotonic() - t0
        report("SQLite writer lock held %.1fs: %s; readyz seen %r" % (
            held, ", ".join("%s %s in %.1fs" % (n, getattr(r, "status", r), dt) for n, (r, dt) in sorted(res.items())),
            sorted(ready, key=str)))
        self.assertWritesFailedCleanly(res)
        self.assertReadinessAnswers(ready)
        for name in ("create", "bind", "revoke"):
            self.assertGreaterEqual(res[name][1], 4.5, "%s failed before busy_timeout (5 s)" % name)
        self.assertReadsWorked(res)
        self.assertTrue(gw.alive())
        self.assertEqual(sqlite_integrity(gw.db_path), "ok")
        self.assertNothingHalfWritten()
        self.assertSeedIntact()
        self.assertRecovers()

    def test_registration_under_writer_lock_still_succeeds(self):
        """Registration only reads the owner; its metadata write is best effort (R-rows,
        http-api §2.2 step 5), so a locked writer delays it but does not fail it."""
        gw = self.gw
        exe = gw.create_executor("alice")
        with WriteLockHolder(gw.db_path):
            r, dt = call(lambda: gw.register(exe, headers={"User-Agent": "codex_cli_rs/0.140.0 (Linux 6.1; x86_64)"},
                                             timeout=60))
        report("registration under a held SQLite writer lock: %s in %.1fs" % (getattr(r, "status", r), dt))
        self.assertEqual(r.status, 200, repr(r))
        self.assertTrue(r.json()["url"])
        self.assertEqual(sqlite_integrity(gw.db_path), "ok")


# --------------------------------------------------------------------------- full disk

class ResourceLimitedGateway(Gateway):
    """A Gateway whose process ignores SIGXFSZ (set before exec, kept across it), so a lowered
    RLIMIT_FSIZE turns file growth into EFBIG errors instead of killing the process."""

    # Popen's restore_signals resets an inherited SIG_IGN for SIGXFSZ, so the child sets it
    # itself (preexec_fn runs after that reset).
    @staticmethod
    def preexec_fn():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    # Only the soft limit moves: raising it back up to the hard limit needs no privilege.
    def limit_file_size(self, limit):
        self.hard_fsize = resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE)[1]
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (limit, self.hard_fsize))

    def unlimit_file_size(self):
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (self.hard_fsize, self.hard_fsize))


class FileSizeLimitTests(StoreFaultMixin, GatewayTestCase):
    """Disk full as EFBIG: RLIMIT_FSIZE=1 on the running gateway fails every file write
    (database, WAL, and the log file, so the fault's own log lines are lost)."""

    GATEWAY_ENV = {"CXG_LOG_LEVEL": "info"}

    @classmethod
    def setUpClass(cls):
        unittest.TestCase.setUpClass()
        cls.gw = ResourceLimitedGateway(env=cls.make_env(), tokens=cls.GATEWAY_TOKENS)

    def test_file_size_limit_writes_fail_cleanly_reads_continue_then_recover(self):
        gw = self.gw
        self.check_writes_fail_cleanly_under("RLIMIT_FSIZE=1", lambda: gw.limit_file_size(1), gw.unlimit_file_size)
        # Logging works again too (stderr is a regular file here): assertRecovers created
        # an executor after the limit was lifted, which logs "executor created".
        self.assertIn(self.new_exe, gw.stderr_text(), "log lines lost after the fault was lifted")


def can_mount_tmpfs():
    if os.geteuid() != 0:
        return False
    d = tempfile.mkdtemp(prefix="cxg-tmpfs-probe-")
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", d],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", d], capture_output=True)
        return ok
    except OSError:
        return False
    finally:
        os.rmdir(d)


@unittest.skipUnless(can_mount_tmpfs(), "needs root and mount(2) for a size-limited tmpfs")
class DiskFullTests(StoreFaultMixin, unittest.TestCase):
    """Disk full as ENOSPC: the database lives on a 16 MiB tmpfs that a ballast file fills."""

    # assert helpers of GatewayTestCase, without its shared gateway
    assertAdminError = GatewayTestCase.assertAdminError

    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="cxg-diskfull-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", self.mnt], check=True)
        db = os.path.join(self.mnt, "cxg.db")
        self.gw = Gateway(env={"CXG_DATABASE_URL": "sqlite://" + db, "CXG_LOG_LEVEL": "info"}, start=False)
        self.gw.db_path = db
        self.gw.start()
        self.ballast = os.path.join(self.mnt, "ballast")

    def tearDown(self):
        self.gw.close()
        subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        shutil.rmtree(self.mnt, ignore_errors=True)

    def fill_disk(self):
        chunk = b"\0" * (1 << 20)
        with open(self.ballast, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(chunk)
            except OSError as e:
                self.assertEqual(e.errno, errno.ENOSPC)
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass

    def test_disk_full_writes_fail_cleanly_reads_continue_then_recover(self):
        gw = self.gw
        self.check_writes_fail_cleanly_under("tmpfs full (ENOSPC)", self.fill_disk, lambda: os.unlink(self.ballast))
        self.assertIn("store", gw.stderr_text().lower())


if __name__ == "__main__":
    unittest.main()
