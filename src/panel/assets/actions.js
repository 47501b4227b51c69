// The incident buttons shared by the list and the incident page: acknowledge, resolve,
// escalate now, add note. Buttons are HTML (fast for a thousand incidents) handled by one
// delegated listener per container; each action is a POST with the session's CSRF token, and
// the timeline records the signed-in person as the actor.
import {api, esc} from './common.js';

const LABELS = {ack: 'Acknowledge', resolve: 'Resolve', escalate: 'Escalate now'};

// The buttons of incident `inc` ({id, state}) as HTML.
export function actionsHtml(inc, session) {
  const id = esc(inc.id);
  if (!session.can_act) {
    const why = session.role === 'viewer' ? 'Viewers read only.' :
      'Name yourself (roster id) to act.';
    return `<div class="actions"><p class="muted small">${why}</p></div>`;
  }
  // The group's label names the incident for screen readers, once per card.
  const button = (what, cls) =>
    `<button type="button" class="${cls}" data-action="${what}" data-id="${id}">${LABELS[what]}` +
    '</button>';
  let out = `<div class="actions" role="group" aria-label="Actions on ${id}">`;
  if (inc.state === 'triggered') out += button('ack', 'primary');
  if (inc.state !== 'resolved') out += button('resolve', '') + button('escalate', 'warn');
  // The note form is made when asked for (noteForm): a thousand idle text areas cost more
  // than the rest of the list.
  out += `<button type="button" data-action="note-open" data-id="${id}" aria-expanded="false">` +
    'Note…</button></div>';
  return out;
}

function noteForm(id) {
  const form = document.createElement('form');
  form.className = 'note';
  form.dataset.id = id;
  const domId = `note-${id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  form.innerHTML = `<label for="${domId}">Note on ${esc(id)}</label>` +
    `<textarea id="${domId}" rows="2" required></textarea><button type="submit">Add note</button>`;
  return form;
}

// Handles the buttons and note forms inside `container`; `onDone(message)` after an action,
// `onError(message)` when it was refused.
export function handleActions(container, onDone, onError) {
  const run = async (id, what, body = {}) => {
    try {
      const out = await api(`/data/incidents/${encodeURIComponent(id)}/${what}`,
          {method: 'POST', body});
      onDone(`${id}: ${out.changed ? out.state : `already ${out.state}`}`);
    } catch (e) {
      onError(`${id}: ${e.message}`);
    }
  };
  container.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-action]');
    if (!b || !container.contains(b)) return;
    const {action, id} = b.dataset;
    if (action === 'note-open') {
      let form = b.parentElement.querySelector('form.note');
      if (!form) {
        form = noteForm(id);
        form.hidden = true;
        b.parentElement.append(form);
      }
      form.hidden = !form.hidden;
      b.setAttribute('aria-expanded', String(!form.hidden));
      if (!form.hidden) form.querySelector('textarea').focus();
      return;
    }
    b.disabled = true;
    run(id, action).finally(() => {
      b.disabled = false;
    });
  });
  container.addEventListener('submit', (e) => {
    const form = e.target.closest('form.note');
    if (!form) return;
    e.preventDefault();
    const text = form.querySelector('textarea').value.trim();
    if (text) run(form.dataset.id, 'note', {text});
  });
}

// Open note forms of `container`, with their text and focus, before a rebuild replaces them:
// a live update must not eat a note being typed. restoreNotes puts back those whose incident is
// in the container again and returns the others (still to come, in a later chunk).
export function saveNotes(container) {
  return Array.from(container.querySelectorAll('form.note:not([hidden])')).map((f) => {
    const t = f.querySelector('textarea');
    return {id: f.dataset.id, text: t.value, focused: document.activeElement === t};
  });
}

export function restoreNotes(container, saved) {
  return saved.filter((o) => {
    const b = container.querySelector(
        `button[data-action="note-open"][data-id="${CSS.escape(o.id)}"]`);
    if (!b) return true;
    const f = noteForm(o.id);
    b.parentElement.append(f);
    b.setAttribute('aria-expanded', 'true');
    const t = f.querySelector('textarea');
    t.value = o.text;
    if (o.focused) t.focus();
    return false;
  });
}

// Runs `rebuild` (which replaces what `container` holds) keeping open note forms.
export function keepNotes(container, rebuild) {
  const saved = saveNotes(container);
  rebuild();
  restoreNotes(container, saved);
}
