// One topic: partitions (with add partitions and delete), configs (edit,
// reset to default) and the message browser with a test producer.

import {h, replace, table, card, field, badge, fmtNum, fmtBytes, fmtRate, fmtTime, message, poller} from '../dom.js';
import {get, post, patch, del, enc} from '../api.js';
import {lineChart} from '../chart.js';
import {throughput, pollOffsets} from '../live.js';
import {show} from '../codec.js';

export async function render(root, {topic, tab, q}) {
  const tabs = [['partitions', 'Partitions'], ['configs', 'Configs'], ['messages', 'Messages']];
  if (!tabs.some(([t]) => t === tab)) throw new Error('No such tab: ' + tab);
  const body = h('div');
  const err = h('p', {class: 'error'});
  replace(root,
    h('p', {class: 'crumbs'}, h('a', {href: '#/topics'}, 'Topics'), ' / '),
    h('h1', {id: 'topic-name'}, topic),
    h('nav', {class: 'tabs'}, tabs.map(([t, label]) =>
      h('a', {href: `#/topics/${enc(topic)}/${t}`, class: t === tab ? 'active' : '', id: 'tab-' + t}, label))),
    err, body);
  const d = await get('topics/' + enc(topic));
  if (tab === 'partitions') return partitionsTab(body, d, err);
  if (tab === 'configs') return configsTab(body, d);
  return messagesTab(body, d, q);
}

function partitionsTab(body, d, err) {
  const parts = h('div');
  const chart = h('div');
  const addCount = h('input', {id: 'add-partitions-count', type: 'number', min: d.partitions.length + 1, value: d.partitions.length + 1});
  const addResult = h('div', {id: 'add-partitions-result'});
  const confirmName = h('input', {id: 'delete-confirm', placeholder: 'type the topic name to confirm', autocomplete: 'off'});
  const deleteResult = h('div', {id: 'delete-result'});
  const deleteBtn = h('button', {class: 'danger', id: 'delete-submit', disabled: true}, 'Delete topic');
  confirmName.addEventListener('input', () => { deleteBtn.disabled = confirmName.value !== d.name; });

  const title = h('h2');
  const draw = detail => {
    replace(title, `${detail.partitions.length} partitions` + (detail.internal ? ' (internal topic)' : ''));
    replace(parts, table([
      {title: 'Partition', cls: 'num', cell: p => String(p.partition)},
      {title: 'Leader', cls: 'num', cell: p => p.leader >= 0 ? String(p.leader) : badge('none', 'bad')},
      {title: 'Epoch', cls: 'num', cell: p => String(p.leader_epoch)},
      {title: 'Replicas', cell: p => p.replicas.join(', ')},
      {title: 'ISR', cell: p => p.isr.length < p.replicas.length ? badge(p.isr.join(', ') || 'empty', 'warn') : p.isr.join(', ')},
      {title: 'Offline', cell: p => p.offline_replicas.length ? badge(p.offline_replicas.join(', '), 'bad') : '–'},
      {title: 'Log start', cls: 'num', cell: p => fmtNum(p.log_start_offset)},
      {title: 'High watermark', cls: 'num', cell: p => fmtNum(p.high_watermark)},
      {title: 'Records', cls: 'num', cell: p => p.high_watermark >= 0 && p.log_start_offset >= 0 ? fmtNum(p.high_watermark - p.log_start_offset) : '–'},
      {title: 'Size', cls: 'num', help: "leader replica's size on disk", cell: p => fmtBytes(p.size_bytes)},
      {title: '', cell: p => h('a', {href: `#/topics/${enc(d.name)}/messages?partition=${p.partition}&from=latest`}, 'messages')},
    ], detail.partitions, {id: 'partitions-table'}));
  };
  draw(d);
  const drawChart = () => replace(chart, lineChart({series: [{name: d.name, points: throughput.series.get(d.name)}], fmt: fmtRate, unit: 'records/s'}));

  replace(body,
    card('Produce throughput (records/s)', chart),
    h('section', {class: 'card'}, title, h('p', {class: 'muted'}, 'Topic ID ', h('code', null, d.id)), parts),
    h('div', {class: 'cols'},
      card('Add partitions',
        h('form', {class: 'inline-form', onsubmit: async e => {
          e.preventDefault();
          try {
            const r = await post(`topics/${enc(d.name)}/partitions`, {count: Number(addCount.value)});
            message(addResult, `The topic now has ${r.partitions} partitions.`, 'ok');
            draw(await get('topics/' + enc(d.name)));
          } catch (e2) {
            message(addResult, e2.message, 'error');
          }
        }}, field('New total', addCount), h('div', {class: 'actions'}, h('button', {type: 'submit', id: 'add-partitions-submit'}, 'Add partitions')), addResult),
        h('p', {class: 'muted'}, 'Partitions can be added, never removed; keyed records may map to other partitions afterwards.')),
      card('Delete topic',
        h('form', {class: 'inline-form', onsubmit: async e => {
          e.preventDefault();
          try {
            await del('topics/' + enc(d.name));
            location.hash = '#/topics';
          } catch (e2) {
            message(deleteResult, e2.message, 'error');
          }
        }}, field('Confirm', confirmName), h('div', {class: 'actions'}, deleteBtn), deleteResult))));

  const stopDetail = poller(async () => {
    try {
      draw(await get('topics/' + enc(d.name)));
      replace(err);
    } catch (e) {
      replace(err, e.message);
    }
  }, 5000);
  const stopRates = poller(async () => { await pollOffsets(); drawChart(); }, 2000);
  return () => { stopDetail(); stopRates(); };
}

