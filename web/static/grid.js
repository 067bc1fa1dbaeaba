// The room's tiles: one per participant (one's own included) and one per
// screen share, laid out to fill #grid. It renders what it is told and knows
// nothing of the connection.
//
// Every participant tile carries, for the end-to-end tests and for CSS:
//   class="tile", data-participant, data-name, data-audio-muted,
//   data-video-muted, data-screen, data-connected, data-speaking,
//   data-active-speaker (salon says they speak), data-paused (salon sends
//   no video now: "hidden", "last-n" or "bandwidth"), and data-local on
//   one's own tile.
// A screen share is class="tile screen" with data-participant, data-name,
// data-source="screen" (and data-local when it is one's own).

import { icon } from './icons.js';

const SELF = 'self';

export class Grid {
  /**
   * @param {HTMLElement} root the #grid element
   * @param {object} opts
   * @param {(key: string, vars?: object) => string} opts.t translations
   * @param {() => void} [opts.onAudioBlocked] called when the browser refuses to play sound
   */
  constructor(root, { t, onAudioBlocked, onView }) {
    this.root = root;
    this.t = t;
    this.onAudioBlocked = onAudioBlocked || (() => {});
    this.onView = onView || (() => {});
    this._visible = new WeakMap(); // tile → on screen
    this._viewTimer = 0;
    this._lastView = '';
    if (typeof IntersectionObserver === 'function') {
      this._io = new IntersectionObserver((entries) => {
        for (const e of entries) this._visible.set(e.target, e.isIntersecting);
        this._viewChanged();
      });
    }
    document.addEventListener('visibilitychange', () => this._viewChanged());
    this.people = new Map(); // key (participant id, or "self") → person
    this.pending = new Map(); // participant id → {source: track} for tracks that came before the participant
    this.sinkId = '';
    this._layoutQueued = false;
    if (typeof ResizeObserver === 'function') {
      this._ro = new ResizeObserver(() => this.layout());
      this._ro.observe(root);
    } else {
      window.addEventListener('resize', () => this.layout());
    }
  }

  // ------------------------------------------------------------ participants

  /**
   * One's own tile. info: {id, name, audioMuted, videoMuted, screen}; id may
   * be null until joined.
   */
  setSelf(info) {
    const p = this._person(SELF, true);
    Object.assign(p.info, info, { connected: true });
    this._render(p);
  }

  /** Add or update another participant's tile. */
  upsert(info) {
    if (!info || !info.id) return;
    const p = this._person(info.id, false);
    Object.assign(p.info, info);
    const early = this.pending.get(info.id);
    if (early) {
      this.pending.delete(info.id);
      for (const [source, entry] of Object.entries(early)) this.setTrack(info.id, source, entry.track, entry.receiver);
    }
    this._render(p);
  }

  remove(id) {
    this.pending.delete(id);
    const p = this.people.get(id);
    if (!p) return;
    this._clearTracks(p);
    p.tile.remove();
    this.people.delete(id);
    this.layout();
  }

  /** Remove every tile (leaving the room). */
  clear() {
    for (const p of this.people.values()) {
      this._clearTracks(p);
      p.tile.remove();
    }
    this.people.clear();
    this.pending.clear();
    this.layout();
  }

  ids() {
    return [...this.people.values()].filter((p) => !p.local).map((p) => p.info.id);
  }

  // ------------------------------------------------------------ tracks

  /** One's own camera (null: none) or screen share. */
  setLocalTrack(source, track) {
    const p = this._person(SELF, true);
    this._setTrack(p, source, track, null);
  }

  /** A remote participant's track arrived. */
  setTrack(id, source, track, receiver) {
    const p = this.people.get(id);
    if (!p) {
      const early = this.pending.get(id) || {};
      early[source] = { track, receiver };
      this.pending.set(id, early);
      return;
    }
    this._setTrack(p, source, track, receiver);
  }

  /** A remote track went away; ignored when another track replaced it meanwhile. */
  removeTrack(id, source, track) {
    const early = this.pending.get(id);
    if (early && early[source] && early[source].track === track) delete early[source];
    const p = this.people.get(id);
    if (!p) return;
    const current = source === 'audio' ? p.audio && p.audio.track : source === 'camera' ? p.camera : p.screen && p.screen.track;
    if (track && current !== track) return;
    this._setTrack(p, source, null, null);
  }

