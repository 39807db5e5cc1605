"""`cxg fs` through a real `cxg serve` against real `codex exec-server` releases (0.138.0 and
0.130.0): put then get round-trips files of several MB byte-exactly (one fs/writeFile /
fs/readFile, and the streamed paths for files beyond one bridge message), ls / stat / mkdir /
rm / cat behave. The exec-server runs on this machine, so remote paths are checked locally too."""

import hashlib
import json
import os
import shutil
import signal
import sys
import threading
import time

import interop_util as IU

sys.path.insert(0, IU._IT)
import cli_helpers as C  # noqa: E402

CLI_VERSIONS = tuple(os.environ.get("CXG_INTEROP_CLI_VERSIONS", "").split()) or \
    tuple(v for v in ("0.130.0", "0.138.0") if v in IU.VERSIONS)


class CliFsTests:
    def setUp(self):
        self.ensure_server()
        self.root = os.path.join(self.env.tmp, "cli-fs-" + self.id().rsplit(".", 1)[-1])
        shutil.rmtree(self.root, ignore_errors=True)
        os.makedirs(self.root)
        self.local = os.path.join(self.env.tmp, "cli-fs-local")
        os.makedirs(self.local, exist_ok=True)

    def fs(self, *args, ok=True, **kw):
        p = C.run_cli(self.gw, "fs", *args,
                      env={"CODEX_EXEC_GATEWAY_TOKEN": self.env.cap}, **kw)
        if ok:
            self.assertEqual(p.returncode, 0, "cxg fs %s: %s" % (" ".join(map(str, args)), p.stderr.decode()[-500:]))
        return p

    def op(self, name, *rest, opts=(), **kw):
        return self.fs(name, *opts, self.exe, *rest, **kw)

    def roundtrip(self, size, opts=()):
        data = os.urandom(size)
        src = os.path.join(self.local, "src-%d.bin" % size)
        back = os.path.join(self.local, "back-%d.bin" % size)
        with open(src, "wb") as f:
            f.write(data)
        remote = os.path.join(self.root, "dir", "file-%d.bin" % size)
        self.op("mkdir", os.path.dirname(remote), opts=["-p"])
        self.op("put", src, remote, opts=opts)
        with open(remote, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), hashlib.sha256(data).hexdigest())
        self.op("get", remote, back, opts=opts)
        with open(back, "rb") as f:
            got = f.read()
        self.assertEqual(len(got), size)
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(data).hexdigest())
        self.assertEqual([n for n in os.listdir(self.local) if "cxg-part" in n], [])
        self.assertEqual([n for n in os.listdir(os.path.dirname(remote)) if "cxg-part" in n], [])
        os.unlink(src)
        os.unlink(back)

    def test_put_get_several_megabytes(self):
        self.roundtrip(6_000_000)

    def test_put_get_several_megabytes_relay(self):
        self.roundtrip(5_000_123, opts=["--relay"])

    def test_put_get_beyond_one_message(self):
        """52 MB: put streams through `head -c` (> 16 MiB), and fs/readFile's 69 MB answer is over
        the gateway's 64 MiB executor message limit (1009), so get falls back to streaming."""
        before = IU.metric(self.gw, "cxg_frames_dropped_total", reason="too_large")
        self.roundtrip(52_000_000)
        self.assertEqual(IU.metric(self.gw, "cxg_frames_dropped_total", reason="too_large"), before + 1)

    def test_stalled_reader_of_a_large_file_is_not_a_slow_consumer(self):
        """A 52 MB `cat` whose reader is stopped (SIGSTOP) for 3 s at a time: the executor reads
        the file faster than this side takes it, but the file comes in pieces, so the gateway's
        16 MiB bridge queue never overflows (with one `cat` of the whole file: 4106)."""
        data = os.urandom(52_000_000)
        remote = os.path.join(self.root, "stalled-reader.bin")
        with open(remote, "wb") as f:
            f.write(data)
        proc = C.start_cli(self.gw, "fs", "cat", self.exe, remote,
                           env={"CODEX_EXEC_GATEWAY_TOKEN": self.env.cap})
        out, err = {}, {}
        readers = [threading.Thread(target=lambda: out.update(b=proc.stdout.read())),
                   threading.Thread(target=lambda: err.update(b=proc.stderr.read()))]
        for r in readers:
            r.start()
        try:
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.5)
                proc.send_signal(signal.SIGSTOP)
                time.sleep(3)
                proc.send_signal(signal.SIGCONT)
            proc.wait(timeout=10)
            for r in readers:
                r.join(timeout=10)
        finally:
            C.stop_proc(proc)
        self.assertEqual(proc.returncode, 0, err.get("b", b"").decode()[-500:])
        self.assertEqual(hashlib.sha256(out["b"]).hexdigest(), hashlib.sha256(data).hexdigest())

    def test_ls_stat_mkdir_rm_cat(self):
        d = os.path.join(self.root, "tree")
        self.op("mkdir", os.path.join(d, "sub", "deeper"), opts=["-p"])
        with open(os.path.join(d, "hello.txt"), "wb") as f:
            f.write(b"hi there\n")
        self.assertEqual(self.op("ls", d).stdout, b"hello.txt\nsub/\n")
        listing = json.loads(self.op("ls", d, opts=["--json"]).stdout)
        self.assertEqual([(e["fileName"], e["isFile"], e["isDirectory"]) for e in listing],
                         [("hello.txt", True, False), ("sub", False, True)])
        long = self.op("ls", d, opts=["-l"]).stdout.decode().splitlines()
        self.assertRegex(long[0], r"^file\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+hello\.txt$")
        self.assertRegex(long[1], r"^directory\s+\S+\s+sub/$")
        self.assertEqual(self.op("cat", os.path.join(d, "hello.txt")).stdout, b"hi there\n")
        st = self.op("stat", os.path.join(d, "hello.txt")).stdout.decode()
        self.assertRegex(st, r"(?m)^type:\s+file$")
        meta = json.loads(self.op("stat", os.path.join(d, "sub"), opts=["--json"]).stdout)
        self.assertEqual((meta["isDirectory"], meta["isFile"], meta["path"]), (True, False, os.path.join(d, "sub")))
        # errors: exit 1 with the executor's message
        p = self.op("stat", os.path.join(d, "missing"), ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"No such file or directory", p.stderr)
        p = self.op("rm", os.path.join(d, "sub"), ok=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertTrue(os.path.isdir(os.path.join(d, "sub")))
        self.op("rm", os.path.join(d, "hello.txt"))
        self.assertFalse(os.path.exists(os.path.join(d, "hello.txt")))
        self.op("rm", os.path.join(d, "sub"), opts=["-r"])
        self.assertEqual(os.listdir(d), [])
        self.op("rm", os.path.join(d, "gone"), opts=["-f"])
        p = self.op("ls", "relative/path", ok=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"remote path must be absolute", p.stderr)

    def test_put_into_directory_and_get_to_stdout(self):
        src = os.path.join(self.local, "named.txt")
        with open(src, "wb") as f:
            f.write(b"payload\n")
        self.op("put", src, self.root)
        self.assertTrue(os.path.isfile(os.path.join(self.root, "named.txt")))
        self.assertEqual(self.op("get", os.path.join(self.root, "named.txt"), "-").stdout, b"payload\n")
        self.op("put", "-", os.path.join(self.root, "from-stdin"), input=b"\x00\x01stdin")
        with open(os.path.join(self.root, "from-stdin"), "rb") as f:
            self.assertEqual(f.read(), b"\x00\x01stdin")


IU.parametrise(CliFsTests, globals(), versions=CLI_VERSIONS)
