// salon signalling and WebRTC client: the reference client of docs/protocol.md
// (version 1).
//
// It owns the WebSocket, the two RTCPeerConnections (publish: the browser
// offers its own tracks; subscribe: salon offers everyone else's), keep-alive
// and reconnection. It knows nothing of the page: UI modules call its methods
// and listen to its events (CustomEvent, payload in `detail`):
//
//   state               "connecting" | "connected" | "reconnecting" | "disconnected" | "failed"
//   joined              {self, participants, resumed, rejoined}
//   participant-joined  {participant}
//   participant-updated {participant, previous}
//   participant-left    {id, reason, participant}
//   track               {participant, source, track, stream, receiver, mid}
//   track-removed       {participant, source, track, stream, mid}
//   error               {code, message, fatal, ref, error}
//
// Error messages are English; a UI localizes by `code`.

const PROTOCOL_VERSION = 1;
const SOURCES = ['audio', 'camera', 'screen'];

const PING_INTERVAL = 10_000; // docs/protocol.md: the client pings every 10 s
const SILENCE_LIMIT = 25_000; // and treats 25 silent seconds as a lost socket
const RECONNECT_WINDOW = 30_000; // salon keeps a dropped participant for 30 s
const BACKOFF_FIRST = 500;
const BACKOFF_MAX = 5_000;
const SHUTDOWN_REJOIN_DELAY = 3_000;
const OPEN_TIMEOUT = 10_000;
const JOIN_TIMEOUT = 15_000;
const LEAVE_TIMEOUT = 1_000;
const OFFER_RETRY_DELAY = 2_000;
const CLOSE_ABANDONED = 4000; // a socket given up on, not a leave

// Codes a reconnecting client may retry after, although salon calls them fatal.
const RETRYABLE_FATAL = new Set(['resume-failed', 'token-expired', 'shutting-down']);

/** An error with a machine-readable code, from salon or from this client. */
export class SalonError extends Error {
  constructor(code, message, { fatal = false, ref, status, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'SalonError';
    this.code = code;
    this.fatal = fatal;
    this.ref = ref;
    this.status = status;
  }
}

/** Whether `source` is one of the publishable sources. */
export function isSource(source) {
  return SOURCES.includes(source);
}

/**
 * One participant's connection to one meeting.
 *
 *   const conn = new SalonConnection({slug: 'weekly', name: 'Ada'});
 *   conn.addEventListener('track', (e) => show(e.detail));
 *   conn.publish(micTrack, 'audio');
 *   await conn.join();
 */
export class SalonConnection extends EventTarget {
  /**
   * @param {object} opts
   * @param {string} opts.slug meeting slug, as in /m/{slug}
   * @param {string} opts.name display name (1–64 characters)
   * @param {Record<string,string>} [opts.headers] extra headers for the join request
   */
  constructor({ slug, name, headers = {} } = {}) {
    super();
    if (!slug) throw new TypeError('SalonConnection: a meeting slug is required');
    this.slug = String(slug);
    this.name = String(name ?? '').trim();
    this._headers = headers;

    this._phase = 'idle'; // idle | joining | joined | reconnecting | left | failed
    this._state = 'disconnected';
    this._sock = null;
    this._wsPath = '/ws';
    this._iceServers = [];
    this._resume = null;
    this._hadJoined = false;
    this._reconnectGen = 0;
    this._wake = null;
    this._pingSeq = 0;

    this.self = null;
    /** @type {Map<string, object>} the other participants, by id */
    this.participants = new Map();

    // Local media, kept apart from the connections so it survives a fresh rejoin.
    this._local = new Map(); // source → MediaStreamTrack | null
    this._muted = { audioMuted: false, videoMuted: false };
    this._avStream = typeof MediaStream === 'function' ? new MediaStream() : null;
    this._screenStream = typeof MediaStream === 'function' ? new MediaStream() : null;

    this._resetMedia();

    this._onPageHide = () => { this.leave(); };
    this._onOnline = () => { if (this._wake) this._wake(); };
  }

  /** The current connection state (see the `state` event). */
  get state() { return this._state; }

  /** Own participant id, once joined. */
  get selfId() { return this.self ? this.self.id : null; }

  /** Sources currently published (whether or not a track is attached). */
  get publishedSources() {
    return this._pubEntries.map((e) => e.source);
  }

  // ---------------------------------------------------------------- public API

