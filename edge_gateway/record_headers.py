"""The Kafka headers of an audio record, named once: `ingest` writes them, and the receipts'
recovery scan (and any reader that would skip the Avro body) reads them."""

from __future__ import annotations

from ingress_common.protocol import Heard, Start

CORRELATION_ID = "correlation_id"
CONTENT_TYPE = "content_type"
AUDIO_BYTES = "audio_bytes"
"""PCM bytes in the event's WAV."""
DURATION_MS = "duration_ms"
DEVICE_ID = "device_id"
SEGMENT_ID = "segment_id"
CAPTURED_AT_MS = "captured_at_ms"
CAPTURE_MONOTONIC_MS = "capture_monotonic_ms"
FRONT_END = "front_end"
"""What the device did to the audio (`ns=2;agc=3;vad=webrtc`), when it says."""
HEARD_SNR_DB = "heard_snr_db"
HEARD_SPEECH_SHARE = "heard_speech_share"
HEARD_BACKGROUND_TALK = "heard_background_talk"
"""What the device heard in the utterance (`done`'s `heard`), when it says: the talker's
level over the room's in dB, the share of speech windows (0-1), and `true` or `false`."""
AUDIO_INPUT_EVENT_AVRO = "application/vnd.speech.audio-input-event+avro"
"""The `content_type` of every audio record."""


def audio_headers(start: Start, correlation_id: str, audio_bytes: int, duration_ms: int,
                  heard: Heard | None = None) -> dict[str, str]:
    """An audio record's headers: the optional ones only when the stream gave them."""
    headers = {CORRELATION_ID: correlation_id, CONTENT_TYPE: AUDIO_INPUT_EVENT_AVRO,
               AUDIO_BYTES: str(audio_bytes), DURATION_MS: str(duration_ms)}
    optional = {DEVICE_ID: start.device_id, SEGMENT_ID: start.segment_id,
                CAPTURED_AT_MS: start.captured_at_ms,
                CAPTURE_MONOTONIC_MS: start.capture_monotonic_ms, FRONT_END: start.front_end}
    headers.update({k: str(v) for k, v in optional.items() if v is not None})
    if heard is not None:
        headers.update({HEARD_SNR_DB: f"{heard.snr_db:.1f}",
                        HEARD_SPEECH_SHARE: f"{heard.speech_share:.2f}",
                        HEARD_BACKGROUND_TALK: "true" if heard.background_talk else "false"})
    return headers
