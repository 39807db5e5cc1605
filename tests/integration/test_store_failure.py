"""Store failures (R10, B7, H1 'store unavailable', admin/internal 5xx rows of §2.5-2.6).

The SQLite store is made unusable by holding every WAL lock byte of `<db>-shm` from another
process; SQLite then fails reads and writes with SQLITE_PROTOCOL after about 10 s of retries.
Requests are issued in parallel so that one lock window covers them all; as the SQLite store
serialises its calls, each queued request adds ~10 s, so this module takes about two minutes."""

import threading
import time
import unittest

from cxg_harness import GatewayTestCase, StoreLocker, make_cap, uid, wait_until


T = 200  # the SQLite store runs one call at a time: ~10 s per queued request


class StoreFailureTests(GatewayTestCase):

    def test_R10_B7_H1_store_errors_map_to_their_statuses_and_change_nothing(self):
        gw = self.gw
        exe = gw.create_executor("alice")
        ws = uid("ws")
        gw.bind(ws, exe)
        turn = uid("trn")
        cap = make_cap(gw.cap_key, ws)
        turn_cap = make_cap(gw.cap_key, ws, turn=turn)
        adm = {"X-Internal-Secret": gw.admin_secret}
        calls = {
            "bridge": lambda: gw.request("GET", "/bridge/" + exe, {"Authorization": "Bearer " + cap}, timeout=T),
            "register": lambda: gw.register(exe, timeout=T),
            "get": lambda: gw.request("GET", "/api/codex-exec/executors/" + exe, adm, timeout=T),
            "list": lambda: gw.request("GET", "/api/codex-exec/workspaces/%s/executors" % ws, adm, timeout=T),
            "create": lambda: gw.request("POST", "/api/codex-exec/register", dict(adm, **{"X-User-Id": "alice"}),
                                         {"exe_id": uid("exe")}, timeout=T),
            "bind": lambda: gw.request("POST", "/api/codex-exec/workspaces/%s/executors" % uid("ws"), adm,
                                       {"exe_id": exe, "name": "x"}, timeout=T),
            "unbind": lambda: gw.request("DELETE", "/api/codex-exec/workspaces/%s/executors/%s" % (ws, exe), adm,
                                         timeout=T),
            "delete": lambda: gw.request("DELETE", "/api/codex-exec/executors/" + exe, adm, timeout=T),
            "connected": lambda: gw.request("GET", "/api/exec-gateway/connected", {"Authorization": "Bearer " + cap},
                                            timeout=T),
            "revoke": lambda: gw.request("POST", "/api/exec-gateway/revoke-turn",
                                         {"Authorization": "Bearer " + gw.shared_secret}, {"turn_id": turn}, timeout=T),
        }
        results, elapsed = {}, {}

        def run(name, fn):
            t0 = time.monotonic()
            try:
                results[name] = fn()
            except Exception as e:  # noqa
                results[name] = e
            elapsed[name] = time.monotonic() - t0

        with StoreLocker(gw.db_path):
            threads = [threading.Thread(target=run, args=(n, f)) for n, f in calls.items()]
            for t in threads:  # the bridge goes first: its 2 s budget should not include queueing
                t.start()
                time.sleep(0.2)

            def readyz():
                try:
                    return gw.request("GET", "/readyz", timeout=5)
                except OSError as e:
                    return e
            not_ready = wait_until(lambda: getattr(readyz(), "status", None) == 503, 30, 0.25)
            ready_resp = readyz()
            for t in threads:
                t.join(T + 20)

        with self.subTest("H1 readyz"):
            self.assertTrue(not_ready, "readyz never turned 503 while the store was unusable")
            self.assertPlainish(ready_resp, 503, "not ready: store unavailable")
        with self.subTest("R10 register"):
            self.assertCodexError(results["register"], 503, "store_unavailable")
        with self.subTest("B7 bridge"):
            self.assertPlain(results["bridge"], 500, "ownership check failed")
            self.assertLess(elapsed["bridge"], 4.5, "binding check must time out after 2 s")
        for name, msg in [("get", "get"), ("list", "list"), ("create", "create executor"),
                          ("bind", "bind failed"), ("unbind", "unbind"), ("delete", "delete"),
                          ("connected", "list")]:
            with self.subTest(name):
                self.assertAdminError(results[name], 500, msg)
        with self.subTest("revoke"):
            self.assertAdminError(results["revoke"], 503, "store unavailable")

        # Recovery, and nothing changed.
        self.assertTrue(wait_until(lambda: gw.request("GET", "/readyz").status == 200, 15, 0.25),
                        "readyz did not recover")
        self.assertEqual(gw.get_executor(exe)["exe_id"], exe)
        self.assertEqual([b["exe_id"] for b in gw.list_bindings(ws)], [exe])
        self.assertEqual(gw.connected(turn_cap).status, 200, "a failed revoke-turn must revoke nothing")
        self.assertEqual(gw.register(exe).status, 200)

    def assertPlainish(self, resp, status, message):
        self.assertEqual((resp.status, resp.body.rstrip(b"\n")), (status, message.encode()), repr(resp))


if __name__ == "__main__":
    unittest.main()
