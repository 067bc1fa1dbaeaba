// Local media for the room page: the microphone and camera a participant
// sends, the devices to choose from (the choice is remembered), the errors
// browsers give when they cannot have them, and who is speaking.

const STORE = { mic: 'salon.micId', camera: 'salon.cameraId', speaker: 'salon.speakerId' };

export function mediaSupported() {
  return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

export function screenShareSupported() {
  return !!(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
}

export function speakerSelectionSupported() {
  return typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
}

/**
 * Why a device could not be had, as one of: denied, not-found, in-use,
 * insecure, failed. UIs turn it into words.
 */
export function mediaErrorReason(err) {
  switch (err && err.name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return 'denied';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'not-found';
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'in-use';
    case 'InsecureContextError':
      return 'insecure';
    default:
      return 'failed';
  }
}

function insecureError() {
  const err = new Error('Camera and microphone need a secure (HTTPS) page.');
  err.name = 'InsecureContextError';
  return err;
}

function load(key) {
  try { return localStorage.getItem(key) || ''; } catch { return ''; }
}

function save(key, value) {
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch { /* storage disabled: the choice lasts for this page only */ }
}

/**
 * The participant's microphone and camera. Emits `ended` {kind} when a device
 * goes away (unplugged, taken by the system).
 */
export class LocalMedia extends EventTarget {
  constructor() {
    super();
    /** @type {MediaStreamTrack|null} */
    this.mic = null;
    /** @type {MediaStreamTrack|null} */
    this.camera = null;
    this.micId = load(STORE.mic);
    this.cameraId = load(STORE.camera);
    this.speakerId = load(STORE.speaker);
  }

  _audio() {
    const c = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    if (this.micId) c.deviceId = { ideal: this.micId };
    return c;
  }

  _video() {
    // 720p is sent as three simulcast layers (320x180, 640x360, 1280x720);
    // salon forwards each receiver the one its tile needs.
    const c = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30, max: 30 } };
    if (this.cameraId) c.deviceId = { ideal: this.cameraId };
    return c;
  }

  /**
   * Get the microphone and/or camera. When both are asked for and that fails,
   * fall back to the microphone alone, then to the camera alone. Resolves with
   * {audioError, videoError}: what could not be had, and why.
   */
  async start({ audio = true, video = true } = {}) {
    const result = { audioError: null, videoError: null };
    if (!audio && !video) return result;
    if (!mediaSupported()) {
      const err = insecureError();
      return { audioError: audio ? err : null, videoError: video ? err : null };
    }
    const gum = (constraints) => navigator.mediaDevices.getUserMedia(constraints);
    if (audio && video) {
      try {
        this._take(await gum({ audio: this._audio(), video: this._video() }));
        return result;
      } catch (both) {
        // A refusal is the user's answer; asking again, device by device,
        // would only show more prompts.
        if (mediaErrorReason(both) === 'denied') return { audioError: both, videoError: both };
        try {
          this._take(await gum({ audio: this._audio() }));
          result.videoError = both;
          return result;
        } catch (audioErr) {
          result.audioError = audioErr;
          try {
            this._take(await gum({ video: this._video() }));
          } catch (videoErr) {
            result.videoError = videoErr;
          }
          return result;
        }
      }
    }
    try {
      this._take(await gum(audio ? { audio: this._audio() } : { video: this._video() }));
    } catch (err) {
      if (audio) result.audioError = err;
      else result.videoError = err;
    }
    return result;
  }

  /** (Re)open the microphone, on `deviceId` when given. Throws what getUserMedia throws. */
  async startMic(deviceId) {
    if (!mediaSupported()) throw insecureError();
    const c = this._audio();
    if (deviceId) c.deviceId = { exact: deviceId };
    const stream = await navigator.mediaDevices.getUserMedia({ audio: c });
    this.stopMic();
    this._take(stream);
    return this.mic;
  }

  /** (Re)open the camera, on `deviceId` when given. Throws what getUserMedia throws. */
  async startCamera(deviceId) {
    if (!mediaSupported()) throw insecureError();
    const c = this._video();
    if (deviceId) c.deviceId = { exact: deviceId };
    // Some cameras cannot be opened twice: release the old one first.
    this.stopCamera();
    const stream = await navigator.mediaDevices.getUserMedia({ video: c });
    this._take(stream);
    return this.camera;
  }

  stopMic() {
    if (this.mic) {
      this.mic.onended = null;
      this.mic.stop();
      this.mic = null;
    }
  }

  stopCamera() {
    if (this.camera) {
      this.camera.onended = null;
      this.camera.stop();
      this.camera = null;
    }
  }

  stopAll() {
    this.stopMic();
    this.stopCamera();
  }

  setSpeaker(id) {
    this.speakerId = id || '';
    save(STORE.speaker, this.speakerId);
  }

  _take(stream) {
    for (const track of stream.getTracks()) {
      const kind = track.kind === 'audio' ? 'mic' : 'camera';
      if (this[kind] && this[kind] !== track) {
        this[kind].onended = null;
        this[kind].stop();
      }
      this[kind] = track;
      const id = track.getSettings ? track.getSettings().deviceId : '';
      if (id) {
        if (kind === 'mic') this.micId = id;
        else this.cameraId = id;
        save(kind === 'mic' ? STORE.mic : STORE.camera, id);
      }
      track.onended = () => {
        if (this[kind] !== track) return;
        this[kind] = null;
        this.dispatchEvent(new CustomEvent('ended', { detail: { kind } }));
      };
    }
  }

  /** Devices by kind: {audioinput, videoinput, audiooutput}, each [{deviceId, label}]. */
  async devices() {
    const out = { audioinput: [], videoinput: [], audiooutput: [] };
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return out;
    let list = [];
    try { list = await navigator.mediaDevices.enumerateDevices(); } catch { return out; }
    for (const d of list) {
      if (!out[d.kind] || !d.deviceId) continue;
      if (out[d.kind].some((x) => x.deviceId === d.deviceId)) continue;
      out[d.kind].push({ deviceId: d.deviceId, label: d.label });
    }
    return out;
  }
}

