"""Executor process lifecycle against cxg, for every Codex release: a killed exec-server
closes its bridges with 4100, a restarted one registers and comes back online, and a second
process for the same id evicts the first without the executor ever showing offline
(interop.md I6, wire-protocol §2 "newest wins", §5.8)."""

import time

import interop_util as IU


class LifecycleTests:
    def open_initialized_bridges(self):
        flavours = ["plain"] if self.legacy else ["relay", "plain"]
        bridges = []
        for fl in flavours:
            br = self.bridge(fl)
            br.initialize()
            bridges.append(br)
        return bridges

    def test_killed_executor_closes_bridges_4100(self):
        """Killing the exec-server process closes its bridges with 4100 `executor disconnected`
        and the executor goes offline."""
        server = self.ensure_server()
        bridges = self.open_initialized_bridges()
        server.kill()                                   # SIGKILL, by pid
        for br in bridges:
            code, reason = br.wait_closed(10)
            self.assertEqual((code, reason), (4100, "executor disconnected"),
                             "%s bridge: %s" % (br.flavour, self.diag()))
        self.env.wait_offline(self.exe, 5)
        self.assertEqual(IU.metric(self.gw, "cxg_executors_connected"), 0)
        self.assertFalse(self.gw.get_executor(self.exe).get("is_online"))
        self.assertTrue(self.gw.get_executor(self.exe).get("disconnected_at"))

    def test_restarted_executor_registers_and_is_online_again(self):
        """After the exec-server dies, a new process for the same id registers again, is listed
        online again (same protocol), and a bridge runs the smoke sequence on it."""
        server = self.ensure_server()
        first = self.env.listing(self.exe)
        regs = IU.metric(self.gw, "cxg_registrations_total", result="ok")
        server.kill()
        self.env.wait_offline(self.exe, 5)
        t0 = time.monotonic()
        type(self).server = self.env.start_exec_server(self.exe)
        entry = self.env.wait_online(self.exe, type(self).server, IU.ONLINE_TIMEOUT,
                                     after=first.get("connected_at"))
        self.assertLessEqual(time.monotonic() - t0, IU.ONLINE_TIMEOUT)
        self.assertEqual(entry.get("protocol"), "json" if self.legacy else "relay", repr(entry))
        self.assertGreater(IU.metric(self.gw, "cxg_registrations_total", result="ok"), regs)
        br = self.bridge("plain")
        self.smoke(br)
        br.leave()

    def test_second_process_evicts_first_never_offline(self):
        """A second exec-server process for the same id evicts the first: the first's bridge gets
        4101 `executor replaced`, cxg_executor_evictions_total rises (the two keep evicting
        each other as each reconnects), and the workspace listing never shows the executor
        offline in between.  Neither process exits."""
        a = self.ensure_server()
        br = self.bridge("plain")
        br.initialize()
        evictions0 = IU.metric(self.gw, "cxg_executor_evictions_total")
        conn0 = self.env.listing(self.exe).get("connected_at")

        b = self.env.start_exec_server(self.exe)
        samples, offline, seen_conns = 0, [], {conn0}
        deadline = time.monotonic() + 8.0
        evictions = evictions0
        try:
            while time.monotonic() < deadline:
                e = self.env.listing(self.exe)
                samples += 1
                if not e or e.get("is_online") is not True:
                    offline.append((round(time.monotonic() - (deadline - 8.0), 3), e))
                else:
                    seen_conns.add(e.get("connected_at"))
                evictions = IU.metric(self.gw, "cxg_executor_evictions_total")
                if evictions >= evictions0 + 2 and len(seen_conns) >= 3 and samples >= 20:
                    break
                time.sleep(0.05)
            code, reason = br.wait_closed(5)
            self.assertEqual((code, reason), (4101, "executor replaced"), self.diag())
            self.assertEqual(offline, [], "executor shown offline during eviction")
            self.assertGreaterEqual(evictions, evictions0 + 2,
                                    "the two processes should evict each other: %s -> %s\n%s"
                                    % (evictions0, evictions, self.diag()))
            self.assertGreaterEqual(len(seen_conns), 3, seen_conns)
            self.assertTrue(a.alive(), "first exec-server exited:\n" + a.log())
            self.assertTrue(b.alive(), "second exec-server exited:\n" + b.log())
        finally:
            b.kill()
        # The first process still serves once the second is gone (it may first have to
        # reconnect; a bridge admitted just before cxg noticed the kill may get 4100/4101).
        deadline = time.monotonic() + IU.ONLINE_TIMEOUT
        while True:
            try:
                br = self.bridge("plain", wait_connected=max(0.0, deadline - time.monotonic()))
                self.smoke(br)
                br.leave()
                break
            except IU.BridgeClosed as e:
                if e.code not in (4100, 4101) or time.monotonic() >= deadline:
                    raise
        self.assertTrue(a.alive(), a.log())
        self.env.wait_online(self.exe, a)


IU.parametrise(LifecycleTests, globals())
