// Alerts & silences page, like Alertmanager's: the alert list with a matcher filter and the
// active / silenced / inhibited switches; silences with expire; and the silence form with a
// live preview of the alerts its matchers match (POST /api/v1/silences/preview, which matches
// exactly as the silence will). Matcher text is read by the server only (the filter by GET
// /api/v2/alerts, the form by the preview, whose matchers the silence is created with): the
// page shows the server's error, never a second parser's.
import {api, el, fmtTime, shell} from './common.js';

const content = document.getElementById('content');
let me = null;

function matcherText(m) {
  const not = m.isEqual === false;
  const op = m.isRegex ? (not ? '!~' : '=~') : (not ? '!=' : '=');
  return `${m.name}${op}"${m.value}"`;
}

function labelChips(labels) {
  return el('span', {class: 'labels'}, Object.entries(labels).map(([k, v]) =>
    el('code', {}, `${k}="${v}"`)));
}

// ---- alerts ------------------------------------------------------------------------------
function alertItem(a, onSilence) {
  const st = a.status || {};
  return el('li', {class: `card ${st.state === 'active' ? 'triggered' : ''}`,
    'data-fingerprint': a.fingerprint},
  el('p', {class: 'head row-head'}, el('span', {class: `state ${st.state === 'active' ? 'triggered' : ''}`},
      st.state || '?'), el('span', {class: 'title'}, a.labels.alertname || '(no alertname)'),
  el('span', {class: 'muted small'}, 'since ', fmtTime(a.startsAt))),
  a.annotations && a.annotations.summary ? el('p', {}, a.annotations.summary) : '',
  el('p', {}, labelChips(a.labels)),
  (st.silencedBy || []).length ? el('p', {class: 'small muted'},
      `silenced by ${st.silencedBy.join(', ')}`) : '',
  (st.inhibitedBy || []).length ? el('p', {class: 'small muted'},
      `inhibited by ${st.inhibitedBy.join(', ')}`) : '',
  onSilence ? el('div', {class: 'actions'}, el('button', {type: 'button', onclick: () =>
    onSilence(a.labels)}, 'Silence…')) : '');
}

function alertsSection(onSilence) {
  const filter = el('input', {type: 'search', id: 'alert-filter', placeholder: 'alertname="X", severity=~"crit.*"',
    autocomplete: 'off', 'aria-describedby': 'alert-filter-error'});
  const err = el('p', {class: 'error', id: 'alert-filter-error', hidden: true});
  const boxes = ['active', 'silenced', 'inhibited'].map((n) => el('label', {class: 'check'},
      el('input', {type: 'checkbox', name: n, checked: true}), ` ${n}`));
  const list = el('ul', {class: 'cards', id: 'alerts', 'aria-live': 'polite'});
  const count = el('span', {class: 'muted', id: 'alert-count'});
  const load = async () => {
    const q = new URLSearchParams();
    if (filter.value.trim()) q.append('filter', filter.value.trim());
    for (const b of boxes) {
      const input = b.querySelector('input');
      q.set(input.name, String(input.checked));
    }
    try {
      const alerts = await api(`/api/v2/alerts?${q}`);
      err.hidden = true;
      filter.removeAttribute('aria-invalid');
      alerts.sort((x, y) => (x.labels.alertname || '').localeCompare(y.labels.alertname || ''));
      count.textContent = `(${alerts.length})`;
      list.replaceChildren(...alerts.map((a) => alertItem(a, onSilence)));
      if (!alerts.length) list.append(el('li', {class: 'muted'}, 'No alerts match.'));
    } catch (e) {
      if (e.status === 400 && filter.value.trim()) {
        // The filter as the server read it: its message says where and what.
        err.textContent = e.message;
        err.hidden = false;
        filter.setAttribute('aria-invalid', 'true');
        list.replaceChildren();
        return;
      }
      list.replaceChildren(el('li', {class: 'error', role: 'alert'}, e.message));
    }
  };
  let timer = null;
  filter.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(load, 300);
  });
  for (const b of boxes) b.querySelector('input').addEventListener('change', load);
  load();
  return {nodes: [el('h2', {}, 'Alerts ', count),
    el('div', {class: 'filters'}, el('label', {for: 'alert-filter'}, 'Filter (matchers)'),
        filter, err, el('div', {class: 'actions'}, boxes)), list], reload: load};
}

