/**
 * The admin page's script. The page works without it (forms posting to the server); it only
 * enhances: statistics refreshed every 2 s, controls through the JSON API without a reload,
 * progress of install operations. It builds no markup from data: textContent only.
 */
export const PAGE_SCRIPT = `
'use strict'
// URLs are built on location.origin, which never holds credentials: fetch() refuses a URL with
// user:password@ in it (a page opened as http://admin:pw@host/pluginkit/), and even a relative
// URL would inherit them from the page's.
const prefix = document.body.dataset.prefix
const base = location.origin + prefix
const install = document.body.dataset.install === '1'
const message = document.getElementById('message')
const table = document.getElementById('plugins')
const SAVED = 'pluginkit:message'
let busy = false

function show (text, kind) {
  message.textContent = text
  message.dataset.kind = kind || 'error'
}

async function call (method, path, body) {
  const init = { method, cache: 'no-store', headers: { accept: 'application/json' } }
  if (body instanceof FormData) init.body = body
  else if (body !== undefined) {
    init.headers['content-type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  const response = await fetch(base + path, init)
  const text = await response.text()
  let data
  try { data = JSON.parse(text) } catch { data = { message: text } }
  return { ok: response.ok, status: response.status, data }
}

// The server renders the list; a different set of plugins or versions (an install, or another
// admin's change) is shown by loading the page again, from its own URL, never re-posting a form.
function reload () {
  // A message about what just happened outlives the reload.
  if (message.dataset.kind === 'info' && message.textContent) sessionStorage.setItem(SAVED, message.textContent)
  if (location.pathname === prefix + '/') location.reload()
  else location.assign(base + '/')
}

function renderPlugins (plugins) {
  const rows = new Map([...table.rows].map((row) => [row.dataset.plugin, row]))
  const same = (plugin) => rows.has(plugin.name) && rows.get(plugin.name).dataset.version === plugin.version
  if (plugins.length !== rows.size || !plugins.every(same)) {
    if (!busy) reload()
    return
  }
  for (const plugin of plugins) {
    const row = rows.get(plugin.name)
    for (const cell of row.querySelectorAll('[data-stat]')) {
      const key = cell.dataset.stat
      cell.textContent = Number(key === 'loadTimeMs' ? plugin.loadTimeMs : plugin.stats[key]).toFixed(Number(cell.dataset.digits))
    }
    const badge = row.querySelector('.state')
    const state = plugin.quarantined ? 'quarantined' : plugin.state
    badge.className = 'state ' + state
    badge.textContent = state
    badge.dataset.state = plugin.state
    if (plugin.quarantined) badge.title = plugin.quarantined.reason + ' (' + plugin.quarantined.at + ')'
    else badge.removeAttribute('title')
    const toggle = row.querySelector('form[data-action="enable"], form[data-action="disable"]')
    const action = plugin.state === 'enabled' ? 'disable' : 'enable'
    if (toggle && toggle.dataset.action !== action) {
      toggle.dataset.action = action
      toggle.setAttribute('action', prefix + '/plugins/' + encodeURIComponent(plugin.name) + '/' + action)
      toggle.querySelector('button').textContent = action === 'enable' ? 'Enable' : 'Disable'
    }
  }
}

function renderOperations ({ operation, pending, syncError }) {
  const running = document.getElementById('operation')
  running.hidden = !operation
  running.textContent = operation
    ? 'Running: ' + operation.action + ' ' + operation.target + ': ' + operation.step +
      ' (' + Math.round((Date.now() - Date.parse(operation.startedAt)) / 1000) + ' s)'
    : ''
  const list = document.querySelector('#pending ul')
  list.replaceChildren(...pending.map((entry) => {
    const item = document.createElement('li')
    item.textContent = entry.action + ' ' + entry.name + ' (' + entry.package + (entry.from ? ' ' + entry.from : '') +
      (entry.version ? ' → ' + entry.version : '') + ')'
    return item
  }))
  document.getElementById('pending').hidden = pending.length === 0
  const failed = document.getElementById('sync-error')
  failed.hidden = !syncError
  failed.textContent = syncError ? 'Applying another instance\\'s change failed: ' + syncError.code + ': ' + syncError.message : ''
}

async function refresh () {
  const plugins = await call('GET', '/api/plugins')
  if (!plugins.ok) throw new Error('loading plugins failed: HTTP ' + plugins.status)
  renderPlugins(plugins.data.plugins)
  if (install) {
    const operations = await call('GET', '/api/operations')
    if (operations.ok) renderOperations(operations.data)
  }
}

function setBusy (value) {
  busy = value
  for (const button of document.querySelectorAll('form[data-action] button')) button.disabled = value
}

// While an install operation runs, its step is polled four times a second.
async function watchOperations () {
  while (busy) {
    const operations = await call('GET', '/api/operations').catch(() => undefined)
    if (busy && operations && operations.ok) renderOperations(operations.data)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

const done = {
  install: (data) => 'Installed ' + data.plugin.name + ' ' + data.plugin.version,
  upgrade: (data) => 'Upgraded ' + data.plugin.name + ' to ' + data.plugin.version,
  rollback: (data) => 'Rolled ' + data.plugin.name + ' back to ' + data.plugin.version,
  uninstall: (data, name) => 'Uninstalled ' + name
}

function request (form, action, name, cascade) {
  const path = '/api/plugins/' + encodeURIComponent(name)
  const spec = form.elements.spec ? form.elements.spec.value.trim() : ''
  if (action === 'enable' || action === 'disable') return ['POST', path + '/' + action, cascade ? { cascade: true } : {}]
  if (action === 'upgrade') return ['POST', path + '/upgrade', spec ? { spec } : {}]
  if (action === 'rollback') return ['POST', path + '/rollback', {}]
  if (action === 'uninstall') return ['DELETE', path, cascade ? { cascade: true } : {}]
  const file = form.elements.tarball.files[0]
  return ['POST', '/api/install', file ? new FormData(form) : { spec }]
}

async function submit (form, cascade) {
  const action = form.dataset.action
  const name = form.dataset.plugin
  const toggle = action === 'enable' || action === 'disable'
  if (action === 'uninstall' && !cascade && !confirm('Uninstall ' + name + '?')) return
  show('', 'info')
  if (!toggle) {
    setBusy(true)
    watchOperations()
  }
  let answer
  try {
    answer = await call(...request(form, action, name, cascade))
  } finally {
    if (!toggle) setBusy(false)
  }
  const { ok, status, data } = answer
  if (status === 409 && !cascade && (toggle || action === 'uninstall') && data.code === 'PLUGINKIT_ERR_DEPENDENCY') {
    const verb = action === 'enable' ? 'Enable' : 'Disable'
    if (confirm(data.message + '\\n\\n' + verb + ' the related plugins too?')) return submit(form, true)
  } else if (!ok) {
    show(action + ' ' + (name || '') + ' failed (HTTP ' + status + '): ' + data.message)
  } else if (!toggle) {
    const text = done[action](data, name) + (data.activated ? ': serving now' : ': takes effect at the next restart')
    show(text, 'info')
  }
  await refresh()
}

document.addEventListener('submit', (event) => {
  const form = event.target
  if (!form.dataset.action) return
  event.preventDefault()
  if (busy) return
  const cascade = form.elements.cascade ? form.elements.cascade.value === '1' : false
  submit(form, cascade).catch((error) => show(error.message))
})

const saved = sessionStorage.getItem(SAVED)
if (saved) {
  sessionStorage.removeItem(SAVED)
  show(saved, 'info')
}

function loop () {
  refresh().catch((error) => show(error.message)).finally(() => setTimeout(loop, 2000))
}
setTimeout(loop, 2000)
`
