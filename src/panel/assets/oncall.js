// On-call page: who holds each rotation now and next (per team, times in the shift's zone, the
// viewer's and UTC), shadows and overrides; a week or month calendar; the roster check's
// findings; and the override form, whose errors (field checks and the roster's fairness rules,
// both decided by the server) are shown next to the field they concern.
import {api, el, fmtTime, shell, zoneNote} from './common.js';

const content = document.getElementById('content');
const DAY = 86400000;
let me = null;
let people = [];
let rotations = [];
let view = {mode: 'week', start: startOfWeek(new Date()), rotation: ''};

function startOfWeek(d) {
  const x = new Date(d.getFullYear(), d.getMonth(), d.getDate());
  x.setDate(x.getDate() - ((x.getDay() + 6) % 7));  // Monday
  return x;
}

const nameOf = (id) => (people.find((p) => p.id === id) || {}).name || id;

function shiftLine(s) {
  const who = el('strong', {}, s.name || s.person);
  const parts = [who, ` (${s.person})`];
  if (s.override) parts.push(' ', el('span', {class: 'tag warn-tag'}, `override: ${s.override}`));
  for (const sh of s.shadows || []) {
    parts.push(' ', el('span', {class: 'tag'}, `shadow: ${sh.name || sh.person}`));
  }
  return el('div', {}, ...parts,
      el('div', {class: 'muted small'},
          `${s.start_local} → ${s.end_local} (${s.time_zone || 'UTC'})`),
      el('div', {class: 'muted small'}, 'Your time: ', fmtTime(s.start), ' → ', fmtTime(s.end)));
}

function nowSection(data) {
  const byTeam = new Map();
  for (const r of data.rotations) {
    const team = r.team || 'No team';
    if (!byTeam.has(team)) byTeam.set(team, []);
    byTeam.get(team).push(r);
  }
  const out = [el('h2', {id: 'now-h'}, 'Now and next')];
  if (!data.rotations.length) out.push(el('p', {class: 'muted'}, 'The roster has no rotations.'));
  for (const [team, rs] of byTeam) {
    out.push(el('h3', {}, team));
    out.push(el('ul', {class: 'cards', 'aria-label': `Rotations of ${team}`},
        rs.map((r) => el('li', {class: 'card', 'data-rotation': r.rotation},
            el('p', {class: 'head row-head'}, el('span', {class: 'state'}, r.role),
                el('span', {class: 'title'}, r.rotation === r.role ? '' : r.rotation),
                el('span', {class: 'muted small'}, r.time_zones.join(', '))),
            el('dl', {class: 'facts'},
                el('dt', {}, 'Now'),
                el('dd', {class: 'now'}, r.now.length ? r.now.map(shiftLine) : 'nobody'),
                el('dt', {}, 'Next'),
                el('dd', {class: 'next'}, r.next.length ? r.next.map(shiftLine) : '—'))))));
  }
  return out;
}

