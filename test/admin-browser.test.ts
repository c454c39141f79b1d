import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { chromium, type Page } from 'playwright-core'
import { basicAuthorize } from '../example-app/admin-auth.ts'
import { buildApp, pluginSource, makeTree } from './helpers.ts'
import { CHROMIUM, requireBinary } from './helpers-services.ts'

// SPEC section 9: the admin page in a real browser, logged in with HTTP Basic auth
// (example-app/admin-auth.ts), against a real listening server.

const TOKEN = 'browser-test-token'
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync']

const plugins = {
  'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', version: '1.2.3', author: 'Ada Lovelace', description: 'The first plugin' },
    "return { bep: { prefix: '/alpha', blueprint: async (app) => { app.get('/', async () => ({ plugin: 'alpha' })) } } }"),
  'plugins/beta/index.mjs': pluginSource({ name: 'beta', version: '0.4.0', author: 'Bob Builder', description: 'Needs alpha', dependencies: { alpha: '^1.0.0' } },
    "return { vep: { method: 'GET', url: '/beta', handler: async () => ({ plugin: 'beta' }) } }"),
  // Skipped at boot (no version): listed apart, not as a row.
  'plugins/gamma/index.mjs': pluginSource({ name: 'gamma', version: undefined, author: 'Gina Broken' })
}

/** The table row of a plugin, found by its (unique) author. */
function row (page: Page, author: string) {
  return page.getByRole('row').filter({ hasText: author })
}

async function waitForState (page: Page, author: string, state: 'enabled' | 'disabled'): Promise<void> {
  await row(page, author).getByText(state, { exact: true }).waitFor({ timeout: 20_000 })
}

