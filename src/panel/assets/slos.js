// SLOs page: every SLO with its SLI now, error budget left, burn rate per tier and the alerts
// firing for it, and a small 30-day budget chart per series, drawn as inline SVG by budgetChart
// below (no library). The chart's numbers come from the SLO's Prometheus (GET
// /api/v1/slos/{name}); when it does not answer the row says why.
import {api, el, fmtTime, shell} from './common.js';

const content = document.getElementById('content');
const SVG = 'http://www.w3.org/2000/svg';

const pct = (v, digits = 2) => (v === null || v === undefined ? '—' :
  `${(v * 100).toFixed(digits)} %`);
const labelsText = (labels) => Object.entries(labels || {}).map(([k, v]) => `${k}=${v}`)
    .join(', ') || 'all';

function svg(tag, attrs) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  return n;
}

// A 30-day budget line: 100 % at the top, 0 % dashed, below it overspent (red). Points are
// [unix seconds, budget left or null]; a null breaks the line. Presentation attributes only
// (the panel's CSP allows no inline style).
export function budgetChart(points, label) {
  const w = 160;
  const h = 44;
  const vals = points.map((p) => p[1]).filter((v) => v !== null);
  const lo = Math.min(0, ...vals);
  const hi = Math.max(1, ...vals);
  const t0 = points.length ? points[0][0] : 0;
  const t1 = points.length ? points[points.length - 1][0] : 1;
  const x = (t) => (t1 === t0 ? 0 : ((t - t0) / (t1 - t0)) * (w - 2) + 1);
  const y = (v) => 2 + ((hi - v) / (hi - lo)) * (h - 4);
  const root = svg('svg', {viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: 'img',
    class: 'budget-chart'});
  const first = vals.length ? vals[0] : null;
  const last = vals.length ? vals[vals.length - 1] : null;
  const title = svg('title', {});
  title.textContent = vals.length ?
    `${label}: error budget left over 30 days, from ${pct(first, 0)} to ${pct(last, 0)}` :
    `${label}: no budget data`;
  root.append(title);
  root.append(svg('rect', {x: 0, y: 0, width: w, height: h, class: 'chart-bg'}));
  root.append(svg('line', {x1: 0, x2: w, y1: y(0), y2: y(0), class: 'chart-zero'}));
  let d = '';
  let pen = false;
  for (const [t, v] of points) {
    if (v === null) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  }
  if (d) {
    root.append(svg('path', {d, class: last !== null && last < 0 ? 'chart-line bad' :
      last !== null && last < 0.2 ? 'chart-line warn' : 'chart-line'}));
  }
  return root;
}

function seriesRows(slo, detail) {
  const status = detail && detail.status ? detail.status.series : slo.series.map((s) => ({
    labels: s.labels, sli: s.error_ratio === null ? null : 1 - s.error_ratio,
    budget_remaining: s.budget_remaining, burn_rates: s.burn_rates}));
  const budgetSeries = (detail && detail.budget && detail.budget.series) || [];
  const chartFor = (labels) => {
    const key = JSON.stringify(labels || {});
    const found = budgetSeries.find((b) => JSON.stringify(b.labels || {}) === key);
    if (found) return budgetChart(found.points, `${slo.name} ${labelsText(labels)}`);
    if (detail && detail.budget && detail.budget.error) {
      return el('span', {class: 'muted small'}, `no chart: ${detail.budget.error}`);
    }
    return el('span', {class: 'muted small'}, detail ? 'no data' : 'loading…');
  };
  if (!status.length) {
    return [el('tr', {}, el('td', {colspan: '4', class: 'muted'},
        slo.data_absent ? 'No data from the source.' : 'Not evaluated yet.'))];
  }
  return status.map((s) => {
    const left = s.budget_remaining;
    return el('tr', {},
        el('td', {}, labelsText(s.labels)),
        el('td', {}, pct(s.sli, 3)),
        el('td', {class: left !== null && left < 0 ? 'error' : left !== null && left < 0.2 ?
          'warn-text' : ''}, pct(left, 1), el('br'), chartFor(s.labels)),
        el('td', {}, Object.entries(s.burn_rates || {}).map(([tier, b]) =>
          el('div', {class: 'small'}, `${tier}: ${b === null ? '—' : `${b.toFixed(2)}×`}`))));
  });
}

function sloCard(slo, detail) {
  const alerts = (detail && detail.alerts) || [];
  return el('li', {class: `card${alerts.some((a) => a.state === 'firing') ? ' triggered' : ''}`,
    'data-slo': slo.name},
  el('p', {class: 'head row-head'}, el('span', {class: 'title'}, slo.name),
      el('span', {class: 'muted small'},
          `${slo.objective} % over ${slo.window}${slo.service ? ` · ${slo.service}` : ''}`)),
  el('div', {class: 'scroll'}, el('table', {},
      el('caption', {class: 'sr-only'}, `${slo.name}: each series`),
      el('thead', {}, el('tr', {}, ['Series', 'SLI now', 'Budget left (30 d)', 'Burn rate']
          .map((t) => el('th', {scope: 'col'}, t)))),
      el('tbody', {}, seriesRows(slo, detail)))),
  alerts.length ? el('ul', {class: 'alerts', 'aria-label': `Alerts of ${slo.name}`},
      alerts.map((a) => el('li', {},
          el('span', {class: `state ${a.state === 'firing' ? 'triggered' : ''}`}, a.state), ' ',
          a.summary || labelsText(a.labels), ' · since ', fmtTime(a.since)))) :
    el('p', {class: 'muted small'}, 'No alert firing.'));
}

async function main() {
  const me = await shell('slos');
  if (!me.signed_in) return;
  let list;
  try {
    list = await api('/api/v1/slos');
  } catch (e) {
    content.replaceChildren(el('p', {class: 'error', role: 'alert'}, e.message));
    return;
  }
  const down = list.sources.filter((s) => !s.up);
  const ul = el('ul', {class: 'cards', id: 'slos'});
  content.replaceChildren(
      el('p', {class: 'muted'}, `${list.slos.length} SLO${list.slos.length === 1 ? '' : 's'}. ` +
          'Budget left: 100 % means none of it spent, 0 % all of it; the charts cover the last ' +
          '30 days.'),
      down.length ? el('p', {class: 'error', role: 'alert'}, 'Source down: ' +
          down.map((s) => `${s.name} (${s.last_error})`).join('; ')) : '',
      ul);
  const cards = new Map();
  for (const slo of list.slos) {
    const card = sloCard(slo, null);
    cards.set(slo.name, card);
    ul.append(card);
  }
  // Details one after the other: each is a range query on Prometheus.
  for (const slo of list.slos) {
    let detail;
    try {
      detail = await api(`/api/v1/slos/${encodeURIComponent(slo.name)}`);
    } catch (e) {
      detail = {budget: {error: e.message}};
    }
    const card = sloCard(slo, detail);
    cards.get(slo.name).replaceWith(card);
  }
  document.body.dataset.loaded = 'true';
}

main();
