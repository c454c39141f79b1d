import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApp, pluginSource, makeTree, type Tree } from './helpers.ts'

// SPEC section 9: the page is rendered on the server (it reads without JavaScript), escapes
// hostile plugin metadata, and its controls are forms the server accepts from its own origin.

const secret = { 'x-admin': 's3cret' }
const authorize = (request: { headers: Record<string, unknown> }) => request.headers['x-admin'] === 's3cret'
const form = { ...secret, 'content-type': 'application/x-www-form-urlencoded' }
const sameOrigin = { ...form, 'sec-fetch-site': 'same-origin' }

const alpha = pluginSource({
  name: 'alpha',
  version: '1.2.3',
  author: 'Ada',
  description: 'The first plugin',
  url: 'https://example.org/alpha',
  license: 'MIT',
  readmeFile: 'README.md'
}, "return { bep: { prefix: '/alpha', blueprint: async (app) => { app.get('/', async () => ({ plugin: 'alpha' })) } } }")
const beta = pluginSource({ name: 'beta', version: '0.1.0', author: 'Bob', dependencies: { alpha: '^1.0.0' } },
  "return { vep: { method: 'GET', url: '/beta', handler: async () => ({ plugin: 'beta' }) } }")

async function adminApp (extra: Tree = {}, options: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const base = await makeTree({
    'plugins/alpha/index.mjs': alpha,
    'plugins/alpha/README.md': '# Alpha\n\nSay <b>hello</b> & goodbye.\n',
    'plugins/beta/index.mjs': beta,
    ...extra
  })
  return buildApp(base, { admin: { authorize }, ...options }, { until: 'ready' })
}

const page = async (app: FastifyInstance) => {
  const response = await app.inject({ url: '/pluginkit/', headers: secret })
  assert.equal(response.statusCode, 200)
  return response.body
}

/** The page's text content, roughly: tags dropped, entities decoded. */
const text = (html: string) => html.replace(/<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>/g, '').replace(/<[^>]+>/g, ' ')
  .replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&amp;', '&')

