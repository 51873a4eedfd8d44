// Roster's console: plain JavaScript over the public API (API.md, "The console").
// Signed in with the session cookie; every change sends X-CSRF-Token. The DOM is
// built with h(), never from HTML strings, so no value can become markup.
'use strict';

const S = { me: null, settings: null, source: null };
const main = () => document.getElementById('main');

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && S.me) headers['X-CSRF-Token'] = S.me.csrf_token;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  const r = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  const type = r.headers.get('content-type') || '';
  const data = type.includes('json') ? await r.json() : null;
  if (r.status === 401 && path !== '/v1/session') { S.me = null; showSignIn('Your session has ended. Sign in again.'); }
  return { status: r.status, ok: r.ok, data, headers: r.headers };
}

function problem(r) {
  const d = r.data || {};
  const errors = (d.errors || []).map((e) => `${e.field}: ${e.message}`).join('; ');
  return errors || d.detail || `The server answered ${r.status}.`;
}

function go(path) {
  if (location.pathname !== path) history.pushState(null, '', path);
  route();
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest && ev.target.closest('a[data-route]');
  if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
  ev.preventDefault();
  go(a.getAttribute('href'));
});
window.addEventListener('popstate', () => route());

function link(path, text, attrs) { return h('a', Object.assign({ href: path, 'data-route': '' }, attrs || {}), text); }

function page(title, ...content) {
  stopFollowing();
  const m = main();
  m.replaceChildren(h('h1', {}, title), ...content);
  document.title = `${title} · Roster`;
  return m;
}

// ---------------------------------------------------------------- sign-in

