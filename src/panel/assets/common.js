// Shared helpers of the panel's pages: the API call with the session's CSRF token, the signed-in
// user, a tiny DOM builder (text only, never HTML from data), times in the viewer's zone and in
// UTC, and the live-update loop with its "connection lost" banner. No framework, no build step.

export const prefix = document.querySelector('meta[name="tocsin-prefix"]').content;

let sessionPromise = null;

// The signed-in user: {signed_in, name, actor, role, csrf, can_act, via, loopback_available}.
export function session(refresh = false) {
  if (!sessionPromise || refresh) {
    sessionPromise = fetch(`${prefix}/session`, {credentials: 'same-origin'})
        .then((r) => r.json());
  }
  return sessionPromise;
}

export class ApiError extends Error {
  // `data`: the answer's JSON body, when it had one (field errors of a form, say).
  constructor(status, message, data = null) {
    super(message);
    this.status = status;
    this.data = data;
  }
}

// GET or POST JSON on the panel's listener. A 401 sends the browser to the sign-in page.
export async function api(path, {method = 'GET', body} = {}) {
  const headers = {Accept: 'application/json'};
  if (method !== 'GET') {
    const s = await session();
    headers['X-Tocsin-CSRF'] = s.csrf || '';
    headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(prefix + path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await r.json();
  } catch (e) {
    data = null;
  }
  if (r.status === 401 && path !== '/session') {
    goSignIn();
    throw new ApiError(401, 'not signed in');
  }
  // The Alertmanager API's errors are a bare JSON string; the others {"error": ...}.
  const message = typeof data === 'string' ? data : data && data.error;
  if (!r.ok) throw new ApiError(r.status, message || `HTTP ${r.status}`, data);
  return data;
}

export function goSignIn() {
  const next = location.pathname + location.search;
  location.assign(`${prefix}/signin?next=${encodeURIComponent(next)}`);
}

// el('a', {href: '/x', class: 'y'}, 'text', child, ...): strings become text nodes.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// Text for HTML: the pages build large lists as one HTML string (a thousand incidents in one
// parse), and every value from the server goes through this first.
const ESC = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'};
const SPECIAL = /[&<>"']/;
export function esc(v) {
  const s = String(v ?? '');
  return SPECIAL.test(s) ? s.replace(/[&<>"']/g, (c) => ESC[c]) : s;
}

// <time> as HTML, like timeEl().
export function timeHtml(iso) {
  return `<time datetime="${esc(iso)}">${esc(fmtTime(iso))}</time>`;
}

const two = (n) => String(n).padStart(2, '0');

// "14:03 · 12:03 UTC" (same day), with the date when it is not today.
export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const local = `${two(d.getHours())}:${two(d.getMinutes())}`;
  const utc = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())} UTC`;
  // A viewer in UTC sees the time once.
  if (d.getTimezoneOffset() === 0) return `${day(d)}${utc}`;
  const today = d.getDate() === new Date().getDate() && Math.abs(Date.now() - d.getTime()) < 86400000;
  const date = today ? '' : `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} `;
  return `${date}${local} · ${utc}`;
}

// The UTC date when it is not today, for a viewer whose zone is UTC.
function day(d) {
  const sameDay = d.toISOString().slice(0, 10) === new Date().toISOString().slice(0, 10);
  return sameDay ? '' : `${d.toISOString().slice(0, 10)} `;
}

// The full form for a title attribute and <time datetime>.
export function timeEl(iso) {
  return el('time', {datetime: iso, title: iso}, fmtTime(iso));
}

// 75 -> "1m 15s", 3700 -> "1h 1m", 90000 -> "1d 1h".
export function fmtDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

// "Times in Europe/Kyiv and UTC", or "Times in UTC" for a viewer in UTC.
export function zoneNote() {
  if (new Date().getTimezoneOffset() === 0) return 'Times in UTC';
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'your time zone';
  return `Times in ${zone} and UTC`;
}

// Marks the current page in the navigation and shows who is signed in, with sign-out.
export async function shell(page) {
  for (const a of document.querySelectorAll('nav a[data-page]')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
  }
  const who = document.getElementById('who');
  const s = await session();
  if (!s.signed_in) {
    if (page !== 'signin') goSignIn();
    return s;
  }
  who.replaceChildren(el('span', {}, `${s.actor || s.name} (${s.role})`));
  if (s.via === 'session') {
    who.append(el('button', {type: 'button', class: 'link', onclick: signOut}, 'Sign out'));
  } else if (s.via === 'loopback') {
    who.append(el('a', {href: `${prefix}/signin`}, 'Name yourself'));
  }
  return s;
}

async function signOut() {
  try {
    await api('/session/end', {method: 'POST', body: {}});
  } finally {
    location.assign(`${prefix}/signin`);
  }
}

const conn = () => document.getElementById('conn');

function showLost(message) {
  const c = conn();
  c.textContent = message;
  c.hidden = false;
}

function showLive() {
  conn().hidden = true;
}

// Calls onChange({event, ids}) whenever an incident changes, and with event "reset" when the
// page must reload everything (after a lost connection, or too much changed). `since` is the
// change number the page's data was read at (the data endpoints return it as `seq`), so no
// change between that read and the first wait is missed. The answers are server-sent events,
// asked for again after each one; any failure shows the "connection lost" banner until an
// answer arrives again.
export function live(onChange, since = null) {
  let last = since;
  let delay = 1000;
  let lost = false;
  const loop = async () => {
    for (;;) {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), 35000);
      try {
        const headers = last === null ? {} : {'Last-Event-ID': String(last)};
        const r = await fetch(`${prefix}/events`, {headers, credentials: 'same-origin',
          signal: ctl.signal});
        if (r.status === 401) return goSignIn();
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        const ev = parseEvent(await r.text());
        if (ev.id !== undefined) last = Number(ev.id);
        showLive();
        delay = 1000;
        if (lost) {
          lost = false;
          onChange({event: 'reset', ids: []});
        } else if (ev.event === 'incidents' || ev.event === 'reset') {
          onChange({event: ev.event, ids: (ev.data && ev.data.ids) || []});
        }
      } catch (e) {
        lost = true;
        showLost('Connection lost: live updates stopped. Retrying…');
        await new Promise((res) => setTimeout(res, delay));
        delay = Math.min(delay * 2, 10000);
      } finally {
        clearTimeout(timer);
      }
    }
  };
  loop();
}

// One text/event-stream message: {id, event, data}.
export function parseEvent(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i);
    const v = line.slice(i + 1).replace(/^ /, '');
    if (k === 'id') out.id = v;
    else if (k === 'event') out.event = v;
    else if (k === 'data') {
      try {
        out.data = JSON.parse(v);
      } catch (e) {
        out.data = null;
      }
    }
  }
  return out;
}

export function showError(node, message) {
  node.textContent = message;
  node.hidden = !message;
}
