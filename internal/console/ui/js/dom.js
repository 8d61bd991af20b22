// Small DOM helpers. Every piece of cluster data reaches the page as text
// (textContent), never as HTML.

// h builds an element: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// replace empties el and fills it with children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// table builds a table from columns [{title, cell(row) → node|text, cls}]
// and rows; rowAttrs(row) gives each <tr>'s attributes.
export function table(columns, rows, {rowAttrs, empty = 'Nothing here.', id, cls} = {}) {
  const head = h('tr', null, columns.map(c => h('th', {class: c.cls, title: c.help}, c.title)));
  const body = rows.map(r => h('tr', rowAttrs ? rowAttrs(r) : null,
    columns.map(c => h('td', {class: c.cls}, c.cell(r)))));
  if (rows.length === 0) {
    body.push(h('tr', null, h('td', {colspan: columns.length, class: 'muted'}, empty)));
  }
  return h('table', {id, class: cls || 'grid'}, h('thead', null, head), h('tbody', null, body));
}

export function card(title, ...children) {
  return h('section', {class: 'card'}, title ? h('h2', null, title) : null, children);
}

export function field(label, input, hint) {
  return h('label', {class: 'field'}, h('span', null, label), input, hint ? h('small', {class: 'muted'}, hint) : null);
}

export function badge(text, kind) {
  return h('span', {class: 'badge ' + (kind || '')}, text);
}

export function fmtNum(n) {
  if (n === undefined || n === null || n < 0) return '–';
  return Number(n).toLocaleString('en-US');
}

export function fmtBytes(n) {
  if (n === undefined || n === null || n < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : 1)) + ' ' + units[i];
}

export function fmtRate(n) {
  if (n === undefined || n === null) return '–';
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(n >= 10 ? 1 : 2);
}

export function fmtTime(ms) {
  if (ms === undefined || ms === null || ms < 0) return '–';
  const d = new Date(ms);
  const pad = (x, n = 2) => String(x).padStart(n, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function fmtAgo(ms, now) {
  if (ms === undefined || ms === null || ms < 0) return '–';
  const s = Math.max(0, ((now || Date.now()) - ms) / 1000);
  if (s < 1) return 'just now';
  if (s < 120) return Math.round(s) + 's ago';
  if (s < 7200) return Math.round(s / 60) + 'm ago';
  return Math.round(s / 3600) + 'h ago';
}

// message shows a one-line outcome in el: kind is 'ok' or 'error'.
export function message(el, text, kind) {
  replace(el, text ? h('span', {class: 'msg ' + (kind || '')}, text) : null);
}

// poller calls fn now and then every ms until stop(); a slow fn never
// overlaps itself.
export function poller(fn, ms) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    try { await fn(); } catch (e) { /* the page shows its own errors */ }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}