function configsTab(body, d) {
  const result = h('div', {id: 'config-result'});
  const list = h('div');
  const draw = configs => {
    replace(list, table([
      {title: 'Config', cell: c => h('code', null, c.name)},
      {title: 'Value', cell: c => {
        if (c.sensitive) return h('span', {class: 'muted'}, '(sensitive)');
        const input = h('input', {value: c.value ?? '', class: 'config-value', 'data-config': c.name});
        const save = h('button', {class: 'small', hidden: true, onclick: () => apply({set: {[c.name]: input.value}})}, 'Save');
        input.addEventListener('input', () => { save.hidden = input.value === (c.value ?? ''); });
        input.addEventListener('keydown', e => { if (e.key === 'Enter' && !save.hidden) save.click(); });
        return h('span', {class: 'config-edit'}, input, save);
      }},
      {title: 'Source', cell: c => c.source === 'DYNAMIC_TOPIC_CONFIG' ? badge('topic override', 'info') : h('span', {class: 'muted'}, c.source.toLowerCase().replaceAll('_', ' '))},
      {title: '', cell: c => c.source === 'DYNAMIC_TOPIC_CONFIG' ? h('button', {class: 'small secondary', onclick: () => apply({delete: [c.name]})}, 'Reset to default') : ''},
    ], configs, {id: 'configs-table', rowAttrs: c => ({'data-config': c.name})}));
  };
  const apply = async change => {
    try {
      const r = await patch(`topics/${enc(d.name)}/configs`, change);
      const what = change.set ? `Set ${Object.keys(change.set).join(', ')}.` : `Reset ${change.delete.join(', ')} to its default.`;
      message(result, what, 'ok');
      draw(r.configs);
    } catch (e) {
      message(result, e.message, 'error');
    }
  };
  const newName = h('input', {id: 'config-new-name', placeholder: 'name, e.g. retention.ms', autocomplete: 'off'});
  const newValue = h('input', {id: 'config-new-value', placeholder: 'value'});
  draw(d.configs);
  replace(body,
    d.configs_error ? h('p', {class: 'error'}, d.configs_error) : null,
    card('Override a config',
      h('form', {class: 'inline-form', onsubmit: e => {
        e.preventDefault();
        if (newName.value.trim()) apply({set: {[newName.value.trim()]: newValue.value}});
      }}, field('Name', newName), field('Value', newValue), h('div', {class: 'actions'}, h('button', {type: 'submit', id: 'config-new-submit'}, 'Set'))),
      result),
    card('Configs', list));
  return null;
}

