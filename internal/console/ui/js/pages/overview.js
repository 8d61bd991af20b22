// Overview: brokers, controller, metadata quorum, versions, partition
// health and the cluster's produce throughput.

import {h, replace, table, card, badge, fmtNum, fmtRate, fmtAgo, poller} from '../dom.js';
import {get} from '../api.js';
import {lineChart} from '../chart.js';
import {throughput, pollOffsets, TOTAL} from '../live.js';

export async function render(root) {
  const summary = h('div', {class: 'stats', id: 'cluster-summary'});
  const brokers = h('div');
  const quorum = h('div');
  const versions = h('div');
  const chart = h('div', {id: 'throughput-chart'});
  const err = h('p', {class: 'error'});
  replace(root,
    h('h1', null, 'Cluster overview'),
    err,
    summary,
    card('Produce throughput (records/s)', chart),
    h('div', {class: 'cols'}, card('Brokers', brokers), card('Metadata quorum', quorum)),
    card('Versions and features', versions));

  const draw = () => replace(chart, lineChart({
    series: [{name: TOTAL, points: throughput.series.get(TOTAL)}],
    fmt: fmtRate, unit: 'records/s',
  }));

  const stopOffsets = poller(async () => { await pollOffsets(); draw(); }, 2000);
  const stopCluster = poller(async () => {
    let c;
    try {
      c = await get('cluster');
      replace(err);
    } catch (e) {
      replace(err, e.message);
      return;
    }
    fill(c, {summary, brokers, quorum, versions});
  }, 5000);
  draw();
  return () => { stopOffsets(); stopCluster(); };
}

function stat(label, value, kind) {
  return h('div', {class: 'stat ' + (kind || '')}, h('div', {class: 'stat-value'}, value), h('div', {class: 'stat-label'}, label));
}

function fill(c, {summary, brokers, quorum, versions}) {
  const alive = c.brokers.filter(b => !b.fenced).length;
  replace(summary,
    stat('Cluster ID', h('code', {id: 'cluster-id'}, c.cluster_id)),
    stat('Controller', c.quorum ? String(c.quorum.leader_id) : String(c.controller_id)),
    stat('Brokers', `${alive} alive` + (alive < c.brokers.length ? ` / ${c.brokers.length - alive} fenced` : ''), alive < c.brokers.length ? 'warn' : ''),
    stat('Topics', fmtNum(c.topics)),
    stat('Partitions', fmtNum(c.partitions)),
    stat('Under-replicated', fmtNum(c.under_replicated_partitions), c.under_replicated_partitions > 0 ? 'warn' : 'ok'),
    stat('Offline', fmtNum(c.offline_partitions), c.offline_partitions > 0 ? 'bad' : 'ok'));

  replace(brokers, table([
    {title: 'ID', cell: b => String(b.node_id)},
    {title: 'Address', cell: b => `${b.host}:${b.port}`},
    {title: 'Rack', cell: b => b.rack || '–'},
    {title: 'State', cell: b => b.fenced ? badge('fenced', 'bad') : badge('alive', 'ok')},
    {title: 'Role', cell: b => b.node_id === c.controller_id ? badge('controller') : ''},
  ], c.brokers, {id: 'brokers-table'}));

  if (!c.quorum) {
    replace(quorum, h('p', {class: 'muted'}, 'DescribeQuorum is not answered: ' + (c.quorum_error || 'unknown')));
  } else {
    const q = c.quorum;
    const row = role => r => ({...r, role});
    const members = [...q.voters.map(row('voter')), ...q.observers.map(row('observer'))];
    replace(quorum,
      h('p', null, 'Leader ', h('strong', null, String(q.leader_id)), ` · epoch ${q.leader_epoch} · high watermark ${fmtNum(q.high_watermark)}`),
      table([
        {title: 'Replica', cell: r => String(r.replica_id)},
        {title: 'Role', cell: r => r.replica_id === q.leader_id ? badge('leader') : r.role},
        {title: 'Log end offset', cls: 'num', cell: r => fmtNum(r.log_end_offset)},
        {title: 'Lag', cls: 'num', cell: r => r.log_end_offset >= 0 ? fmtNum(Math.max(0, q.high_watermark - r.log_end_offset)) : '–'},
        {title: 'Last fetch', cell: r => fmtAgo(r.last_fetch_ms, c.time_ms)},
        {title: 'Caught up', cell: r => fmtAgo(r.last_caught_up_ms, c.time_ms)},
      ], members, {id: 'quorum-table'}));
  }

  replace(versions,
    h('p', {class: 'muted'}, `Console ${c.console_version || '(devel)'}.`),
    c.versions.map(v => h('div', {class: 'version'},
      h('h3', null, `Broker ${v.node_id}`),
      v.error ? h('p', {class: 'error'}, v.error) : null,
      v.features.length ? h('p', null, 'Finalized features: ', v.features.map(f => badge(`${f.name}=${f.level}` + (f.max ? ` (max ${f.max})` : '')))) : null,
      h('details', null, h('summary', null, `${v.apis.length} APIs`),
        table([
          {title: 'Key', cls: 'num', cell: a => String(a.key)},
          {title: 'API', cell: a => a.name},
          {title: 'Versions', cell: a => `v${a.min}–v${a.max}`},
        ], v.apis, {cls: 'grid compact'})))));
}