test('the page lists every plugin in the HTML: metadata, state, dependencies, source, details and readme', async () => {
  const app = await adminApp()
  const html = await page(app)
  const rows = [...html.matchAll(/<tr data-plugin="([^"]+)"[^>]*>([\s\S]*?)<\/tr>/g)]
  assert.deepEqual(rows.map((row) => row[1]), ['alpha', 'beta'])
  const [alphaRow, betaRow] = rows.map((row) => text(row[2] as string))
  for (const expected of ['alpha', '1.2.3', 'Ada', 'The first plugin', 'enabled', 'local', 'Disable', 'MIT', '# Alpha', 'Say <b>hello</b> & goodbye.']) {
    assert.ok(alphaRow?.includes(expected), `alpha's row shows ${expected}`)
  }
  for (const expected of ['beta', '0.1.0', 'Bob', 'alpha ^1.0.0', 'enabled']) assert.ok(betaRow?.includes(expected), `beta's row shows ${expected}`)
  assert.ok(html.includes('<a href="https://example.org/alpha" rel="noopener noreferrer nofollow">'), 'the home page is a link')
  assert.ok(html.includes('<pre class="readme" aria-label="Readme"># Alpha\n\nSay &lt;b&gt;hello&lt;/b&gt; &amp; goodbye.\n</pre>'))
  assert.ok(html.includes('<form method="post" action="/pluginkit/plugins/beta/disable" data-action="disable" data-plugin="beta">'))
  assert.doesNotMatch(html, /action="\/pluginkit\/install"|\/upgrade"/, 'no install controls without the install option')
})

test('hostile metadata and readmes are escaped; a readme outside the plugin folder, a FIFO or a huge one are handled', async () => {
  const attack = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
  const big = `${'x'.repeat(40 * 1024)}TAIL-MARKER`
  const app = await adminApp({
    'plugins/evil/index.mjs': pluginSource({
      name: 'evil', author: attack, description: `</td></tr></table>${attack}`, url: 'javascript:alert(3)', license: `'${attack}`, readmeFile: 'README'
    }),
    'plugins/evil/README': `</pre><script>alert(4)</script>${attack}`,
    'plugins/escape/index.mjs': pluginSource({ name: 'escape', readmeFile: '../alpha/README.md' }),
    'plugins/linked/index.mjs': pluginSource({ name: 'linked', readmeFile: 'README' }),
    'plugins/linked/README': { symlink: '/etc/hostname' },
    'plugins/huge/index.mjs': pluginSource({ name: 'huge', readmeFile: 'README' }),
    'plugins/huge/README': big,
    'plugins/missing/index.mjs': pluginSource({ name: 'missing', readmeFile: 'nope.md' }),
    'plugins/fifo/index.mjs': pluginSource({ name: 'fifo', readmeFile: 'README' })
  })
  execFileSync('mkfifo', [join(app.pluginKit.get('fifo').dir, 'README')])
  const html = await page(app)
  const body = html.replace(/<script nonce="[^"]+">[\s\S]*?<\/script>/, '')
  assert.doesNotMatch(body, /<script|<img|<[^>]*\sonerror=|href="javascript:/i, 'no markup from plugin metadata')
  assert.equal([...html.matchAll(/<\/table>/g)].length, 1, 'a description cannot close the table')
  assert.ok(text(html).includes(attack), 'the hostile text is shown as text')
  assert.ok(text(html).includes('javascript:alert(3)'), 'a javascript: URL is shown, not linked')
  assert.match(text(html), /Readme \.\.\/alpha\/README\.md: not inside the plugin folder/)
  assert.match(text(html), /Readme README: not inside the plugin folder/, 'a symlink out of the folder is refused too')
  assert.match(text(html), /Readme README: not a regular file/)
  assert.match(text(html), /Readme nope\.md: cannot be read/)
  assert.ok(html.includes(`${'x'.repeat(32 * 1024)}\n…(truncated)</pre>`), 'a big readme is cut at 32 KiB')
  assert.ok(!html.includes('TAIL-MARKER'), 'nothing after the cap')
})

test('form posts from the page: 303 back to the page, and the change takes effect', async () => {
  const app = await adminApp()
  const disabled = await app.inject({ method: 'POST', url: '/pluginkit/plugins/beta/disable', headers: sameOrigin, payload: '' })
  assert.equal(disabled.statusCode, 303, disabled.body)
  assert.equal(disabled.headers.location, '/pluginkit/')
  assert.equal(app.pluginKit.get('beta').state, 'disabled')
  assert.equal((await app.inject('/beta')).statusCode, 404)
  assert.match(await page(app), /<form method="post" action="\/pluginkit\/plugins\/beta\/enable" data-action="enable"/)
  const enabled = await app.inject({ method: 'POST', url: '/pluginkit/plugins/beta/enable', headers: sameOrigin })
  assert.equal(enabled.statusCode, 303)
  assert.equal((await app.inject('/beta')).statusCode, 200)
})

test('form posts: a dependency conflict shows the page at 409 with a form that cascades; errors are pages too', async () => {
  const app = await adminApp()
  const conflict = await app.inject({ method: 'POST', url: '/pluginkit/plugins/alpha/disable', headers: sameOrigin, payload: '' })
  assert.equal(conflict.statusCode, 409)
  assert.match(String(conflict.headers['content-type']), /^text\/html/)
  assert.match(text(conflict.body), /disable alpha failed \(HTTP 409\): .*beta/)
  assert.match(conflict.body, /<form method="post" action="\/pluginkit\/plugins\/alpha\/disable" data-action="disable" data-plugin="alpha"><input type="hidden" name="cascade" value="1">/)
  assert.match(text(conflict.body), /Disable alpha and the plugins that depend on it/)
  assert.equal(app.pluginKit.get('alpha').state, 'enabled')

  const cascaded = await app.inject({ method: 'POST', url: '/pluginkit/plugins/alpha/disable', headers: sameOrigin, payload: 'cascade=1' })
  assert.equal(cascaded.statusCode, 303)
  assert.deepEqual(app.pluginKit.plugins.map((plugin) => plugin.state), ['disabled', 'disabled'])

  const unknown = await app.inject({ method: 'POST', url: '/pluginkit/plugins/nope/enable', headers: sameOrigin, payload: '' })
  assert.equal(unknown.statusCode, 404)
  assert.match(text(unknown.body), /enable nope failed \(HTTP 404\)/)
  assert.doesNotMatch(unknown.body, /name="cascade"/)
  const json = await app.inject({ method: 'POST', url: '/pluginkit/plugins/alpha/enable', headers: { ...secret, 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' }, payload: '{}' })
  assert.equal(json.statusCode, 415, 'forms take form bodies')
  assert.equal(app.pluginKit.get('alpha').state, 'disabled')
})

test('form posts are refused (403, nothing changes) unless they come from the admin\'s own origin', async () => {
  const app = await adminApp()
  const refused: Array<Record<string, string>> = [
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site' },
    { 'sec-fetch-site': 'none' },
    { 'sec-fetch-site': 'cross-site', origin: 'http://localhost:80' },
    { origin: 'https://evil.example' },
    { origin: 'null' },
    { origin: 'http://localhost:80.evil.example' }
  ]
  for (const headers of refused) {
    const response = await app.inject({ method: 'POST', url: '/pluginkit/plugins/beta/disable', headers: { ...form, ...headers }, payload: '' })
    assert.equal(response.statusCode, 403, JSON.stringify(headers))
    assert.doesNotMatch(response.body, /beta/)
  }
  assert.equal(app.pluginKit.get('beta').state, 'enabled')

  const unauthorized = await app.inject({ method: 'POST', url: '/pluginkit/plugins/beta/disable', headers: { 'content-type': form['content-type'], 'sec-fetch-site': 'cross-site' } })
  assert.equal(unauthorized.statusCode, 401, 'authorize comes first')

  // inject's Host header is localhost:80; a browser without Fetch Metadata sends its Origin; a script sends neither.
  for (const headers of [{ origin: 'http://localhost:80' }, {}]) {
    const response = await app.inject({ method: 'POST', url: '/pluginkit/plugins/beta/disable', headers: { ...form, ...headers }, payload: '' })
    assert.equal(response.statusCode, 303, JSON.stringify(headers))
    await app.pluginKit.enable('beta')
  }
})

test('the JSON API is unchanged: form bodies are still 415 there', async () => {
  const app = await adminApp()
  const response = await app.inject({ method: 'POST', url: '/pluginkit/api/plugins/beta/disable', headers: sameOrigin, payload: 'cascade=1' })
  assert.equal(response.statusCode, 415)
  assert.equal(app.pluginKit.get('beta').state, 'enabled')
})

test('without the install option there are no install routes', async () => {
  const app = await adminApp()
  for (const [method, url] of [['POST', '/pluginkit/install'], ['POST', '/pluginkit/plugins/alpha/upgrade'], ['POST', '/pluginkit/api/install'],
    ['POST', '/pluginkit/api/plugins/alpha/rollback'], ['DELETE', '/pluginkit/api/plugins/alpha'], ['GET', '/pluginkit/api/operations']] as const) {
    assert.equal((await app.inject({ method, url, headers: sameOrigin, payload: '' })).statusCode, 404, `${method} ${url}`)
  }
})
