// The meeting page (/m/{slug}): pre-join screen, the room, leaving. It drives
// protocol.js (the connection), media.js (own devices) and grid.js (tiles).
//
// Query: name=  prejoin=0 (join at once)  audio=0 / video=0 (join muted)  lang=en|fr
// For tests: window.salon = {connection, stats(), state(), self()}.

import { SalonConnection } from './protocol.js';
import { t, has, translateDocument } from './i18n.js';
import { Grid } from './grid.js';
import { fillIcons } from './icons.js';
import {
  LocalMedia, AudioActivity, mediaErrorReason, screenShareSupported, speakerSelectionSupported,
} from './media.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const slug = meetingSlug(location.pathname);
const NAME_KEY = 'salon.name';
const SELF = 'self';

const ui = {
  view: 'loading',
  state: 'disconnected',
  /** @type {SalonConnection|null} */
  connection: null,
  selfId: null,
  name: '',
  audioMuted: false,
  videoMuted: false,
  screenTrack: null,
  media: new LocalMedia(),
  /** @type {Grid|null} */
  grid: null,
  activity: null,
  mediaReady: Promise.resolve(),
  busy: new Set(),
  errorRetry: null,
  toastTimer: 0,
};

window.salon = {
  get connection() { return ui.connection; },
  stats: () => (ui.connection ? ui.connection.stats() : Promise.resolve({})),
  state: () => ui.state,
  self: () => ui.selfId,
};

// ------------------------------------------------------------------ start

function main() {
  document.documentElement.lang = t('lang');
  translateDocument(document);
  fillIcons(document);
  document.title = slug ? `${slug} · salon` : 'salon';
  $('meeting-name').textContent = slug;
  $('room-title').textContent = slug;
  setConnState('disconnected');

  ui.activity = new AudioActivity({
    onChange: (key, speaking) => { if (ui.grid) ui.grid.setSpeaking(key, speaking); },
    onLevel: (key, level) => { if (key === SELF) showMicLevel(level); },
  });
  // Browsers let a page measure sound only after the user did something.
  const enableAudio = () => ui.activity.enable();
  document.addEventListener('pointerdown', enableAudio, { capture: true });
  document.addEventListener('keydown', enableAudio, { capture: true });

  bindControls();

  if (!slug) {
    fatal('unknown-meeting');
    return;
  }
  if (typeof RTCPeerConnection !== 'function' || typeof WebSocket !== 'function') {
    showError({ code: 'unsupported', title: t('error.unsupported.title'), message: t('error.unsupported'), home: true, fatal: true });
    return;
  }
  ui.media.addEventListener('ended', (e) => onDeviceLost(e.detail.kind));
  if (navigator.mediaDevices && 'ondevicechange' in navigator.mediaDevices) {
    navigator.mediaDevices.addEventListener('devicechange', () => refreshDevices());
  }

  ui.audioMuted = params.get('audio') === '0';
  ui.videoMuted = params.get('video') === '0';
  if (params.get('prejoin') === '0') {
    ui.name = cleanName(params.get('name')) || t('defaultName');
    quickJoin();
  } else {
    startPrejoin();
  }
}

async function quickJoin() {
  setView('loading');
  await acquireMedia();
  enterRoom();
}

// ------------------------------------------------------------------ pre-join

function startPrejoin() {
  setView('prejoin');
  const input = $('name');
  input.value = cleanName(params.get('name')) || loadName();
  updateMediaControls();
  (input.value ? $('join') : input).focus();
  const toggles = [$('prejoin-toggle-audio'), $('prejoin-toggle-video')];
  for (const b of toggles) b.disabled = true;
  ui.mediaReady = acquireMedia().finally(() => {
    for (const b of toggles) b.disabled = false;
  });
}

/** Open microphone (always, muted if asked) and camera (unless off), with fallbacks. */
async function acquireMedia() {
  const result = await ui.media.start({ audio: true, video: !ui.videoMuted });
  if (!ui.media.mic) ui.audioMuted = true;
  if (!ui.media.camera) ui.videoMuted = true;
  if (ui.media.mic) ui.media.mic.enabled = !ui.audioMuted;
  const problem = mediaProblem(result);
  if (problem) showError({ code: problem.code, message: problem.text });
  showLocalVideo();
  ui.activity.watchTrack(SELF, ui.media.mic);
  updateMediaControls();
  await refreshDevices();
}

