import { externalLink, html, trusted, type Html } from './admin-html.js'
import { PAGE_SCRIPT } from './admin-page-script.js'
import { PAGE_STYLE } from './admin-page-style.js'
import type { Readme } from './admin-readme.js'
import type { HealthReport, PendingOperation, PluginInfo, PluginStats, RunningOperation } from './types.js'

/** What the page shows; the server renders all of it, so the page reads without JavaScript. */
export interface PageModel {
  prefix: string
  plugins: PluginInfo[]
  readmes: ReadonlyMap<string, Readme>
  failures: Array<{ plugin: string, dir?: string, code: string, message: string }>
  /** With the `install` option: the install form, the running operation and the pending ones. */
  operations?: { operation: RunningOperation | null, pending: PendingOperation[], syncError: { code: string, message: string } | null }
  /** The outcome of a form post that failed, and for a dependency conflict the form that cascades. */
  notice?: { text: string, cascade?: { name: string, action: string, label: string } }
  /** The enabled plugins' health checks (SPEC 13), run for this rendering. */
  health?: HealthReport
  /** With `watch` (SPEC 12): why the last reload failed; the previous app is serving. */
  reloadError?: { code: string, message: string }
}

/** One column of the plugin table; a new column (health, say) is one more entry in COLUMNS. */
export interface Column {
  header: string
  className?: string
  cell: (plugin: PluginInfo, page: PageModel) => unknown
}

/** The live statistics; the script refreshes the cells marked `data-stat` in the same format. */
const stat = (header: string, key: 'loadTimeMs' | keyof PluginStats, digits = 0): Column => ({
  header,
  className: 'num',
  cell: (plugin) => {
    const value = key === 'loadTimeMs' ? plugin.loadTimeMs : plugin.stats[key]
    return html`<span data-stat="${key}" data-digits="${digits}">${value.toFixed(digits)}</span>`
  }
})

const actionPath = (page: PageModel, name: string, action: string) => `${page.prefix}/plugins/${encodeURIComponent(name)}/${action}`

function control (page: PageModel, name: string, action: string, label: string, extra: Html | string = ''): Html {
  return html`<form method="post" action="${actionPath(page, name, action)}" data-action="${action}" data-plugin="${name}">${extra}
<button type="submit">${label}</button></form>`
}

function controls (plugin: PluginInfo, page: PageModel): Html {
  const toggle = plugin.state === 'enabled' ? 'disable' : 'enable'
  const installed = page.operations !== undefined && plugin.source === 'installed'
  return html`<div class="controls">${control(page, plugin.name, toggle, toggle === 'enable' ? 'Enable' : 'Disable')}${installed && [
    control(page, plugin.name, 'upgrade', 'Upgrade',
      html`<input name="spec" size="10" placeholder="latest" aria-label="Upgrade ${plugin.name} to (npm spec)">`),
    control(page, plugin.name, 'rollback', 'Roll back'),
    control(page, plugin.name, 'uninstall', 'Uninstall')
  ]}</div>`
}

function details (plugin: PluginInfo, page: PageModel): Html {
  const readme = plugin.readmeFile === undefined ? undefined : page.readmes.get(plugin.name)
  const entry = (term: string, value: unknown) => value === undefined ? '' : html`<dt>${term}</dt><dd>${value}</dd>`
  return html`<details><summary>Details</summary><dl>${[
    entry('Home page', plugin.url === undefined ? undefined : externalLink(plugin.url)),
    entry('License', plugin.license === undefined && plugin.licenseFile === undefined
      ? undefined
      : [plugin.license ?? '', plugin.licenseFile === undefined ? '' : ` (${plugin.licenseFile})`].join('')),
    entry('Package', plugin.packageName),
    entry('Integrity', plugin.integrity === undefined ? undefined : html`<code>${plugin.integrity}</code>`),
    entry('Extension points', plugin.extensionPoints.join(', ') || '—'),
    entry('Folder', html`<code>${plugin.dir}</code>`)
  ]}</dl>${readme === undefined
    ? ''
    : 'problem' in readme
      ? html`<p class="problem">Readme ${plugin.readmeFile}: ${readme.problem}</p>`
      : html`<pre class="readme" aria-label="Readme">${readme.text}${readme.truncated ? '\n…(truncated)' : ''}</pre>`
  }</details>`
}

function stateBadge (plugin: PluginInfo): Html {
  const state = plugin.quarantined === undefined ? plugin.state : 'quarantined'
  const title = plugin.quarantined === undefined ? undefined : `${plugin.quarantined.reason} (${plugin.quarantined.at})`
  const tip = title === undefined ? '' : html` title="${title}"`
  return html`<span class="state ${state}" data-state="${plugin.state}"${tip}>${state}</span>`
}

/** SPEC 13: the plugin's health check, with its detail; "—" without one, or while disabled (not checked). */
function healthBadge (plugin: PluginInfo, page: PageModel): Html | string {
  const checks = page.health?.plugins
  const result = checks !== undefined && Object.hasOwn(checks, plugin.name) ? checks[plugin.name] : undefined
  if (result === undefined) return '—'
  return html`<span class="health ${result.ok ? 'ok' : 'bad'}">${result.ok ? 'healthy' : 'unhealthy'}</span>${result.detail === undefined
    ? ''
    : html`<div class="desc">${result.detail}</div>`}`
}