function messagesTab(body, d, q) {
  const partOpts = p => [h('option', {value: p}, p === 'all' ? 'All partitions' : 'Partition ' + p)];
  const partition = h('select', {id: 'browse-partition'}, partOpts('all'), d.partitions.map(p => partOpts(String(p.partition))));
  partition.value = q.partition ?? (d.partitions.length === 1 ? '0' : 'all');
  const from = h('select', {id: 'browse-from'},
    h('option', {value: 'latest'}, 'Newest'), h('option', {value: 'earliest'}, 'Oldest'),
    h('option', {value: 'offset'}, 'Offset'), h('option', {value: 'timestamp'}, 'Time'));
  from.value = q.from || 'latest';
  const offset = h('input', {id: 'browse-offset', type: 'number', min: 0, value: q.offset || '0'});
  const time = h('input', {id: 'browse-time', type: 'datetime-local', step: 1});
  const limit = h('input', {id: 'browse-limit', type: 'number', min: 1, max: 500, value: q.limit || '50'});
  const format = h('select', {id: 'browse-format'},
    h('option', {value: 'auto'}, 'Auto (JSON pretty-printed)'), h('option', {value: 'text'}, 'Text'),
    h('option', {value: 'json'}, 'JSON'), h('option', {value: 'hex'}, 'Hex'));
  const committed = h('input', {type: 'checkbox', id: 'browse-committed'});
  const info = h('div', {id: 'browse-info', class: 'muted'});
  const results = h('div', {id: 'browse-results'});
  const offsetField = field('Offset', offset);
  const timeField = field('Time', time);
  const syncFields = () => {
    offsetField.hidden = from.value !== 'offset';
    timeField.hidden = from.value !== 'timestamp';
  };
  from.addEventListener('change', syncFields);
  syncFields();

  let last = null;
  const drawRecords = () => {
    if (!last) return;
    const mode = format.value;
    const cell = (b64, truncated, size) => {
      const r = show(b64, mode);
      return h('div', null,
        h('pre', {class: 'data ' + r.kind}, r.text),
        truncated ? h('small', {class: 'muted'}, `first ${fmtBytes(64 << 10)} of ${fmtBytes(size)}`) : null);
    };
    replace(results, table([
      {title: 'Partition', cls: 'num', cell: r => String(r.partition)},
      {title: 'Offset', cls: 'num', cell: r => String(r.offset)},
      {title: 'Timestamp', cell: r => h('span', {title: r.timestamp_type}, fmtTime(r.timestamp_ms))},
      {title: 'Key', cell: r => cell(r.key, r.key_truncated, r.key_size)},
      {title: 'Value', cls: 'wide', cell: r => cell(r.value, r.value_truncated, r.value_size)},
      {title: 'Headers', cell: r => r.headers.length === 0 ? '–' : h('dl', {class: 'headers'},
        r.headers.map(hd => [h('dt', null, hd.key), h('dd', null, show(hd.value, mode === 'hex' ? 'hex' : 'text').text)]))},
    ], last.records, {id: 'records-table', rowAttrs: r => ({'data-partition': r.partition, 'data-offset': r.offset}), empty: 'No records in this range.'}));
  };
  format.addEventListener('change', drawRecords);

  const load = async () => {
    const params = new URLSearchParams({partition: partition.value, from: from.value, limit: limit.value});
    if (from.value === 'offset') params.set('offset', offset.value);
    if (from.value === 'timestamp') {
      const ms = new Date(time.value).getTime();
      if (Number.isNaN(ms)) { message(info, 'Choose a time.', 'error'); return; }
      params.set('timestamp', String(ms));
    }
    if (committed.checked) params.set('isolation', 'read_committed');
    replace(info, 'Loading…');
    try {
      last = await get(`topics/${enc(d.name)}/messages?${params}`);
      const ranges = last.partitions.map(p => p.error ? `p${p.partition}: ${p.error}` : `p${p.partition} ${p.from_offset}→${p.next_offset} of [${p.log_start_offset}, ${p.end_offset})`).join(' · ');
      replace(info, `${last.records.length} records` + (last.truncated ? ' (stopped at the byte budget)' : '') + '. ' + ranges);
      drawRecords();
    } catch (e) {
      last = null;
      replace(results);
      message(info, e.message, 'error');
    }
  };

  // The test producer.
  const pPartition = h('select', {id: 'produce-partition'}, h('option', {value: ''}, 'By key (or random)'), d.partitions.map(p => h('option', {value: p.partition}, 'Partition ' + p.partition)));
  const pKey = h('input', {id: 'produce-key', placeholder: 'key (empty: null key)', autocomplete: 'off'});
  const pValue = h('textarea', {id: 'produce-value', rows: 4, placeholder: '{"hello": "world"}'});
  const pHeaders = h('textarea', {id: 'produce-headers', rows: 2, placeholder: 'header=value, one per line'});
  const pResult = h('div', {id: 'produce-result'});
  const produce = async e => {
    e.preventDefault();
    const rec = {value: pValue.value, headers: []};
    if (pKey.value !== '') rec.key = pKey.value;
    if (pPartition.value !== '') rec.partition = Number(pPartition.value);
    for (const raw of pHeaders.value.split('\n')) {
      if (!raw.trim()) continue;
      const i = raw.indexOf('=');
      if (i <= 0) { message(pResult, `header line "${raw}": want key=value`, 'error'); return; }
      rec.headers.push({key: raw.slice(0, i).trim(), value: raw.slice(i + 1)});
    }
    try {
      const r = await post(`topics/${enc(d.name)}/records`, rec);
      message(pResult, `Produced to partition ${r.partition} at offset ${r.offset}.`, 'ok');
    } catch (e2) {
      message(pResult, e2.message, 'error');
    }
  };

  replace(body,
    card('Browse messages',
      h('form', {class: 'inline-form', onsubmit: e => { e.preventDefault(); load(); }},
        field('Partition', partition), field('From', from), offsetField, timeField, field('Limit', limit), field('Show as', format),
        h('label', {class: 'check'}, committed, ' read committed only'),
        h('div', {class: 'actions'}, h('button', {type: 'submit', id: 'browse-submit'}, 'Load'))),
      info, results),
    card('Produce a test record',
      h('form', {class: 'inline-form', onsubmit: produce},
        field('Partition', pPartition), field('Key', pKey), field('Value', pValue), field('Headers', pHeaders),
        h('div', {class: 'actions'}, h('button', {type: 'submit', id: 'produce-submit'}, 'Produce'))),
      pResult));
  if (q.partition !== undefined || q.from !== undefined) load();
  return null;
}