test('admin page in headless Chromium: Basic login, plugin rows, toggles that take effect', { timeout: 60_000 }, async (t) => {
  const executablePath = requireBinary(t, CHROMIUM)
  if (executablePath === undefined) return

  const base = await makeTree(plugins)
  const app = await buildApp(base, { strict: false, admin: { authorize: basicAuthorize(TOKEN) } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const status = async (path: string) => (await fetch(origin + path)).status

  const browser = await chromium.launch({ executablePath, args: chromiumArgs })
  t.after(() => browser.close())

  await t.test('without credentials the page is 401 with a Basic challenge; wrong credentials are refused', async () => {
    const anonymous = await browser.newContext()
    try {
      const page = await anonymous.newPage()
      // Chromium sees the 401; with no credentials to offer, the navigation may then fail with ERR_INVALID_AUTH_CREDENTIALS.
      const answered = page.waitForResponse(`${origin}/pluginkit/`)
      await page.goto(`${origin}/pluginkit/`).catch((error: Error) => assert.match(error.message, /ERR_INVALID_AUTH_CREDENTIALS/))
      const response = await answered
      assert.equal(response.status(), 401)
      assert.match(String(await response.headerValue('www-authenticate')), /^Basic realm="pluginkit"/)
      assert.equal(await page.getByText('Ada Lovelace').count(), 0, 'no plugin data without login')
    } finally {
      await anonymous.close()
    }
    for (const credentials of [{ username: 'admin', password: 'wrong' }, { username: 'root', password: TOKEN }]) {
      const context = await browser.newContext({ httpCredentials: credentials })
      try {
        const page = await context.newPage()
        const answered = page.waitForResponse(`${origin}/pluginkit/`)
        await page.goto(`${origin}/pluginkit/`).catch((error: Error) => assert.match(error.message, /ERR_INVALID_AUTH_CREDENTIALS/))
        assert.equal((await answered).status(), 401, `credentials ${JSON.stringify(credentials)}`)
        assert.equal(await page.getByText('Ada Lovelace').count(), 0, 'no plugin data with wrong credentials')
      } finally {
        await context.close()
      }
    }
    // The same, header by header.
    const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`
    for (const authorization of [basic('admin:wrong'), basic(`root:${TOKEN}`), basic(`admin:${TOKEN}x`), basic(TOKEN), `Bearer ${TOKEN}`, 'Basic !!!', '']) {
      const response = await fetch(`${origin}/pluginkit/api/plugins`, { headers: { authorization } })
      assert.equal(response.status, 401, `authorization ${JSON.stringify(authorization)}`)
      assert.equal(response.headers.get('www-authenticate'), 'Basic realm="pluginkit", charset="UTF-8"')
    }
    const ok = await fetch(`${origin}/pluginkit/api/plugins`, { headers: { authorization: basic(`admin:${TOKEN}`) } })
    assert.equal(ok.status, 200)
    assert.equal(ok.headers.get('www-authenticate'), null)
    assert.equal(app.pluginKit.get('alpha').state, 'enabled')
  })

  const context = await browser.newContext({ httpCredentials: { username: 'admin', password: TOKEN } })
  t.after(() => context.close())
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('console', (message) => {
    // A 409 answer is expected (dependency conflicts); anything else, like a CSP violation, is not.
    if (message.type() === 'error' && !/Failed to load resource: .* 409/.test(message.text())) problems.push(`console error: ${message.text()}`)
  })

  await t.test('logged in, the page lists every plugin with name, version, author, description and state', async () => {
    const response = await page.goto(`${origin}/pluginkit/`)
    assert.equal(response?.status(), 200)
    await waitForState(page, 'Ada Lovelace', 'enabled')
    await waitForState(page, 'Bob Builder', 'enabled')
    for (const [author, texts] of [['Ada Lovelace', ['alpha', '1.2.3', 'The first plugin']], ['Bob Builder', ['beta', '0.4.0', 'Needs alpha']]] as const) {
      const text = await row(page, author).innerText()
      for (const expected of texts) assert.ok(text.includes(expected), `the row of ${author} shows ${expected}: ${text}`)
    }
    assert.deepEqual(problems, [], 'the page runs without errors (e.g. no CSP violation)')
  })

  await t.test('plugins skipped at boot are listed under "Skipped at boot" with their error code, not as rows', async () => {
    const skipped = page.locator('#failures')
    await skipped.getByText('PLUGINKIT_ERR_PLUGIN_METADATA').waitFor({ timeout: 20_000 })
    assert.ok(await skipped.isVisible())
    const text = await skipped.innerText()
    assert.match(text, /Skipped at boot/)
    assert.match(text, /gamma/)
    assert.equal(await row(page, 'Gina Broken').count(), 0, 'a skipped plugin has no row and no control')
  })

  await t.test('clicking the control of a plugin disables it (its route is 404), clicking again enables it (200)', async () => {
    assert.equal(await status('/beta'), 200)
    const button = row(page, 'Bob Builder').getByRole('button')
    assert.match(await button.innerText(), /disable/i)
    await button.click()
    await waitForState(page, 'Bob Builder', 'disabled')
    assert.equal(await status('/beta'), 404, 'the disabled plugin\'s route answers 404')
    assert.equal(app.pluginKit.get('beta').state, 'disabled')
    assert.equal(await status('/alpha'), 200, 'the other plugin is untouched')

    assert.match(await row(page, 'Bob Builder').getByRole('button').innerText(), /enable/i)
    await row(page, 'Bob Builder').getByRole('button').click()
    await waitForState(page, 'Bob Builder', 'enabled')
    assert.equal(await status('/beta'), 200, 'enabled again, the route answers 200')
    assert.equal(app.pluginKit.get('beta').state, 'enabled')
  })

  await t.test('a dependency conflict asks first: confirming cascades, declining changes nothing', async () => {
    const dialogs: string[] = []
    page.once('dialog', (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`)
      dialog.accept().catch(() => {})
    })
    await row(page, 'Ada Lovelace').getByRole('button').click()
    await waitForState(page, 'Ada Lovelace', 'disabled')
    await waitForState(page, 'Bob Builder', 'disabled')
    assert.equal(dialogs.length, 1, 'disabling alpha, which beta depends on, asks first')
    assert.match(dialogs[0] ?? '', /^confirm: .*beta/s, 'the question names the dependent plugin')
    assert.equal(await status('/alpha'), 404)
    assert.equal(await status('/beta'), 404)

    let asked = false
    page.once('dialog', (dialog) => {
      asked = true
      dialog.dismiss().catch(() => {})
    })
    // After the question is declined the page reloads the list: wait for that round trip.
    const reloaded = page.waitForResponse((response) => asked && response.url().endsWith('/pluginkit/api/plugins') && response.request().method() === 'GET', { timeout: 20_000 })
    await row(page, 'Bob Builder').getByRole('button').click()
    await reloaded
    assert.ok(asked, 'enabling beta while alpha is disabled asks first')
    await waitForState(page, 'Bob Builder', 'disabled')
    assert.equal(app.pluginKit.get('beta').state, 'disabled', 'declining changes nothing')
    assert.equal(app.pluginKit.get('alpha').state, 'disabled', 'declining changes nothing')
    assert.equal(await status('/beta'), 404)

    await row(page, 'Ada Lovelace').getByRole('button').click()
    await waitForState(page, 'Ada Lovelace', 'enabled')
    assert.equal(await status('/alpha'), 200)
    assert.equal(await status('/beta'), 404, 'enabling a dependency does not enable its dependents')
    assert.deepEqual(problems, [])
  })
})