  setSpeaking(key, speaking) {
    const p = this.people.get(key);
    if (p) p.tile.dataset.speaking = String(!!speaking);
  }

  /** Mark who salon says is speaking now. */
  setActiveSpeakers(ids) {
    const on = new Set(ids);
    for (const p of this.people.values()) {
      if (!p.local) p.tile.dataset.activeSpeaker = String(on.has(p.key));
    }
  }

  /**
   * salon stopped sending some videos: their tiles show the avatar (and why)
   * instead of a frozen picture. tracks: [{participant, source, reason}].
   */
  setPaused(tracks) {
    const cam = new Map();
    for (const x of tracks) if (x.source === 'camera') cam.set(x.participant, x.reason || 'paused');
    for (const p of this.people.values()) {
      if (p.local) continue;
      const reason = cam.get(p.key) || '';
      if ((p.paused || '') === reason) continue;
      p.paused = reason;
      if (reason) p.tile.dataset.paused = reason;
      else delete p.tile.dataset.paused;
      this._render(p);
    }
  }

  /**
   * How others' videos are shown: [{participant, source, width, height,
   * visible}], sizes in device pixels, for salon to pick layers.
   */
  views() {
    const dpr = window.devicePixelRatio || 1;
    const pageShown = document.visibilityState !== 'hidden';
    const out = [];
    const add = (id, source, el) => {
      const w = Math.round(el.clientWidth * dpr);
      const h = Math.round(el.clientHeight * dpr);
      const onScreen = this._visible.has(el) ? this._visible.get(el) : true;
      out.push({ participant: id, source, width: w, height: h, visible: pageShown && onScreen && w > 0 && h > 0 });
    };
    for (const p of this.people.values()) {
      if (p.local || !p.info.id) continue;
      if (p.camera) add(p.info.id, 'camera', p.tile);
      if (p.screen) add(p.info.id, 'screen', p.screen.tile);
    }
    return out;
  }

  /** Report views soon, once layout and visibility settle. */
  _viewChanged() {
    clearTimeout(this._viewTimer);
    this._viewTimer = setTimeout(() => {
      const v = this.views();
      const key = JSON.stringify(v);
      if (key === this._lastView) return;
      this._lastView = key;
      this.onView(v);
    }, 200);
  }

  /** Route remote audio to an output device (where the browser allows it). */
  setSinkId(id) {
    this.sinkId = id || '';
    for (const p of this.people.values()) {
      if (p.audio && typeof p.audio.el.setSinkId === 'function') p.audio.el.setSinkId(this.sinkId).catch(() => {});
    }
  }

  /** Try again to play remote audio, from a user gesture. */
  resumeAudio() {
    for (const p of this.people.values()) {
      if (p.audio) p.audio.el.play().catch(() => {});
    }
  }

  // ------------------------------------------------------------ rendering

  _person(key, local) {
    let p = this.people.get(key);
    if (p) return p;
    p = {
      key, local,
      info: { id: local ? null : key, name: '', audioMuted: false, videoMuted: false, screen: false, connected: true },
      camera: null, cameraLive: false, audio: null, screen: null,
    };
    const tile = document.createElement('div');
    tile.className = 'tile';
    tile.setAttribute('role', 'group');
    if (local) tile.dataset.local = '';
    tile.dataset.speaking = 'false';

    const video = document.createElement('video');
    video.className = 'tile-video';
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // sound plays from the <audio> element
    if (local) video.classList.add('mirror');
    video.addEventListener('resize', () => this._videoFlowing(p));
    video.addEventListener('playing', () => this._videoFlowing(p));

    const avatar = document.createElement('div');
    avatar.className = 'tile-avatar';
    avatar.setAttribute('aria-hidden', 'true');
    const initial = document.createElement('span');
    initial.className = 'tile-initial';
    avatar.append(initial);

    const status = document.createElement('div');
    status.className = 'tile-status';
    status.textContent = this.t('tile.reconnecting');

    const label = document.createElement('div');
    label.className = 'tile-label';
    const micOff = document.createElement('span');
    micOff.className = 'tile-mic-off';
    micOff.setAttribute('role', 'img');
    micOff.setAttribute('aria-label', this.t('tile.micMuted'));
    micOff.title = this.t('tile.micMuted');
    micOff.append(icon('mic-off'));
    const name = document.createElement('span');
    name.className = 'tile-name';
    label.append(micOff, name);

    const note = document.createElement('div');
    note.className = 'tile-note';

    tile.append(video, avatar, status, note, label);
    tile.addEventListener('dblclick', () => toggleFullscreen(tile));

    Object.assign(p, { tile, video, avatar, initial, nameEl: name, note });
    this.people.set(key, p);
    // One's own tile comes first; others follow in the order they came.
    if (local) this.root.prepend(tile);
    else this.root.append(tile);
    if (!local && this._io) this._io.observe(tile);
    this.layout();
    return p;
  }

