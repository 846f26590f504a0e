"""Capture: microphone (or file) → 16 kHz mono PCM16. `source` is the interface every
source implements, `open` turns the `source` setting into one, `alsa` is the only
alsaaudio import, `thread` reads a source into a bounded queue.
"""
