// Topics: the list with live produce rates, and the create form.

import {h, replace, table, card, field, badge, fmtNum, fmtBytes, fmtRate, message, poller} from '../dom.js';
import {get, post, enc} from '../api.js';
import {lineChart, sparkline} from '../chart.js';
import {throughput, pollOffsets} from '../live.js';

// parseConfigs reads "key=value" lines.
export function parseConfigs(text) {
  const out = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf('=');
    if (i <= 0) throw new Error(`config line "${line}": want key=value`);
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

export async function render(root) {
  const filter = h('input', {type: 'search', placeholder: 'Filter topics', id: 'topic-filter'});
  const internal = h('input', {type: 'checkbox', id: 'show-internal'});
  const list = h('div', {id: 'topics-list'});
  const chart = h('div');
  const err = h('p', {class: 'error'});

  const name = h('input', {id: 'create-name', required: true, placeholder: 'orders', autocomplete: 'off'});
  const partitions = h('input', {id: 'create-partitions', type: 'number', min: 1, placeholder: 'default'});
  const rf = h('input', {id: 'create-rf', type: 'number', min: 1, placeholder: 'default'});
  const configs = h('textarea', {id: 'create-configs', rows: 2, placeholder: 'retention.ms=86400000\ncleanup.policy=compact'});
  const result = h('div', {id: 'create-result'});
  const submit = h('button', {id: 'create-submit', type: 'submit'}, 'Create topic');
  const form = h('form', {class: 'inline-form', onsubmit: async e => {
    e.preventDefault();
    submit.disabled = true;
    try {
      const body = {name: name.value.trim(), configs: parseConfigs(configs.value)};
      if (partitions.value) body.partitions = Number(partitions.value);
      if (rf.value) body.replication_factor = Number(rf.value);
      const r = await post('topics', body);
      message(result, `Created ${r.name} with ${r.partitions} partitions, replication factor ${r.replication_factor}.`, 'ok');
      name.value = '';
      await refresh();
    } catch (e2) {
      message(result, e2.message, 'error');
    } finally {
      submit.disabled = false;
    }
  }},
  field('Name', name), field('Partitions', partitions), field('Replication factor', rf),
  field('Configs', configs, 'key=value, one per line'), h('div', {class: 'actions'}, submit), result);

  replace(root,
    h('h1', null, 'Topics'),
    card('Create a topic', form),
    card('Produce throughput of the busiest topics (records/s)', chart),
    h('div', {class: 'toolbar'}, filter, h('label', {class: 'check'}, internal, ' internal topics')),
    err, list);

  let topics = [];
  const draw = () => {
    const shown = topics.filter(t => t.name.includes(filter.value.trim()));
    replace(list, table([
      {title: 'Topic', cell: t => h('a', {href: '#/topics/' + enc(t.name)}, t.name, t.internal ? badge('internal') : '')},
      {title: 'Partitions', cls: 'num', cell: t => String(t.partitions)},
      {title: 'Replicas', cls: 'num', cell: t => String(t.replication_factor)},
      {title: 'Records', cls: 'num', help: 'sum of high watermark − log start offset', cell: t => fmtNum(t.end_offsets - t.start_offsets)},
      {title: 'Size', cls: 'num', help: 'on disk, all replicas', cell: t => fmtBytes(t.size_bytes)},
      {title: 'Under-replicated', cls: 'num', cell: t => t.under_replicated_partitions ? badge(String(t.under_replicated_partitions), 'warn') : '0'},
      {title: 'Offline', cls: 'num', cell: t => t.offline_partitions ? badge(String(t.offline_partitions), 'bad') : '0'},
      {title: 'Records/s', cls: 'num', cell: t => fmtRate(throughput.latest(t.name))},
      {title: 'Trend', cell: t => sparkline(throughput.series.get(t.name))},
    ], shown, {id: 'topics-table', rowAttrs: t => ({'data-topic': t.name}), empty: 'No topics.'}));
    const busiest = topics.map(t => ({name: t.name, points: throughput.series.get(t.name)}))
      .filter(s => s.points.length)
      .sort((a, b) => (b.points.at(-1)[1] - a.points.at(-1)[1]) || a.name.localeCompare(b.name))
      .slice(0, 6);
    replace(chart, lineChart({series: busiest, fmt: fmtRate, unit: 'records/s'}));
  };
  const refresh = async () => {
    try {
      topics = await get('topics' + (internal.checked ? '?internal=true' : ''));
      replace(err);
    } catch (e) {
      replace(err, e.message);
    }
    draw();
  };
  filter.addEventListener('input', draw);
  internal.addEventListener('change', refresh);
  const stopList = poller(refresh, 10000);
  const stopRates = poller(async () => { await pollOffsets(); draw(); }, 2000);
  return () => { stopList(); stopRates(); };
}
