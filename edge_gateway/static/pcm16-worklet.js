// AudioWorklet: microphone samples at the context's rate -> 16 kHz mono PCM16 chunks of 100 ms.
// Each output sample is the mean of the input samples it covers (a box low-pass filter), so
// 44.1/48 kHz input is decimated without aliasing most of the band above 8 kHz.
const OUT_RATE = 16000;
const CHUNK = OUT_RATE / 10;

class Pcm16Downsampler extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / OUT_RATE;   // input samples per output sample
    this.position = 0;                   // input samples into the current output sample
    this.sum = 0;
    this.count = 0;
    this.out = new Int16Array(CHUNK);
    this.filled = 0;
    this.squares = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const mono = channels[0];
    for (let i = 0; i < mono.length; i++) {
      let sample = mono[i];
      for (let c = 1; c < channels.length; c++) sample += channels[c][i];
      sample /= channels.length;
      this.sum += sample;
      this.count += 1;
      this.position += 1;
      if (this.position >= this.step) {
        this.position -= this.step;
        const value = Math.max(-1, Math.min(1, this.sum / this.count));
        this.sum = 0;
        this.count = 0;
        this.out[this.filled++] = value < 0 ? value * 0x8000 : value * 0x7fff;
        this.squares += value * value;
        if (this.filled === CHUNK) {
          const rms = Math.sqrt(this.squares / CHUNK);
          this.port.postMessage({ pcm: this.out.buffer, rms }, [this.out.buffer]);
          this.out = new Int16Array(CHUNK);
          this.filled = 0;
          this.squares = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("pcm16-downsampler", Pcm16Downsampler);
