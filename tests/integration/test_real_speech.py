"""The segmenter on real speech (espeak-ng): the short pauses between words and at commas
never cut an utterance; the long pauses between phrases always do."""

from device_agent.capture.source import Stamp
from device_agent.segmenting.segmenter import (
    SegmentEnded,
    Segmenter,
    SegmenterConfig,
    SegmentExtended,
    SegmentStarted,
)
from devkit.speech import loud_bounds, phrases_with_pauses

PHRASES = [
    "Turn on the kitchen lights, please.",
    "What is the weather like in Lisbon tomorrow morning?",
    "Set a timer for twelve minutes, then remind me to call Ana.",
]
CHUNK = 640  # 20 ms, as the agent's default ALSA period


def test_each_spoken_phrase_is_one_utterance_containing_all_of_it() -> None:
    signal, spans = phrases_with_pauses(PHRASES, pause_s=1.5, seed=5)
    segmenter = Segmenter(SegmenterConfig())
    events = []
    for i in range(0, len(signal), CHUNK):
        events += segmenter.push(signal[i:i + CHUNK], Stamp(i * 31250, i * 31250))
    events += segmenter.flush()

    segments: list[tuple[int, bytearray]] = []
    for event in events:
        if isinstance(event, SegmentStarted):
            segments.append((event.position * 2, bytearray(event.pcm)))
        elif isinstance(event, SegmentExtended):
            segments[-1][1].extend(event.pcm)
    reasons = [e.reason for e in events if isinstance(e, SegmentEnded)]
    print(f"\n{len(PHRASES)} phrases → {len(segments)} segments, ended by {reasons}")
    assert len(segments) == len(PHRASES)
    assert reasons == ["silence"] * len(PHRASES)
    for (start, audio), (s0, s1) in zip(segments, spans, strict=True):
        assert signal[start:start + len(audio)] == audio
        # espeak-ng's own leading/trailing silence may fall outside; its speech may not.
        first_loud, last_loud = loud_bounds(signal[s0:s1])
        assert start <= s0 + first_loud and s0 + last_loud <= start + len(audio)