function showSignIn(message) {
  stopFollowing();
  document.getElementById('nav').replaceChildren();
  const error = h('p', { id: 'signin-error', class: 'alert', role: 'alert' }, message || '');
  const email = h('input', { id: 'email', type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { id: 'password', type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'stack', 'aria-labelledby': 'signin-title', novalidate: true },
    h('div', {}, h('label', { for: 'email' }, 'Email'), email),
    h('div', {}, h('label', { for: 'password' }, 'Password'), password),
    error,
    h('div', {}, h('button', { type: 'submit' }, 'Sign in')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const r = await api('POST', '/v1/session', { email: email.value, password: password.value });
    if (r.status === 204) { password.value = ''; await start(); return; }
    if (r.status === 429) {
      const wait = Math.ceil(Number(r.headers.get('retry-after') || 60) / 60);
      error.textContent = `Too many failed sign-ins for this email. Try again in ${wait} minute${wait === 1 ? '' : 's'}.`;
    } else if (r.status === 401) error.textContent = 'The email or the password is wrong.';
    else error.textContent = `Signing in failed: ${problem(r)}`;
    password.focus();
  });
  const m = main();
  m.replaceChildren(h('h1', { id: 'signin-title' }, 'Sign in to Roster'), form);
  document.title = 'Sign in · Roster';
  email.focus();
}

async function start() {
  const r = await api('GET', '/v1/session');
  if (r.status !== 200) { showSignIn(); return; }
  S.me = r.data;
  const s = await api('GET', '/v1/settings');
  S.settings = s.ok ? s.data : null;
  renderNav();
  if (location.pathname === '/') history.replaceState(null, '', '/imports');
  route();
}

function renderNav() {
  const master = S.me.admin.role === 'master';
  const out = h('button', { type: 'button', class: 'secondary', onclick: signOut }, 'Sign out');
  document.getElementById('nav').replaceChildren(
    link('/imports', 'Imports'), link('/import', 'Import technicians'), link('/organization', 'Organization'),
    master ? link('/settings', 'Global Settings') : null,
    h('span', { class: 'note' }, `${S.me.admin.email} · ${S.me.organization.name}`), out);
}

async function signOut() {
  await api('DELETE', '/v1/session');
  S.me = null;
  history.pushState(null, '', '/');
  showSignIn('You have signed out.');
}

function markNav() {
  for (const a of document.querySelectorAll('#nav a')) {
    const here = location.pathname === a.getAttribute('href') ||
      (a.getAttribute('href') === '/imports' && location.pathname.startsWith('/imports/'));
    if (here) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

function route() {
  if (!S.me) { showSignIn(); return; }
  const p = location.pathname;
  markNav();
  const m = p.match(/^\/imports\/([0-9a-fA-F-]{36})$/);
  if (m) showImport(m[1]);
  else if (p === '/import') showImportForm();
  else if (p === '/organization') showOrganization();
  else if (p === '/settings' && S.me.admin.role === 'master') showSettings();
  else showImports();
  main().focus();
}

// ---------------------------------------------------------------- imports

const STATUS = { queued: 'Queued', running: 'Running', completed: 'Completed', failed: 'Failed', cancelled: 'Cancelled', needs_approval: 'Needs approval' };

async function showImports() {
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More imports');
  const table = h('div', { class: 'scroll' }, h('table', {},
    h('thead', {}, h('tr', {}, ['File', 'Status', 'Rows', 'Failed', 'Started'].map((t) => h('th', { scope: 'col' }, t)))), body));
  page('Imports', table, more);
  let after = null;
  async function load() {
    const r = await api('GET', `/v1/imports?limit=50${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    if (!r.ok) return;
    for (const i of r.data.items) {
      body.append(h('tr', {},
        h('td', {}, link(`/imports/${i.id}`, i.file_name)),
        h('td', {}, STATUS[i.status] || i.status),
        h('td', {}, i.total_rows === null ? '–' : `${i.processed_rows} of ${i.total_rows}`),
        h('td', {}, i.failed_rows),
        h('td', {}, new Date(i.created_at).toLocaleString())));
    }
    if (!r.data.items.length && !after) body.append(h('tr', {}, h('td', { colspan: 5 }, 'No imports yet.')));
    after = r.data.next;
    more.hidden = !after;
  }
  more.addEventListener('click', load);
  await load();
}

function groupCombo() {
  const input = h('input', { id: 'group', type: 'text', role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': 'group-options', autocomplete: 'off', placeholder: 'Search technician group…' });
  const list = h('ul', { id: 'group-options', role: 'listbox', 'aria-label': 'Technician groups', hidden: true });
  const combo = { id: null, input };
  let items = [], active = -1, timer = null, asked = 0;
  function close() { list.hidden = true; input.setAttribute('aria-expanded', 'false'); input.removeAttribute('aria-activedescendant'); active = -1; }
  function choose(i) { const g = items[i]; if (!g) return; combo.id = g.id; input.value = g.path || g.name; close(); }
  function mark() {
    [...list.children].forEach((li, i) => li.setAttribute('aria-selected', String(i === active)));
    if (active >= 0) input.setAttribute('aria-activedescendant', `group-option-${items[active].id}`);
  }
  async function search() {
    const q = input.value.trim();
    const mine = ++asked;
    const r = await api('GET', `/v1/groups?limit=20${q ? `&q=${encodeURIComponent(q)}` : ''}`);
    // Only the answer to the latest question counts (typing outruns the network).
    if (!r.ok || mine !== asked) return;
    items = r.data.items.filter((g) => !q || (g.path || g.name).toLowerCase().includes(q.toLowerCase())).slice(0, 20);
    list.replaceChildren(...items.map((g, i) => h('li', { id: `group-option-${g.id}`, role: 'option', 'aria-selected': 'false', onmousedown: (ev) => { ev.preventDefault(); choose(i); } }, g.path || g.name)));
    list.hidden = !items.length;
    input.setAttribute('aria-expanded', String(!!items.length));
    active = -1;
  }
  input.addEventListener('input', () => { combo.id = null; clearTimeout(timer); timer = setTimeout(search, 150); });
  input.addEventListener('focus', () => { if (!input.value) search(); });
  input.addEventListener('blur', () => setTimeout(close, 100));
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown') { ev.preventDefault(); if (list.hidden) { search(); return; } active = Math.min(items.length - 1, active + 1); mark(); }
    else if (ev.key === 'ArrowUp') { ev.preventDefault(); active = Math.max(0, active - 1); mark(); }
    else if (ev.key === 'Enter' && !list.hidden && active >= 0) { ev.preventDefault(); choose(active); }
    else if (ev.key === 'Escape') close();
  });
  combo.el = h('div', { class: 'combo' }, h('label', { for: 'group' }, 'Technician group'), input, list,
    h('p', { class: 'note', id: 'group-note' }, 'Leave empty when the file carries Tech Group IDs.'));
  input.setAttribute('aria-describedby', 'group-note');
  return combo;
}

function showImportForm() {
  const combo = groupCombo();
  const file = h('input', { id: 'file', type: 'file', accept: '.csv,.json,.xlsx,text/csv,application/json' });
  const dry = h('input', { id: 'dry-run', type: 'checkbox' });
  const existing = h('select', { id: 'existing' },
    h('option', { value: 'fail' }, 'Fail the row'), h('option', { value: 'skip' }, 'Skip the row'), h('option', { value: 'update' }, 'Update the technician'));
  const error = h('p', { class: 'alert', role: 'alert' });
  const form = h('form', { class: 'stack' }, combo.el,
    h('div', {}, h('label', { for: 'file' }, 'File'), file),
    h('div', { class: 'check' }, dry, h('label', { for: 'dry-run' }, 'Dry run')),
    h('div', {}, h('label', { for: 'existing' }, 'Existing technicians'), existing),
    error, h('div', {}, h('button', { type: 'submit' }, 'Start import')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    if (!file.files.length) { error.textContent = 'Choose a file to import.'; file.focus(); return; }
    if (combo.input.value.trim() && combo.id === null) { error.textContent = 'Choose a technician group from the list, or leave it empty.'; combo.input.focus(); return; }
    const data = new FormData();
    if (combo.id !== null) data.append('group_id', String(combo.id));
    data.append('dry_run', dry.checked ? 'true' : 'false');
    data.append('on_existing', existing.value);
    data.append('file', file.files[0]);
    const r = await api('POST', '/v1/imports', data);
    if (r.ok) go(`/imports/${r.data.id}`);
    else error.textContent = `The import could not start: ${problem(r)}`;
  });
  page('Import technicians', form,
    h('h2', {}, 'Example files'),
    h('p', { class: 'links' },
      h('a', { href: '/v1/templates/technicians.csv', download: '' }, 'CSV example'),
      h('a', { href: '/v1/templates/technicians.json', download: '' }, 'JSON example'),
      h('a', { href: '/v1/templates/technicians.xlsx', download: '' }, 'xlsx example')));
}

function stopFollowing() { if (S.source) { S.source.close(); S.source = null; } }

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const s = Math.max(0, Math.round(seconds));
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function showImport(id) {
  const status = h('strong', { id: 'import-status' }, '…');
  const bar = h('div');
  const progress = h('div', { class: 'progress', role: 'progressbar', 'aria-label': 'Rows processed', 'aria-valuemin': 0, 'aria-valuenow': 0, 'aria-valuemax': 0 }, bar);
  const counts = h('p', {});
  const rate = h('span', {}, '–');
  const left = h('span', {}, '–');
  const cancel = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Cancel import');
  const notice = h('p', { class: 'alert', role: 'alert' });
  const summary = h('section', { 'aria-labelledby': 'summary-title', hidden: true });
  const title = h('span', {}, 'Import');
  const m = page('Import', h('p', {}, 'Status: ', status), progress, counts,
    h('p', {}, 'Rows per second: ', rate, ' · Time left: ', left), cancel, notice, summary);
  m.querySelector('h1').replaceChildren(title);
  let finished = false;
  cancel.addEventListener('click', async () => {
    const r = await api('POST', `/v1/imports/${id}/cancel`);
    if (!r.ok) notice.textContent = `Cancelling failed: ${problem(r)}`;
  });
  function show(i) {
    title.textContent = `Import of ${i.file_name}`;
    document.title = `${i.file_name} · Roster`;
    status.textContent = STATUS[i.status] || i.status;
    const total = i.total_rows === null ? 0 : i.total_rows;
    progress.setAttribute('aria-valuenow', String(i.processed_rows));
    progress.setAttribute('aria-valuemax', String(total));
    progress.setAttribute('aria-valuetext', total ? `${i.processed_rows} of ${total} rows` : 'Reading the file');
    bar.style.width = total ? `${Math.min(100, (100 * i.processed_rows) / total)}%` : '0';
    counts.textContent = total ? `${i.processed_rows} of ${total} rows processed${i.dry_run ? ' (dry run)' : ''}` : 'Reading the file…';
    rate.textContent = i.rows_per_second === null || i.rows_per_second === undefined ? '–' : `${Math.round(i.rows_per_second)}`;
    left.textContent = duration(i.eta_seconds);
    const running = i.status === 'queued' || i.status === 'running';
    cancel.hidden = !running;
    if (i.error) notice.textContent = `The import failed: ${i.error.message}`;
    if (!running && !finished) { finished = true; stopFollowing(); showSummary(i, summary); }
  }
  const source = new EventSource(`/v1/imports/${id}/events`);
  S.source = source;
  const handle = (ev) => { try { show(JSON.parse(ev.data)); } catch (e) { /* a partial event: the next one follows */ } };
  source.addEventListener('import', handle);
  source.addEventListener('done', (ev) => { handle(ev); stopFollowing(); });
  source.onerror = async () => {
    if (finished || source.readyState !== EventSource.CLOSED) return;
    const r = await api('GET', `/v1/imports/${id}`);
    if (r.ok) show(r.data); else notice.textContent = `This import cannot be shown: ${problem(r)}`;
  };
}

async function showSummary(i, section) {
  const c = i.counts || {};
  const names = [['created', 'Created'], ['updated', 'Updated'], ['skipped', 'Skipped'], ['valid', 'Valid'], ['failed', 'Failed'], ['not_processed', 'Not processed']];
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More failed rows');
  section.replaceChildren(h('h2', { id: 'summary-title' }, 'Import Summary'),
    h('dl', { class: 'counts' }, names.map(([k, t]) => h('div', {}, h('dt', {}, t), h('dd', {}, c[k] || 0)))),
    i.result_url ? h('p', {}, h('a', { href: `/v1/imports/${i.id}/result.xlsx`, download: '' }, 'Download result')) : null,
    c.failed ? h('div', { class: 'scroll' }, h('table', {}, h('caption', {}, 'Failed rows'),
      h('thead', {}, h('tr', {}, ['Row', 'Email', 'Errors'].map((t) => h('th', { scope: 'col' }, t)))), body)) : null,
    more);
  section.hidden = false;
  let after = null;
  async function load() {
    const r = await api('GET', `/v1/imports/${i.id}/rows?status=failed&limit=100${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    if (!r.ok) return;
    for (const row of r.data.items) {
      body.append(h('tr', {}, h('td', {}, row.row), h('td', {}, row.email || ''),
        h('td', {}, (row.errors || []).map((e) => `${e.field}: ${e.message}`).join('; '))));
    }
    after = r.data.next;
    more.hidden = !after;
  }
  more.addEventListener('click', load);
  if (c.failed) await load();
}

// ---------------------------------------------------------------- organization

async function allGroups() {
  const out = [];
  let after = null;
  do {
    const r = await api('GET', `/v1/groups?limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    if (!r.ok) break;
    out.push(...r.data.items);
    after = r.data.next;
  } while (after);
  return out;
}

function strength(password) {
  let score = 0;
  if (password.length >= 8) score++;
  if (password.length >= 12) score++;
  if (/[a-z]/.test(password) && /[A-Z]/.test(password)) score++;
  if (/\d/.test(password) && /[^A-Za-z0-9]/.test(password)) score++;
  return Math.min(4, score);
}

async function showOrganization() {
  const groups = await allGroups();
  const byParent = new Map();
  const ids = new Set(groups.map((g) => g.id));
  for (const g of groups) {
    const parent = ids.has(g.parent_id) ? g.parent_id : null;
    if (!byParent.has(parent)) byParent.set(parent, []);
    byParent.get(parent).push(g);
  }
  const detail = h('section', { 'aria-live': 'polite' });
  let current = null;
  function tree(parent) {
    const kids = byParent.get(parent) || [];
    if (!kids.length) return null;
    return h('ul', {}, kids.map((g) => h('li', {},
      h('button', { type: 'button', 'data-group': g.id, onclick: () => openGroup(g) }, g.name), tree(g.id))));
  }
  // `focus`: after a save, the form that held the focus is gone; the group's
  // heading takes it, so a keyboard user goes on from there, not from the page's top.
  async function openGroup(g, focus) {
    current = g;
    for (const b of document.querySelectorAll('.tree button')) b.setAttribute('aria-current', String(b.dataset.group === String(g.id)));
    const body = h('tbody');
    const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More technicians');
    const said = h('p', { class: 'alert', role: 'alert' });
    let after = null;
    async function load() {
      const r = await api('GET', `/v1/technicians?group_id=${g.id}&limit=100${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      if (!r.ok) { said.textContent = problem(r); return; }
      for (const t of r.data.items) {
        body.append(h('tr', {}, h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: () => technicianForm(t) }, t.name)),
          h('td', {}, t.email), h('td', {}, t.enabled ? 'Enabled' : 'Disabled')));
      }
      after = r.data.next;
      more.hidden = !after;
    }
    more.addEventListener('click', load);
    await load();
    const heading = h('h2', { tabindex: -1 }, `Technicians of ${g.path || g.name}`);
    detail.replaceChildren(heading, said,
      body.children.length ? h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ['Name', 'Email', 'Status'].map((t) => h('th', { scope: 'col' }, t)))), body)) : h('p', {}, 'No technicians in this group.'),
      more);
    if (focus) heading.focus();
  }
  const groupOptions = (selected) => groups.map((g) => h('option', { value: g.id, selected: g.id === selected }, g.path || g.name));
  function groupForm() {
    const name = h('input', { id: 'new-group-name', type: 'text', required: true });
    const parent = h('select', { id: 'new-group-parent' }, S.me.admin.role === 'master' ? h('option', { value: '' }, '(top level)') : null, groupOptions(current && current.id));
    const error = h('p', { class: 'alert', role: 'alert' });
    const form = h('form', { class: 'stack' }, h('div', {}, h('label', { for: 'new-group-name' }, 'Group name'), name),
      h('div', {}, h('label', { for: 'new-group-parent' }, 'Parent group'), parent), error, h('div', {}, h('button', { type: 'submit' }, 'Save changes')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const r = await api('POST', '/v1/groups', { name: name.value, parent_id: parent.value ? Number(parent.value) : null });
      if (!r.ok) { error.textContent = problem(r); return; }
      // The page is drawn anew: the new group's button takes the focus.
      await showOrganization();
      const made = document.querySelector(`.tree button[data-group="${r.data.id}"]`);
      if (made) made.focus();
    });
    detail.replaceChildren(h('h2', {}, 'Create group'), form);
    name.focus();
  }
  function technicianForm(t) {
    const field = (id, label, input) => h('div', {}, h('label', { for: id }, label), input);
    const check = (id, label, checked) => { const c = h('input', { id, type: 'checkbox', checked }); return [c, h('div', { class: 'check' }, c, h('label', { for: id }, label))]; };
    const name = h('input', { id: 't-name', type: 'text', value: t ? t.name : '' });
    const nickname = h('input', { id: 't-nickname', type: 'text', value: t ? t.nickname || '' : '' });
    const email = h('input', { id: 't-email', type: 'email', value: t ? t.email : '', readonly: !!t });
    const sso = h('input', { id: 't-sso', type: 'text', value: t ? t.sso_id || '' : '' });
    const description = h('textarea', { id: 't-description', rows: 3 }, t ? t.description || '' : '');
    const password = h('input', { id: 't-password', type: 'password', autocomplete: 'new-password', 'aria-describedby': 't-strength' });
    const policy = (S.settings && S.settings.password_policy) || { min_length: 8, min_strength: 2 };
    const meter = h('meter', { min: 0, max: 4, low: policy.min_strength, optimum: 4, value: 0, 'aria-hidden': 'true' });
    const said = h('span', { id: 't-strength' }, `At least ${policy.min_length} characters and strength ${policy.min_strength} of 4.`);
    password.addEventListener('input', () => {
      const s = strength(password.value);
      meter.value = s;
      const ok = password.value.length >= policy.min_length && s >= policy.min_strength;
      said.textContent = `Strength ${s} of 4: ${ok ? 'meets the policy' : `the policy needs ${policy.min_length} characters and strength ${policy.min_strength}`}.`;
    });
    const [enabled, enabledRow] = check('t-enabled', 'Enabled', t ? t.enabled : true);
    const [standard, standardRow] = check('t-standard', 'Standard license', t ? t.standard_license : true);
    const [mobile, mobileRow] = check('t-mobile', 'Mobile license', t ? t.mobile_license : false);
    const group = h('select', { id: 't-group' }, groupOptions(t ? t.group_id : current && current.id));
    const error = h('p', { class: 'alert', role: 'alert' });
    const form = h('form', { class: 'stack' }, field('t-name', 'Name', name), field('t-nickname', 'Nickname', nickname),
      field('t-email', 'Email', email), field('t-sso', 'Single Sign-On ID', sso), field('t-description', 'Description', description),
      h('div', {}, h('label', { for: 't-password' }, 'New password'), password, meter, ' ', said),
      enabledRow, standardRow, mobileRow,
      field('t-group', t ? 'Move to Technician Group' : 'Technician group', group), error,
      h('div', {}, h('button', { type: 'submit' }, 'Save changes')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.textContent = '';
      const body = { name: name.value, nickname: nickname.value, sso_id: sso.value, description: description.value,
        enabled: enabled.checked, standard_license: standard.checked, mobile_license: mobile.checked, group_id: Number(group.value) };
      if (password.value) body.password = password.value;
      let r;
      if (t) r = await api('PATCH', `/v1/technicians/${t.id}`, body);
      else { body.email = email.value; r = await api('POST', '/v1/technicians', body); }
      if (r.ok) { const g = groups.find((x) => x.id === r.data.group_id); if (g) openGroup(g, true); error.textContent = ''; }
      else error.textContent = problem(r);
    });
    detail.replaceChildren(h('h2', {}, t ? `Technician ${t.name}` : 'Create technician'), form);
    name.focus();
  }
  page('Organization',
    h('div', { class: 'row' },
      h('button', { type: 'button', onclick: groupForm }, 'Create group'),
      h('button', { type: 'button', onclick: () => technicianForm(null), disabled: !groups.length }, 'Create technician')),
    h('div', { class: 'columns' },
      h('nav', { class: 'tree', 'aria-label': 'Technician groups' }, tree(null) || h('p', {}, 'No groups yet.')), detail));
}

