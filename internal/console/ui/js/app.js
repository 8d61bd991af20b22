// The console's router: #/ (overview), #/topics, #/topics/NAME[/TAB],
// #/groups, #/groups/NAME. Each page's render(root, params) returns a
// function that stops its timers when the page is left.

import {h, replace} from './dom.js';
import * as overview from './pages/overview.js';
import * as topics from './pages/topics.js';
import * as topic from './pages/topic.js';
import * as groups from './pages/groups.js';
import * as group from './pages/group.js';

const root = document.getElementById('app');
let stop = null;

function parse(hash) {
  const path = hash.replace(/^#\/?/, '');
  const [p, query = ''] = path.split('?');
  const segs = p.split('/').filter(Boolean).map(decodeURIComponent);
  const q = Object.fromEntries(new URLSearchParams(query));
  if (segs.length === 0) return {page: overview, nav: 'overview', params: {q}};
  if (segs[0] === 'topics' && segs.length === 1) return {page: topics, nav: 'topics', params: {q}};
  if (segs[0] === 'topics' && segs.length <= 3) return {page: topic, nav: 'topics', params: {topic: segs[1], tab: segs[2] || 'partitions', q}};
  if (segs[0] === 'groups' && segs.length === 1) return {page: groups, nav: 'groups', params: {q}};
  if (segs[0] === 'groups' && segs.length === 2) return {page: group, nav: 'groups', params: {group: segs[1], q}};
  return null;
}

async function route() {
  if (stop) { stop(); stop = null; }
  const r = parse(location.hash);
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', r !== null && a.dataset.nav === r.nav);
  }
  if (r === null) {
    replace(root, h('p', {class: 'error'}, 'No such page: ' + location.hash));
    return;
  }
  replace(root);
  try {
    stop = await r.page.render(root, r.params) || null;
  } catch (e) {
    replace(root, h('p', {class: 'error'}, e.message));
  }
}

window.addEventListener('hashchange', route);
route();