async function onJoinSubmit(e) {
  e.preventDefault();
  const name = cleanName($('name').value);
  const error = $('name-error');
  if (!name) {
    error.textContent = t('prejoin.nameRequired');
    error.hidden = false;
    $('name').setAttribute('aria-invalid', 'true');
    $('name').focus();
    return;
  }
  error.hidden = true;
  $('name').removeAttribute('aria-invalid');
  ui.name = name;
  saveName(name);
  ui.activity.enable();
  const join = $('join');
  join.disabled = true;
  join.setAttribute('aria-busy', 'true');
  try {
    await ui.mediaReady;
  } finally {
    join.disabled = false;
    join.removeAttribute('aria-busy');
  }
  enterRoom();
}

function showMicLevel(level) {
  if (ui.view !== 'prejoin') return;
  // Speech RMS lives around 0.01–0.3; a square root spreads it over the bar.
  const v = ui.audioMuted || !ui.media.mic ? 0 : Math.min(1, Math.sqrt(level) * 2.2);
  $('mic-meter-bar').style.transform = `scaleX(${v.toFixed(3)})`;
}

// ------------------------------------------------------------------ devices

async function refreshDevices() {
  const devices = await ui.media.devices();
  fillSelect($('camera-select'), devices.videoinput, ui.media.camera, ui.media.cameraId, 'devices.camera', 'devices.noCamera');
  fillSelect($('mic-select'), devices.audioinput, ui.media.mic, ui.media.micId, 'devices.mic', 'devices.noMic');
  const speakers = speakerSelectionSupported() ? devices.audiooutput : [];
  $('speaker-field').hidden = speakers.length === 0;
  if (speakers.length) fillSelect($('speaker-select'), speakers, null, ui.media.speakerId, 'devices.speaker', 'devices.noSpeaker');
}

function fillSelect(select, list, track, savedId, labelKey, emptyKey) {
  const current = (track && track.getSettings && track.getSettings().deviceId) || savedId || '';
  select.replaceChildren();
  if (!list.length) {
    select.append(new Option(t(emptyKey), ''));
    select.disabled = true;
    return;
  }
  select.disabled = false;
  list.forEach((d, i) => {
    const label = d.label || t(labelKey, { n: i + 1 });
    select.append(new Option(label, d.deviceId, false, d.deviceId === current));
  });
}

async function onCameraSelected() {
  const id = $('camera-select').value;
  if (!id) return;
  ui.media.cameraId = id;
  if (ui.videoMuted) return; // used the next time the camera is turned on
  await withBusy('video', async () => {
    try {
      const track = await ui.media.startCamera(id);
      if (ui.connection) await ui.connection.replaceTrack('camera', track);
    } catch (err) {
      await cameraOff();
      showMediaError('camera', err);
    }
    showLocalVideo();
    updateMediaControls();
  });
}

async function onMicSelected() {
  const id = $('mic-select').value;
  if (!id) return;
  await withBusy('audio', async () => {
    try {
      const track = await ui.media.startMic(id);
      track.enabled = !ui.audioMuted;
      ui.activity.watchTrack(SELF, track);
      if (ui.connection) await ui.connection.replaceTrack('audio', track);
    } catch (err) {
      showMediaError('mic', err);
    }
    updateMediaControls();
  });
}

function onSpeakerSelected() {
  const id = $('speaker-select').value;
  ui.media.setSpeaker(id);
  if (ui.grid) ui.grid.setSinkId(id);
}

/** A device went away (unplugged, or taken by the system). */
async function onDeviceLost(kind) {
  if (kind === 'mic') {
    ui.audioMuted = true;
    ui.activity.unwatch(SELF);
    if (ui.connection) {
      ui.connection.setMuted({ audioMuted: true });
      await ui.connection.replaceTrack('audio', null);
    }
    showError({ code: 'media-mic-lost', message: t('media.micLost') });
  } else {
    await cameraOff();
    showError({ code: 'media-camera-lost', message: t('media.cameraLost') });
  }
  showLocalVideo();
  updateMediaControls();
  refreshDevices();
}

// ------------------------------------------------------------------ the room

