// Line icons for the room UI, drawn as SVG nodes (no markup strings, so the
// strict CSP holds). 24×24 grid, stroked with currentColor.

const SVG = 'http://www.w3.org/2000/svg';

// Each icon is a list of [element, attributes].
const ICONS = {
  mic: [
    ['rect', { x: 9, y: 3, width: 6, height: 11, rx: 3 }],
    ['path', { d: 'M5.5 11a6.5 6.5 0 0 0 13 0' }],
    ['path', { d: 'M12 17.5V21M8.5 21h7' }],
  ],
  'mic-off': [
    ['path', { d: 'M15 10.5V6a3 3 0 0 0-5.7-1.3' }],
    ['path', { d: 'M9 9v2a3 3 0 0 0 4.8 2.4' }],
    ['path', { d: 'M5.5 11a6.5 6.5 0 0 0 10.6 5' }],
    ['path', { d: 'M18.4 12.5a6.5 6.5 0 0 0 .1-1.5' }],
    ['path', { d: 'M12 17.5V21M8.5 21h7' }],
    ['path', { d: 'M3.5 3.5l17 17' }],
  ],
  camera: [
    ['rect', { x: 2.5, y: 6, width: 13, height: 12, rx: 2.5 }],
    ['path', { d: 'M15.5 10.5l6-3.5v10l-6-3.5z' }],
  ],
  'camera-off': [
    ['path', { d: 'M10 6h3a2.5 2.5 0 0 1 2.5 2.5v3' }],
    ['path', { d: 'M15.5 15.5a2.5 2.5 0 0 1-2.5 2.5H5a2.5 2.5 0 0 1-2.5-2.5v-7A2.5 2.5 0 0 1 5 6' }],
    ['path', { d: 'M15.5 10.5l6-3.5v10l-4-2.3' }],
    ['path', { d: 'M3.5 3.5l17 17' }],
  ],
  screen: [
    ['rect', { x: 2.5, y: 4, width: 19, height: 13, rx: 2 }],
    ['path', { d: 'M8 21h8M12 17v4' }],
    ['path', { d: 'M12 13.5V8M9.5 10.5L12 8l2.5 2.5' }],
  ],
  'screen-off': [
    ['rect', { x: 2.5, y: 4, width: 19, height: 13, rx: 2 }],
    ['path', { d: 'M8 21h8M12 17v4' }],
    ['path', { d: 'M9.5 8l5 5M14.5 8l-5 5' }],
  ],
  leave: [
    ['path', { d: 'M14 4h3.5A2.5 2.5 0 0 1 20 6.5v11a2.5 2.5 0 0 1-2.5 2.5H14' }],
    ['path', { d: 'M9.5 16.5L5 12l4.5-4.5' }],
    ['path', { d: 'M5 12h10' }],
  ],
  settings: [
    ['path', { d: 'M4 6.5h9M17 6.5h3M4 12h3M11 12h9M4 17.5h11M19 17.5h1' }],
    ['circle', { cx: 15, cy: 6.5, r: 2 }],
    ['circle', { cx: 9, cy: 12, r: 2 }],
    ['circle', { cx: 17, cy: 17.5, r: 2 }],
  ],
  link: [
    ['path', { d: 'M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1.2 1.2' }],
    ['path', { d: 'M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1.2-1.2' }],
  ],
  people: [
    ['circle', { cx: 9, cy: 8, r: 3.5 }],
    ['path', { d: 'M2.5 20a6.5 6.5 0 0 1 13 0' }],
    ['path', { d: 'M16 4.8a3.5 3.5 0 0 1 0 6.4M18 14.2A6.5 6.5 0 0 1 21.5 20' }],
  ],
  expand: [
    ['path', { d: 'M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5' }],
  ],
  close: [
    ['path', { d: 'M6 6l12 12M18 6L6 18' }],
  ],
  speaker: [
    ['path', { d: 'M4 9.5h3.5L12 5.5v13l-4.5-4H4z' }],
    ['path', { d: 'M15.5 9a4 4 0 0 1 0 6M18 6.5a7.5 7.5 0 0 1 0 11' }],
  ],
  warning: [
    ['path', { d: 'M12 3.5L2.5 20h19z' }],
    ['path', { d: 'M12 10v4.5M12 17.2v.1' }],
  ],
};

/** An <svg> element for `name`, hidden from assistive technology. */
export function icon(name, className = 'icon') {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', '1.8');
  svg.setAttribute('stroke-linecap', 'round');
  svg.setAttribute('stroke-linejoin', 'round');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', className);
  for (const [tag, attrs] of ICONS[name] || []) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    svg.append(el);
  }
  return svg;
}

/** Fill every `<span data-icon="name">` under root with its icon. */
export function fillIcons(root) {
  for (const el of root.querySelectorAll('[data-icon]')) {
    if (el.firstElementChild) continue;
    el.append(icon(el.dataset.icon));
  }
}
