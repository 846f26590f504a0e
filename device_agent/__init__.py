"""Device agent: ALSA microphone capture, segmentation and store-and-forward uplink."""