  /**
   * Fetch a join token, open the socket and enter the room. Resolves with the
   * `joined` detail; rejects with a SalonError (codes: unknown-meeting,
   * bad-name, unreachable, timeout, closed, or a salon error code).
   */
  async join() {
    if (this._phase !== 'idle') throw new Error('SalonConnection.join may be called only once');
    this._phase = 'joining';
    this._setState('connecting');
    if (typeof window !== 'undefined') {
      window.addEventListener('pagehide', this._onPageHide);
      window.addEventListener('online', this._onOnline);
    }
    try {
      await this._attempt('fresh');
    } catch (err) {
      if (this._phase !== 'left') {
        this._phase = 'failed';
        this._shutdown();
        this._setState('failed');
      }
      throw err;
    }
    return this._joinedDetail();
  }

  /**
   * Publish a local track as `source` ("audio" | "camera" | "screen"). When
   * the source is already published, its track is replaced without
   * renegotiation. May be called before join(); the track is sent once joined.
   */
  async publish(track, source) {
    checkSource(source);
    if (!track) throw new TypeError('publish: a track is required');
    const kind = source === 'audio' ? 'audio' : 'video';
    if (track.kind !== kind) throw new TypeError(`publish: ${source} needs a ${kind} track`);
    this._local.set(source, track);
    this._applyMute(source, track);
    await this._attach(source, track);
  }

  /** Stop publishing `source`; others see its track go away. */
  async unpublish(source) {
    checkSource(source);
    this._local.delete(source);
    const i = this._pubEntries.findIndex((e) => e.source === source);
    if (i < 0) return;
    const [entry] = this._pubEntries.splice(i, 1);
    const t = entry.transceiver;
    // salon stops a transceiver that goes inactive for good, so the mid is
    // never reused: stop it (or, where stop() is missing, remove its track)
    // and publish the source again on a new transceiver.
    try {
      if (typeof t.stop === 'function') t.stop();
      else if (this._pub) this._pub.removeTrack(t.sender);
    } catch { /* the connection is already closed */ }
    this._scheduleNegotiation();
  }

  /**
   * Swap the track of a published source (device switch), without
   * renegotiation. `null` keeps the publication but sends nothing (camera
   * off). Publishes the source if it was not yet published.
   */
  async replaceTrack(source, track) {
    checkSource(source);
    if (track) {
      await this.publish(track, source);
      return;
    }
    this._local.set(source, null);
    const entry = this._pubEntries.find((e) => e.source === source);
    if (entry) await entry.transceiver.sender.replaceTrack(null).catch(() => {});
  }

  /**
   * Change the mute state: sets track.enabled on the local tracks and tells
   * the others. Either field may be omitted.
   */
  setMuted({ audioMuted, videoMuted } = {}) {
    if (typeof audioMuted === 'boolean') this._muted.audioMuted = audioMuted;
    if (typeof videoMuted === 'boolean') this._muted.videoMuted = videoMuted;
    for (const [source, track] of this._local) this._applyMute(source, track);
    if (this.self) Object.assign(this.self, this._muted);
    if (this._phase === 'joined') this._send({ type: 'update', ...this._muted });
  }

  /** Change one's display name. */
  setName(name) {
    this.name = String(name).trim();
    if (this.self) this.self.name = this.name;
    if (this._phase === 'joined') this._send({ type: 'update', name: this.name });
  }

  /**
   * Leave the meeting: tells salon, closes the connections. Local tracks are
   * the caller's to stop. Resolves once salon said bye (or after 1 s).
   */
  async leave() {
    if (this._phase === 'left') return;
    const wasActive = this._phase !== 'idle' && this._phase !== 'failed';
    this._phase = 'left';
    this._reconnectGen++;
    if (this._wake) this._wake();
    this._unlistenWindow();
    const sock = this._sock;
    this._closeMedia();
    if (sock && sock.ws.readyState === WebSocket.OPEN) {
      sock.leaving = true;
      this._sendOn(sock, { type: 'leave' });
      await new Promise((resolve) => {
        sock.onBye = resolve;
        setTimeout(resolve, LEAVE_TIMEOUT);
      });
    }
    this._dropSocket(sock, 1000);
    if (wasActive || this._state !== 'disconnected') this._setState('disconnected');
  }

