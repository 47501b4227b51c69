// Sign-in page: an API token for a session cookie, or (a browser on the daemon's host while no
// token is configured) a roster id to act as.
import {api, prefix, session, shell, showError} from './common.js';

const errorBox = document.getElementById('error');
// Only a page of this panel, never an address elsewhere. Read as the browser will read it:
// "/\\evil.example" and "/<tab>/evil.example" are "//evil.example" to it, another site.
function panelPage(next) {
  if (!next) return null;
  let url;
  try {
    url = new URL(next, location.href);
  } catch {
    return null;
  }
  if (url.origin !== location.origin || !url.pathname.startsWith(`${prefix}/`)) return null;
  return url.pathname + url.search + url.hash;
}
const target = panelPage(new URLSearchParams(location.search).get('next')) ?? `${prefix}/`;

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
