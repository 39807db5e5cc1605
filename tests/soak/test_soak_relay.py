"""CTest `soak.relay` (label `soak`): the relay soak of soak_relay.py with its default, CI-sized
configuration (about 3 minutes).  Longer or bigger runs: CXG_SOAK_SECONDS, CXG_SOAK_EXECUTORS,
CXG_SOAK_STREAMS, CXG_SOAK_RATE (run soak_relay.py directly when they exceed the CTest timeout)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import soak_relay  # noqa: E402


def say(message):
    print(message, file=sys.stderr, flush=True)


class RelaySoakTest(unittest.TestCase):

    def test_relay_soak(self):
        """No frame lost, duplicated, reordered or misrouted on any stream nobody ended; every
        churn event ends its stream as specified; gauges back to 0 and RSS back to baseline."""
        cfg = soak_relay.SoakConfig.from_env()
        summary, errors, gateway_log = soak_relay.run_soak(cfg, log=say)
        say(soak_relay.format_summary(summary))
        failures = soak_relay.verdicts(summary, errors, gateway_log)
        self.assertEqual(failures, [], "\n".join(failures))


if __name__ == "__main__":
    unittest.main()
