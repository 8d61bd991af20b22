// Consumer groups: state, members and total lag, with a live lag chart.

import {h, replace, table, card, badge, fmtNum, poller} from '../dom.js';
import {get, enc} from '../api.js';
import {lineChart, sparkline} from '../chart.js';
import {lags} from '../live.js';

export function stateBadge(state) {
  const kind = {Stable: 'ok', Empty: '', Dead: 'bad', PreparingRebalance: 'warn', CompletingRebalance: 'warn', Assigning: 'warn', Reconciling: 'warn'}[state];
  return badge(state || 'unknown', kind);
}

export async function render(root) {
  const list = h('div');
  const chart = h('div');
  const err = h('p', {class: 'error'});
  replace(root, h('h1', null, 'Consumer groups'), err, card('Lag of the most lagging groups (records)', chart), list);
  const stop = poller(async () => {
    let v;
    try {
      v = await get('groups');
      replace(err, v.errors.join('; '));
    } catch (e) {
      replace(err, e.message);
      return;
    }
    for (const g of v.groups) if (g.lag >= 0) lags.add(g.group, v.time_ms, g.lag);
    replace(list, table([
      {title: 'Group', cell: g => h('a', {href: '#/groups/' + enc(g.group)}, g.group)},
      {title: 'Type', cell: g => g.type},
      {title: 'State', cell: g => stateBadge(g.state)},
      {title: 'Members', cls: 'num', cell: g => String(g.members)},
      {title: 'Topics', cell: g => g.topics.join(', ') || '–'},
      {title: 'Lag', cls: 'num lag', cell: g => g.lag >= 0 ? fmtNum(g.lag) : h('span', {class: 'error', title: g.error}, 'unknown')},
      {title: 'Trend', cell: g => sparkline(lags.get(g.group))},
    ], v.groups, {id: 'groups-table', rowAttrs: g => ({'data-group': g.group}), empty: 'No consumer groups.'}));
    const top = v.groups.filter(g => g.lag >= 0).sort((a, b) => b.lag - a.lag || a.group.localeCompare(b.group)).slice(0, 6)
      .map(g => ({name: g.group, points: lags.get(g.group)}));
    replace(chart, lineChart({series: top, fmt: fmtNum, unit: 'records behind'}));
  }, 3000);
  return stop;
}
