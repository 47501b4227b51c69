// Notifications page: the delivery log (GET /api/v1/notifications): every page and message
// with its provider, person, incident, result, the provider's answer and the latency from being
// queued to the provider's final answer; filters and "older" paging.
import {api, el, fmtTime, prefix, shell} from './common.js';

const content = document.getElementById('content');
const PROVIDERS = ['pagerduty', 'opsgenie', 'jsm', 'slack', 'twilio', 'email', 'webhook'];
const STATES = ['pending', 'sent', 'failed', 'superseded'];

function latency(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${ms} ms` : ms < 60000 ? `${(ms / 1000).toFixed(1)} s` :
    `${Math.round(ms / 60000)} min`;
}

const COLUMNS = ['Queued', 'Provider', 'Person', 'Incident', 'Result', 'Provider answer',
  'Latency'];

function row(n) {
  const cells = [
    fmtTime(n.queued_at),
    [n.provider, n.provider !== n.queued_for ?
      el('div', {class: 'muted small'}, `fail-over from ${n.queued_for}`) : ''],
    n.person || el('span', {class: 'muted'}, 'channel'),
    el('a', {href: `${prefix}/incidents/${encodeURIComponent(n.incident)}`}, n.incident),
    el('span', {}, el('strong', {}, n.state), n.status !== null ? ` ${n.status}` : '',
        n.attempts > 1 ? el('div', {class: 'muted small'}, `${n.attempts} attempts`) : ''),
    n.answer || '—',
    latency(n.latency_ms)];
  return el('tr', {class: `delivery ${n.state}`}, cells.map((c, i) =>
    el('td', {'data-label': COLUMNS[i], class: i === 5 ? 'answer' : ''}, el('span', {}, c))));
}

function select(id, label, values) {
  return el('div', {class: 'field'}, el('label', {for: id}, label), el('select', {id, name: id},
      el('option', {value: ''}, 'any'), values.map((v) => el('option', {value: v}, v))));
}

function text(id, label, placeholder) {
  return el('div', {class: 'field'}, el('label', {for: id}, label),
      el('input', {type: 'text', id, name: id, autocomplete: 'off', placeholder}));
}

async function main() {
  const me = await shell('notifications');
  if (!me.signed_in) return;
  const form = el('form', {class: 'filters grid-filters', id: 'notif-filters'},
      select('provider', 'Provider', PROVIDERS), select('state', 'Result', STATES),
      text('person', 'Person', 'olena'), text('incident', 'Incident', 'INC-42'),
      el('button', {type: 'submit'}, 'Apply'));
  const tbody = el('tbody', {id: 'notifications'});
  const status = el('p', {role: 'status', id: 'notif-status', class: 'muted'});
  const more = el('button', {type: 'button', id: 'older', hidden: true}, 'Older');
  content.replaceChildren(
      el('p', {class: 'muted'}, 'Every delivery, newest first. Latency: from queued to the ' +
          'provider\'s final answer, retries included.'),
      form, status,
      el('div', {class: 'scroll'}, el('table', {class: 'log'},
          el('caption', {class: 'sr-only'}, 'Deliveries'),
          el('thead', {}, el('tr', {}, COLUMNS.map((t) => el('th', {scope: 'col'}, t)))),
          tbody)),
      more);
  let before = null;
  const load = async (append) => {
    const q = new URLSearchParams();
    for (const name of ['provider', 'state', 'person', 'incident']) {
      const v = form.elements[name].value.trim();
      if (v) q.set(name, v);
    }
    if (append && before !== null) q.set('before', String(before));
    try {
      const r = await api(`/api/v1/notifications?${q}`);
      const rows = r.notifications.map(row);
      if (append) tbody.append(...rows);
      else tbody.replaceChildren(...rows);
      before = r.next_before;
      more.hidden = before === null;
      const shown = tbody.querySelectorAll('tr').length;
      status.textContent = shown ? `${shown} deliveries shown${before !== null ?
        '; older ones below' : ''}.` : 'No deliveries match.';
    } catch (e) {
      status.textContent = e.message;
    }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    load(false);
  });
  more.addEventListener('click', () => load(true));
  load(false);
}

main();
