/**
 * The admin page: one HTML document with inline CSS and JS (allowed by per-response CSP
 * nonces), no external assets and no build step. The script builds the DOM with
 * textContent only, so plugin metadata can never inject markup.
 */
export function adminPage (prefix: string, nonce: { script: string, style: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Plugins · fastify-pluginkit</title>
<style nonce="${nonce.style}">
  :root { color-scheme: light dark; --ok: #1a7f37; --off: #8c959f; --bad: #cf222e; }
  body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
  h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
  p.meta { color: var(--off); margin: 0 0 1rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td {
    border-bottom: 1px solid color-mix(in srgb, currentColor 15%, transparent);
    padding: .45rem .5rem; text-align: left; vertical-align: top;
  }
  th { font-weight: 600; white-space: nowrap; }
  td.num { font-variant-numeric: tabular-nums; text-align: right; white-space: nowrap; }
  .state { border-radius: 1rem; display: inline-block; font-size: .8rem; padding: 0 .55rem; color: #fff; }
  .state.enabled { background: var(--ok); } .state.disabled { background: var(--off); } .state.quarantined { background: var(--bad); }
  .desc { color: var(--off); font-size: .85rem; }
  button { cursor: pointer; font: inherit; padding: .2rem .7rem; }
  #message { min-height: 1.4rem; color: var(--bad); }
  h2 { font-size: 1.1rem; margin: 2rem 0 .5rem; }
  #failures li { margin: .3rem 0; } #failures code { color: var(--bad); }
</style>
</head>
<body>
<h1>Plugins</h1>
<p class="meta">fastify-pluginkit admin · statistics are per process and refresh every 2 s</p>
<div id="message" role="status" aria-live="polite"></div>
<table>
  <thead><tr>
    <th>Plugin</th><th>Version</th><th>Author</th><th>State</th><th>Dependencies</th>
    <th>Load ms</th><th>Requests</th><th>Hook calls</th><th>Hook errors</th><th>Mean hook ms</th><th></th>
  </tr></thead>
  <tbody id="plugins"></tbody>
</table>
<section id="failures" hidden>
  <h2>Skipped at boot</h2>
  <ul id="failure-list"></ul>
</section>
<script nonce="${nonce.script}">
const api = ${JSON.stringify(`${prefix}/api/plugins`).replaceAll('<', '\\u003c')}
const failuresApi = ${JSON.stringify(`${prefix}/api/failures`).replaceAll('<', '\\u003c')}
const body = document.getElementById('plugins')
const message = document.getElementById('message')

function cell (row, text, className) {
  const td = row.insertCell()
  td.textContent = text
  if (className) td.className = className
  return td
}

function render (plugins) {
  body.replaceChildren()
  for (const plugin of plugins) {
    const row = body.insertRow()
    row.dataset.plugin = plugin.name
    const name = cell(row, plugin.name)
    if (plugin.description) {
      const desc = document.createElement('div')
      desc.className = 'desc'
      desc.textContent = plugin.description
      name.append(desc)
    }
    cell(row, plugin.version)
    cell(row, plugin.author)
    const state = cell(row, '')
    const badge = document.createElement('span')
    badge.className = 'state ' + (plugin.quarantined ? 'quarantined' : plugin.state)
    badge.textContent = plugin.quarantined ? 'quarantined' : plugin.state
    if (plugin.quarantined) badge.title = plugin.quarantined.reason + ' (' + plugin.quarantined.at + ')'
    state.append(badge)
    cell(row, Object.entries(plugin.dependencies).map(([dep, range]) => dep + ' ' + range).join(', ') || '—')
    cell(row, plugin.loadTimeMs.toFixed(1), 'num')
    cell(row, String(plugin.stats.requests), 'num')
    cell(row, String(plugin.stats.hookCalls), 'num')
    cell(row, String(plugin.stats.hookErrors), 'num')
    cell(row, plugin.stats.meanHookMs.toFixed(3), 'num')
    const button = document.createElement('button')
    const action = plugin.state === 'enabled' ? 'disable' : 'enable'
    button.textContent = action === 'enable' ? 'Enable' : 'Disable'
    button.dataset.action = action
    button.addEventListener('click', () => toggle(plugin.name, action, false))
    row.insertCell().append(button)
  }
}

async function refresh () {
  const response = await fetch(api, { headers: { accept: 'application/json' }, cache: 'no-store' })
  if (!response.ok) throw new Error('loading plugins failed: HTTP ' + response.status)
  render((await response.json()).plugins)
}

async function toggle (name, action, cascade) {
  message.textContent = ''
  const response = await fetch(api + '/' + encodeURIComponent(name) + '/' + action, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(cascade ? { cascade: true } : {})
  })
  if (response.status === 409 && !cascade) {
    const { message: reason } = await response.json()
    const question = reason + '\\n\\n' + (action === 'enable' ? 'Enable' : 'Disable') + ' the related plugins too?'
    if (confirm(question)) return toggle(name, action, true)
  } else if (!response.ok) {
    const text = await response.text()
    let reason = text
    try { reason = JSON.parse(text).message } catch {}
    message.textContent = action + ' ' + name + ' failed (HTTP ' + response.status + '): ' + reason
  }
  await refresh()
}

// Plugins skipped at boot do not change while the app runs: loaded once.
async function showFailures () {
  const response = await fetch(failuresApi, { headers: { accept: 'application/json' }, cache: 'no-store' })
  if (!response.ok) return
  const { failures } = await response.json()
  const list = document.getElementById('failure-list')
  for (const failure of failures) {
    const item = document.createElement('li')
    const name = document.createElement('strong')
    name.textContent = failure.plugin
    const code = document.createElement('code')
    code.textContent = failure.code
    const where = document.createElement('div')
    where.className = 'desc'
    where.textContent = failure.dir || ''
    item.append(name, ' ', code, ' ', failure.message, where)
    list.append(item)
  }
  document.getElementById('failures').hidden = failures.length === 0
}

function loop () {
  refresh().catch((error) => { message.textContent = error.message }).finally(() => setTimeout(loop, 2000))
}
loop()
showFailures().catch(() => {})
</script>
</body>
</html>
`
}
