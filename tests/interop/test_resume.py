"""Session resume after a bridge leaves (interop.md I5).

Relay releases (0.131+): when a bridge leaves, cxg sends one Reset for its stream, which
detaches the session on the executor; a new bridge can then `initialize{resumeSessionId}` and
still sees the session's running process.  The control step shows why this proves the Reset:
while the first bridge's stream is still attached, the same resume is refused with "session
... is already attached to another connection", and the executor socket stays up throughout,
so only the Reset can have detached the session.

Legacy 0.130: cxg sends no Reset but closes the executor socket when the bridge leaves
(wire-protocol §6.5); the executor reconnects and the session is resumable the same way."""

import time

import interop_util as IU

RESET_REASON = "harness_disconnected"


class ResumeTests:
    def resets(self):
        return IU.metric(self.gw, "cxg_stream_resets_total", reason=RESET_REASON)

    def read_sleep(self, br):
        return br.call("process/read", {"processId": "sl", "afterSeq": 0, "maxBytes": 65536,
                                        "waitMs": 0})

    def resume_after_leave(self, first_flavour, second_flavour):
        self.ensure_server()
        conn0 = self.env.listing(self.exe).get("connected_at")
        # Streams of earlier tests are gone (and their Resets counted) before the baseline.
        self.assertTrue(IU.H.wait_until(lambda: IU.metric(self.gw, "cxg_streams_active") == 0, 5))
        resets0 = self.resets()
        a = self.bridge(first_flavour)
        sid = a.initialize()["sessionId"]
        self.assertSessionId(sid)
        self.assertEqual(a.start_process("sl", ["sleep", "20"]), {"processId": "sl"})
        running = self.read_sleep(a)
        self.assertIs(running.get("exited"), False, repr(running))

        if not self.legacy:
            # Control: the session cannot be resumed while its stream is attached.
            c = self.bridge(second_flavour)
            res = c.request("initialize", {"clientName": "cxg-interop", "resumeSessionId": sid})
            self.assertIn("error", res, repr(res))
            self.assertIn(res["error"].get("code"), (-32600, -32010), repr(res))
            self.assertEqual(res["error"].get("message"),
                             "session %s is already attached to another connection" % sid, repr(res))
            c.leave()
            # cxg may answer the close handshake before it has counted (and sent) the Reset.
            resets0 += 1
            self.assertTrue(IU.H.wait_until(lambda: self.resets() >= resets0, 5),
                            "no %s Reset counted for the control bridge" % RESET_REASON)

        a.leave()
        if self.legacy:
            # No Reset goes to a legacy executor; its socket is closed and it reconnects instead.
            # (cxg still counts the stream end in cxg_stream_resets_total, so the counter is not
            # asserted here.)
            self.env.wait_online(self.exe, type(self).server, timeout=5.0, after=conn0)
        else:
            # Exactly one Reset for the departed stream (wire-protocol §5.5), and the executor
            # socket was never replaced.
            self.assertTrue(IU.H.wait_until(lambda: self.resets() >= resets0 + 1, 5),
                            "no %s Reset counted" % RESET_REASON)
            self.assertEqual(self.env.listing(self.exe).get("connected_at"), conn0)

        left = time.monotonic()
        b = self.bridge(second_flavour)
        res = b.request("initialize", {"clientName": "cxg-interop", "resumeSessionId": sid})
        self.assertNotIn("error", res, "resume of %s failed: %r%s" % (sid, res, self.diag()))
        self.assertEqual(res["result"].get("sessionId"), sid, repr(res))
        self.assertLess(time.monotonic() - left, 30)
        b.notify("initialized", {})
        st = self.read_sleep(b)
        self.assertIs(st.get("exited"), False, repr(st))
        self.assertIs(st.get("closed"), False, repr(st))
        # The resumed session still controls the process (and this tidies it up).
        term = b.call("process/terminate", {"processId": "sl"})
        self.assertIs(term.get("running"), True, repr(term))
        if not self.legacy:
            self.assertEqual(self.resets(), resets0 + 1)
        b.leave()

    def test_resume_relay_bridge(self):
        """A relay bridge starts `sleep 20` and leaves; a new relay bridge resumes the session
        and sees the process with process/read."""
        self.resume_after_leave("relay", "relay")

    def test_resume_plain_bridge(self):
        """The same with plain-JSON bridges."""
        self.resume_after_leave("plain", "plain")


IU.parametrise(ResumeTests, globals())
