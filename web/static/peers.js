// The two RTCPeerConnections of one participant (docs/protocol.md):
//
//   publish    the browser offers its own tracks; one offer at a time, and
//              changes made while one is unanswered go into the next.
//   subscribe  salon offers everyone else's tracks with a map
//              {mid: {participant, source}}; the browser answers.
//
// A MediaPeers lives for one join: after a fresh join the connection makes a
// new one. It talks to salon only through the `send` function it is given and
// reports remote tracks through `emit`. protocol.js is its only user.

const SOURCES = ['audio', 'camera', 'screen'];

export class MediaPeers {
  /**
   * @param {object} opts
   * @param {RTCIceServer[]} opts.iceServers
   * @param {(msg: object) => boolean} opts.send sends a message; false when the socket is down
   * @param {() => boolean} opts.ready whether the participant is in the room (offers may go out)
   * @param {(type: string, detail: object) => void} opts.emit "track", "track-removed", "error"
   */
  constructor({ iceServers, send, ready, emit }) {
    this._send = send;
    this._ready = ready;
    this._emit = emit;
    this.closed = false;

    const config = { iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
    const make = () => {
      try { return new RTCPeerConnection(config); } catch { return new RTCPeerConnection({ bundlePolicy: 'max-bundle' }); }
    };
    this.pub = make();
    this.sub = make();

    this._entries = []; // published {source, transceiver}, in the order they were added
    this._busy = false; // a publish offer is waiting for its answer
    this._needed = false; // something changed since the last publish offer
    this._iceRestart = false;
    this._timer = 0;
    this._pubChain = Promise.resolve();
    this._subChain = Promise.resolve();
    this._pubCandidates = [];
    this._subCandidates = [];
    this._tracks = {}; // mid → {participant, source}, from salon's last subscribe offer
    this._remote = new Map(); // mid → announced remote track
    this._avStream = new MediaStream(); // microphone and camera share a stream: lip sync
    this._screenStream = new MediaStream();
    this._layers = {}; // source → RIDs salon wants encoded

    this.pub.onicecandidate = (ev) => this._sendCandidate('publish', ev.candidate);
    this.sub.onicecandidate = (ev) => this._sendCandidate('subscribe', ev.candidate);
    this.pub.onconnectionstatechange = () => {
      // The subscribe side is salon's to restart; the publish side is ours.
      if (this.pub.connectionState === 'failed') this.negotiate({ iceRestart: true });
    };
    this.sub.ontrack = (ev) => this._announce(ev.transceiver);
  }

  // ------------------------------------------------------------ publish

  /** Send `track` as `source`: replace the track of a published source, or add a transceiver. */
  async attach(source, track) {
    if (this.closed) return;
    const entry = this._entries.find((e) => e.source === source);
    if (entry) {
      if (entry.transceiver.sender.track !== track) {
        await entry.transceiver.sender.replaceTrack(track).catch((err) => {
          this._error('publish-failed', `Could not switch the ${source} track: ${err.message}`, err);
        });
      }
      return;
    }
    if (!track) return;
    const stream = source === 'screen' ? this._screenStream : this._avStream;
    const init = { direction: 'sendonly', streams: [stream] };
    if (source === 'camera') init.sendEncodings = cameraLayers();
    const transceiver = this.pub.addTransceiver(track, init);
    if (source === 'audio') preferRED(transceiver);
    this._entries.push({ source, transceiver });
    if (this._layers[source]) this.setLayers(source, this._layers[source]);
    this.negotiate();
  }

  /**
   * salon says which simulcast layers (RIDs) of a source someone receives:
   * the others stop encoding, which spares this machine's CPU and uplink.
   */
  async setLayers(source, active) {
    if (!Array.isArray(active)) return;
    this._layers[source] = active;
    const entry = this._entries.find((e) => e.source === source);
    if (!entry) return;
    const sender = entry.transceiver.sender;
    const params = sender.getParameters();
    if (!params.encodings || params.encodings.length < 2) return;
    let changed = false;
    for (const enc of params.encodings) {
      const on = active.includes(enc.rid);
      if (enc.active !== on) {
        enc.active = on;
        changed = true;
      }
    }
    if (changed) await sender.setParameters(params).catch(() => {});
  }

  /** Keep publishing `source` but send nothing (camera off): no renegotiation. */
  async clear(source) {
    const entry = this._entries.find((e) => e.source === source);
    if (entry) await entry.transceiver.sender.replaceTrack(null).catch(() => {});
  }

  /** Stop publishing `source`. */
  detach(source) {
    const i = this._entries.findIndex((e) => e.source === source);
    if (i < 0 || this.closed) return;
    const [{ transceiver }] = this._entries.splice(i, 1);
    // salon stops a transceiver that goes inactive for good, so a mid is
    // never reused: stop it (or, where stop() is missing, remove its track),
    // and a later publish of the source gets a new transceiver.
    try {
      if (typeof transceiver.stop === 'function') transceiver.stop();
      else this.pub.removeTrack(transceiver.sender);
    } catch { /* already closed */ }
    this.negotiate();
  }

  /** Ask for a publish offer (folded with other changes of this turn). */
  negotiate({ iceRestart = false } = {}) {
    if (iceRestart) this._iceRestart = true;
    this._needed = true;
    if (this._timer || this.closed) return;
    // Changes made in one turn (microphone and camera at once) share an offer.
    this._timer = setTimeout(() => {
      this._timer = 0;
      this._offer();
    }, 0);
  }

  /**
   * The signalling socket came back and salon kept our place: an offer sent on
   * the old socket may never be answered, so start over, with an ICE restart.
   */
  resumed(iceServers) {
    if (this.closed) return;
    for (const pc of [this.pub, this.sub]) {
      if (typeof pc.setConfiguration !== 'function' || !iceServers.length) continue;
      try { pc.setConfiguration({ ...pc.getConfiguration(), iceServers }); } catch { /* keep the old servers */ }
    }
    this._busy = false;
    if (this._entries.length) this.negotiate({ iceRestart: true });
  }

  async _offer() {
    const pc = this.pub;
    if (this.closed || !this._needed || this._busy || !this._ready()) return;
    if (pc.getTransceivers().length === 0) {
      this._needed = false;
      return;
    }
    this._needed = false;
    this._busy = true;
    const iceRestart = this._iceRestart;
    this._iceRestart = false;
    // The offer describes the transceivers as they are now; later changes go
    // into the next offer.
    const offered = [...this._entries];
    try {
      const offer = await pc.createOffer({ iceRestart });
      if (this.closed) return;
      await pc.setLocalDescription(offer);
      if (this.closed) return;
      const sources = {};
      for (const e of offered) {
        const mid = e.transceiver.mid;
        if (mid != null && !isStopped(e.transceiver)) sources[mid] = e.source;
      }
      if (!this._send({ type: 'offer', pc: 'publish', sdp: pc.localDescription.sdp, sources })) {
        // The socket is down; the offer goes out once back in the room.
        this._busy = false;
        this._needed = true;
        this._iceRestart ||= iceRestart;
      }
    } catch (err) {
      if (this.closed) return;
      this._busy = false;
      this._error('publish-failed', `Could not prepare your media: ${err.message}`, err);
    }
  }

  /** salon's answer to the last publish offer. */
  onAnswer(sdp) {
    const pc = this.pub;
    this._pubChain = this._pubChain.then(async () => {
      if (this.closed || pc.signalingState !== 'have-local-offer') return;
      try {
        await pc.setRemoteDescription({ type: 'answer', sdp });
      } catch (err) {
        if (this.closed) return;
        await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
        this._busy = false;
        this._error('publish-failed', `salon's answer could not be applied: ${err.message}`, err);
        return;
      }
      if (this.closed) return;
      for (const c of this._pubCandidates.splice(0)) await addCandidate(pc, c);
      this._busy = false;
      if (this._needed) this._offer();
    }).catch(() => {});
  }

  /** salon refused the last publish offer (`code`): take it back, maybe try again. */
  onOfferRefused(code) {
    const pc = this.pub;
    this._pubChain = this._pubChain.then(async () => {
      if (this.closed) return;
      if (pc.signalingState === 'have-local-offer') {
        await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      }
      this._busy = false;
      if (code === 'rate-limited') {
        setTimeout(() => this.negotiate(), 2000);
      } else if (this._needed) {
        this._offer();
      }
    }).catch(() => {});
  }

  // ------------------------------------------------------------ subscribe

  /** A subscribe offer from salon, with the map of what each mid carries. */
  onOffer(sdp, tracks) {
    const pc = this.sub;
    this._subChain = this._subChain.then(async () => {
      if (this.closed) return;
      const previous = this._tracks;
      // Set before applying the offer: ontrack fires while it is applied.
      this._tracks = validTracks(tracks);
      try {
        await pc.setRemoteDescription({ type: 'offer', sdp });
        if (this.closed) return;
        for (const c of this._subCandidates.splice(0)) await addCandidate(pc, c);
        const answer = await pc.createAnswer();
        if (this.closed) return;
        await pc.setLocalDescription(answer);
        if (this.closed) return;
        this._send({ type: 'answer', pc: 'subscribe', sdp: pc.localDescription.sdp });
      } catch (err) {
        if (this.closed) return;
        this._tracks = previous;
        this._error('subscribe-failed', `Could not receive the others' media: ${err.message}`, err);
        return;
      }
      this._syncRemote();
    }).catch(() => {});
  }

  /** Forget the tracks of a participant who left (announcing their removal). */
  forget(participant) {
    for (const [mid, r] of this._remote) {
      if (r.participant === participant) this._dropRemote(mid);
    }
  }

  /** Announce the track a subscribe transceiver carries, unless already announced. */
  _announce(transceiver) {
    const mid = transceiver.mid;
    if (this.closed || mid == null) return;
    const info = this._tracks[mid];
    const track = transceiver.receiver && transceiver.receiver.track;
    if (!info || !track) return;
    const cur = this._remote.get(mid);
    if (cur && cur.participant === info.participant && cur.source === info.source && cur.track === track) return;
    if (cur) this._dropRemote(mid);
    const r = {
      mid, participant: info.participant, source: info.source, track,
      stream: new MediaStream([track]), receiver: transceiver.receiver,
    };
    this._remote.set(mid, r);
    this._emit('track', { ...r });
  }

  /**
   * Bring the announced tracks in line with the last offer's map: salon may
   * give a transceiver to another track without the browser firing ontrack.
   */
  _syncRemote() {
    const live = new Set();
    for (const t of this.sub.getTransceivers()) {
      if (t.mid == null || isStopped(t) || !this._tracks[t.mid]) continue;
      live.add(t.mid);
      this._announce(t);
    }
    for (const mid of [...this._remote.keys()]) {
      if (!live.has(mid)) this._dropRemote(mid);
    }
  }

  _dropRemote(mid) {
    const r = this._remote.get(mid);
    if (!r) return;
    this._remote.delete(mid);
    this._emit('track-removed', { mid, participant: r.participant, source: r.source, track: r.track, stream: r.stream });
  }

  // ------------------------------------------------------------ ICE

  _sendCandidate(pc, candidate) {
    if (this.closed || !this._ready()) return; // a reconnection brings an ICE restart
    // An empty candidate string is Firefox's end-of-candidates; null says it once.
    if (candidate && !candidate.candidate) return;
    this._send({ type: 'candidate', pc, candidate: candidate ? candidate.toJSON() : null });
  }

  /** A remote candidate; kept until the description it belongs to is applied. */
  onCandidate(which, candidate) {
    const isPub = which === 'publish';
    const pc = isPub ? this.pub : this.sub;
    const run = async () => {
      if (this.closed) return;
      if (!pc.remoteDescription) {
        (isPub ? this._pubCandidates : this._subCandidates).push(candidate);
        return;
      }
      await addCandidate(pc, candidate);
    };
    if (isPub) this._pubChain = this._pubChain.then(run).catch(() => {});
    else this._subChain = this._subChain.then(run).catch(() => {});
  }

  // ------------------------------------------------------------ the end

  /** Close both connections; with `announce`, emit track-removed for every remote track. */
  close({ announce = true } = {}) {
    if (this.closed) return;
    if (announce) {
      for (const mid of [...this._remote.keys()]) this._dropRemote(mid);
    }
    this.closed = true;
    clearTimeout(this._timer);
    for (const pc of [this.pub, this.sub]) {
      pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = null;
      try { pc.close(); } catch { /* already closed */ }
    }
    this._remote.clear();
  }

  /** See SalonConnection.stats. */
  async stats() {
    const out = {};
    const entry = (id) => {
      out[id] ||= {
        videoFramesDecoded: 0, videoBytesReceived: 0, videoWidth: 0, videoHeight: 0,
        audioBytesReceived: 0, audioPacketsReceived: 0, audioPacketsLost: 0,
        audioTotalSamples: 0, audioConcealedSamples: 0,
        screenFramesDecoded: 0, screenBytesReceived: 0,
      };
      return out[id];
    };
    const tracks = this._tracks;
    for (const info of Object.values(tracks)) entry(info.participant);
    if (this.closed) return out;
    const midByTrackId = new Map();
    for (const t of this.sub.getTransceivers()) {
      if (t.mid != null && t.receiver && t.receiver.track) midByTrackId.set(t.receiver.track.id, t.mid);
    }
    const report = await this.sub.getStats();
    const legacyTrack = new Map(); // older browsers: inbound-rtp.trackId → "track" report
    report.forEach((r) => { if (r.type === 'track') legacyTrack.set(r.id, r); });
    report.forEach((r) => {
      if (r.type !== 'inbound-rtp') return;
      let mid = r.mid;
      if (mid == null || !tracks[mid]) {
        const trackId = r.trackIdentifier ?? legacyTrack.get(r.trackId)?.trackIdentifier;
        mid = midByTrackId.get(trackId);
      }
      const info = mid == null ? undefined : tracks[mid];
      if (!info) return;
      const s = entry(info.participant);
      const bytes = r.bytesReceived || 0;
      const frames = r.framesDecoded || 0;
      if (info.source === 'audio') {
        s.audioBytesReceived += bytes;
        s.audioPacketsReceived += r.packetsReceived || 0;
        s.audioPacketsLost += r.packetsLost || 0;
        s.audioTotalSamples += r.totalSamplesReceived || 0;
        s.audioConcealedSamples += r.concealedSamples || 0;
      } else if (info.source === 'camera') {
        s.videoFramesDecoded += frames;
        s.videoBytesReceived += bytes;
        s.videoWidth = r.frameWidth || s.videoWidth;
        s.videoHeight = r.frameHeight || s.videoHeight;
      } else {
        s.screenFramesDecoded += frames;
        s.screenBytesReceived += bytes;
      }
    });
    return out;
  }

  _error(code, message, cause) {
    this._emit('error', { code, message, fatal: false, cause });
  }
}

function isStopped(transceiver) {
  return transceiver.stopped === true || transceiver.currentDirection === 'stopped' || transceiver.direction === 'stopped';
}

async function addCandidate(pc, candidate) {
  try {
    await pc.addIceCandidate(candidate || null);
  } catch {
    // A candidate of an older ICE generation, or end-of-candidates where the
    // browser does not take null: nothing to do.
  }
}

function validTracks(tracks) {
  const out = {};
  if (!tracks || typeof tracks !== 'object') return out;
  for (const [mid, info] of Object.entries(tracks)) {
    if (info && typeof info.participant === 'string' && SOURCES.includes(info.source)) {
      out[mid] = { participant: info.participant, source: info.source };
    }
  }
  return out;
}

/**
 * The camera's simulcast layers, lowest first: salon forwards each receiver
 * the one that fits its tile and its bandwidth. The RIDs are the ones salon
 * names in its "layers" messages.
 */
function cameraLayers() {
  return [
    { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000, maxFramerate: 15 },
    { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
    { rid: 'f', maxBitrate: 1_500_000 },
  ];
}

/** Send audio as RED (RFC 2198, redundant Opus) where the browser offers it. */
function preferRED(transceiver) {
  try {
    const caps = RTCRtpSender.getCapabilities && RTCRtpSender.getCapabilities('audio');
    if (!caps || typeof transceiver.setCodecPreferences !== 'function') return;
    const red = caps.codecs.filter((c) => c.mimeType.toLowerCase() === 'audio/red');
    if (!red.length) return;
    const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== 'audio/red');
    transceiver.setCodecPreferences([...red, ...rest]);
  } catch { /* keep the browser's order */ }
}
