// Series the browser keeps while the console is open: produce throughput
// per topic (from summed high watermarks) and lag per group. Pages feed
// them as they poll; they live as long as the tab.

import {Rates, Series} from './chart.js';
import {get} from './api.js';

export const throughput = new Rates(120);
export const lags = new Series(120);

// TOTAL names the sum over all non-internal topics.
export const TOTAL = 'all topics';

// pollOffsets reads /api/offsets once and feeds throughput; it returns
// the answer.
export async function pollOffsets() {
  const o = await get('offsets');
  // The total is the sum of the topics' rates, so a topic that appears
  // or disappears between two samples is no spike.
  let total;
  for (const t of o.topics) {
    const rate = throughput.observe(t.topic, o.time_ms, t.end_offsets);
    if (!t.internal && rate !== undefined) total = (total || 0) + rate;
  }
  if (total !== undefined || throughput.series.get(TOTAL).length > 0) {
    throughput.series.add(TOTAL, o.time_ms, total || 0);
  }
  return o;
}
