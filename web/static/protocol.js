// salon signalling and WebRTC client: the reference client of docs/protocol.md
// (version 1).
//
// It owns the WebSocket, keep-alive, reconnection and the participant list,
// and drives the two RTCPeerConnections through peers.js (publish: the browser
// offers its own tracks; subscribe: salon offers everyone else's). It knows
// nothing of the page: UI modules call its methods and listen to its events
// (CustomEvent, payload in `detail`):
//
//   state               "connecting" | "connected" | "reconnecting" | "disconnected" | "failed"
//   joined              {self, participants, resumed, rejoined}
//   participant-joined  {participant}
//   participant-updated {participant, previous}
//   participant-left    {id, reason, participant}
//   track               {participant, source, track, stream, receiver, mid}
//   track-removed       {participant, source, track, stream, mid}
//   speakers            {speakers}: ids of who speaks now, loudest first
//   paused              {tracks}: [{participant, source, reason}] videos salon
//                       does not send now ("hidden", "last-n", "bandwidth")
//   error               {code, message, fatal, ref, error}
//
// Error messages are English; a UI localizes by `code`.

import { MediaPeers } from './peers.js';

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
const CLOSE_ABANDONED = 4000; // a socket given up on, not a leave

// Codes a reconnecting client may retry after, although salon calls them fatal.
const RETRYABLE_FATAL = new Set(['resume-failed', 'token-expired', 'shutting-down', 'unavailable']);

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
    /** @type {MediaPeers|null} the peer connections of the current join */
    this._media = null;

    this._onPageHide = () => { this.leave(); };
    this._onOnline = () => { if (this._wake) this._wake(); };
  }

  /** The current connection state (see the `state` event). */
  get state() { return this._state; }

  /** Own participant id, once joined. */
  get selfId() { return this.self ? this.self.id : null; }

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
    if (this._media) await this._media.attach(source, track);
  }

  /** Stop publishing `source`; others see its track go away. */
  async unpublish(source) {
    checkSource(source);
    this._local.delete(source);
    if (this._media) this._media.detach(source);
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
    if (this._media) await this._media.clear(source);
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

  /**
   * Tell salon how the page shows others' video: tracks is a list of
   * {participant, source, width, height, visible} with sizes in device
   * pixels. salon sends each the layer that fills its tile, and nothing to
   * hidden ones. Kept and sent again after a reconnect.
   */
  setView(tracks) {
    this._view = Array.isArray(tracks) ? tracks.slice(0, 256) : [];
    if (this._phase === 'joined') this._send({ type: 'view', tracks: this._view });
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
    this._closeMedia({ announce: false });
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
   * {[participantId]: {videoFramesDecoded, videoBytesReceived, videoWidth, videoHeight,
   *   audioBytesReceived, audioPacketsReceived, audioPacketsLost, audioTotalSamples,
   *   audioConcealedSamples, screenFramesDecoded, screenBytesReceived}}
   * (audioConcealedSamples / audioTotalSamples is the share of audio the
   * decoder had to make up for lost packets)
   */
  async stats() {
    return this._media ? this._media.stats() : {};
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
    const { code: saidCode, message: said } = apiError(body);
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
        throw new SalonError(saidCode || 'refused', said || `The server refused to let you join (HTTP ${res.status}).`,
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
    this._startReconnect('resume', BACKOFF_FIRST);
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
      case 'offer':
        if (msg.pc === 'subscribe' && this._media && typeof msg.sdp === 'string') this._media.onOffer(msg.sdp, msg.tracks);
        break;
      case 'answer':
        if (msg.pc === 'publish' && this._media && typeof msg.sdp === 'string') this._media.onAnswer(msg.sdp);
        break;
      case 'candidate':
        if ((msg.pc === 'publish' || msg.pc === 'subscribe') && this._media) this._media.onCandidate(msg.pc, msg.candidate);
        break;
      case 'participant-joined': this._onParticipant(msg.participant); break;
      case 'participant-updated': this._onParticipant(msg.participant); break;
      case 'participant-left': this._removeParticipant(msg.id, msg.reason || 'left'); break;
      case 'error': this._onServerError(sock, msg); break;
      case 'bye': this._onBye(sock, msg); break;
      case 'layers':
        if (this._media && typeof msg.source === 'string') this._media.setLayers(msg.source, msg.active);
        break;
      case 'speakers':
        if (Array.isArray(msg.speakers)) this._emit('speakers', { speakers: msg.speakers.filter((id) => typeof id === 'string') });
        break;
      case 'paused':
        if (Array.isArray(msg.tracks)) this._emit('paused', { tracks: msg.tracks.filter((x) => x && typeof x === 'object') });
        break;
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
    if (!resumed) this._closeMedia();

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
    // salon knows nothing of a mute or rename made before joining or while
    // the socket was down.
    const told = msg.self || {};
    if (told.audioMuted !== this._muted.audioMuted || told.videoMuted !== this._muted.videoMuted) {
      this._sendOn(sock, { type: 'update', ...this._muted });
    }
    if (resumed && this.name && told.name && told.name !== this.name) {
      this._sendOn(sock, { type: 'update', name: this.name });
      this.self.name = this.name;
    }
    Object.assign(this.self, this._muted);

    this._phase = 'joined';
    sock.pingTimer = setInterval(() => {
      this._sendOn(sock, { type: 'ping', id: String(++this._pingSeq) });
    }, PING_INTERVAL);

    if (!this._media) {
      this._media = new MediaPeers({
        iceServers: this._iceServers,
        send: (m) => this._send(m),
        ready: () => this._phase === 'joined',
        emit: (type, detail) => {
          if (type === 'error') this._emitError(new SalonError(detail.code, detail.message, { cause: detail.cause }));
          else this._emit(type, detail);
        },
      });
    } else if (resumed) {
      this._media.resumed(this._iceServers);
    }
    this._setState('connected');
    this._emit('joined', { ...this._joinedDetail(), resumed, rejoined });

    if (this._view && this._view.length) this._sendOn(sock, { type: 'view', tracks: this._view });

    // Tracks published while the socket was down (or before join) go out now.
    for (const [source, track] of this._local) {
      if (track) this._media.attach(source, track);
    }

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
    if (msg.ref === 'offer' && this._media) this._media.onOfferRefused(code);
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
    if (this._media) this._media.forget(id);
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
      this._closeMedia();
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
          this._closeMedia();
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
        attempt++;
        delay = Math.min(BACKOFF_FIRST * 2 ** attempt, BACKOFF_MAX, left);
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
    this._closeMedia();
  }

  _unlistenWindow() {
    if (typeof window === 'undefined') return;
    window.removeEventListener('pagehide', this._onPageHide);
    window.removeEventListener('online', this._onOnline);
  }

  /** Close the peer connections of this join; by default announce every remote track's removal. */
  _closeMedia({ announce = true } = {}) {
    if (!this._media) return;
    this._media.close({ announce });
    this._media = null;
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

function sameParticipant(a, b) {
  return a.name === b.name && a.audioMuted === b.audioMuted && a.videoMuted === b.videoMuted &&
    a.screen === b.screen && a.connected === b.connected;
}

/** The {code, message} of an API error body: {"error": {"code", "message"}}. */
function apiError(body) {
  const e = body && typeof body === 'object' ? body.error : null;
  if (e && typeof e === 'object') {
    return {
      code: typeof e.code === 'string' ? e.code : '',
      message: typeof e.message === 'string' ? e.message : '',
    };
  }
  return { code: '', message: typeof e === 'string' ? e : '' };
}