// ---- calendar ---------------------------------------------------------------------------
function dayKey(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-` +
      String(d.getDate()).padStart(2, '0');
}

function range() {
  const from = new Date(view.start);
  let to;
  if (view.mode === 'week') {
    to = new Date(from.getTime() + 7 * DAY);
  } else {
    to = new Date(from);
    to.setDate(to.getDate() + 42);  // six weeks: every day of the month in full weeks
  }
  return {from, to};
}

function monthStart(d) {
  return startOfWeek(new Date(d.getFullYear(), d.getMonth(), 1));
}

const hm = (iso) => {
  const d = new Date(iso);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
};

// Shifts per local day of the viewer (a shift over midnight shows on each day it touches).
function perDay(shifts, from, days) {
  const map = new Map();
  for (let i = 0; i < days; i++) map.set(dayKey(new Date(from.getTime() + i * DAY)), []);
  for (const s of shifts) {
    const start = new Date(s.start);
    const end = new Date(s.end);
    for (let d = new Date(start.getFullYear(), start.getMonth(), start.getDate());
      d < end; d.setDate(d.getDate() + 1)) {
      const list = map.get(dayKey(d));
      if (list) list.push(s);
    }
  }
  return map;
}

async function loadCalendar(box) {
  const {from, to} = range();
  const q = new URLSearchParams({from: from.toISOString(), to: to.toISOString()});
  if (view.rotation) q.set('rotation', view.rotation);
  box.replaceChildren(el('p', {class: 'muted'}, 'Loading…'));
  let data;
  try {
    data = await api(`/api/v1/oncall/shifts?${q}`);
  } catch (e) {
    box.replaceChildren(el('p', {class: 'error', role: 'alert'}, e.message));
    return;
  }
  const days = perDay(data.shifts, from, view.mode === 'week' ? 7 : 42);
  const today = dayKey(new Date());
  if (view.mode === 'week') {
    box.replaceChildren(el('ol', {class: 'week', 'aria-label': 'Shifts this week'},
        [...days].map(([key, list]) => el('li', {class: key === today ? 'today' : ''},
            el('h4', {}, new Date(`${key}T00:00`).toLocaleDateString(undefined,
                {weekday: 'short', day: 'numeric', month: 'short'})),
            list.length ? el('ul', {}, list.map((s) => el('li', {},
                `${hm(s.start)}–${hm(s.end)} `, el('strong', {}, s.name || s.person),
                ` · ${s.rotation}`, s.override ? ' · override' : ''))) :
              el('p', {class: 'muted small'}, 'no shifts')))));
    return;
  }
  const month = new Date(view.start.getTime() + 14 * DAY).getMonth();
  const weekdays = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  const rows = [];
  const keys = [...days.keys()];
  for (let w = 0; w < 6; w++) {
    rows.push(el('tr', {}, keys.slice(w * 7, w * 7 + 7).map((key) => {
      const d = new Date(`${key}T00:00`);
      // Person ids: a phone's day cell has room for a short name only; the full one is its title.
      const who = new Map(days.get(key).map((s) => [s.person, s.name || s.person]));
      return el('td', {class: [d.getMonth() === month ? '' : 'other',
        key === today ? 'today' : ''].join(' ').trim()},
      el('span', {class: 'day'}, String(d.getDate())),
      [...who].map(([id, n]) => el('span', {class: 'who-cell', title: n}, id)));
    })));
  }
  box.replaceChildren(el('table', {class: 'month'},
      el('caption', {class: 'sr-only'}, 'Who is on call each day of the month'),
      el('thead', {}, el('tr', {}, weekdays.map((d) => el('th', {scope: 'col'}, d)))),
      el('tbody', {}, rows)));
}

function calendarSection() {
  const box = el('div', {id: 'calendar', 'aria-live': 'polite'});
  const title = el('p', {class: 'cal-title', id: 'cal-title'});
  const setTitle = () => {
    const {from} = range();
    title.textContent = view.mode === 'week' ?
      `Week of ${from.toLocaleDateString()}` :
      new Date(from.getTime() + 14 * DAY).toLocaleDateString(undefined,
          {month: 'long', year: 'numeric'});
  };
  const modeBtn = (mode, label) => el('button', {type: 'button', 'aria-pressed':
    String(view.mode === mode), 'data-mode': mode, onclick: () => {
    view.mode = mode;
    view.start = mode === 'week' ? startOfWeek(new Date()) : monthStart(new Date());
    // A month shows one rotation: every rotation's holder does not fit a phone's day cell.
    if (mode === 'month' && !view.rotation && rotations.length) {
      view.rotation = rotations[0].rotation;
      rot.value = view.rotation;
    }
    refreshCal();
  }}, label);
  const step = (dir) => () => {
    if (view.mode === 'week') {
      view.start = new Date(view.start.getTime() + dir * 7 * DAY);
    } else {
      const mid = new Date(view.start.getTime() + 14 * DAY);
      view.start = monthStart(new Date(mid.getFullYear(), mid.getMonth() + dir, 1));
    }
    refreshCal();
  };
  const rot = el('select', {id: 'cal-rotation', onchange: (e) => {
    view.rotation = e.target.value;
    refreshCal();
  }}, el('option', {value: ''}, 'All rotations'),
  rotations.map((r) => el('option', {value: r.rotation}, `${r.rotation} (${r.role})`)));
  const controls = el('div', {class: 'actions'}, modeBtn('week', 'Week'), modeBtn('month', 'Month'),
      el('button', {type: 'button', onclick: step(-1), 'aria-label': 'Previous'}, '‹'),
      el('button', {type: 'button', onclick: step(1), 'aria-label': 'Next'}, '›'),
      el('label', {for: 'cal-rotation', class: 'sr-only'}, 'Rotation'), rot);
  function refreshCal() {
    for (const b of controls.querySelectorAll('[data-mode]')) {
      b.setAttribute('aria-pressed', String(b.dataset.mode === view.mode));
    }
    setTitle();
    loadCalendar(box);
  }
  refreshCal();
  return [el('h2', {}, 'Calendar'), controls, title, box];
}

// ---- findings -----------------------------------------------------------------------------
async function findingsSection() {
  const box = el('div', {id: 'findings'});
  try {
    const data = await api('/api/v1/oncall/findings?weeks=4');
    box.append(data.findings.length ?
      el('ul', {class: 'findings'}, data.findings.map((f) => el('li', {},
          el('span', {class: 'tag warn-tag'}, f.rule), ' ', f.message,
          f.line ? el('span', {class: 'muted small'}, ` (${f.file}:${f.line})`) : ''))) :
      el('p', {class: 'ok'}, 'No findings: the next 4 weeks are fair and covered.'));
  } catch (e) {
    box.append(el('p', {class: 'error', role: 'alert'}, e.message));
  }
  return [el('h2', {}, 'Roster check (next 4 weeks)'), box];
}

// ---- override form ------------------------------------------------------------------------
const FIELDS = ['type', 'rotation', 'from', 'to', 'person', 'replaces', 'with', 'reason'];

function field(id, label, control, hint) {
  control.id = `ov-${id}`;
  control.name = id;
  const err = el('p', {class: 'error field-error', id: `ov-${id}-error`, hidden: true});
  control.setAttribute('aria-describedby', `ov-${id}-error${hint ? ` ov-${id}-hint` : ''}`);
  return el('div', {class: 'field', 'data-field': id}, el('label', {for: control.id}, label),
      hint ? el('p', {class: 'muted small', id: `ov-${id}-hint`}, hint) : '', control, err);
}

function personSelect(optional) {
  return el('select', {}, optional ? el('option', {value: ''}, '— anyone —') : '',
      people.map((p) => el('option', {value: p.id}, `${p.name} (${p.id})`)));
}

function overrideSection(refresh) {
  if (!me.can_act) {
    return [el('h2', {}, 'Add an override'),
      el('p', {class: 'muted'}, 'Your role may read only: a responder adds overrides.')];
  }
  const zoneOf = (name) => (rotations.find((r) => r.rotation === name) || {time_zones: ['UTC']})
      .time_zones[0];
  const type = el('select', {}, el('option', {value: 'cover'}, 'Cover: someone takes the shifts'),
      el('option', {value: 'swap'}, 'Swap: two people trade shifts'));
  const rotation = el('select', {}, rotations.map((r) => el('option', {value: r.rotation},
      `${r.rotation} (${r.role}, ${r.team || 'no team'})`)));
  const from = el('input', {type: 'datetime-local', required: true});
  const to = el('input', {type: 'datetime-local', required: true});
  const reason = el('input', {type: 'text', maxlength: '300', autocomplete: 'off'});
  const summary = el('div', {id: 'ov-summary', role: 'alert'});
  const zoneHint = el('span', {});
  const form = el('form', {class: 'form', id: 'override-form', novalidate: true},
      field('type', 'Kind', type),
      field('rotation', 'Rotation', rotation),
      el('p', {class: 'muted small'}, 'Times are in the rotation\'s zone: ', zoneHint),
      field('from', 'From', from), field('to', 'To', to),
      field('person', 'Person who takes the shifts', personSelect(false)),
      field('replaces', 'Only the shifts of (cover)', personSelect(true)),
      field('with', 'Swap with', personSelect(true)),
      field('reason', 'Reason', reason, 'Shown in the schedule, e.g. "dentist".'),
      summary, el('button', {type: 'submit', class: 'primary'}, 'Add override'));
  const sync = () => {
    const swap = type.value === 'swap';
    form.querySelector('[data-field="with"]').hidden = !swap;
    form.querySelector('[data-field="replaces"]').hidden = swap;
    zoneHint.textContent = zoneOf(rotation.value);
  };
  type.addEventListener('change', sync);
  rotation.addEventListener('change', sync);
  sync();
  const clear = () => {
    for (const f of FIELDS) {
      const e = form.querySelector(`#ov-${f}-error`);
      e.hidden = true;
      e.textContent = '';
      form.querySelector(`#ov-${f}`).removeAttribute('aria-invalid');
    }
    summary.replaceChildren();
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear();
    const body = {};
    for (const f of FIELDS) {
      const v = form.querySelector(`#ov-${f}`).value;
      if (v && !(f === 'with' && type.value !== 'swap') &&
          !(f === 'replaces' && type.value === 'swap')) body[f] = v;
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const r = await api('/api/v1/oncall/overrides', {method: 'POST', body});
      const o = r.override;
      summary.replaceChildren(el('p', {class: 'ok'}, `Override added: ${nameOf(o.person)} ` +
          `${o.type === 'swap' ? `swaps with ${nameOf(o.with)}` : 'covers'} ${o.rotation} from `,
      fmtTime(o.from), ' to ', fmtTime(o.to), ` (by ${o.created_by}).`));
      refresh();
    } catch (e) {
      let first = null;
      const general = [];
      for (const fe of (e.data && e.data.errors) || []) {
        const box = fe.field && form.querySelector(`#ov-${fe.field}-error`);
        const text = fe.rule ? `${fe.message} [${fe.rule}]` : fe.message;
        const wrap = fe.field && form.querySelector(`[data-field="${fe.field}"]`);
        if (box && wrap && !wrap.hidden) {
          box.textContent = box.textContent ? `${box.textContent} ${text}` : text;
          box.hidden = false;
          const input = form.querySelector(`#ov-${fe.field}`);
          input.setAttribute('aria-invalid', 'true');
          first = first || input;
        } else {
          general.push(text);
        }
      }
      summary.replaceChildren(el('p', {class: 'error'}, e.message),
          general.length ? el('ul', {class: 'error'}, general.map((g) => el('li', {}, g))) : '');
      if (first) first.focus();
    } finally {
      button.disabled = false;
    }
  });
  return [el('h2', {}, 'Add an override'), form];
}

async function main() {
  me = await shell('oncall');
  if (!me.signed_in) return;
  const nowBox = el('section', {id: 'now', 'aria-labelledby': 'now-h'});
  const refresh = async () => {
    try {
      const data = await api('/api/v1/oncall/now');
      people = data.people;
      rotations = data.rotations;
      nowBox.replaceChildren(...nowSection(data));
      return true;
    } catch (e) {
      nowBox.replaceChildren(el('p', {class: 'error', role: 'alert'}, e.message));
      return false;
    }
  };
  content.replaceChildren(el('p', {class: 'muted'},
      `Each shift in its own zone; "Your time": ${zoneNote()}.`), nowBox);
  if (!(await refresh())) return;
  const cal = el('section', {}, ...calendarSection());
  const findings = el('section', {}, ...await findingsSection());
  const form = el('section', {}, ...overrideSection(async () => {
    await refresh();
    cal.replaceChildren(...calendarSection());
    findings.replaceChildren(...await findingsSection());
  }));
  content.append(cal, findings, form);
}

main();