// ---- silences ----------------------------------------------------------------------------
function silenceItem(s, onExpire) {
  const state = s.status.state;
  return el('li', {class: `card ${state}`, 'data-silence': s.id},
      el('p', {class: 'head row-head'}, el('span', {class: 'state'}, state),
          el('span', {class: 'title'}, s.comment || '(no comment)')),
      el('p', {}, el('span', {class: 'labels'}, s.matchers.map((m) =>
        el('code', {}, matcherText(m))))),
      el('p', {class: 'small muted'}, `by ${s.createdBy} · `, fmtTime(s.startsAt), ' → ',
          fmtTime(s.endsAt)),
      onExpire && state !== 'expired' ? el('div', {class: 'actions'}, el('button', {
        type: 'button', class: 'warn', 'data-action': 'expire', onclick: () => onExpire(s)},
      'Expire')) : '');
}

function silencesSection(onChange) {
  const list = el('ul', {class: 'cards', id: 'silences'});
  const status = el('p', {role: 'status', id: 'silence-status'});
  const showExpired = el('input', {type: 'checkbox', id: 'show-expired'});
  const expire = async (s) => {
    try {
      await api(`/api/v2/silence/${encodeURIComponent(s.id)}`, {method: 'DELETE'});
      status.textContent = `Silence ${s.id} expired.`;
      load();
      onChange();
    } catch (e) {
      status.textContent = `Could not expire: ${e.message}`;
    }
  };
  const load = async () => {
    try {
      const all = await api('/api/v2/silences');
      const shown = all.filter((s) => showExpired.checked || s.status.state !== 'expired');
      list.replaceChildren(...shown.map((s) => silenceItem(s, me.can_act ? expire : null)));
      if (!shown.length) list.append(el('li', {class: 'muted'}, 'No silences.'));
    } catch (e) {
      list.replaceChildren(el('li', {class: 'error', role: 'alert'}, e.message));
    }
  };
  showExpired.addEventListener('change', load);
  load();
  return {nodes: [el('h2', {}, 'Silences'), el('label', {class: 'check'}, showExpired,
      ' show expired'), status, list], reload: load};
}