// ---------------------------------------------------------------- settings

async function showSettings() {
  const r = await api('GET', '/v1/settings');
  if (!r.ok) { page('Global Settings', h('p', { class: 'alert', role: 'alert' }, problem(r))); return; }
  const s = r.data;
  const num = (id, value, attrs) => h('input', Object.assign({ id, type: 'number', value: value === null ? '' : value }, attrs || {}));
  const minLength = num('s-min-length', s.password_policy.min_length, { min: 1, max: 1024 });
  const minStrength = h('select', { id: 's-min-strength' }, [0, 1, 2, 3, 4].map((n) => h('option', { value: n, selected: n === s.password_policy.min_strength }, String(n))));
  const force = h('input', { id: 's-force', type: 'checkbox', checked: s.force_password_change });
  const standard = num('s-standard', s.licenses.standard_seats, { min: 0, placeholder: 'unlimited' });
  const mobile = num('s-mobile', s.licenses.mobile_seats, { min: 0, placeholder: 'unlimited' });
  const rows = num('s-rows', s.max_rows_per_file, { min: 1 });
  const said = h('p', { class: 'alert', role: 'status' });
  const field = (id, label, input) => h('div', {}, h('label', { for: id }, label), input);
  const seats = (input) => (input.value.trim() === '' ? null : Number(input.value));
  const form = h('form', { class: 'stack' },
    field('s-min-length', 'Minimum password length', minLength), field('s-min-strength', 'Minimum password strength', minStrength),
    h('div', { class: 'check' }, force, h('label', { for: 's-force' }, 'Force password change at next logon')),
    field('s-standard', 'Standard license seats', standard), field('s-mobile', 'Mobile license seats', mobile),
    field('s-rows', 'Maximum rows per file', rows), said, h('div', {}, h('button', { type: 'submit' }, 'Save changes')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const a = await api('PATCH', '/v1/settings', {
      password_policy: { min_length: Number(minLength.value), min_strength: Number(minStrength.value) },
      force_password_change: force.checked,
      licenses: { standard_seats: seats(standard), mobile_seats: seats(mobile) },
      max_rows_per_file: Number(rows.value),
    });
    if (a.ok) { S.settings = a.data; said.textContent = 'Saved.'; } else said.textContent = problem(a);
  });
  page('Global Settings', form, directorySync(s));
}

