// Browser client for /ws/audio (docs/protocol.md): microphone -> AudioWorklet (16 kHz PCM16)
// -> one WebSocket connection per utterance -> "published" (topic/partition/offset) or an error.
"use strict";

const MAX_UTTERANCE_S = 45;      // the gateway buffers at most 45.9 s
const PLAIN_WORDS = {
  unauthorized: "The gateway needs a valid device token.",
  origin_forbidden: "This page's address is not allowed by the gateway (Origin allowlist).",
  over_capacity: "The gateway is busy (all connections in use). Try again in a moment.",
  schema_unregistered: "The gateway cannot reach its schema registry yet. Try again in a moment.",
  idle_timeout: "No audio reached the gateway for too long.",
  session_timeout: "The utterance was too long; what was sent so far was kept.",
  buffer_full: "The utterance was too long for the gateway.",
  rate_limited: "Audio was sent too fast.",
  publish_unconfirmed: "Kafka did not confirm in time; please try again.",
  publish_failed: "Kafka did not accept the utterance; please try again.",
  empty_stream: "No audio was captured.",
};

const $ = (id) => document.getElementById(id);
let capture = null;   // {context, stream, node}
let socket = null;
let stopTimer = null;

function setStatus(text) { $("status").textContent = text; }

function addResult(text, isError) {
  const item = document.createElement("li");
  item.textContent = text;
  if (isError) item.className = "error";
  $("results").prepend(item);
}

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${location.pathname.replace(/[^/]*$/, "")}ws/audio`;
}

async function openMicrophone() {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const context = new AudioContext();
  await context.audioWorklet.addModule("static/pcm16-worklet.js");
  const source = context.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(context, "pcm16-downsampler");
  source.connect(node);
  return { context, stream, node };
}

function closeMicrophone() {
  if (!capture) return;
  capture.node.port.onmessage = null;
  capture.stream.getTracks().forEach((track) => track.stop());
  capture.context.close();
  capture = null;
  $("level").style.width = "0";
}

function finish(message) {
  clearTimeout(stopTimer);
  closeMicrophone();
  $("start").disabled = false;
  $("stop").disabled = true;
  if (message.event === "published") {
    addResult(`published ${message.topic}[${message.partition}]@${message.offset} · ` +
              `${message.duration_ms} ms · ${message.correlation_id}`, false);
    setStatus("Published. Idle.");
  } else {
    const words = PLAIN_WORDS[message.code] || message.message || "The utterance was not published.";
    const kept = message.published ? " (the audio up to that point was published)" : "";
    addResult(`error: ${words}${kept}`, true);
    setStatus("Idle.");
  }
}

async function start() {
  $("start").disabled = true;
  setStatus("Opening the microphone…");
  try {
    capture = await openMicrophone();
  } catch (error) {
    $("start").disabled = false;
    addResult(`error: the microphone could not be opened (${error.name})`, true);
    setStatus("Idle.");
    return;
  }
  const token = $("token").value.trim();
  const protocols = token ? ["edge-audio.v1", `bearer.${token}`] : ["edge-audio.v1"];
  socket = new WebSocket(wsUrl(), protocols);
  socket.binaryType = "arraybuffer";
  let finished = false;
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.event === "connected") {
      setStatus(`Recording… correlation_id ${message.correlation_id}`);
      socket.send(JSON.stringify({ event: "start", sample_rate_hz: 16000, device_id: "browser",
                                   language_hint: navigator.language }));
      capture.node.port.onmessage = ({ data }) => {
        $("level").style.width = `${Math.min(100, Math.round(data.rms * 300))}%`;
        if (socket.readyState === WebSocket.OPEN) socket.send(data.pcm);
      };
      $("stop").disabled = false;
      stopTimer = setTimeout(stop, MAX_UTTERANCE_S * 1000);
    } else if (message.event === "published" || message.event === "error") {
      finished = true;
      finish(message);
    }
  };
  socket.onclose = (event) => {
    if (!finished) {
      finish({ event: "error", code: event.code === 1006 ? "" : `close ${event.code}`,
               message: "The gateway refused or dropped the connection (wrong token, " +
                        "not allowed, or busy)." });
    }
  };
}

function stop() {
  $("stop").disabled = true;
  clearTimeout(stopTimer);
  if (capture) capture.node.port.onmessage = null;
  closeMicrophone();
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify({ event: "done" }));
    setStatus("Sent; waiting for Kafka's confirmation…");
  }
}

$("start").addEventListener("click", start);
$("stop").addEventListener("click", stop);