/** Connect and publish; the room shows once salon said joined. */
async function enterRoom() {
  if (ui.view === 'prejoin') hideError();
  if (ui.view !== 'room') setView('loading', t('joining'));
  moveDeviceSettings($('settings-slot'));
  if (!ui.grid) {
    ui.grid = new Grid($('grid'), {
      t,
      onAudioBlocked: () => { $('audio-blocked').hidden = false; },
      onView: (views) => { if (ui.connection) ui.connection.setView(views); },
    });
    ui.grid.setSinkId(ui.media.speakerId);
  }
  $('toggle-screen').disabled = !screenShareSupported();
  if (!screenShareSupported()) $('toggle-screen').title = t('controls.screenUnsupported');
  if (ui.videoMuted) ui.media.stopCamera(); // camera light off when the camera is off
  renderSelf();
  showLocalVideo();
  updateMediaControls();
  updateCount();

  const conn = new SalonConnection({ slug, name: ui.name });
  ui.connection = conn;
  wireConnection(conn);
  conn.setMuted({ audioMuted: ui.audioMuted, videoMuted: ui.videoMuted });
  if (ui.media.mic) conn.publish(ui.media.mic, 'audio').catch(reportPublishError);
  if (ui.media.camera && !ui.videoMuted) conn.publish(ui.media.camera, 'camera').catch(reportPublishError);
  if (ui.screenTrack) conn.publish(ui.screenTrack, 'screen').catch(reportPublishError);
  try {
    await conn.join();
  } catch (err) {
    if (conn !== ui.connection) return;
    joinFailed(err);
  }
}

function wireConnection(conn) {
  const on = (type, fn) => conn.addEventListener(type, (e) => {
    if (conn === ui.connection) fn(e.detail);
  });
  on('state', setConnState);
  on('joined', ({ self, participants }) => {
    ui.selfId = self && self.id;
    if (ui.view !== 'room') setView('room');
    renderSelf();
    for (const p of participants) ui.grid.upsert(p);
    updateCount();
  });
  on('participant-joined', ({ participant }) => {
    ui.grid.upsert(participant);
    announce(t('announce.joined', { name: participant.name }));
    updateCount();
  });
  on('participant-updated', ({ participant, previous, self }) => {
    if (self || participant.id === ui.selfId) return; // one's own state is the page's
    ui.grid.upsert(participant);
    if (participant.screen && previous && !previous.screen) {
      announce(t('announce.presenting', { name: participant.name }));
    }
  });
  on('participant-left', ({ id, participant }) => {
    ui.grid.remove(id);
    ui.activity.unwatch(id);
    if (participant) announce(t('announce.left', { name: participant.name }));
    updateCount();
  });
  on('speakers', ({ speakers }) => ui.grid.setActiveSpeakers(speakers));
  on('paused', ({ tracks }) => ui.grid.setPaused(tracks));
  on('track', ({ participant, source, track, receiver }) => {
    if (participant === ui.selfId) return;
    ui.grid.setTrack(participant, source, track, receiver);
    if (source === 'audio') ui.activity.watchReceiver(participant, receiver);
  });
  on('track-removed', ({ participant, source, track }) => {
    ui.grid.removeTrack(participant, source, track);
    if (source === 'audio') ui.activity.unwatch(participant);
  });
  on('error', ({ code, message, fatal: isFatal, ref }) => {
    // Losing the connection for good is what the banner says already, and a
    // refused offer is sent again by itself.
    if (code === 'disconnected' || (code === 'rate-limited' && ref === 'offer')) return;
    showError({ code, message: errorText(code, message), retry: isFatal || code === 'replaced' ? restartConnection : null });
  });
}

function joinFailed(err) {
  switch (err.code) {
    case 'left':
      return;
    case 'unknown-meeting':
      stopEverything();
      fatal('unknown-meeting');
      return;
    case 'bad-name':
      if (params.get('prejoin') !== '0') {
        dropConnection();
        setView('prejoin');
        const error = $('name-error');
        error.textContent = t('error.code.bad-name');
        error.hidden = false;
        $('name').setAttribute('aria-invalid', 'true');
        $('name').focus();
        return;
      }
      break;
    default:
      break;
  }
  showError({
    code: err.code || 'error', title: t('error.joinFailed'), message: errorText(err.code, err.message),
    retry: restartConnection, home: true, fatal: ui.view !== 'room',
  });
}