// Rescue's "Active Directory Synchronization": service tokens (each shown
// once), the default password of provisioned technicians, the sync log.
function directorySync(settings) {
  const field = (id, label, input) => h('div', {}, h('label', { for: id }, label), input);
  const tokenName = h('input', { id: 'ad-token-name', type: 'text', value: 'Directory sync', maxlength: 128 });
  const shown = h('div', { role: 'status' });
  const tokens = h('div');
  const log = h('div');
  async function loadTokens() {
    const r = await api('GET', '/v1/sync/tokens');
    if (!r.ok) { tokens.replaceChildren(h('p', { class: 'alert', role: 'alert' }, problem(r))); return; }
    const rows = r.data.items.map((t) => h('tr', {}, h('td', {}, t.name), h('td', {}, t.group_id === null || t.group_id === undefined ? '' : String(t.group_id)),
      h('td', {}, String(t.created_at)),
      h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: async () => {
        const d = await api('DELETE', `/v1/sync/tokens/${t.id}`);
        if (!d.ok) shown.textContent = problem(d); else { shown.textContent = `Token ${t.name} revoked.`; loadTokens(); }
      } }, 'Revoke'))));
    tokens.replaceChildren(rows.length
      ? h('div', { class: 'scroll' }, h('table', { 'aria-label': 'Service tokens' }, h('thead', {}, h('tr', {}, ['Token', 'SCIM group', 'Created', ''].map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, rows)))
      : h('p', {}, 'No service tokens.'));
  }
  async function generate() {
    const r = await api('POST', '/v1/sync/tokens', { name: tokenName.value });
    if (!r.ok) { shown.textContent = problem(r); return; }
    shown.replaceChildren(h('p', {}, 'Copy this token now: it is not shown again.'), h('output', { 'aria-label': 'New service token' }, r.data.token));
    loadTokens();
  }
  const password = h('input', { id: 'ad-default-password', type: 'password', autocomplete: 'new-password' });
  const passwordSaid = h('p', { role: 'status' }, settings.sync_default_password_set ? 'A default password is set.' : 'No default password is set.');
  const passwordForm = h('form', { class: 'stack' }, field('ad-default-password', 'Default password', password), passwordSaid,
    h('div', {}, h('button', { type: 'submit' }, 'Save default password')));
  passwordForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const r = await api('PATCH', '/v1/settings', { sync_default_password: password.value });
    password.value = '';
    passwordSaid.textContent = r.ok ? 'A default password is set.' : problem(r);
  });
  async function loadLog() {
    const r = await api('GET', '/v1/sync/sources');
    if (!r.ok) { log.replaceChildren(h('p', {}, r.status === 404 ? 'No directory has synchronized yet.' : problem(r))); return; }
    const count = (run, key) => (run && run.counts && run.counts[key] !== undefined ? String(run.counts[key]) : '');
    const rows = r.data.items.map((src) => {
      const run = src.last_run || null;
      return h('tr', {}, h('td', {}, src.key), h('td', {}, String(src.group_id)), h('td', {}, String(src.members ?? '')),
        h('td', {}, run ? link(`/imports/${run.id}`, `${run.status} ${run.finished_at || run.created_at || ''}`) : ''),
        ['created', 'updated', 'unchanged', 'disabled', 'failed'].map((k) => h('td', {}, count(run, k))),
        h('td', {}, src.last_error ? `${src.last_error.code}: ${src.last_error.message}` : ''));
    });
    log.replaceChildren(rows.length
      ? h('div', { class: 'scroll' }, h('table', { 'aria-label': 'Sync log' }, h('thead', {}, h('tr', {},
        ['Source', 'Group', 'Members', 'Last run', 'Created', 'Updated', 'Unchanged', 'Disabled', 'Failed', 'Last error'].map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, rows)))
      : h('p', {}, 'No directory has synchronized yet.'));
  }
  loadTokens();
  loadLog();
  return h('section', { 'aria-labelledby': 'ad-title' }, h('h2', { id: 'ad-title' }, 'Active Directory Synchronization'),
    h('div', { class: 'row' }, field('ad-token-name', 'Token name', tokenName), h('button', { type: 'button', onclick: generate }, 'Generate service token')),
    shown, tokens, passwordForm, h('h3', {}, 'Sync log'), log);
}

// ---------------------------------------------------------------- start

document.addEventListener('DOMContentLoaded', () => {
  if (document.body.dataset.signedIn === '1') start(); else showSignIn();
});
