// Incidents page: every open incident with SEV, state, age, alerts, who was paged through what
// and how it went, who acknowledged, the countdown to the next ladder step, and the actions.
// Updated live (common.js live()). The list is built as HTML strings with every value escaped
// (esc). Up to FIRST cards, the most urgent first, go in at once: a thousand in one HTML
// string, parsed and laid out in about 90-150 ms in headless Chromium on two cores, since a
// card out of view is not laid out (panel.css: content-visibility); added in chunks with a
// paint between, they took a second in all. Beyond that, in a storm, the others follow in
// chunks while the browser is idle, so the page stays responsive.
// body[data-render-ms]: time until the first FIRST cards are in the page and laid out;
// body[data-complete-ms] and body[data-rendered]: when every card is in the page, and how many.
import {api, esc, fmtDuration, fmtTime, live, prefix, shell, showError, timeHtml,
  zoneNote} from './common.js';
import {actionsHtml, handleActions, restoreNotes, saveNotes} from './actions.js';

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
      `${zoneNote()}. Now ${fmtTime(new Date(now).toISOString())}.`;
}

const FIRST = 1000;
const CHUNK = 200;
let generation = 0;

function appended() {
  since = Array.from(list.querySelectorAll('[data-since]'));
  until = Array.from(list.querySelectorAll('[data-until]'));
}

// Renders the list; returns the milliseconds until the first screen was in the page.
export function render(data) {
  const t0 = performance.now();
  const gen = ++generation;
  skew = Date.parse(data.now) - Date.now();
  // What needs a person first: unacknowledged, then by SEV, then the newest (by opening time,
  // then by number: a storm opens many in one millisecond, and the list merged from partial
  // loads is in no particular order).
  const order = (i) => (i.state === 'triggered' ? 0 : 10) + Number(i.sev.slice(-1));
  const number = (i) => Number(i.id.replace(/^\D*/, '')) || 0;
  const sorted = data.incidents.slice().sort((a, b) => order(a) - order(b) ||
      (a.opened_at < b.opened_at ? 1 : a.opened_at > b.opened_at ? -1 : 0) ||
      number(b) - number(a));
  let notes = saveNotes(list);
  list.innerHTML = sorted.slice(0, FIRST).map(cardHtml).join('');
  notes = restoreNotes(list, notes);
  appended();
  document.getElementById('count').textContent = `(${data.incidents.length})`;
  document.getElementById('empty').hidden = data.incidents.length > 0;
  tick();
  void list.offsetHeight;  // style and layout in the figure, not only building the HTML
  const ms = performance.now() - t0;
  document.body.dataset.renderMs = ms.toFixed(1);
  let done = Math.min(FIRST, sorted.length);
  document.body.dataset.rendered = String(done);
  const finish = () => {
    document.body.dataset.completeMs = (performance.now() - t0).toFixed(1);
  };
  const more = () => {
    if (gen !== generation) return;  // a newer render took over
    list.insertAdjacentHTML('beforeend', sorted.slice(done, done + CHUNK).map(cardHtml).join(''));
    done = Math.min(done + CHUNK, sorted.length);
    document.body.dataset.rendered = String(done);
    notes = restoreNotes(list, notes);
    appended();
    tick();
    if (done < sorted.length) later(more);
    else finish();
  };
  if (done < sorted.length) later(more);
  else finish();
  return ms;
}

// The next chunk after the browser has painted and handled input.
const later = (fn) => setTimeout(fn, 0);

let seq = null;
let loading = null;
let known = null;  // id -> incident, as last rendered; null until the whole list is loaded
let whole = true;  // the next load is of the whole list
let changed = new Set();  // ids a change event named since the last load

// Only the incidents a change event named are asked for (an id not in the answer was
// resolved and leaves the list); the whole list on the first load, after a reset and after an
// action. One load at a time; changes that arrive meanwhile cause one more load after it.
async function refresh(ids = null) {
  if (ids === null) whole = true;
  else for (const id of ids) changed.add(id);
  if (loading) return loading;
  loading = (async () => {
    while (whole || changed.size) {
      const full = whole || known === null;
      const asked = Array.from(changed);
      whole = false;
      changed = new Set();
      try {
        const data = await api(full ? '/data/incidents' :
          `/data/incidents?ids=${encodeURIComponent(asked.join(','))}`);
        seq = data.seq;
        if (full) known = new Map();
        else for (const id of asked) known.delete(id);
        for (const inc of data.incidents) known.set(inc.id, inc);
        render({now: data.now, incidents: Array.from(known.values())});
        showError(errorBox, '');
      } catch (e) {
        if (full) whole = true;
        else for (const id of asked) changed.add(id);
        if (e.status !== 401) showError(errorBox, `Could not load incidents: ${e.message}`);
        break;  // the next change or reset tries again
      }
    }
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
  live((change) => refresh(change.event === 'incidents' ? change.ids : null), seq);
}

main();