/** Start over with a new connection, keeping one's devices (after a failure). */
function restartConnection() {
  hideError();
  dropConnection();
  enterRoom();
}

function dropConnection() {
  const old = ui.connection;
  ui.connection = null;
  ui.selfId = null;
  if (old) old.leave();
  if (ui.grid) {
    for (const id of ui.grid.ids()) {
      ui.grid.remove(id);
      ui.activity.unwatch(id);
    }
  }
  setConnState('disconnected');
}

async function leave() {
  const conn = ui.connection;
  ui.connection = null;
  ui.selfId = null;
  stopScreen();
  stopEverything();
  closeSettings();
  if (ui.grid) ui.grid.clear();
  hideError();
  $('audio-blocked').hidden = true;
  setConnState('disconnected');
  setView('left');
  $('rejoin').focus();
  if (conn) await conn.leave();
}

function stopEverything() {
  ui.media.stopAll();
  for (const key of [...ui.activity.watched.keys()]) ui.activity.unwatch(key);
}

async function rejoin() {
  setView('loading');
  await acquireMedia();
  enterRoom();
}

// ------------------------------------------------------------------ controls

function bindControls() {
  $('prejoin-form').addEventListener('submit', onJoinSubmit);
  $('name').addEventListener('input', () => {
    $('name-error').hidden = true;
    $('name').removeAttribute('aria-invalid');
  });
  $('prejoin-toggle-audio').addEventListener('click', toggleAudio);
  $('prejoin-toggle-video').addEventListener('click', toggleVideo);
  $('toggle-audio').addEventListener('click', toggleAudio);
  $('toggle-video').addEventListener('click', toggleVideo);
  $('toggle-screen').addEventListener('click', toggleScreen);
  $('leave').addEventListener('click', leave);
  $('rejoin').addEventListener('click', rejoin);
  $('reconnect').addEventListener('click', restartConnection);
  $('copy-link').addEventListener('click', copyLink);
  $('open-settings').addEventListener('click', openSettings);
  $('camera-select').addEventListener('change', onCameraSelected);
  $('mic-select').addEventListener('change', onMicSelected);
  $('speaker-select').addEventListener('change', onSpeakerSelected);
  $('error-dismiss').addEventListener('click', hideError);
  $('error-retry').addEventListener('click', () => {
    const retry = ui.errorRetry;
    hideError();
    if (retry) retry();
  });
  $('audio-unblock').addEventListener('click', () => {
    $('audio-blocked').hidden = true;
    if (ui.grid) ui.grid.resumeAudio();
  });
  document.addEventListener('keydown', onShortcut);
}

function onShortcut(e) {
  if (ui.view !== 'room' || !(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey) return;
  const key = e.key.toLowerCase();
  if (key === 'd') {
    e.preventDefault();
    toggleAudio();
  } else if (key === 'e') {
    e.preventDefault();
    toggleVideo();
  }
}

async function withBusy(what, fn) {
  if (ui.busy.has(what)) return;
  ui.busy.add(what);
  try {
    await fn();
  } finally {
    ui.busy.delete(what);
  }
}

function toggleAudio() {
  return withBusy('audio', async () => {
    if (ui.audioMuted && !ui.media.mic) {
      try {
        const track = await ui.media.startMic();
        ui.activity.watchTrack(SELF, track);
        track.enabled = false;
        if (ui.connection) await ui.connection.publish(track, 'audio');
      } catch (err) {
        showMediaError('mic', err);
        return;
      }
      refreshDevices();
    }
    ui.audioMuted = !ui.audioMuted;
    if (ui.media.mic) ui.media.mic.enabled = !ui.audioMuted;
    if (ui.connection) ui.connection.setMuted({ audioMuted: ui.audioMuted });
    renderSelf();
    updateMediaControls();
  });
}

function toggleVideo() {
  return withBusy('video', async () => {
    if (ui.videoMuted) {
      let track;
      try {
        track = await ui.media.startCamera();
      } catch (err) {
        showMediaError('camera', err);
        return;
      }
      ui.videoMuted = false;
      if (ui.connection) {
        await ui.connection.replaceTrack('camera', track).catch(reportPublishError);
        ui.connection.setMuted({ videoMuted: false });
      }
      refreshDevices();
    } else {
      await cameraOff();
    }
    renderSelf();
    showLocalVideo();
    updateMediaControls();
  });
}

/** Turn the camera off: nothing is sent, the camera light goes out. */
async function cameraOff() {
  ui.videoMuted = true;
  if (ui.connection) {
    ui.connection.setMuted({ videoMuted: true });
    await ui.connection.replaceTrack('camera', null).catch(() => {});
  }
  ui.media.stopCamera();
  renderSelf();
}

async function toggleScreen() {
  if (ui.screenTrack) {
    stopScreen();
    return;
  }
  if (ui.busy.has('screen')) return;
  ui.busy.add('screen');
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
  } catch (err) {
    ui.busy.delete('screen');
    // The user closed the picker: nothing to say.
    if (err && (err.name === 'NotAllowedError' || err.name === 'AbortError')) return;
    showError({ code: 'screen-failed', message: t('media.screenFailed') });
    return;
  }
  ui.busy.delete('screen');
  const track = stream.getVideoTracks()[0];
  if (!track) return;
  if ('contentHint' in track) track.contentHint = 'detail';
  // The browser's own "Stop sharing" button ends the track.
  track.addEventListener('ended', () => { if (ui.screenTrack === track) stopScreen(); });
  ui.screenTrack = track;
  ui.grid.setLocalTrack('screen', track);
  renderSelf();
  updateMediaControls();
  if (ui.connection) ui.connection.publish(track, 'screen').catch(reportPublishError);
}

