"""The CLI against a gateway that listens with TLS (https:// and wss://): certificate checks
with the system store, --cacert / CXG_CA_FILE and --insecure, for a bridge and for the admin API."""

import http.client
import os
import ssl
import time
import unittest


import cxg_harness as H
import cli_helpers as C


class CliTlsTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = H.Gateway(start=False)
        cls.cert, key = H.write_self_signed_cert(cls.gw.tmp, prefix="cli-")
        cls.gw.env["CXG_TLS_CERT_FILE"] = cls.cert
        cls.gw.env["CXG_TLS_KEY_FILE"] = key
        cls.gw.start(wait=False)
        ctx = ssl.create_default_context(cafile=cls.cert)
        deadline = time.monotonic() + 15
        while True:
            try:
                c = http.client.HTTPSConnection("127.0.0.1", cls.gw.port, context=ctx, timeout=2)
                try:
                    c.request("GET", "/readyz")
                    if c.getresponse().status == 200:
                        break
                finally:
                    c.close()
            except OSError:
                pass
            if time.monotonic() > deadline or not cls.gw.alive():
                cls.gw.close()
                raise H.GatewayStartError(cls.gw.stderr_tail())
            time.sleep(0.1)
        cls.url = "https://127.0.0.1:%d" % cls.gw.port

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()

    def cxg(self, *args, env=None):
        e = {"CXG_URL": self.url}
        e.update(env or {})
        return C.run_cli(self.gw, *args, env=e)

    def test_bridge_certificate_checks(self):
        exe = H.uid("exe")
        cap = H.make_cap(self.gw.cap_key, "ws-tls")
        p = self.cxg("exec", "--token", cap, exe, "--", "true")
        self.assertEqual(p.returncode, 125)
        self.assertIn(b"gateway unreachable at wss://127.0.0.1:%d: TLS handshake" % self.gw.port, p.stderr)
        self.assertIn(b"certificate verify failed", p.stderr)
        expect = b"is not bound to the cap-token's workspace (HTTP 403 exe_id not in workspace)"
        for args, env in (((("--cacert", self.cert)), None), ((), {"CXG_CA_FILE": self.cert}), (("-k",), None)):
            p = self.cxg("exec", *args, "--token", cap, exe, "--", "true", env=env)
            self.assertEqual(p.returncode, 125, p)
            self.assertIn(expect, p.stderr)
        p = self.cxg("exec", "--url", "wss://127.0.0.1:%d" % self.gw.port, "--cacert", self.cert, "--token", cap, exe,
                     "--", "true")
        self.assertIn(expect, p.stderr)

    def test_admin_api_certificate_checks(self):
        p = self.cxg("executors", "list", "-w", "ws-tls")
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"gateway unreachable at https://", p.stderr)
        for args in (("--cacert", self.cert), ("--insecure",)):
            p = self.cxg("executors", "list", "-w", "ws-tls", "--json", *args)
            self.assertEqual((p.returncode, p.stdout), (0, b"[]\n"), p.stderr)


if __name__ == "__main__":
    unittest.main()
