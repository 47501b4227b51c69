// Incidents page: every open incident with SEV, state, age, alerts, who was paged through what
// and how it went, who acknowledged, the countdown to the next ladder step, and the actions.
// Updated live (common.js live()). The list is built as one HTML string with every value
// escaped (esc), so a thousand incidents take one parse; the render time is kept in
// body[data-render-ms] and the count in body[data-rendered].
import {api, esc, fmtDuration, fmtTime, live, prefix, shell, showError, timeHtml,
  zoneName} from './common.js';
import {actionsHtml, handleActions, keepNotes} from './actions.js';

const list = document.getElementById('incidents');
const errorBox = document.getElementById('error');
let me = null;
let skew = 0;  // server time minus browser time, for ages and countdowns

function pagedHtml(inc) {
  if (!inc.paged.length) return 'nobody yet';
  return inc.paged.map((p) => `${esc(p.person || 'channel')} via ${esc(p.channel)}: ` +
    `<b class="${esc(p.state)}">${esc(p.state)}</b>`).join(', ');
}

// One card: three short lines, few elements, so a thousand of them parse fast.
function cardHtml(inc) {
  const names = inc.alerts.map((a) => a.name);
  const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? ` +${names.length - 3}` : '');
  const ack = inc.acknowledged_by ?
    `Acknowledged by ${esc(inc.acknowledged_by_name || inc.acknowledged_by)} at ` +
      timeHtml(inc.acknowledged_at) : 'Not acknowledged';
  const next = inc.next_step_at ?
    ` · step ${inc.next_step + 1} in <span data-until="${esc(inc.next_step_at)}"></span> ` +
      `(${timeHtml(inc.next_step_at)})` : ' · no step pending';
  return `<li class="card ${esc(inc.state)}" data-id="${esc(inc.id)}">` +
    `<p class="head"><span class="sev sev${esc(inc.sev.slice(-1))}">${esc(inc.sev)}</span> ` +
    `<span class="state ${esc(inc.state)}">${esc(inc.state)}</span> ` +
    (inc.drill ? '<span class="drill">DRILL</span> ' : '') +
    `<a class="title" href="${esc(prefix)}/incidents/${encodeURIComponent(inc.id)}">` +
    `${esc(inc.id)}: ${esc(inc.title)}</a></p>` +
    `<p>Age <span data-since="${esc(inc.opened_at)}"></span> (opened ` +
    `${timeHtml(inc.opened_at)}) · ${names.length} alert${names.length === 1 ? '' : 's'}: ` +
    `${esc(shown || '—')}</p>` +
    `<p class="paged">Paged: ${pagedHtml(inc)}</p>` +
    `<p>${ack}${next}</p>` +
    actionsHtml(inc, me) + '</li>';
}

let since = [];
let until = [];

function tick() {
  const now = Date.now() + skew;
  for (const n of since) n.textContent = fmtDuration((now - Date.parse(n.dataset.since)) / 1000);
  for (const n of until) {
    const left = (Date.parse(n.dataset.until) - now) / 1000;
    n.textContent = left > 0 ? fmtDuration(left) : 'due now';
  }
  document.getElementById('clock').textContent =
      `Times in ${zoneName()} and UTC. Now ${fmtTime(new Date(now).toISOString())}.`;
}

export function render(data) {
  const t0 = performance.now();
  skew = Date.parse(data.now) - Date.now();
  const html = data.incidents.map(cardHtml).join('');
  keepNotes(list, () => {
    list.innerHTML = html;
  });
  since = Array.from(list.querySelectorAll('[data-since]'));
  until = Array.from(list.querySelectorAll('[data-until]'));
  document.getElementById('count').textContent = `(${data.incidents.length})`;
  document.getElementById('empty').hidden = data.incidents.length > 0;
  tick();
  const ms = performance.now() - t0;
  document.body.dataset.renderMs = ms.toFixed(1);
  document.body.dataset.rendered = String(data.incidents.length);
  return ms;
}

let seq = null;
let loading = null;
let again = false;

// One load at a time; changes that arrive meanwhile cause one more load after it.
async function refresh() {
  if (loading) {
    again = true;
    return loading;
  }
  loading = (async () => {
    do {
      again = false;
      try {
        const data = await api('/data/incidents');
        seq = data.seq;
        render(data);
        showError(errorBox, '');
      } catch (e) {
        if (e.status !== 401) showError(errorBox, `Could not load incidents: ${e.message}`);
      }
    } while (again);
  })();
  await loading;
  loading = null;
}

async function main() {
  me = await shell('incidents');
  if (!me.signed_in) return;
  handleActions(list, () => refresh(), (m) => showError(errorBox, m));
  await refresh();
  setInterval(tick, 1000);
  live(() => refresh(), seq);
}

main();