function stopScreen() {
  const track = ui.screenTrack;
  if (!track) return;
  ui.screenTrack = null;
  track.stop();
  if (ui.grid) ui.grid.setLocalTrack('screen', null);
  if (ui.connection) ui.connection.unpublish('screen').catch(() => {});
  renderSelf();
  updateMediaControls();
}

async function copyLink() {
  const link = `${location.origin}/m/${encodeURIComponent(slug)}`;
  try {
    await navigator.clipboard.writeText(link);
    toast(t('toast.linkCopied'));
  } catch {
    toast(t('toast.linkIs', { link }));
  }
}

function openSettings() {
  refreshDevices();
  const dialog = $('settings-dialog');
  if (typeof dialog.showModal === 'function') dialog.showModal();
  else dialog.setAttribute('open', '');
}

function closeSettings() {
  const dialog = $('settings-dialog');
  if (!dialog.open) return;
  if (typeof dialog.close === 'function') dialog.close();
  else dialog.removeAttribute('open');
}

// ------------------------------------------------------------------ rendering

function setView(view, loadingText = t('loading')) {
  ui.view = view;
  document.body.dataset.view = view;
  for (const id of ['loading', 'prejoin', 'room', 'left']) $(id).hidden = id !== view;
  if (view === 'prejoin') moveDeviceSettings($('device-settings-home'));
  if (view === 'loading') $('loading-text').textContent = loadingText;
}

function moveDeviceSettings(slot) {
  const panel = $('device-settings');
  if (panel.parentElement !== slot) slot.append(panel);
}

function renderSelf() {
  if (!ui.grid) return;
  ui.grid.setSelf({
    id: ui.selfId, name: ui.name, audioMuted: ui.audioMuted, videoMuted: ui.videoMuted, screen: !!ui.screenTrack,
  });
}

function showLocalVideo() {
  const camera = ui.videoMuted ? null : ui.media.camera;
  const preview = $('preview');
  if (camera) {
    if (!preview.srcObject || preview.srcObject.getVideoTracks()[0] !== camera) {
      preview.srcObject = new MediaStream([camera]);
      preview.play().catch(() => {});
    }
  } else {
    preview.srcObject = null;
  }
  $('preview-box').dataset.video = camera ? 'on' : 'off';
  if (ui.grid) ui.grid.setLocalTrack('camera', camera);
}

