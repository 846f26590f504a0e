"""Every refusal code is defined once, in ingress_common.refusals, with what a client needs
to know of it; the agent reads that instead of a list of its own."""

from __future__ import annotations

from ingress_common import refusals
from ingress_common.refusals import refusal_for_code, transient


def test_each_code_names_one_refusal() -> None:
    classes = [refusals.StreamRefused, refusals.StreamTimedOut, refusals.AdmissionRefused]
    seen: dict[str, type] = {}
    while classes:
        refusal = classes.pop()
        classes += refusal.__subclasses__()
        if refusal.__subclasses__():
            continue  # a family, not a refusal
        assert refusal.code not in seen, f"{refusal.code} twice: {refusal} and {seen[refusal.code]}"
        seen[refusal.code] = refusal
        assert refusal_for_code(refusal.code) is refusal
    assert {"over_capacity", "unauthorized", "origin_forbidden", "internal_error",
            "schema_unregistered", "publish_failed", "idle_timeout"} <= set(seen)


def test_transient_is_what_says_nothing_about_the_audio() -> None:
    assert {code for code in ("publish_unconfirmed", "segment_in_progress", "over_capacity",
                              "internal_error", "idle_timeout", "session_timeout",
                              "schema_unregistered") if transient(code)} == {
        "publish_unconfirmed", "segment_in_progress", "over_capacity", "internal_error",
        "idle_timeout", "session_timeout", "schema_unregistered"}
    # retryable, yet not transient: a topic too small for this audio refuses it every time
    assert refusals.PublishFailed.retryable and not transient("publish_failed")
    assert not transient("buffer_full") and not transient("a-code-from-a-newer-gateway")


def test_admission_refusals_carry_their_http_status() -> None:
    assert (refusals.OverCapacity.status, refusals.OverCapacity.retryable) == (503, True)
    assert (refusals.Unauthorized.status, refusals.Unauthorized.retryable) == (401, False)
    assert (refusals.OriginForbidden.status, refusals.SchemaUnavailable.status) == (403, 503)