/**
 * Who is speaking. Local tracks are measured with Web Audio (started only
 * after a user gesture, as browsers require); remote ones from the RTP audio
 * level salon forwards (getSynchronizationSources), which needs no audio graph.
 * Calls onChange(key, speaking, level) when speaking changes, and
 * onLevel(key, level) on every measure of watched local tracks.
 */
export class AudioActivity {
  constructor({ onChange, onLevel } = {}) {
    this.onChange = onChange || (() => {});
    this.onLevel = onLevel || (() => {});
    this.ctx = null;
    this.watched = new Map(); // key → {track?|receiver?, analyser?, source?, speaking, lastLoud}
    this.timer = 0;
    this._buf = null;
  }

  /** Call from a user gesture: allows measuring local tracks. */
  enable() {
    if (this.ctx) {
      if (this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
      return;
    }
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try { this.ctx = new Ctx(); } catch { return; }
    for (const w of this.watched.values()) if (w.track) this._connect(w);
  }

  watchTrack(key, track) {
    this.unwatch(key);
    if (!track) return;
    const w = { track, speaking: false, lastLoud: 0 };
    this.watched.set(key, w);
    if (this.ctx) this._connect(w);
    this._run();
  }

  watchReceiver(key, receiver) {
    this.unwatch(key);
    if (!receiver || typeof receiver.getSynchronizationSources !== 'function') return;
    this.watched.set(key, { receiver, speaking: false, lastLoud: 0 });
    this._run();
  }

  unwatch(key) {
    const w = this.watched.get(key);
    if (!w) return;
    this.watched.delete(key);
    if (w.source) w.source.disconnect();
    if (w.speaking) this.onChange(key, false, 0);
    if (!this.watched.size) {
      clearInterval(this.timer);
      this.timer = 0;
    }
  }

  stop() {
    for (const key of [...this.watched.keys()]) this.unwatch(key);
    if (this.ctx) this.ctx.close().catch(() => {});
    this.ctx = null;
  }

  _connect(w) {
    try {
      w.source = this.ctx.createMediaStreamSource(new MediaStream([w.track]));
      w.analyser = this.ctx.createAnalyser();
      w.analyser.fftSize = 1024;
      w.source.connect(w.analyser);
    } catch {
      w.source = w.analyser = null;
    }
  }

  _run() {
    if (this.timer) return;
    this.timer = setInterval(() => this._measure(), 120);
  }

  _measure() {
    const now = performance.now();
    for (const [key, w] of this.watched) {
      let level = 0;
      let threshold;
      if (w.receiver) {
        // audioLevel is linear, 1 = 0 dBov; speech sits around 0.03–0.3.
        threshold = 0.025;
        try {
          for (const s of w.receiver.getSynchronizationSources()) level = Math.max(level, s.audioLevel || 0);
        } catch { level = 0; }
      } else if (w.analyser) {
        threshold = 0.02;
        const n = w.analyser.fftSize;
        if (!this._buf || this._buf.length !== n) this._buf = new Float32Array(n);
        w.analyser.getFloatTimeDomainData(this._buf);
        let sum = 0;
        for (let i = 0; i < n; i++) sum += this._buf[i] * this._buf[i];
        level = w.track.enabled && w.track.readyState === 'live' ? Math.sqrt(sum / n) : 0;
        this.onLevel(key, level);
      } else {
        continue;
      }
      if (level > threshold) w.lastLoud = now;
      // Hold for a moment so the indicator does not flicker between words.
      const speaking = now - w.lastLoud < 600 && w.lastLoud > 0;
      if (speaking !== w.speaking) {
        w.speaking = speaking;
        this.onChange(key, speaking, level);
      }
    }
  }
}