export const COLUMNS: Column[] = [
  {
    header: 'Plugin',
    cell: (plugin, page) => html`<strong>${plugin.name}</strong>
${plugin.description === undefined ? '' : html`<div class="desc">${plugin.description}</div>`}${details(plugin, page)}`
  },
  { header: 'Version', cell: (plugin) => plugin.version },
  { header: 'Author', cell: (plugin) => plugin.author },
  { header: 'State', cell: stateBadge },
  { header: 'Health', cell: healthBadge },
  {
    header: 'Dependencies',
    cell: ({ dependencies }) => Object.entries(dependencies).map(([name, range]) => `${name} ${range}`).join(', ') || '—'
  },
  { header: 'Source', cell: (plugin) => plugin.source },
  stat('Load ms', 'loadTimeMs', 1),
  stat('Requests', 'requests'),
  stat('Hook calls', 'hookCalls'),
  stat('Hook errors', 'hookErrors'),
  stat('Mean hook ms', 'meanHookMs', 3),
  { header: 'Actions', cell: controls }
]

function notice (page: PageModel): Html {
  const { notice } = page
  if (notice === undefined) return html`<div id="message" role="status" aria-live="polite"></div>`
  const { cascade } = notice
  return html`<div id="message" role="status" aria-live="polite" data-kind="error">${notice.text}</div>${cascade === undefined
    ? ''
    : html`<div class="confirm">${control(page, cascade.name, cascade.action, cascade.label,
        html`<input type="hidden" name="cascade" value="1">`)} <a href="${page.prefix}/">Cancel</a></div>`}`
}

const pendingText = (entry: PendingOperation) =>
  `${entry.action} ${entry.name} (${entry.package}${entry.from === undefined ? '' : ` ${entry.from}`}` +
  `${entry.version === undefined ? '' : ` → ${entry.version}`})`

function operations (page: PageModel): Html {
  const ops = page.operations
  if (ops === undefined) return html``
  const { operation, pending, syncError } = ops
  return html`<section id="operations">
<h2>Install a plugin package</h2>
<form method="post" action="${page.prefix}/install" enctype="multipart/form-data" data-action="install" class="install">
<label>npm spec <input name="spec" size="28" placeholder="name, name@1.2.3, name@^1.2.0"></label>
<span>or</span>
<label>package tarball <input type="file" name="tarball" accept=".tgz,.tar.gz,application/gzip"></label>
<button type="submit">Install</button>
</form>
<p id="operation" role="status" aria-live="polite"${operation === null ? html` hidden` : ''}>${operation === null
  ? ''
  : `Running: ${operation.action} ${operation.target}: ${operation.step} (since ${operation.startedAt})`}</p>
<div id="pending"${pending.length === 0 ? html` hidden` : ''}><h3>Waiting for the next restart</h3><ul>${pending.map((entry) =>
  html`<li>${pendingText(entry)}</li>`)}</ul></div>
<p id="sync-error" class="problem"${syncError === null ? html` hidden` : ''}>${syncError === null
  ? ''
  : `Applying another instance's change failed: ${syncError.code}: ${syncError.message}`}</p>
</section>`
}

function failures (page: PageModel): Html {
  if (page.failures.length === 0) return html``
  return html`<section id="failures"><h2>Skipped at boot</h2><ul id="failure-list">${page.failures.map((failure) =>
    html`<li><strong>${failure.plugin}</strong> <code>${failure.code}</code> ${failure.message}
<div class="desc">${failure.dir ?? ''}</div></li>`)}</ul></section>`
}

/**
 * The admin page, rendered on the server: every plugin with its details and a form per
 * control, which works without JavaScript. The inline script (allowed by this response's CSP
 * nonce) only enhances it: live statistics and controls without a page reload.
 */
export function renderPage (page: PageModel, nonce: { script: string, style: string }): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Plugins · fastify-pluginkit</title>
<style nonce="${nonce.style}">${trusted(PAGE_STYLE)}</style>
</head>
<body data-prefix="${page.prefix}" data-install="${page.operations === undefined ? '' : '1'}">
<h1>Plugins</h1>
<p class="meta">fastify-pluginkit admin · statistics are per process</p>
${notice(page)}
${page.reloadError === undefined
  ? ''
  : html`<p id="reload-error" class="problem" role="alert">The last reload failed; the previous code is serving.
<code>${page.reloadError.code}</code> ${page.reloadError.message}</p>`}
<table>
<thead><tr>${COLUMNS.map((column) => html`<th>${column.header}</th>`)}</tr></thead>
<tbody id="plugins">${page.plugins.map((plugin) => html`
<tr data-plugin="${plugin.name}" data-version="${plugin.version}">${COLUMNS.map((column) =>
  html`<td${column.className === undefined ? '' : html` class="${column.className}"`}>${column.cell(plugin, page)}</td>`)}</tr>`)}
</tbody>
</table>
${page.plugins.length === 0 ? html`<p class="meta">No plugins are loaded.</p>` : ''}
${operations(page)}
${failures(page)}
<script nonce="${nonce.script}">${trusted(PAGE_SCRIPT)}</script>
</body>
</html>
`.text
}