  /**
   * Media received, per participant, summed over the subscribe connection's
   * inbound-rtp statistics:
   * {[participantId]: {videoFramesDecoded, videoBytesReceived, audioBytesReceived,
   *   audioPacketsReceived, screenFramesDecoded, screenBytesReceived}}
   */
  async stats() {
    const out = {};
    const entry = (id) => {
      if (!out[id]) {
        out[id] = {
          videoFramesDecoded: 0, videoBytesReceived: 0,
          audioBytesReceived: 0, audioPacketsReceived: 0,
          screenFramesDecoded: 0, screenBytesReceived: 0,
        };
      }
      return out[id];
    };
    const tracks = this._subTracks;
    for (const info of Object.values(tracks)) entry(info.participant);
    const pc = this._sub;
    if (!pc) return out;
    const midByTrackId = new Map();
    for (const t of pc.getTransceivers()) {
      if (t.mid != null && t.receiver && t.receiver.track) midByTrackId.set(t.receiver.track.id, t.mid);
    }
    const report = await pc.getStats();
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
      } else if (info.source === 'camera') {
        s.videoFramesDecoded += frames;
        s.videoBytesReceived += bytes;
      } else if (info.source === 'screen') {
        s.screenFramesDecoded += frames;
        s.screenBytesReceived += bytes;
      }
    });
    return out;
  }

  // ------------------------------------------------------------ join attempts

  _wsUrl() {
    if (/^wss?:\/\//i.test(this._wsPath)) return this._wsPath;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const path = this._wsPath.startsWith('/') ? this._wsPath : `/${this._wsPath}`;
    return `${scheme}//${location.host}${path}`;
  }

  async _fetchToken() {
    const url = `/api/v1/meetings/${encodeURIComponent(this.slug)}/join`;
    let res;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...this._headers },
        body: JSON.stringify({ name: this.name }),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch (err) {
      throw new SalonError('unreachable',
        'Could not reach the salon server. Check your network connection and try again.', { cause: err });
    }
    const text = await res.text().catch(() => '');
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch { body = null; }
    if (res.ok) {
      if (!body || typeof body.token !== 'string') {
        throw new SalonError('bad-response', 'The server gave an unexpected answer to the join request.',
          { status: res.status });
      }
      return body;
    }
    const said = serverMessage(body) || '';
    switch (res.status) {
      case 404:
        throw new SalonError('unknown-meeting', 'This meeting does not exist. Check the link you were given.',
          { status: 404, fatal: true });
      case 400:
        throw new SalonError('bad-name', said || 'This name cannot be used. Choose a name of 1 to 64 characters.',
          { status: 400, fatal: true });
      case 429:
        throw new SalonError('rate-limited', said || 'Too many attempts. Wait a moment and try again.',
          { status: 429 });
      default:
        if (res.status >= 500) {
          throw new SalonError('server-error', said || `The salon server failed (HTTP ${res.status}). Try again in a moment.`,
            { status: res.status });
        }
        throw new SalonError('refused', said || `The server refused to let you join (HTTP ${res.status}).`,
          { status: res.status, fatal: true });
    }
  }

  _openSocket(url) {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(url);
      } catch (err) {
        reject(new SalonError('unreachable', 'Could not open the connection to salon.', { cause: err }));
        return;
      }
      const timer = setTimeout(() => {
        ws.onopen = ws.onclose = ws.onerror = null;
        try { ws.close(); } catch { /* not open */ }
        reject(new SalonError('timeout', 'The salon server did not answer in time.'));
      }, OPEN_TIMEOUT);
      ws.onerror = () => {}; // a close event follows and says what happened
      ws.onclose = () => {
        clearTimeout(timer);
        reject(new SalonError('unreachable', 'Could not open the connection to salon.'));
      };
      ws.onopen = () => {
        clearTimeout(timer);
        resolve({ ws, waiter: null, joined: false, bye: null, fatal: false, leaving: false,
          onBye: null, pingTimer: 0, silenceTimer: 0 });
      };
    });
  }

  /** One try at entering: `fresh` (new token) or `resume` (keep one's place). */
  async _attempt(mode) {
    let join;
    if (mode === 'resume') {
      join = { type: 'join', v: PROTOCOL_VERSION, resume: this._resume };
    } else {
      const tok = await this._fetchToken();
      if (typeof tok.ws === 'string' && tok.ws) this._wsPath = tok.ws;
      if (Array.isArray(tok.iceServers)) this._iceServers = tok.iceServers;
      join = { type: 'join', v: PROTOCOL_VERSION, token: tok.token };
    }
    if (this._phase === 'left') throw new SalonError('left', 'You left the meeting.');
    const sock = await this._openSocket(this._wsUrl());
    if (this._phase === 'left') {
      sock.ws.close(1000);
      throw new SalonError('left', 'You left the meeting.');
    }
    this._adopt(sock);
    return new Promise((resolve, reject) => {
      sock.waiter = {
        resolve, reject,
        timer: setTimeout(() => {
          this._failAttempt(sock, new SalonError('timeout', 'The salon server did not answer in time.'));
        }, JOIN_TIMEOUT),
      };
      this._sendOn(sock, join);
    });
  }

  _failAttempt(sock, err) {
    const w = sock.waiter;
    sock.waiter = null;
    this._dropSocket(sock);
    if (w) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  _adopt(sock) {
    this._sock = sock;
    const { ws } = sock;
    ws.onmessage = (ev) => this._onMessage(sock, ev.data);
    ws.onclose = (ev) => this._onSocketGone(sock, ev.code);
    ws.onerror = () => {};
    this._touch(sock);
  }

  /**
   * Forget a socket: stop its timers, close it. Its events are ignored from
   * now on. Only a leave closes with 1000: salon takes 1000 and 1001 to mean
   * "gone for good", any other code keeps one's place for a resume.
   */
  _dropSocket(sock, code = CLOSE_ABANDONED) {
    if (!sock) return;
    clearInterval(sock.pingTimer);
    clearTimeout(sock.silenceTimer);
    sock.ws.onmessage = null;
    sock.ws.onclose = null;
    if (this._sock === sock) this._sock = null;
    if (sock.ws.readyState === WebSocket.OPEN || sock.ws.readyState === WebSocket.CONNECTING) {
      try { sock.ws.close(code); } catch { /* already closing */ }
    }
  }

  _touch(sock) {
    clearTimeout(sock.silenceTimer);
    sock.silenceTimer = setTimeout(() => this._onSocketGone(sock, 0), SILENCE_LIMIT);
  }

  /** The socket closed, or went silent for too long. */
  _onSocketGone(sock, code) {
    if (sock !== this._sock) return;
    if (sock.waiter) {
      this._failAttempt(sock, new SalonError('closed', 'The connection to salon closed before the meeting could be joined.'));
      return;
    }
    this._dropSocket(sock);
    if (sock.bye || sock.fatal || sock.leaving) return;
    if (this._phase !== 'joined') return;
    if (code === 1008 || code === 1009) {
      this._fail('failed', new SalonError('closed',
        `salon closed the connection after refusing messages (close code ${code}).`, { fatal: true }));
      return;
    }
    this._startReconnect('resume', 0);
  }

  _send(msg) {
    return this._sock ? this._sendOn(this._sock, msg) : false;
  }

  _sendOn(sock, msg) {
    if (!sock || sock.ws.readyState !== WebSocket.OPEN) return false;
    sock.ws.send(JSON.stringify(msg));
    return true;
  }

  // ------------------------------------------------------------ server messages

  _onMessage(sock, data) {
    if (sock !== this._sock) return;
    this._touch(sock);
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') return;
    switch (msg.type) {
      case 'joined': this._onJoined(sock, msg); break;
      case 'offer': if (msg.pc === 'subscribe') this._onSubscribeOffer(msg); break;
      case 'answer': if (msg.pc === 'publish') this._onPublishAnswer(msg); break;
      case 'candidate': this._onRemoteCandidate(msg); break;
      case 'participant-joined': this._onParticipant(msg.participant); break;
      case 'participant-updated': this._onParticipant(msg.participant); break;
      case 'participant-left': this._removeParticipant(msg.id, msg.reason || 'left'); break;
      case 'error': this._onServerError(sock, msg); break;
      case 'bye': this._onBye(sock, msg); break;
      default: break; // pong, and types of later versions
    }
  }

  _onJoined(sock, msg) {
    if (sock.joined) return;
    if (this._phase === 'left') {
      this._sendOn(sock, { type: 'leave' });
      this._dropSocket(sock, 1000);
      return;
    }
    const wasJoined = this._hadJoined;
    const resumed = !!msg.resumed;
    const rejoined = wasJoined && !resumed;
    if (rejoined && !this._tornDown) this._teardownMedia();

    sock.joined = true;
    this._hadJoined = true;
    this.self = msg.self && typeof msg.self === 'object' ? { ...msg.self } : { id: null };
    this._resume = msg.resume || this._resume;
    if (Array.isArray(msg.iceServers) && msg.iceServers.length) this._iceServers = msg.iceServers;
    const others = (Array.isArray(msg.participants) ? msg.participants : [])
      .filter((p) => p && p.id && p.id !== this.self.id);
    if (wasJoined) {
      this._reconcile(others);
    } else {
      for (const p of others) this.participants.set(p.id, { ...p });
    }

    this._phase = 'joined';
    sock.pingTimer = setInterval(() => {
      this._sendOn(sock, { type: 'ping', id: String(++this._pingSeq) });
    }, PING_INTERVAL);

    if (!this._pub) {
      this._createPeerConnections();
    } else if (resumed) {
      this._setIceServers();
      // An offer sent on the old socket may never be answered; start over.
      this._pubBusy = false;
    }
    this._setState('connected');
    this._emit('joined', { ...this._joinedDetail(), resumed, rejoined });

    // Tracks published while the socket was down are attached now.
    for (const [source, track] of this._local) {
      if (track) this._attach(source, track);
    }
    if (resumed && this._pubEntries.length) this._scheduleNegotiation({ iceRestart: true });
    const s = msg.self || {};
    if (s.audioMuted !== this._muted.audioMuted || s.videoMuted !== this._muted.videoMuted) {
      this._sendOn(sock, { type: 'update', ...this._muted });
    }
    if (this.name && s.name !== undefined && s.name !== this.name && resumed) {
      this._sendOn(sock, { type: 'update', name: this.name });
    }
    Object.assign(this.self, this._muted);

    const w = sock.waiter;
    sock.waiter = null;
    if (w) {
      clearTimeout(w.timer);
      w.resolve(msg);
    }
  }

  _joinedDetail() {
    return { self: this.self ? { ...this.self } : null, participants: [...this.participants.values()].map((p) => ({ ...p })) };
  }

  _onServerError(sock, msg) {
    const code = typeof msg.code === 'string' ? msg.code : 'error';
    const err = new SalonError(code, typeof msg.message === 'string' && msg.message ? msg.message : `salon refused a message (${code}).`,
      { fatal: !!msg.fatal, ref: msg.ref });
    if (sock.waiter && (msg.fatal || msg.ref === 'join')) {
      sock.fatal = !!msg.fatal;
      this._failAttempt(sock, err);
      return;
    }
    if (msg.fatal) {
      sock.fatal = true;
      this._fail('failed', err);
      return;
    }
    if (msg.ref === 'offer') this._onOfferRefused(err);
    this._emitError(err);
  }

  _onBye(sock, msg) {
    sock.bye = msg.reason || 'closed';
    if (sock.onBye) sock.onBye();
    if (this._phase === 'left' || sock.leaving) return;
    if (sock.waiter) {
      const code = msg.reason === 'server-shutdown' ? 'shutting-down' : 'closed';
      this._failAttempt(sock, new SalonError(code, 'salon closed the connection.', { fatal: code !== 'shutting-down' }));
      return;
    }
    switch (msg.reason) {
      case 'server-shutdown':
        this._startReconnect('fresh', SHUTDOWN_REJOIN_DELAY);
        break;
      case 'replaced':
        this._fail('disconnected', new SalonError('replaced',
          'This meeting was opened again in another window or device, so this one was disconnected.'));
        break;
      default:
        this._fail('disconnected', new SalonError('closed', 'salon ended the connection.'));
    }
  }

  // ------------------------------------------------------------ participants

  _onParticipant(p) {
    if (!p || typeof p !== 'object' || !p.id) return;
    if (this.self && p.id === this.self.id) {
      const previous = { ...this.self };
      this.self = { ...this.self, ...p };
      this._emit('participant-updated', { participant: { ...this.self }, previous, self: true });
      return;
    }
    const previous = this.participants.get(p.id);
    this.participants.set(p.id, { ...p });
    if (!previous) this._emit('participant-joined', { participant: { ...p } });
    else this._emit('participant-updated', { participant: { ...p }, previous });
  }

  _removeParticipant(id, reason) {
    const p = this.participants.get(id);
    if (!p) return;
    for (const [mid, r] of this._remote) {
      if (r.participant === id) this._dropRemote(mid);
    }
    this.participants.delete(id);
    this._emit('participant-left', { id, reason, participant: p });
  }

  /** After a rejoin: events only for what changed, so tiles do not flicker. */
  _reconcile(list) {
    const next = new Map(list.map((p) => [p.id, p]));
    for (const id of [...this.participants.keys()]) {
      if (!next.has(id)) this._removeParticipant(id, 'left');
    }
    for (const [id, p] of next) {
      const old = this.participants.get(id);
      if (!old) {
        this.participants.set(id, { ...p });
        this._emit('participant-joined', { participant: { ...p } });
      } else if (!sameParticipant(old, p)) {
        this.participants.set(id, { ...p });
        this._emit('participant-updated', { participant: { ...p }, previous: old });
      }
    }
  }

  // ------------------------------------------------------------ reconnecting

  _startReconnect(mode, firstDelay) {
    const gen = ++this._reconnectGen;
    this._phase = 'reconnecting';
    if (this._sock) this._dropSocket(this._sock);
    if (mode === 'fresh' || !this._resume) {
      mode = 'fresh';
      this._teardownMedia();
    }
    this._setState('reconnecting');
    this._reconnectLoop(gen, mode, firstDelay);
  }

  async _reconnectLoop(gen, mode, delay) {
    const deadline = Date.now() + RECONNECT_WINDOW;
    let attempt = 0;
    for (;;) {
      if (delay > 0) await this._sleep(delay);
      if (gen !== this._reconnectGen) return;
      try {
        await this._attempt(mode);
        return; // _onJoined took it from here
      } catch (err) {
        if (gen !== this._reconnectGen) return;
        if (err.code === 'resume-failed') {
          mode = 'fresh';
          this._teardownMedia();
          delay = 0;
          continue;
        }
        if (err.fatal && !RETRYABLE_FATAL.has(err.code)) {
          this._fail('failed', err);
          return;
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          this._fail('disconnected', new SalonError('disconnected',
            'The connection to salon was lost and could not be restored. Check your network and rejoin.',
            { cause: err }));
          return;
        }
        delay = Math.min(BACKOFF_FIRST * 2 ** attempt, BACKOFF_MAX, left);
        attempt++;
      }
    }
  }

  _sleep(ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this._wake === done) this._wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this._wake = done;
    });
  }

  /** Stop for good, in `state` ("failed" or "disconnected"), and say why. */
  _fail(state, err) {
    if (this._phase === 'left') return;
    this._phase = 'failed';
    this._shutdown();
    this._setState(state);
    this._emitError(err);
  }

  _shutdown() {
    this._reconnectGen++;
    if (this._wake) this._wake();
    this._unlistenWindow();
    if (this._sock) this._dropSocket(this._sock);
    this._teardownMedia();
  }

  _unlistenWindow() {
    if (typeof window === 'undefined') return;
    window.removeEventListener('pagehide', this._onPageHide);
    window.removeEventListener('online', this._onOnline);
  }

  // ------------------------------------------------------------ peer connections

  _resetMedia() {
    this._pub = null;
    this._sub = null;
    this._pubEntries = []; // {source, transceiver}, in the order they were added
    this._pubBusy = false; // an offer is waiting for its answer
    this._pubNeeded = false; // something changed since the last offer
    this._pubIceRestart = false;
    this._negTimer = 0;
    this._pubChain = Promise.resolve();
    this._subChain = Promise.resolve();
    this._pubCandidates = [];
    this._subCandidates = [];
    this._subTracks = {}; // mid → {participant, source}, from the last subscribe offer
    this._remote = new Map(); // mid → announced remote track
    this._tornDown = true;
  }

  _createPeerConnections() {
    const config = { iceServers: this._iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
    const make = () => {
      try { return new RTCPeerConnection(config); } catch { return new RTCPeerConnection({ bundlePolicy: 'max-bundle' }); }
    };
    const pub = make();
    const sub = make();
    this._pub = pub;
    this._sub = sub;
    this._tornDown = false;

    pub.onicecandidate = (ev) => { if (pub === this._pub) this._sendCandidate('publish', ev.candidate); };
    sub.onicecandidate = (ev) => { if (sub === this._sub) this._sendCandidate('subscribe', ev.candidate); };
    pub.onconnectionstatechange = () => {
      // The subscribe side is salon's to restart; the publish side is ours.
      if (pub === this._pub && pub.connectionState === 'failed' && this._phase === 'joined') {
        this._scheduleNegotiation({ iceRestart: true });
      }
    };
    sub.ontrack = (ev) => { if (sub === this._sub) this._announce(ev.transceiver); };
  }

  _setIceServers() {
    for (const pc of [this._pub, this._sub]) {
      if (!pc || typeof pc.setConfiguration !== 'function') continue;
      try {
        pc.setConfiguration({ ...pc.getConfiguration(), iceServers: this._iceServers });
      } catch { /* keep the servers it had */ }
    }
  }

  /** Close both connections and forget every remote track (announcing it). */
  _teardownMedia() {
    for (const mid of [...this._remote.keys()]) this._dropRemote(mid);
    this._closeMedia();
  }

  _closeMedia() {
    clearTimeout(this._negTimer);
    for (const pc of [this._pub, this._sub]) {
      if (!pc) continue;
      pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = null;
      try { pc.close(); } catch { /* already closed */ }
    }
    const remote = this._remote;
    this._resetMedia();
    remote.clear();
  }

  _sendCandidate(pc, candidate) {
    if (this._phase !== 'joined') return; // an ICE restart follows a reconnection
    // An empty candidate string is Firefox's end-of-candidates; null says it once.
    if (candidate && !candidate.candidate) return;
    this._send({ type: 'candidate', pc, candidate: candidate ? candidate.toJSON() : null });
  }

  _onRemoteCandidate(msg) {
    const isPub = msg.pc === 'publish';
    if (!isPub && msg.pc !== 'subscribe') return;
    const pc = isPub ? this._pub : this._sub;
    if (!pc) return;
    const run = async () => {
      if (pc !== (isPub ? this._pub : this._sub)) return;
      // Candidates that arrive before the description they belong to wait for it.
      if (!pc.remoteDescription) {
        (isPub ? this._pubCandidates : this._subCandidates).push(msg.candidate);
        return;
      }
      await addCandidate(pc, msg.candidate);
    };
    if (isPub) this._pubChain = this._pubChain.then(run).catch(() => {});
    else this._subChain = this._subChain.then(run).catch(() => {});
  }

  // publish: the browser offers, one offer at a time.

  async _attach(source, track) {
    const pc = this._pub;
    if (!pc) return; // attached once joined
    const entry = this._pubEntries.find((e) => e.source === source);
    if (entry) {
      if (entry.transceiver.sender.track !== track) {
        await entry.transceiver.sender.replaceTrack(track).catch((err) => {
          this._emitError(new SalonError('publish-failed', `Could not switch the ${source} track: ${err.message}`, { cause: err }));
        });
      }
      return;
    }
    const stream = source === 'screen' ? this._screenStream : this._avStream;
    const transceiver = pc.addTransceiver(track, {
      direction: 'sendonly',
      streams: stream ? [stream] : [],
    });
    this._pubEntries.push({ source, transceiver });
    this._scheduleNegotiation();
  }

  _scheduleNegotiation({ iceRestart = false } = {}) {
    if (iceRestart) this._pubIceRestart = true;
    this._pubNeeded = true;
    if (this._negTimer) return;
    // Changes made in one turn (microphone and camera at once) share an offer.
    this._negTimer = setTimeout(() => {
      this._negTimer = 0;
      this._negotiate();
    }, 0);
  }

  async _negotiate() {
    const pc = this._pub;
    if (!pc || !this._pubNeeded || this._pubBusy || this._phase !== 'joined') return;
    if (pc.getTransceivers().length === 0) {
      this._pubNeeded = false;
      return;
    }
    this._pubNeeded = false;
    this._pubBusy = true;
    const iceRestart = this._pubIceRestart;
    this._pubIceRestart = false;
    // The offer describes the transceivers as they are now; later changes go
    // into the next offer.
    const offered = [...this._pubEntries];
    try {
      const offer = await pc.createOffer({ iceRestart });
      if (pc !== this._pub) return;
      await pc.setLocalDescription(offer);
      if (pc !== this._pub) return;
      const sources = {};
      for (const e of offered) {
        const mid = e.transceiver.mid;
        if (mid != null && !isStopped(e.transceiver)) sources[mid] = e.source;
      }
      const sent = this._send({ type: 'offer', pc: 'publish', sdp: pc.localDescription.sdp, sources });
      if (!sent) {
        // The socket is gone; the offer goes out again once joined.
        this._pubBusy = false;
        this._pubNeeded = true;
        this._pubIceRestart ||= iceRestart;
      }
    } catch (err) {
      if (pc !== this._pub) return;
      this._pubBusy = false;
      this._emitError(new SalonError('publish-failed', `Could not prepare your media: ${err.message}`, { cause: err }));
    }
  }

  _onPublishAnswer(msg) {
    const pc = this._pub;
    if (!pc) return;
    this._pubChain = this._pubChain.then(async () => {
      if (pc !== this._pub || pc.signalingState !== 'have-local-offer') return;
      try {
        await pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
      } catch (err) {
        if (pc !== this._pub) return;
        await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
        this._pubBusy = false;
        this._emitError(new SalonError('publish-failed', `salon's answer could not be applied: ${err.message}`, { cause: err }));
        return;
      }
      if (pc !== this._pub) return;
      const queued = this._pubCandidates.splice(0);
      for (const c of queued) await addCandidate(pc, c);
      this._pubBusy = false;
      if (this._pubNeeded) this._negotiate();
    }).catch(() => {});
  }

  _onOfferRefused(err) {
    const pc = this._pub;
    if (!pc) return;
    this._pubChain = this._pubChain.then(async () => {
      if (pc !== this._pub) return;
      if (pc.signalingState === 'have-local-offer') {
        await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      }
      this._pubBusy = false;
      if (err.code === 'rate-limited') {
        setTimeout(() => { if (pc === this._pub) this._scheduleNegotiation(); }, OFFER_RETRY_DELAY);
      } else if (this._pubNeeded) {
        this._negotiate();
      }
    }).catch(() => {});
  }

  // subscribe: salon offers, the browser answers.

  _onSubscribeOffer(msg) {
    const pc = this._sub;
    if (!pc) return;
    this._subChain = this._subChain.then(async () => {
      if (pc !== this._sub) return;
      const previous = this._subTracks;
      // Set before applying the offer: ontrack fires while it is applied.
      this._subTracks = validTracks(msg.tracks);
      try {
        await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
        if (pc !== this._sub) return;
        const queued = this._subCandidates.splice(0);
        for (const c of queued) await addCandidate(pc, c);
        const answer = await pc.createAnswer();
        if (pc !== this._sub) return;
        await pc.setLocalDescription(answer);
        if (pc !== this._sub) return;
        this._send({ type: 'answer', pc: 'subscribe', sdp: pc.localDescription.sdp });
      } catch (err) {
        if (pc !== this._sub) return;
        this._subTracks = previous;
        this._emitError(new SalonError('subscribe-failed', `Could not receive the others' media: ${err.message}`, { cause: err }));
        return;
      }
      this._syncRemote();
    }).catch(() => {});
  }

  /** Announce the track a subscribe transceiver carries, unless already announced. */
  _announce(transceiver) {
    const mid = transceiver.mid;
    if (mid == null) return;
    const info = this._subTracks[mid];
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
   * Bring the announced tracks in line with the last offer's map. salon may
   * give a transceiver to another track without the browser firing ontrack.
   */
  _syncRemote() {
    const pc = this._sub;
    if (!pc) return;
    const live = new Set();
    for (const t of pc.getTransceivers()) {
      if (t.mid == null || isStopped(t) || !this._subTracks[t.mid]) continue;
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

  // ------------------------------------------------------------ helpers

  _applyMute(source, track) {
    if (!track) return;
    if (source === 'audio') track.enabled = !this._muted.audioMuted;
    else if (source === 'camera') track.enabled = !this._muted.videoMuted;
  }

  _setState(state) {
    if (this._state === state) return;
    this._state = state;
    this._emit('state', state);
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _emitError(err) {
    this._emit('error', { code: err.code, message: err.message, fatal: !!err.fatal, ref: err.ref, error: err });
  }
}

function checkSource(source) {
  if (!isSource(source)) throw new TypeError(`unknown source ${JSON.stringify(source)}; use audio, camera or screen`);
}

function isStopped(transceiver) {
  return transceiver.stopped === true || transceiver.currentDirection === 'stopped' || transceiver.direction === 'stopped';
}

async function addCandidate(pc, candidate) {
  try {
    if (candidate) await pc.addIceCandidate(candidate);
    else await pc.addIceCandidate(null);
  } catch {
    // A candidate of an older ICE generation, or end-of-candidates where the
    // browser does not take null: nothing to do.
  }
}

function validTracks(tracks) {
  const out = {};
  if (!tracks || typeof tracks !== 'object') return out;
  for (const [mid, info] of Object.entries(tracks)) {
    if (info && typeof info.participant === 'string' && isSource(info.source)) {
      out[mid] = { participant: info.participant, source: info.source };
    }
  }
  return out;
}

function sameParticipant(a, b) {
  return a.name === b.name && a.audioMuted === b.audioMuted && a.videoMuted === b.videoMuted &&
    a.screen === b.screen && a.connected === b.connected;
}

function serverMessage(body) {
  if (!body || typeof body !== 'object') return '';
  for (const k of ['message', 'error']) {
    if (typeof body[k] === 'string' && body[k]) return body[k];
  }
  return '';
}
