// Sign-in page: an API token for a session cookie, or (a browser on the daemon's host while no
// token is configured) a roster id to act as.
import {api, prefix, session, shell, showError} from './common.js';

const errorBox = document.getElementById('error');
const next = new URLSearchParams(location.search).get('next');
// Only a path of this panel: never an address elsewhere.
const target = next && next.startsWith(`${prefix}/`) && !next.startsWith('//') ? next : `${prefix}/`;

async function signIn(body) {
  try {
    await api('/session', {method: 'POST', body});
    await session(true);
    location.assign(target);
  } catch (e) {
    showError(errorBox, `Sign-in refused: ${e.message}`);
  }
}

async function main() {
  const s = await shell('signin');
  if (s.loopback_available) document.getElementById('name-form').hidden = false;
  document.getElementById('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    signIn({token: document.getElementById('token').value});
  });
  document.getElementById('name-form').addEventListener('submit', (e) => {
    e.preventDefault();
    signIn({person: document.getElementById('person').value.trim()});
  });
}

main();