function updateMediaControls() {
  const audioOff = ui.audioMuted;
  const videoOff = ui.videoMuted;
  for (const id of ['toggle-audio', 'prejoin-toggle-audio']) {
    const b = $(id);
    b.setAttribute('aria-pressed', String(audioOff));
    b.title = t(audioOff ? 'controls.unmute' : 'controls.mute') + (id === 'toggle-audio' ? ` (${shortcut('D')})` : '');
  }
  for (const id of ['toggle-video', 'prejoin-toggle-video']) {
    const b = $(id);
    b.setAttribute('aria-pressed', String(videoOff));
    b.title = t(videoOff ? 'controls.cameraOn' : 'controls.cameraOff') + (id === 'toggle-video' ? ` (${shortcut('E')})` : '');
  }
  const screen = $('toggle-screen');
  screen.setAttribute('aria-pressed', String(!!ui.screenTrack));
  if (screenShareSupported()) screen.title = t(ui.screenTrack ? 'controls.stopScreen' : 'controls.screen');
}

function shortcut(letter) {
  return /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent) ? `⌘${letter}` : `Ctrl+${letter}`;
}

function updateCount() {
  const n = 1 + (ui.grid ? ui.grid.ids().length : 0);
  $('participant-count-value').textContent = String(n);
  $('participant-count').setAttribute('aria-label', t('room.count', { n }));
}

function setConnState(state) {
  ui.state = state;
  const el = $('connection-state');
  el.dataset.state = state;
  $('connection-message').textContent = t(`state.${state}`);
  $('reconnect').hidden = !(state === 'disconnected' || state === 'failed');
}

function showError({ code = 'error', title = '', message, retry = null, home = false, fatal: isFatal = false }) {
  const el = $('error');
  el.dataset.code = code;
  $('error-title').textContent = title;
  $('error-title').hidden = !title;
  $('error-message').textContent = message || t('error.generic');
  ui.errorRetry = retry;
  $('error-retry').hidden = !retry;
  $('error-home').hidden = !home;
  $('error-dismiss').hidden = isFatal;
  el.hidden = false;
  if (isFatal) {
    setView('error');
    (retry ? $('error-retry') : $('error-home')).focus();
  }
}

function hideError() {
  const el = $('error');
  el.hidden = true;
  delete el.dataset.code;
  ui.errorRetry = null;
}

function fatal(code) {
  showError({
    code, title: t(`error.${code}.title`), message: t(`error.code.${code}`), home: true, fatal: true,
  });
}

function toast(text) {
  const el = $('toast');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(ui.toastTimer);
  ui.toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

function announce(text) {
  const el = $('announcer');
  el.textContent = '';
  // A fresh text node makes screen readers speak even a repeated message.
  setTimeout(() => { el.textContent = text; }, 50);
}

// ------------------------------------------------------------------ words

/** What went wrong with the devices, as {code, text}, or null. */
function mediaProblem({ audioError, videoError }) {
  if (!audioError && !videoError) return null;
  if (audioError && videoError) {
    const a = mediaErrorReason(audioError);
    const v = mediaErrorReason(videoError);
    const reason = a === v ? a : (a === 'denied' || v === 'denied' ? 'denied' : 'failed');
    return { code: `media-${reason}`, text: `${t(`media.both.${reason}`)} ${t('media.watchOnly')}` };
  }
  if (videoError) {
    const reason = mediaErrorReason(videoError);
    return { code: `media-${reason}`, text: `${t(`media.camera.${reason}`)} ${t('media.audioOnly')}` };
  }
  const reason = mediaErrorReason(audioError);
  return { code: `media-${reason}`, text: `${t(`media.mic.${reason}`)} ${t('media.videoOnly')}` };
}

function showMediaError(kind, err) {
  const reason = mediaErrorReason(err);
  showError({ code: `media-${reason}`, message: t(`media.${kind}.${reason}`) });
}

function reportPublishError(err) {
  showError({ code: 'publish-failed', message: errorText('publish-failed', err && err.message) });
}

function errorText(code, fallback) {
  const key = `error.code.${code}`;
  if (code && has(key)) return t(key);
  return fallback || t('error.generic');
}

// ------------------------------------------------------------------ helpers

function meetingSlug(pathname) {
  const parts = pathname.split('/').filter(Boolean);
  if (!parts.length) return '';
  try { return decodeURIComponent(parts[parts.length - 1]); } catch { return parts[parts.length - 1]; }
}

function cleanName(s) {
  return Array.from(String(s || '').trim()).slice(0, 64).join('');
}

function loadName() {
  try { return localStorage.getItem(NAME_KEY) || ''; } catch { return ''; }
}

function saveName(name) {
  try { localStorage.setItem(NAME_KEY, name); } catch { /* storage disabled */ }
}

main();
