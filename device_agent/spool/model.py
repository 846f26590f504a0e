"""The spool's types: its limits, a segment and its metadata, and its counters."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SpoolLimits:
    max_bytes: int = 64 * 1024 * 1024
    max_segments: int = 2000
    max_age_s: float = 24 * 3600.0
    policy: str = "drop_oldest"
    """"drop_oldest" or "drop_newest" when a limit is reached; "wait" (a file, which unlike a
    microphone can wait): the writer blocks until delivery makes room, and nothing is dropped."""


@dataclass
class SegmentMeta:
    segment_id: str
    seq: int
    device_id: str
    captured_at_ms: int
    capture_monotonic_ms: int
    created_wall_s: float
    front_end: str = ""
    """What the audio went through (`ns=2;agc=3;vad=webrtc`); empty in older spool files."""
    heard_snr_db: float | None = None
    heard_speech_share: float | None = None
    heard_background_talk: bool | None = None
    """What the detector heard in it, set when it is complete (None: not said: fixed mode,
    or an older spool file)."""


@dataclass(eq=False)
class Segment:
    """Compared by identity: two segments are never the same because their PCM is."""

    meta: SegmentMeta
    pcm: bytearray = field(default_factory=bytearray)
    complete: bool = False
    attempts: int = 0
    added_at: float = 0.0
    """The spool's monotonic clock when it was added (a replayed segment: when replayed).
    Its age counts from here."""
    file_name: str = ""
    """Directory spool: its file, named by a spool sequence number that only grows."""
    stored_bytes: int = 0
    """PCM bytes in its spool file; the directory spool keeps only the oldest segment's
    PCM in memory, and `pcm` is empty for the others until they are the oldest."""
    last_failure: str = ""
    same_failures: int = 0
    """How many times in a row delivery failed with `last_failure`."""
    in_spool: bool = False
    """Kept by the spool: False before it is added and once delivered or dropped."""

    @property
    def nbytes(self) -> int:
        """Its PCM bytes, in memory or on disk."""
        return len(self.pcm) or self.stored_bytes


@dataclass
class SpoolCounters:
    dropped_full: int = 0
    dropped_age: int = 0
    refused_full: int = 0
    quarantined: int = 0
    write_failures: int = 0
    """Segments the directory spool could not write (disk full, I/O error)."""
