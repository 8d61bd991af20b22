// Live charts: inline SVG line charts of series the browser keeps (the
// server keeps none), and the series store they are drawn from.

const NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

function s(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// Series keeps named time series of [timeMs, value] points, at most
// `keep` points each.
export class Series {
  constructor(keep = 90) {
    this.keep = keep;
    this.map = new Map();
  }
  add(name, t, v) {
    let pts = this.map.get(name);
    if (!pts) { pts = []; this.map.set(name, pts); }
    pts.push([t, v]);
    if (pts.length > this.keep) pts.splice(0, pts.length - this.keep);
  }
  get(name) { return this.map.get(name) || []; }
  names() { return [...this.map.keys()]; }
}

// Rates turns cumulative counters (summed high watermarks) polled over
// time into per-second rates, per name.
export class Rates {
  constructor(keep = 90) {
    this.last = new Map();
    this.series = new Series(keep);
  }
  // observe records counter value v of name at time t (ms) and returns
  // the rate since the previous sample (undefined for the first, which
  // only primes the counter).
  observe(name, t, v) {
    const prev = this.last.get(name);
    this.last.set(name, [t, v]);
    if (!prev || t <= prev[0]) return undefined;
    const rate = Math.max(0, v - prev[1]) / ((t - prev[0]) / 1000);
    this.series.add(name, t, rate);
    return rate;
  }
  latest(name) {
    const pts = this.series.get(name);
    return pts.length ? pts[pts.length - 1][1] : undefined;
  }
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (v <= m * p) return m * p;
  }
  return 10 * p;
}

// lineChart draws series [{name, points: [[t, v]...]}] with the y axis
// from 0. The time axis spans the samples there are, from 30s up to
// maxWindowMs. fmt formats y labels. The svg's data-points attribute is
// the longest series' number of points shown.
export function lineChart({series, maxWindowMs = 180000, height = 200, width = 1200, fmt = String, unit = '', id}) {
  const pad = {l: 56, r: 12, t: 10, b: 22};
  const svg = s('svg', {viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img'});
  if (id) svg.setAttribute('id', id);
  const now = Date.now();
  let first = now;
  for (const se of series) if (se.points.length) first = Math.min(first, se.points[0][0]);
  const windowMs = Math.min(maxWindowMs, Math.max(30000, Math.ceil((now - first) / 10000) * 10000));
  const t0 = now - windowMs;
  let maxV = 0;
  let shown = 0;
  for (const se of series) {
    const pts = se.points.filter(([t]) => t >= t0);
    shown = Math.max(shown, pts.length);
    for (const [, v] of pts) maxV = Math.max(maxV, v);
  }
  svg.setAttribute('data-points', String(shown));
  const yMax = niceMax(maxV);
  const W = width - pad.l - pad.r;
  const H = height - pad.t - pad.b;
  const x = t => pad.l + ((t - t0) / windowMs) * W;
  const y = v => pad.t + H - (v / yMax) * H;
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    svg.appendChild(s('line', {x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), class: 'gridline'}));
    svg.appendChild(s('text', {x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis'}, fmt(v)));
  }
  svg.appendChild(s('text', {x: pad.l, y: height - 6, class: 'axis'}, `-${Math.round(windowMs / 1000)}s`));
  svg.appendChild(s('text', {x: width - pad.r, y: height - 6, 'text-anchor': 'end', class: 'axis'}, 'now'));
  if (unit) svg.appendChild(s('text', {x: pad.l + W / 2, y: height - 6, 'text-anchor': 'middle', class: 'axis'}, unit));
  series.forEach((se, i) => {
    const pts = se.points.filter(([t]) => t >= t0);
    if (pts.length === 0) return;
    const color = se.color || COLORS[i % COLORS.length];
    if (pts.length === 1) {
      svg.appendChild(s('circle', {cx: x(pts[0][0]), cy: y(pts[0][1]), r: 4, fill: color}));
      return;
    }
    const d = pts.map(([t, v], j) => `${j ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    svg.appendChild(s('path', {d, fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-linejoin': 'round'}));
  });
  const wrap = document.createElement('div');
  wrap.className = 'chart-wrap';
  wrap.appendChild(svg);
  const legend = document.createElement('div');
  legend.className = 'legend';
  series.forEach((se, i) => {
    const item = document.createElement('span');
    const sw = document.createElement('i');
    sw.style.background = se.color || COLORS[i % COLORS.length];
    item.appendChild(sw);
    const last = se.points.length ? se.points[se.points.length - 1][1] : undefined;
    item.appendChild(document.createTextNode(se.name + (last !== undefined ? ' · ' + fmt(last) : '')));
    legend.appendChild(item);
  });
  if (series.length === 0) {
    legend.appendChild(document.createTextNode('Collecting samples…'));
  }
  wrap.appendChild(legend);
  return wrap;
}

// sparkline is a tiny chart of one series, for table cells.
export function sparkline(points, {width = 90, height = 22} = {}) {
  const svg = s('svg', {viewBox: `0 0 ${width} ${height}`, class: 'spark', width, height});
  if (points.length < 2) return svg;
  const t0 = points[0][0];
  const t1 = points[points.length - 1][0];
  const maxV = Math.max(1, ...points.map(p => p[1]));
  const x = t => ((t - t0) / Math.max(1, t1 - t0)) * (width - 2) + 1;
  const y = v => height - 1 - (v / maxV) * (height - 2);
  const d = points.map(([t, v], j) => `${j ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  svg.appendChild(s('path', {d, fill: 'none', stroke: '#2563eb', 'stroke-width': 1.5}));
  return svg;
}
