"""Several bridges on one executor: relay releases (0.131+) multiplex independent sessions
(interop.md I3); the legacy 0.130 executor serves one bridge at a time and reconnects after
each one (I7, wire-protocol §6)."""

import threading
import time

import interop_util as IU

OTHER_ARGV = ["/bin/sh", "-c", "echo world; echo argh >&2; exit 4"]


class BridgeTests:
    def run_pair(self, flavours):
        self.fs_fixture()
        bridges = [self.bridge(fl) for fl in flavours]       # both attached at once
        specs = [(IU.SMOKE_ARGV, b"hello\n", b"oops\n", 3), (OTHER_ARGV, b"world\n", b"argh\n", 4)]
        results, errors = [None, None], []
        barrier = threading.Barrier(2, timeout=15)

        def worker(i):
            try:
                br = bridges[i]
                sid = br.initialize()["sessionId"]
                barrier.wait()                                # both sessions exist before any work
                out = br.run_process("p1", specs[i][0])       # same processId in both sessions
                results[i] = (sid, out)
                barrier.wait()
                self.check_read_directory(br)
            except BaseException as e:                       # reported from the main thread
                errors.append((i, e))
                barrier.abort()

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(40)
        self.assertFalse(any(t.is_alive() for t in threads), "bridge workers hung")
        if errors:
            raise AssertionError("bridge %d failed: %r\n%s" % (errors[0][0], errors[0][1], self.diag()))
        (sid_a, out_a), (sid_b, out_b) = results
        self.assertSessionId(sid_a)
        self.assertSessionId(sid_b)
        self.assertNotEqual(sid_a, sid_b)
        for (argv, so, se, code), out in zip(specs, (out_a, out_b)):
            self.assertSmokeOutcome(out, so, se, code)
        for br in bridges:
            self.assertRelaySeqs(br)
        active = sum(IU.metric(self.gw, "cxg_bridges_active", flavour=fl) for fl in ("relay", "plain"))
        self.assertEqual(active, 2)
        for br in bridges:
            br.leave()

    def test_two_relay_bridges_independent(self):
        """Two relay-v1 bridges on the same executor at once get different sessionIds and
        independent results (0.131+)."""
        self.require_relay_release()
        self.ensure_server()
        self.run_pair(["relay", "relay"])

    def test_relay_and_plain_bridges_independent(self):
        """A relay-v1 and a plain-JSON bridge on the same executor at once (0.131+)."""
        self.require_relay_release()
        self.ensure_server()
        self.run_pair(["relay", "plain"])

    def test_legacy_one_bridge_at_a_time(self):
        """0.130: while a bridge is attached a second one gets HTTP 409 `executor busy`; after the
        first leaves the executor reconnects within 5 s and the smoke sequence passes again."""
        if not self.legacy:
            self.skipTest("codex %s multiplexes streams" % self.VERSION)
        self.ensure_server()
        first = self.bridge("plain")
        first.initialize()
        conn0 = self.env.listing(self.exe).get("connected_at")
        for flavour in ("relay", "plain"):
            with self.assertRaises(IU.BridgeRejected) as cm:
                IU.Bridge(self.gw, self.exe, self.env.cap, flavour)
            resp = cm.exception.resp
            self.assertEqual((resp.status, resp.body), (409, b"executor busy\n"), repr(resp))
            self.assertTrue(resp.ctype.replace(" ", "").lower().startswith("text/plain"), repr(resp))
        # The first bridge is unaffected by the refused ones.
        out = first.run_process("p1", IU.SMOKE_ARGV)
        self.assertSmokeOutcome(out)

        t0 = time.monotonic()
        first.leave()
        entry = self.env.wait_online(self.exe, type(self).server, timeout=5.0, after=conn0)
        self.assertLessEqual(time.monotonic() - t0, 5.0)
        self.assertEqual(entry.get("protocol"), "json")
        self.assertTrue(type(self).server.alive())
        for flavour in ("relay", "plain"):
            conn = entry.get("connected_at")
            br = self.bridge(flavour)
            self.smoke(br)
            t0 = time.monotonic()
            br.leave()
            entry = self.env.wait_online(self.exe, type(self).server, timeout=5.0, after=conn)
            self.assertLessEqual(time.monotonic() - t0, 5.0)


IU.parametrise(BridgeTests, globals())
