// SPDX-License-Identifier: GPL-2.0-only
// The console's page: the same API a playbook calls (docs/API.md), with the responder's token.
// No framework, no build step. Views by URL hash: #/ devices, #/machine/ID, #/actions.
'use strict';

const FINAL = ['Succeeded', 'Failed', 'TimeOut', 'Cancelled'];
const $ = (id) => document.getElementById(id);
let refreshTimer = null;
let pendingType = null;

function token() { return sessionStorage.getItem('rf-token') || ''; }

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: 'Bearer ' + token() } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (resp.status === 401) {
    sessionStorage.removeItem('rf-token');
    show('login');
    $('login-error').textContent = 'The token was refused.';
    throw new Error('unauthorized');
  }
  if (!resp.ok) {
    const msg = data && data.error ? data.error.message : resp.statusText;
    throw new Error(resp.status + ': ' + msg);
  }
  return data;
}

function show(view) {
  for (const v of ['login', 'devices', 'device', 'actions'])
    $(v).hidden = v !== view;
  $('signout').hidden = view === 'login';
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '' : String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

function setError(msg) { $('error').textContent = msg || ''; }

async function loadDevices() {
  const data = await api('GET', '/api/machines');
  const q = $('filter').value.trim().toLowerCase();
  const body = $('machines').tBodies[0];
  body.replaceChildren();
  let shown = 0;
  data.value.sort((a, b) => a.computerDnsName.localeCompare(b.computerDnsName));
  for (const m of data.value) {
    const iso = m.isolated ? 'isolated' : 'not isolated';
    const conn = m.online ? 'online' : 'offline';
    const text = [m.computerDnsName, m.id, iso, conn].join(' ').toLowerCase();
    if (q && !text.includes(q)) continue;
    const tr = document.createElement('tr');
    tr.dataset.id = m.id;
    const a = document.createElement('a');
    a.href = '#/machine/' + encodeURIComponent(m.id);
    a.textContent = m.computerDnsName;
    cell(tr, '').appendChild(a);
    cell(tr, m.id, 'muted');
    cell(tr, iso, m.isolated ? 'state isolated' : 'state');
    cell(tr, conn, m.online ? 'state online' : 'state offline');
    cell(tr, when(m.lastSeen));
    body.appendChild(tr);
    shown++;
  }
  $('device-count').textContent = shown + ' of ' + data.value.length;
}

function actionRows(tbody, actions, withDevice) {
  tbody.replaceChildren();
  for (const a of actions) {
    const tr = document.createElement('tr');
    tr.dataset.id = a.id;
    if (withDevice) {
      const link = document.createElement('a');
      link.href = '#/machine/' + encodeURIComponent(a.machineId);
      link.textContent = a.computerDnsName || a.machineId;
      cell(tr, '').appendChild(link);
    }
    cell(tr, a.type);
    cell(tr, a.status + (a.error ? ': ' + a.error : ''), 'status ' + a.status);
    cell(tr, a.requestor);
    cell(tr, a.requestorComment);
    cell(tr, when(a.creationDateTimeUtc));
    cell(tr, when(a.lastUpdateDateTimeUtc));
    tbody.appendChild(tr);
  }
}

async function loadDevice(id) {
  const m = await api('GET', '/api/machines/' + encodeURIComponent(id));
  $('device-name').textContent = m.computerDnsName;
  $('device-id').textContent = m.id;
  $('isolation-state').textContent = m.isolated ? 'Isolated' : 'Not isolated';
  $('isolation-state').className = 'badge ' + (m.isolated ? 'isolated' : 'released');
  $('connection-state').textContent = m.online ? 'Online' : 'Offline';
  $('connection-state').className = 'badge ' + (m.online ? 'online' : 'offline');
  const busy = m.recentActions.some((a) => !FINAL.includes(a.status));
  $('isolate-btn').disabled = m.isolated || busy;
  $('release-btn').disabled = !m.isolated || busy;
  $('status-doc').textContent = JSON.stringify(m.deviceStatus, null, 2);
  actionRows($('device-actions').tBodies[0], m.recentActions, false);
}

async function loadActions() {
  const data = await api('GET', '/api/machineactions');
  actionRows($('fleet-actions').tBodies[0], data.value, true);
}

function currentView() {
  const h = location.hash || '#/';
  const m = h.match(/^#\/machine\/(.+)$/);
  if (m) return { view: 'device', id: decodeURIComponent(m[1]) };
  if (h === '#/actions') return { view: 'actions' };
  return { view: 'devices' };
}

async function refresh() {
  if (!token()) { show('login'); return; }
  const v = currentView();
  show(v.view);
  try {
    if (v.view === 'device') await loadDevice(v.id);
    else if (v.view === 'actions') await loadActions();
    else await loadDevices();
    setError('');
  } catch (e) {
    if (e.message !== 'unauthorized') setError(e.message);
  }
}

// Follow an action to its final state, showing each status as it comes.
async function follow(id) {
  for (;;) {
    let a;
    try { a = await api('GET', '/api/machineactions/' + encodeURIComponent(id)); }
    catch (e) { setError(e.message); return; }
    $('action-status').textContent = a.status;
    $('action-status').className = 'status ' + a.status;
    $('action-error').textContent = a.error || '';
    if (FINAL.includes(a.status)) { await refresh(); return; }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function askComment(type) {
  pendingType = type;
  $('comment-title').textContent = type === 'isolate' ? 'Isolate device' : 'Release from isolation';
  $('comment-ok').textContent = type === 'isolate' ? 'Isolate' : 'Release';
  $('comment').value = '';
  $('comment-dialog').showModal();
  $('comment').focus();
}

async function submitAction(ev) {
  ev.preventDefault();
  const comment = $('comment').value.trim();
  if (!comment) return;
  $('comment-dialog').close();
  const v = currentView();
  const body = pendingType === 'isolate' ? { Comment: comment, IsolationType: 'Full' }
                                         : { Comment: comment };
  try {
    const a = await api('POST', '/api/machines/' + encodeURIComponent(v.id) + '/' + pendingType, body);
    $('action-box').hidden = false;
    $('action-type').textContent = a.type;
    setError('');
    await refresh();
    await follow(a.id);
  } catch (e) {
    setError(e.message);
  }
}

function init() {
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem('rf-token', $('token').value.trim());
    $('token').value = '';
    $('login-error').textContent = '';
    refresh();
  });
  $('signout').addEventListener('click', () => { sessionStorage.removeItem('rf-token'); refresh(); });
  $('filter').addEventListener('input', refresh);
  $('isolate-btn').addEventListener('click', () => askComment('isolate'));
  $('release-btn').addEventListener('click', () => askComment('unisolate'));
  $('comment-form').addEventListener('submit', submitAction);
  $('comment-cancel').addEventListener('click', () => $('comment-dialog').close());
  window.addEventListener('hashchange', () => { $('action-box').hidden = true; refresh(); });
  refresh();
  refreshTimer = setInterval(refresh, 3000);
}

document.addEventListener('DOMContentLoaded', init);
