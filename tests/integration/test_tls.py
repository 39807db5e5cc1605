"""TLS listener (http-api.md §1): with CXG_TLS_CERT_FILE/CXG_TLS_KEY_FILE the one listener
speaks HTTPS and wss://, registration URLs use wss://, and executors and bridges relay over TLS."""
import asyncio
import http.client
import json
import os
import ssl
import time
import unittest

import websockets

from cxg_harness import (ALICE_TOKEN, DEFAULT_SECRETS, Gateway, GatewayStartError, uid,
                         write_self_signed_cert)


class TlsGateway:
    """A Gateway whose listener speaks TLS; requests go over HTTPS with the test CA."""

    def __init__(self):
        self.gw = Gateway(start=False)
        self.cert, self.key = write_self_signed_cert(self.gw.tmp)
        self.gw.env["CXG_TLS_CERT_FILE"] = self.cert
        self.gw.env["CXG_TLS_KEY_FILE"] = self.key
        self.ctx = ssl.create_default_context(cafile=self.cert)
        self.gw.start(wait=False)
        deadline = time.monotonic() + 15
        while True:
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or not self.gw.alive():
                raise GatewayStartError(self.gw.stderr_tail())
            time.sleep(0.05)

    def request(self, method, path, headers=None, body=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.gw.port, context=self.ctx, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def admin(self, method, path, body=None, headers=None):
        h = {"X-Internal-Secret": DEFAULT_SECRETS["CXG_AGENTSERVER_INTERNAL_SECRET"]}
        h.update(headers or {})
        return self.request(method, path, h, body)


class TlsTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = TlsGateway()

    @classmethod
    def tearDownClass(cls):
        cls.t.gw.close()

    def setup_executor(self):
        exe, ws = uid("exe"), uid("ws")
        self.assertEqual(self.t.admin("POST", "/api/codex-exec/register", json.dumps({"exe_id": exe}),
                                      {"X-User-Id": "alice"})[0], 201)
        self.assertEqual(self.t.admin("POST", "/api/codex-exec/workspaces/%s/executors" % ws,
                                      json.dumps({"exe_id": exe, "name": "n"}))[0], 201)
        status, body = self.t.request("POST", "/cloud/executor/%s/register" % exe,
                                      {"Authorization": "Bearer " + ALICE_TOKEN, "Host": "gw.test:1"})
        self.assertEqual(status, 200, body)
        return exe, ws, json.loads(body)["url"]

    def test_https_health_and_readiness(self):
        self.assertEqual(self.t.request("GET", "/healthz"), (200, b"ok"))
        self.assertEqual(self.t.request("GET", "/readyz"), (200, b"ready"))

    def test_plain_http_to_tls_port_gets_no_http_answer(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.t.gw.port, timeout=5)
        with self.assertRaises((http.client.HTTPException, OSError)):
            conn.request("GET", "/healthz")
            conn.getresponse()
        conn.close()
        self.assertEqual(self.t.request("GET", "/healthz")[0], 200)  # still serving

    def test_R2_registration_url_is_wss_over_tls(self):
        _, _, url = self.setup_executor()
        self.assertTrue(url.startswith("wss://gw.test:1/codex-exec/"), url)

    def test_executor_and_bridge_relay_over_wss(self):
        exe, ws, url = self.setup_executor()
        port = self.t.gw.port
        url = url.replace("wss://gw.test:1", "wss://127.0.0.1:%d" % port)
        cap = self.t.gw.mint_cap(ws)

        async def run():
            async with websockets.connect(url, ssl=self.t.ctx, compression=None) as ex:
                deadline = time.monotonic() + 5
                while '"is_online":true' not in self.t.admin("GET", "/api/codex-exec/executors/" + exe)[1].decode():
                    self.assertLess(time.monotonic(), deadline, "executor not online over wss")
                    await asyncio.sleep(0.05)
                async with websockets.connect("wss://127.0.0.1:%d/bridge/%s" % (port, exe), ssl=self.t.ctx,
                                              extra_headers={"Authorization": "Bearer " + cap},
                                              compression=None) as br:
                    await br.send('{"id":1,"method":"initialize","params":{}}')
                    resume = await asyncio.wait_for(ex.recv(), 5)
                    data = await asyncio.wait_for(ex.recv(), 5)
                    self.assertIsInstance(resume, bytes)
                    self.assertTrue(data.endswith(b'{"id":1,"method":"initialize","params":{}}'), data)
                    sid = resume[4:4 + resume[3]]
                    payload = b'{"id":1,"result":{"sessionId":"s"}}'
                    frame = (bytes([0x08, 1, 0x12, len(sid)]) + sid +
                             bytes([0x2A, len(payload) + 4, 0x18, 1, 0x22, len(payload)]) + payload)
                    await ex.send(frame)
                    self.assertEqual(await asyncio.wait_for(br.recv(), 5), payload.decode())

        asyncio.run(run())


class TlsConfigTests(unittest.TestCase):
    def test_unreadable_certificate_stops_startup_naming_the_variable(self):
        gw = Gateway(start=False, env={"CXG_TLS_CERT_FILE": "/nonexistent/cert.pem",
                                       "CXG_TLS_KEY_FILE": "/nonexistent/key.pem"})
        try:
            gw.start(wait=False)
            self.assertNotEqual(gw.proc.wait(15), 0)
            self.assertIn("CXG_TLS_CERT_FILE", gw.stderr_tail())
        finally:
            gw.close()


if __name__ == "__main__":
    unittest.main()
