// The pages not built yet (On call, SLOs, Alerts & silences, Notifications: issue 16, items 4
// and 5) say so instead of showing nothing. A page gets its own module when it is built.
import {el, shell} from './common.js';

async function main() {
  const page = document.querySelector('main').dataset.page || '';
  const me = await shell(page);
  if (!me.signed_in) return;
  document.getElementById('content').replaceChildren(
      el('p', {class: 'muted'}, 'This page is not part of this build yet.'));
}

main();
