// alerts page: built on this skeleton by the panel API work (issue 16, item 4/5); until then it
// says so instead of showing nothing.
import {el, shell} from './common.js';

async function main() {
  const me = await shell('alerts');
  if (!me.signed_in) return;
  document.getElementById('content').replaceChildren(
      el('p', {class: 'muted'}, 'This page is not part of this build yet.'));
}

main();