  _render(p) {
    const { tile, info } = p;
    const name = info.name || this.t('tile.unnamed');
    if (info.id) tile.dataset.participant = info.id;
    else delete tile.dataset.participant;
    tile.dataset.name = info.name || '';
    tile.dataset.audioMuted = String(!!info.audioMuted);
    tile.dataset.videoMuted = String(!!info.videoMuted);
    tile.dataset.screen = String(!!info.screen);
    tile.dataset.connected = String(info.connected !== false);
    const shown = p.local ? this.t('tile.you', { name }) : name;
    p.nameEl.textContent = shown;
    tile.setAttribute('aria-label', shown);
    p.initial.textContent = initialOf(name);
    tile.style.setProperty('--avatar-hue', String(hueOf(info.id || info.name || '')));
    const hasVideo = !!p.camera && !info.videoMuted && (p.local || p.cameraLive) && !p.paused;
    tile.classList.toggle('has-video', hasVideo);
    const noteKey = { bandwidth: 'tile.pausedBandwidth', 'last-n': 'tile.pausedLastN' }[p.paused || ''];
    p.note.textContent = noteKey && !info.videoMuted ? this.t(noteKey) : '';
    if (p.screen) this._renderScreen(p);
  }

  _setTrack(p, source, track, receiver) {
    if (source === 'camera') {
      if (p.camera === track) return;
      if (p.camera) p.camera.removeEventListener('mute', p.onCameraMute);
      if (p.camera) p.camera.removeEventListener('unmute', p.onCameraMute);
      p.camera = track;
      p.cameraLive = !!track && !track.muted;
      if (track) {
        p.onCameraMute = () => {
          p.cameraLive = !track.muted;
          this._render(p);
        };
        track.addEventListener('mute', p.onCameraMute);
        track.addEventListener('unmute', p.onCameraMute);
        p.video.srcObject = new MediaStream([track]);
        p.video.play().catch(() => {});
      } else {
        p.video.srcObject = null;
      }
      this._render(p);
      this._viewChanged();
    } else if (source === 'audio') {
      if (p.local) return; // one never hears oneself
      if (p.audio && p.audio.track === track) return;
      if (p.audio) {
        p.audio.el.srcObject = null;
        p.audio.el.remove();
        p.audio = null;
      }
      if (track) {
        const el = document.createElement('audio');
        el.className = 'tile-audio';
        el.autoplay = true;
        el.srcObject = new MediaStream([track]);
        if (this.sinkId && typeof el.setSinkId === 'function') el.setSinkId(this.sinkId).catch(() => {});
        p.tile.append(el);
        p.audio = { track, el, receiver };
        el.play().catch((err) => {
          if (err && err.name === 'NotAllowedError') this.onAudioBlocked();
        });
      }
    } else if (source === 'screen') {
      if (p.screen && p.screen.track === track) return;
      if (p.screen) {
        p.screen.video.srcObject = null;
        p.screen.tile.remove();
        p.screen = null;
      }
      if (track) {
        p.screen = this._screenTile(p, track);
        this._renderScreen(p);
      }
      this.layout();
    }
  }

  _videoFlowing(p) {
    if (p.camera && !p.cameraLive && p.video.videoWidth > 0) {
      p.cameraLive = true;
      this._render(p);
    }
  }

