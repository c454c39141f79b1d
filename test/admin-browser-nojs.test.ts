import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { chromium, type Page } from 'playwright-core'
import { basicAuthorize } from '../example-app/admin-auth.ts'
import { buildApp, pluginSource, makeTree } from './helpers.ts'
import { CHROMIUM, requireBinary } from './helpers-services.ts'

// SPEC section 9: the page reads and works without JavaScript (its controls are forms), and
// with the credentials in the page's URL (http://admin:pw@host/pluginkit/), with and without
// JavaScript, in headless Chromium against a listening server.

const TOKEN = 'nojs-test-token'
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync']

const plugins = {
  'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', version: '1.2.3', author: 'Ada Lovelace', description: 'The first plugin', readmeFile: 'README.md' },
    "return { bep: { prefix: '/alpha', blueprint: async (app) => { app.get('/', async () => ({ plugin: 'alpha' })) } } }"),
  'plugins/alpha/README.md': 'Alpha <readme> text',
  'plugins/beta/index.mjs': pluginSource({ name: 'beta', version: '0.4.0', author: 'Bob Builder', description: 'Needs alpha', dependencies: { alpha: '^1.0.0' } },
    "return { vep: { method: 'GET', url: '/beta', handler: async () => ({ plugin: 'beta' }) } }"),
  // A plugin that would answer every request itself: the admin is out of its reach.
  'plugins/maint/index.mjs': pluginSource({ name: 'maint', author: 'Mia Maintenance', state: 'disabled' },
    "return { hep: { before_request: (request, reply) => reply.code(503).send('maintenance') } }")
}

function row (page: Page, author: string) {
  return page.getByRole('row').filter({ hasText: author })
}

async function stateOf (page: Page, author: string): Promise<string> {
  return (await row(page, author).locator('.state').innerText()).trim()
}

const toggle = (page: Page, author: string) => row(page, author).getByRole('button', { name: /^(enable|disable)$/i })

test('the admin page without JavaScript and with credentials in the URL', { timeout: 60_000 }, async (t) => {
  const executablePath = requireBinary(t, CHROMIUM)
  if (executablePath === undefined) return

  const app = await buildApp(await makeTree(plugins), { admin: { authorize: basicAuthorize(TOKEN) } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const origin = `http://127.0.0.1:${port}`
  const status = async (path: string) => (await fetch(origin + path)).status

  const browser = await chromium.launch({ executablePath, args: chromiumArgs })
  t.after(() => browser.close())

  await t.test('JavaScript off: the list is in the HTML, and the forms toggle a plugin both ways', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, httpCredentials: { username: 'admin', password: TOKEN } })
    t.after(() => context.close())
    const page = await context.newPage()
    assert.equal((await page.goto(`${origin}/pluginkit/`))?.status(), 200)
    for (const [author, texts] of [['Ada Lovelace', ['alpha', '1.2.3', 'The first plugin', 'enabled']], ['Bob Builder', ['beta', '0.4.0', 'alpha ^1.0.0']]] as const) {
      const text = await row(page, author).innerText()
      for (const expected of texts) assert.ok(text.includes(expected), `${author}: ${expected} in ${text}`)
    }
    await row(page, 'Ada Lovelace').getByText('Details').click()
    assert.match(await row(page, 'Ada Lovelace').locator('pre.readme').innerText(), /Alpha <readme> text/)

    await toggle(page, 'Bob Builder').click()
    await page.waitForURL(`${origin}/pluginkit/`)
    assert.equal(await stateOf(page, 'Bob Builder'), 'disabled')
    assert.equal(await status('/beta'), 404)
    await toggle(page, 'Bob Builder').click()
    await page.waitForURL(`${origin}/pluginkit/`)
    assert.equal(await stateOf(page, 'Bob Builder'), 'enabled')
    assert.equal(await status('/beta'), 200)

    // A conflict: the answer is the page at 409 with a form that cascades.
    const [conflict] = await Promise.all([page.waitForResponse(`${origin}/pluginkit/plugins/alpha/disable`), toggle(page, 'Ada Lovelace').click()])
    assert.equal(conflict.status(), 409)
    assert.match(await page.locator('#message').innerText(), /disable alpha failed \(HTTP 409\).*beta/)
    await page.getByRole('button', { name: 'Disable alpha and the plugins that depend on it' }).click()
    await page.waitForURL(`${origin}/pluginkit/`)
    assert.equal(await stateOf(page, 'Ada Lovelace'), 'disabled')
    assert.equal(await stateOf(page, 'Bob Builder'), 'disabled')
    await app.pluginKit.enable('beta', { cascade: true })
  })

  await t.test('credentials in the URL, JavaScript on: the script loads, refreshes and toggles without errors', async () => {
    const context = await browser.newContext()
    t.after(() => context.close())
    const page = await context.newPage()
    const problems: string[] = []
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
    page.on('console', (message) => { if (message.type() === 'error') problems.push(`console error: ${message.text()}`) })
    assert.equal((await page.goto(`http://admin:${TOKEN}@127.0.0.1:${port}/pluginkit/`))?.status(), 200)
    assert.equal(await stateOf(page, 'Bob Builder'), 'enabled')
    // The live refresh (every 2 s) goes through.
    await page.waitForResponse((response) => response.url() === `${origin}/pluginkit/api/plugins` && response.ok(), { timeout: 20_000 })

    // The maintenance plugin answers 503 to everything, except the admin.
    await toggle(page, 'Mia Maintenance').click()
    await row(page, 'Mia Maintenance').getByText('enabled', { exact: true }).waitFor({ timeout: 20_000 })
    assert.equal(await status('/beta'), 503)
    await toggle(page, 'Mia Maintenance').click()
    await row(page, 'Mia Maintenance').getByText('disabled', { exact: true }).waitFor({ timeout: 20_000 })
    assert.equal(await status('/beta'), 200)
    assert.equal(page.url(), `http://admin:${TOKEN}@127.0.0.1:${port}/pluginkit/`, 'no reload was needed')
    assert.deepEqual(problems, [])
  })

  await t.test('credentials in the URL, JavaScript off: the forms work too', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false })
    t.after(() => context.close())
    const page = await context.newPage()
    assert.equal((await page.goto(`http://admin:${TOKEN}@127.0.0.1:${port}/pluginkit/`))?.status(), 200)
    await toggle(page, 'Bob Builder').click()
    await page.waitForLoadState()
    assert.equal(await stateOf(page, 'Bob Builder'), 'disabled')
    assert.equal(app.pluginKit.get('beta').state, 'disabled')
    await toggle(page, 'Bob Builder').click()
    await page.waitForLoadState()
    assert.equal(await stateOf(page, 'Bob Builder'), 'enabled')
  })
})
