// The landing page: paste a meeting link (or type a meeting's name) and go.

import { t, translateDocument } from './i18n.js';

const SLUG = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$/;

/** Where a pasted link or a typed name leads, or null when it is neither. */
export function meetingTarget(input, here = location) {
  const s = String(input || '').trim();
  if (!s) return null;
  if (/^https?:\/\//i.test(s)) {
    let url;
    try { url = new URL(s); } catch { return null; }
    if (!/\/m\/[^/]+\/?$/.test(url.pathname)) return null;
    return url.origin === here.origin ? url.pathname + url.search : url.href;
  }
  const inPath = s.match(/(?:^|\/)m\/([^/?#]+)\/?(\?[^#]*)?$/);
  if (inPath) return `/m/${inPath[1]}${inPath[2] || ''}`;
  if (SLUG.test(s)) return `/m/${encodeURIComponent(s)}`;
  return null;
}

function main() {
  document.documentElement.lang = t('lang');
  translateDocument(document);
  const form = document.getElementById('go-form');
  const input = document.getElementById('meeting-link');
  const error = document.getElementById('go-error');
  const lang = new URLSearchParams(location.search).get('lang');

  input.addEventListener('input', () => {
    error.hidden = true;
    input.removeAttribute('aria-invalid');
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const target = meetingTarget(input.value);
    if (!target) {
      error.textContent = t(input.value.trim() ? 'home.badLink' : 'home.empty');
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    let dest = target;
    // Keep a chosen language when staying on this server.
    if (lang && dest.startsWith('/') && !/[?&]lang=/.test(dest)) {
      dest += `${dest.includes('?') ? '&' : '?'}lang=${encodeURIComponent(lang)}`;
    }
    location.assign(dest);
  });
  input.focus();
}

main();