  _screenTile(p, track) {
    const tile = document.createElement('div');
    tile.className = 'tile screen has-video';
    tile.dataset.source = 'screen';
    tile.setAttribute('role', 'group');
    if (p.local) tile.dataset.local = '';
    const video = document.createElement('video');
    video.className = 'tile-video';
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true;
    video.srcObject = new MediaStream([track]);
    video.play().catch(() => {});
    const label = document.createElement('div');
    label.className = 'tile-label';
    label.append(icon('screen'));
    const name = document.createElement('span');
    name.className = 'tile-name';
    label.append(name);
    const full = document.createElement('button');
    full.type = 'button';
    full.className = 'tile-fullscreen';
    full.setAttribute('aria-label', this.t('tile.fullscreen'));
    full.title = this.t('tile.fullscreen');
    full.append(icon('expand'));
    full.addEventListener('click', () => toggleFullscreen(tile));
    tile.addEventListener('dblclick', () => toggleFullscreen(tile));
    tile.append(video, label, full);
    // Right after its owner's tile, so the gallery keeps people together.
    p.tile.after(tile);
    if (!p.local && this._io) this._io.observe(tile);
    return { track, tile, video, nameEl: name };
  }

  _renderScreen(p) {
    const { tile, nameEl } = p.screen;
    const name = p.info.name || this.t('tile.unnamed');
    if (p.info.id) tile.dataset.participant = p.info.id;
    else delete tile.dataset.participant;
    tile.dataset.name = p.info.name || '';
    const text = p.local ? this.t('tile.yourScreen') : this.t('tile.screenOf', { name });
    nameEl.textContent = text;
    tile.setAttribute('aria-label', text);
  }

  _clearTracks(p) {
    for (const source of ['camera', 'audio', 'screen']) this._setTrack(p, source, null, null);
  }

  // ------------------------------------------------------------ layout

  /**
   * Size the tiles to fill #grid. Without a screen share, every tile gets the
   * same size, chosen to cover the most area; with one, the screen share
   * takes the stage and the others line up beside it (CSS does that part).
   */
  layout() {
    if (this._layoutQueued) return;
    this._layoutQueued = true;
    requestAnimationFrame(() => {
      this._layoutQueued = false;
      this._layoutNow();
    });
  }

  _layoutNow() {
    this._viewChanged();
    const root = this.root;
    const tiles = [...root.querySelectorAll(':scope > .tile')];
    const n = tiles.length;
    root.dataset.count = String(n);
    const screens = tiles.filter((el) => el.classList.contains('screen'));
    const stage = screens.filter((el) => !el.hasAttribute('data-local')).pop() || screens.pop() || null;
    for (const el of tiles) el.classList.toggle('stage', el === stage);
    root.classList.toggle('presenting', !!stage);
    if (stage) {
      const others = n - 1;
      const stripCols = others > 5 ? 2 : 1;
      root.style.setProperty('--strip-cols', String(stripCols));
      root.style.setProperty('--strip-rows', String(Math.max(1, Math.ceil(others / stripCols))));
      root.classList.remove('scroll');
      return;
    }
    const cs = getComputedStyle(root);
    const gap = parseFloat(cs.columnGap) || 8;
    const W = root.clientWidth - (parseFloat(cs.paddingLeft) || 0) - (parseFloat(cs.paddingRight) || 0);
    const H = root.clientHeight - (parseFloat(cs.paddingTop) || 0) - (parseFloat(cs.paddingBottom) || 0);
    if (!n || W <= 0 || H <= 0) return;
    let best = { w: 0, h: 0, area: 0 };
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const cw = (W - gap * (cols - 1)) / cols;
      const ch = (H - gap * (rows - 1)) / rows;
      if (cw <= 0 || ch <= 0) break;
      // Tiles keep a sensible shape: from portrait 3:4 to 16:9.
      const aspect = Math.min(16 / 9, Math.max(3 / 4, cw / ch));
      const w = Math.min(cw, ch * aspect);
      const h = w / aspect;
      if (w * h > best.area) best = { w, h, area: w * h };
    }
    const tooSmall = best.h < 110;
    root.classList.toggle('scroll', tooSmall);
    if (tooSmall) {
      const w = Math.min(W, 200);
      best = { w, h: w * 9 / 16 };
    }
    root.style.setProperty('--tile-w', `${Math.floor(best.w)}px`);
    root.style.setProperty('--tile-h', `${Math.floor(best.h)}px`);
  }
}

function initialOf(name) {
  const s = String(name || '').trim();
  if (!s) return '?';
  const first = Array.from(s)[0];
  return first.toLocaleUpperCase();
}

function hueOf(s) {
  let h = 0;
  for (const ch of String(s)) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

function toggleFullscreen(el) {
  if (document.fullscreenElement) {
    document.exitFullscreen().catch(() => {});
  } else if (el.requestFullscreen) {
    el.requestFullscreen().catch(() => {});
  }
}
