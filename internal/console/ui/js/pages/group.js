// One consumer group: members and assignments, per-partition lag with a
// live chart, offset resets with a preview, and delete.

import {h, replace, table, card, field, fmtNum, message, poller} from '../dom.js';
import {get, post, del, enc} from '../api.js';
import {lineChart} from '../chart.js';
import {lags} from '../live.js';
import {stateBadge} from './groups.js';

const delta = n => (n > 0 ? '+' : '') + n.toLocaleString('en-US');

export async function render(root, {group}) {
  const head = h('div', {id: 'group-head'});
  const chart = h('div');
  const members = h('div');
  const offsets = h('div');
  const err = h('p', {class: 'error'});

  const resetTopic = h('select', {id: 'reset-topic'}, h('option', {value: '*'}, 'All committed topics'));
  const resetTo = h('select', {id: 'reset-to'},
    h('option', {value: 'earliest'}, 'Earliest (log start)'), h('option', {value: 'latest'}, 'Latest (high watermark)'),
    h('option', {value: 'offset'}, 'Offset'), h('option', {value: 'timestamp'}, 'Time'), h('option', {value: 'shift'}, 'Shift by'));
  const resetValue = h('input', {id: 'reset-value', placeholder: 'offset, time or ±N', autocomplete: 'off'});
  const valueField = field('Value', resetValue);
  const syncValue = () => {
    valueField.hidden = resetTo.value === 'earliest' || resetTo.value === 'latest';
    resetValue.type = resetTo.value === 'timestamp' ? 'datetime-local' : 'text';
  };
  resetTo.addEventListener('change', syncValue);
  syncValue();
  const preview = h('div', {id: 'reset-preview-result'});
  const resetResult = h('div', {id: 'reset-result'});
  const applyBtn = h('button', {id: 'reset-apply', class: 'danger', disabled: true}, 'Apply reset');
  let planned = null;

  const resetBody = dryRun => {
    const b = {to: resetTo.value, dry_run: dryRun};
    if (resetTopic.value === '*') b.all_topics = true;
    else b.topics = [{topic: resetTopic.value}];
    const v = resetValue.value.trim();
    if (b.to === 'offset') b.offset = Number(v);
    if (b.to === 'shift') b.shift = Number(v);
    if (b.to === 'timestamp') b.timestamp = String(new Date(v).getTime());
    if ((b.to === 'offset' || b.to === 'shift') && (v === '' || !Number.isInteger(b.offset ?? b.shift))) {
      throw new Error('Give a whole number.');
    }
    return b;
  };
  const doPreview = async e => {
    e.preventDefault();
    applyBtn.disabled = true;
    planned = null;
    message(resetResult, '');
    try {
      const body = resetBody(true);
      const r = await post(`groups/${enc(group)}/reset-offsets`, body);
      planned = body;
      replace(preview, table([
        {title: 'Topic', cell: x => x.topic},
        {title: 'Partition', cls: 'num', cell: x => String(x.partition)},
        {title: 'Current', cls: 'num', cell: x => x.current >= 0 ? fmtNum(x.current) : '–'},
        {title: 'New', cls: 'num', cell: x => fmtNum(x.new)},
        {title: 'Change', cls: 'num', cell: x => x.current >= 0 ? delta(x.new - x.current) : 'new'},
      ], r.rows, {id: 'preview-table', rowAttrs: x => ({'data-topic': x.topic, 'data-partition': x.partition})}),
      h('p', {class: 'muted'}, 'Preview only: nothing is committed until you apply.'));
      applyBtn.disabled = false;
    } catch (e2) {
      replace(preview);
      message(resetResult, e2.message, 'error');
    }
  };
  applyBtn.addEventListener('click', async e => {
    e.preventDefault();
    if (!planned) return;
    applyBtn.disabled = true;
    try {
      const r = await post(`groups/${enc(group)}/reset-offsets`, {...planned, dry_run: false});
      const failed = r.rows.filter(x => x.error);
      if (failed.length) {
        message(resetResult, `Committed ${r.rows.length - failed.length} of ${r.rows.length}: ` + failed.map(x => `${x.topic}[${x.partition}]: ${x.error}`).join('; '), 'error');
      } else {
        message(resetResult, `Committed new offsets for ${r.rows.length} partitions.`, 'ok');
      }
      planned = null;
      replace(preview);
      await refresh();
    } catch (e2) {
      message(resetResult, e2.message, 'error');
    }
  });

  const deleteResult = h('div', {id: 'group-delete-result'});
  const deleteBtn = h('button', {class: 'danger secondary', id: 'group-delete', onclick: async () => {
    try {
      await del('groups/' + enc(group));
      location.hash = '#/groups';
    } catch (e) {
      message(deleteResult, e.message, 'error');
    }
  }}, 'Delete group');

  replace(root,
    h('p', {class: 'crumbs'}, h('a', {href: '#/groups'}, 'Consumer groups'), ' / '),
    h('h1', null, group),
    err, head,
    card('Lag (records behind the high watermark)', chart),
    card('Members', members),
    card('Offsets', offsets),
    card('Reset offsets',
      h('p', {class: 'muted'}, 'Only while the group has no members (Empty): a live consumer would overwrite the new offsets with its own commits. New offsets are clamped to [log start, high watermark].'),
      h('form', {class: 'inline-form', onsubmit: doPreview},
        field('Topic', resetTopic), field('To', resetTo), valueField,
        h('div', {class: 'actions'}, h('button', {type: 'submit', id: 'reset-preview'}, 'Preview'), applyBtn)),
      preview, resetResult),
    card('Delete', h('p', {class: 'muted'}, 'Deletes the group and its committed offsets; only an empty group can be deleted.'), deleteBtn, deleteResult));

  const knownTopics = new Set();
  const refresh = async () => {
    let g;
    try {
      g = await get('groups/' + enc(group));
      replace(err);
    } catch (e) {
      replace(err, e.message);
      return;
    }
    lags.add(group, g.time_ms, g.lag);
    const byTopic = new Map();
    for (const o of g.offsets) if (o.lag >= 0) byTopic.set(o.topic, (byTopic.get(o.topic) || 0) + o.lag);
    for (const [t, l] of byTopic) lags.add(group + '\u0000' + t, g.time_ms, l);
    replace(head, h('p', null, stateBadge(g.state), ` ${g.type} group · protocol ${g.protocol_type || '–'}${g.protocol ? ' / ' + g.protocol : ''} · coordinator ${g.coordinator} · total lag `,
      h('strong', {id: 'group-lag'}, fmtNum(g.lag))));
    const series = [{name: 'total', points: lags.get(group)}];
    if (byTopic.size > 1) for (const t of [...byTopic.keys()].sort()) series.push({name: t, points: lags.get(group + '\u0000' + t)});
    replace(chart, lineChart({series, fmt: fmtNum, unit: 'records behind'}));
    replace(members, table([
      {title: 'Member', cell: m => h('code', null, m.member_id)},
      {title: 'Instance', cell: m => m.instance_id || '–'},
      {title: 'Client', cell: m => m.client_id},
      {title: 'Host', cell: m => m.client_host},
      {title: 'Assigned', cell: m => m.assignments.map(a => `${a.topic}: ${a.partitions.join(', ')}`).join(' · ') || '–'},
    ], g.members, {id: 'members-table', empty: 'No members: the group is inactive.'}));
    replace(offsets, table([
      {title: 'Topic', cell: o => h('a', {href: `#/topics/${enc(o.topic)}/messages?partition=${o.partition}&from=offset&offset=${Math.max(0, o.committed)}`}, o.topic)},
      {title: 'Partition', cls: 'num', cell: o => String(o.partition)},
      {title: 'Committed', cls: 'num', cell: o => o.committed >= 0 ? fmtNum(o.committed) : '–'},
      {title: 'High watermark', cls: 'num', cell: o => fmtNum(o.end_offset)},
      {title: 'Lag', cls: 'num lag', cell: o => o.lag >= 0 ? fmtNum(o.lag) : '–'},
      {title: 'Member', cell: o => o.member_id ? h('code', null, o.member_id) : '–'},
    ], g.offsets, {id: 'offsets-table', rowAttrs: o => ({'data-topic': o.topic, 'data-partition': o.partition}), empty: 'Nothing committed or assigned.'}));
    for (const o of g.offsets) {
      if (!knownTopics.has(o.topic)) {
        knownTopics.add(o.topic);
        resetTopic.appendChild(h('option', {value: o.topic}, o.topic));
      }
    }
  };
  const stop = poller(refresh, 2000);
  return stop;
}
