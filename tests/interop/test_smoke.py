"""interop.md I2 (and §6): the smoke sequence over a plain bridge and over a relay-v1 bridge,
for every Codex release."""

import interop_util as IU


class SmokeTests:
    def test_plain_bridge_smoke(self):
        """A plain-JSON bridge runs initialize -> initialized -> process/start of
        `/bin/sh -c "echo hello; echo oops >&2; exit 3"`: stdout hello\\n, stderr oops\\n,
        exit code 3; fs/readDirectory works."""
        br = self.bridge("plain")
        self.smoke(br)
        br.leave()

    def test_relay_bridge_smoke(self):
        """The same over a relay-v1 bridge: Resume on a fresh uuid stream_id, then Data frames
        with seq from 0; the executor's Data frames come back on that stream, seq 0, 1, 2..."""
        br = self.bridge("relay")
        self.smoke(br)
        self.assertGreater(len(br.in_seqs), 0)
        br.leave()


IU.parametrise(SmokeTests, globals())