function silenceForm(onCreated) {
  const matchers = el('input', {type: 'text', id: 'sil-matchers', autocomplete: 'off',
    placeholder: 'alertname="DepositFailures", psp=~"PSP-.*"', 'aria-describedby':
      'sil-matchers-error sil-matchers-hint'});
  const hint = el('p', {class: 'muted small', id: 'sil-matchers-hint'},
      'Matchers as in Alertmanager: =, !=, =~ (regex), !~ (not regex), comma-separated.');
  const mErr = el('p', {class: 'error', id: 'sil-matchers-error', hidden: true});
  const duration = el('select', {id: 'sil-duration'}, [['1', '1 hour'], ['2', '2 hours'],
    ['4', '4 hours'], ['8', '8 hours'], ['24', '1 day'], ['72', '3 days']].map(([v, t]) =>
    el('option', {value: v}, t)));
  const comment = el('input', {type: 'text', id: 'sil-comment', autocomplete: 'off',
    'aria-describedby': 'sil-comment-error'});
  const cErr = el('p', {class: 'error', id: 'sil-comment-error', hidden: true});
  const preview = el('div', {id: 'sil-preview', 'aria-live': 'polite'});
  const status = el('p', {id: 'sil-status', role: 'status'});
  const form = el('form', {class: 'form', id: 'silence-form', novalidate: true},
      el('label', {for: 'sil-matchers'}, 'Matchers'), hint, matchers, mErr,
      el('label', {for: 'sil-duration'}, 'For'), duration,
      el('label', {for: 'sil-comment'}, 'Comment (why)'), comment, cErr,
      preview, status, el('button', {type: 'submit', class: 'primary'}, 'Create silence'));
  // The silence, with the matchers the server read from the text (the preview's answer).
  const body = (parsed) => {
    const now = new Date();
    return {matchers: parsed, startsAt: now.toISOString(),
      endsAt: new Date(now.getTime() + Number(duration.value) * 3600000).toISOString(),
      createdBy: me.actor || me.name, comment: comment.value.trim()};
  };
  const ask = (text) => api('/api/v1/silences/preview', {method: 'POST', body: {text}});
  const fieldError = (input, box, message) => {
    box.textContent = message || '';
    box.hidden = !message;
    if (message) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };
  let seq = 0;
  const update = async () => {
    const mine = ++seq;
    if (!matchers.value.trim()) {
      fieldError(matchers, mErr, '');
      preview.replaceChildren();
      return;
    }
    try {
      const r = await ask(matchers.value);
      if (mine !== seq) return;
      fieldError(matchers, mErr, '');
      preview.replaceChildren(el('p', {id: 'sil-preview-count'}, `Would silence ${r.total} ` +
          `current alert${r.total === 1 ? '' : 's'}${r.total > r.alerts.length ?
            ` (first ${r.alerts.length} shown)` : ''}.`),
      el('ul', {class: 'preview'}, r.alerts.slice(0, 20).map((a) => el('li', {},
          el('strong', {}, a.labels.alertname || ''), ' ', labelChips(a.labels)))));
    } catch (e) {
      if (mine !== seq) return;
      fieldError(matchers, mErr, e.message);
      preview.replaceChildren();
    }
  };
  let timer = null;
  matchers.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(update, 250);
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    status.textContent = '';
    if (!comment.value.trim()) {
      fieldError(comment, cErr, 'Say why, for whoever is paged next.');
      comment.focus();
      return;
    }
    fieldError(comment, cErr, '');
    let b;
    try {
      b = body((await ask(matchers.value)).matchers);
      fieldError(matchers, mErr, '');
    } catch (e) {
      fieldError(matchers, mErr, e.message);
      matchers.focus();
      return;
    }
    try {
      const r = await api('/api/v2/silences', {method: 'POST', body: b});
      status.textContent = `Silence ${r.silenceID} created.`;
      matchers.value = '';
      comment.value = '';
      preview.replaceChildren();
      onCreated();
    } catch (e) {
      status.textContent = `Not created: ${e.message}`;
    }
  });
  const prefill = (labels) => {
    matchers.value = Object.entries(labels).filter(([k]) => k === 'alertname' ||
      !['severity', 'instance', 'job'].includes(k)).map(([k, v]) =>
      `${k}="${v.replace(/(["\\])/g, '\\$1')}"`).join(', ');
    form.scrollIntoView();
    matchers.focus();
    update();
  };
  return {nodes: [el('h2', {}, 'New silence'), form], prefill};
}

async function main() {
  me = await shell('alerts');
  if (!me.signed_in) return;
  let alerts = null;
  let silences = null;
  const form = me.can_act ? silenceForm(() => {
    silences.reload();
    alerts.reload();
  }) : null;
  alerts = alertsSection(form ? form.prefill : null);
  silences = silencesSection(() => alerts.reload());
  content.replaceChildren(el('p', {class: 'muted'},
      'Alerts as tocsin holds them now; a silence mutes the alerts its matchers match.'),
  ...alerts.nodes, ...silences.nodes, ...(form ? form.nodes :
    [el('p', {class: 'muted'}, 'Your role may read only: a responder creates silences.')]));
}

main();
