"""H1: /healthz, /readyz, /metrics (http-api §2.1)."""

import re
import unittest

from cxg_harness import GatewayTestCase, uid

GAUGES = ["cxg_executors_connected", "cxg_bridges_active", "cxg_streams_active",
          "cxg_revocations", "cxg_ready", "cxg_build_info"]
COUNTERS = ["cxg_registrations_total", "cxg_bridge_rejections_total", "cxg_frames_total",
            "cxg_bytes_total", "cxg_frames_dropped_total", "cxg_executor_evictions_total",
            "cxg_stream_resets_total", "cxg_slow_consumer_closes_total",
            "cxg_auth_validator_requests_total", "cxg_http_requests_total"]
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Returns (types {name: type}, samples [(name, {labels}, float)])."""
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ.strip()
        elif line and not line.startswith("#"):
            m = SAMPLE_RE.match(line)
            if not m:
                raise AssertionError("bad metrics line %r" % line)
            labels = dict(LABEL_RE.findall(m.group(2) or ""))
            samples.append((m.group(1), labels, float(m.group(3))))
    return types, samples


class HealthTests(GatewayTestCase):

    def metrics(self):
        r = self.gw.request("GET", "/metrics")
        self.assertEqual(r.status, 200, repr(r))
        return r, parse_metrics(r.text)

    def test_H1_healthz_returns_ok(self):
        r = self.gw.request("GET", "/healthz")
        self.assertEqual((r.status, r.body), (200, b"ok"))
        self.assertTrue(r.ctype.startswith("text/plain"), r.ctype)

    def test_H1_readyz_returns_ready(self):
        r = self.gw.request("GET", "/readyz")
        self.assertEqual((r.status, r.body), (200, b"ready"))

    def test_H1_health_routes_need_no_auth_and_ignore_credentials(self):
        r = self.gw.request("GET", "/healthz", {"Authorization": "Basic Zm9vOmJhcg=="})
        self.assertEqual((r.status, r.body), (200, b"ok"))

    def test_H1_metrics_has_every_series_of_api_2_1(self):
        r, (types, samples) = self.metrics()
        self.assertIn("version=0.0.4", r.ctype)
        self.assertTrue(r.ctype.startswith("text/plain"), r.ctype)
        for g in GAUGES:
            self.assertEqual(types.get(g), "gauge", "missing gauge %s in:\n%s" % (g, r.text))
        for c in COUNTERS:
            self.assertEqual(types.get(c), "counter", "missing counter %s in:\n%s" % (c, r.text))
        by = {}
        for name, labels, value in samples:
            by.setdefault(name, []).append((labels, value))
        self.assertEqual([v for _, v in by["cxg_ready"]], [1.0])
        bi = by["cxg_build_info"]
        self.assertEqual(len(bi), 1)
        self.assertIn("version", bi[0][0])
        self.assertTrue(bi[0][0]["version"])
        self.assertEqual(bi[0][1], 1.0)
        flavours = {l.get("flavour") for l, _ in by.get("cxg_bridges_active", [])}
        self.assertTrue(flavours <= {"relay", "plain"} and flavours, flavours)

    def test_H1_metrics_count_registrations_validator_calls_and_http_requests(self):
        exe = self.gw.create_executor("alice")
        _, (_, before) = self.metrics()

        def total(samples, name):
            return sum(v for n, _, v in samples if n == name)
        self.assertEqual(self.gw.register(exe).status, 200)
        self.assertEqual(self.gw.register(exe, token="nope-" + uid("t")).status, 401)
        _, (_, after) = self.metrics()
        self.assertEqual(total(after, "cxg_registrations_total") - total(before, "cxg_registrations_total"), 2)
        for n, labels, _ in after:
            if n == "cxg_registrations_total":
                self.assertEqual(set(labels), {"path", "result"}, labels)
            if n == "cxg_auth_validator_requests_total":
                self.assertEqual(set(labels), {"validator", "result"}, labels)
            if n == "cxg_http_requests_total":
                self.assertEqual(set(labels), {"route", "code"}, labels)
        self.assertGreaterEqual(total(after, "cxg_auth_validator_requests_total")
                                - total(before, "cxg_auth_validator_requests_total"), 1)
        codes = {l["code"] for n, l, _ in after if n == "cxg_http_requests_total"}
        self.assertTrue({"200", "401"} <= codes, codes)


if __name__ == "__main__":
    unittest.main()
