// Incident page: the timeline with its hash-chain check, the alerts and their causes, links,
// the page text (What / Where / How much / Action), deliveries per provider with their
// answers, the next ladder steps with times and people, and the actions. Updated live.
import {api, el, fmtDuration, live, prefix, shell, showError, timeEl} from './common.js';
import {actionsHtml, handleActions, keepNotes} from './actions.js';

const box = document.getElementById('incident');
const errorBox = document.getElementById('error');
const id = decodeURIComponent(location.pathname.slice(prefix.length).split('/')[2] || '');
let me = null;
let seq = null;

function section(title, ...body) {
  const h = el('h2', {}, title);
  return el('section', {'aria-label': title}, h, ...body);
}

function textBlock(t) {
  if (!t) return el('p', {class: 'muted'}, 'No page text.');
  const row = (k, v) => v ? [el('dt', {}, k), el('dd', {}, v)] : [];
  return el('dl', {class: 'facts'}, row('What', t.what), row('Where', t.where),
      row('How much', t.how_much), row('Action', t.action));
}

function links(t) {
  if (!t || !t.links.length) return el('p', {class: 'muted'}, 'No runbook, dashboard or query links.');
  // The server gives an href only to an http(s) address; any other stays text, never a link.
  return el('ul', {class: 'links'}, t.links.map((l) => el('li', {}, l.href ?
    el('a', {href: l.href, rel: 'noopener noreferrer'}, l.text) :
    `${l.text}: ${l.url} (not a web address)`)));
}

function alerts(list, what) {
  if (!list.length) return el('p', {class: 'muted'}, `No ${what}.`);
  return el('ul', {class: 'alerts'}, list.map((a) => el('li', {},
      el('strong', {}, a.labels.alertname || 'alert'), ` (${a.state}) `,
      a.annotations.summary || '',
      el('div', {class: 'labels small'}, Object.entries(a.labels)
          .filter(([k]) => k !== 'alertname').map(([k, v]) => el('code', {}, `${k}=${v}`))))));
}

// The provider's answer: its HTTP status once (the detail often starts with it already),
// its reference, what it said.
function answer(d) {
  const status = d.status ? `HTTP ${d.status}` : '';
  const said = d.detail || '';
  return [said.includes(status) ? '' : status, d.provider_ref || '', said]
      .filter((part) => part).join(' ') || '—';
}

function deliveries(list) {
  if (!list.length) return el('p', {class: 'muted'}, 'No deliveries yet.');
  const rows = list.map((d) => el('tr', {class: `delivery ${d.state}`},
      el('td', {}, d.channel), el('td', {}, d.person || (d.people || []).join(', ') || '—'),
      el('td', {}, el('strong', {}, d.state), d.attempts > 1 ? ` (${d.attempts} tries)` : ''),
      el('td', {}, answer(d)),
      el('td', {}, timeEl(d.updated_at || d.queued_at))));
  return el('div', {class: 'scroll'}, el('table', {class: 'deliveries'},
      el('caption', {class: 'sr-only'}, 'Deliveries per provider'),
      el('thead', {}, el('tr', {}, ['Provider', 'Person', 'State', 'Answer', 'When']
          .map((h) => el('th', {scope: 'col'}, h)))),
      el('tbody', {}, rows)));
}

function steps(list) {
  if (!list.length) return el('p', {class: 'muted'}, 'No further ladder steps.');
  return el('ol', {class: 'steps'}, list.map((s) => el('li', {},
      el('strong', {}, `Step ${s.step}`), ' at ', timeEl(s.at), ' (in ',
      el('span', {'data-until': s.at}, ''), ') via ', s.channels.join(', ') || '—', ': ',
      s.targets.map((t) => `${t.target} → ${t.people.map((p) => p.name || p.id).join(', ') ||
          'nobody on call'}`).join('; '))));
}

function timeline(events, verify) {
  const check = verify.ok ?
    el('p', {class: 'ok', role: 'status'}, `✓ Hash chain verified (${verify.events} events).`) :
    el('p', {class: 'error', role: 'status'}, `✗ Hash chain check failed: ${verify.message}`);
  return [check, el('ol', {class: 'timeline', id: 'timeline'}, events.map((e) =>
    el('li', {'data-kind': e.kind}, timeEl(e.at), ' ', el('strong', {}, e.kind),
        e.actor ? ` by ${e.actor}` : '', e.text ? ` — ${e.text}` : '')))];
}

function actionsEl(inc) {
  const holder = el('div', {});
  holder.innerHTML = actionsHtml(inc, me);  // every value in it is escaped
  return holder;
}

function render(d) {
  const inc = d.incident;
  document.title = `${inc.id}: ${inc.title} · tocsin`;
  keepNotes(box, () => box.replaceChildren(
      el('h1', {}, el('span', {class: `sev sev${inc.sev.slice(-1)}`}, inc.sev), ' ',
          `${inc.id}: ${inc.title}`),
      el('p', {}, el('span', {class: `state ${inc.state}`, id: 'state'}, inc.state),
          ' · opened ', timeEl(inc.opened_at), ' · ',
          inc.acknowledged_by ? `acknowledged by ${inc.acknowledged_by_name ||
              inc.acknowledged_by}` : 'not acknowledged'),
      actionsEl(inc),
      section('What is happening', textBlock(inc.text)),
      section('Links', links(inc.text)),
      section('Next ladder steps', steps(inc.next_steps)),
      section('Deliveries', deliveries(inc.deliveries)),
      section('Alerts', alerts(inc.alerts_full, 'alerts')),
      section('Causes', alerts(inc.causes, 'cause candidates'),
          inc.text && inc.text.causes.length ?
            el('ul', {}, inc.text.causes.map((c) => el('li', {}, c))) : null),
      section('Timeline', ...timeline(inc.timeline, inc.verify))));
  box.setAttribute('aria-busy', 'false');
  tick();
}

function tick() {
  for (const n of box.querySelectorAll('[data-until]')) {
    const left = (Date.parse(n.dataset.until) - Date.now()) / 1000;
    n.textContent = left > 0 ? fmtDuration(left) : 'due now';
  }
}

async function load() {
  try {
    const d = await api(`/data/incidents/${encodeURIComponent(id)}`);
    seq = d.seq;
    render(d);
    showError(errorBox, '');
  } catch (e) {
    if (e.status !== 401) showError(errorBox, `Could not load ${id}: ${e.message}`);
  }
}

async function main() {
  me = await shell('incidents');
  if (!me.signed_in) return;
  handleActions(box, () => load(), (m) => showError(errorBox, m));
  await load();
  setInterval(tick, 1000);
  live((ch) => {
    if (ch.event === 'reset' || ch.ids.includes(id)) load();
  }, seq);
}

main();
