import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { chromium, type Page } from 'playwright-core'
import type { PendingOperation, RunningOperation } from 'fastify-pluginkit'
import { basicAuthorize } from '../example-app/admin-auth.ts'
import { buildApp, makeTree, pluginSource } from './helpers.ts'
import { hostTree, installHost, registryFixtures } from './helpers-registry.ts'
import { CHROMIUM, requireBinary } from './helpers-services.ts'

// SPEC section 11 "Admin": installing, upgrading, rolling back and removing a plugin package
// from the admin page in headless Chromium, against a real registry (verdaccio, see
// helpers-registry.ts) and a host under @fastify/restartable, with and without JavaScript.

const TOKEN = 'install-browser-token'
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync']
const fixtures = registryFixtures()

const pluginRow = (page: Page, name: string) => page.locator(`tr[data-plugin="${name}"]`)
const waitForVersion = (page: Page, name: string, version: string) =>
  page.locator(`tr[data-plugin="${name}"][data-version="${version}"]`).waitFor({ timeout: 30_000 })

test('install, upgrade, roll back, uninstall and upload a plugin package from the admin page', { timeout: 120_000 }, async (t) => {
  const executablePath = requireBinary(t, CHROMIUM)
  if (executablePath === undefined) return
  const f = await fixtures(t)
  if (f === undefined) return

  const base = await hostTree({ 'plugins/local/index.mjs': pluginSource({ name: 'local', author: 'Lou Local' }) })
  const { app, url } = await installHost(base, f.registry.url, { listen: true, kit: { admin: { authorize: basicAuthorize(TOKEN) } } })
  const version = async () => {
    const response = await fetch(`${url}/good/version`)
    return response.ok ? ((await response.json()) as { version: string }).version : response.status
  }

  const browser = await chromium.launch({ executablePath, args: chromiumArgs })
  t.after(() => browser.close())

  await t.test('with JavaScript: the new row once it serves; each control on installed plugins only', async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'admin', password: TOKEN } })
    t.after(() => context.close())
    const page = await context.newPage()
    const problems: string[] = []
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
    page.on('dialog', (dialog) => { dialog.accept().catch(() => {}) })
    await page.goto(`${url}/pluginkit/`)
    assert.equal(await pluginRow(page, 'local').getByRole('button').count(), 1, 'a local plugin has only its enable/disable control')

    await page.locator('form.install input[name="spec"]').fill('pk-good@1.0.0')
    await page.locator('form.install').getByRole('button', { name: 'Install' }).click()
    await waitForVersion(page, 'pk-good', '1.0.0')
    assert.match(await page.locator('#message').innerText(), /Installed pk-good 1\.0\.0: serving now/)
    assert.equal(await version(), '1.0.0')
    const row = pluginRow(page, 'pk-good')
    assert.match(await row.innerText(), /installed/)
    for (const name of ['Disable', 'Upgrade', 'Roll back', 'Uninstall']) assert.equal(await row.getByRole('button', { name }).count(), 1, name)

    await row.getByRole('button', { name: 'Upgrade' }).click()
    await waitForVersion(page, 'pk-good', '1.1.0')
    assert.equal(await version(), '1.1.0')
    await pluginRow(page, 'pk-good').getByRole('button', { name: 'Roll back' }).click()
    await waitForVersion(page, 'pk-good', '1.0.0')
    assert.equal(await version(), '1.0.0')
    await pluginRow(page, 'pk-good').getByRole('button', { name: 'Uninstall' }).click()
    await pluginRow(page, 'pk-good').waitFor({ state: 'detached', timeout: 30_000 })
    assert.equal(await version(), 404)

    await page.locator('form.install input[name="tarball"]').setInputFiles({
      name: 'pk-good-1.1.0.tgz', mimeType: 'application/gzip', buffer: f.tarball('pk-good@1.1.0')
    })
    await page.locator('form.install').getByRole('button', { name: 'Install' }).click()
    await waitForVersion(page, 'pk-good', '1.1.0')
    assert.equal(await version(), '1.1.0')
    assert.equal(app.pluginKit.get('pk-good').source, 'installed')
    assert.deepEqual(problems, [])
  })

  await t.test('without JavaScript: the forms post, wait for the operation and come back to the page', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, httpCredentials: { username: 'admin', password: TOKEN } })
    t.after(() => context.close())
    const page = await context.newPage()
    await page.goto(`${url}/pluginkit/`)
    await pluginRow(page, 'pk-good').getByRole('button', { name: 'Uninstall' }).click()
    await page.waitForURL(`${url}/pluginkit/`, { timeout: 30_000 })
    assert.equal(await pluginRow(page, 'pk-good').count(), 0)
    assert.equal(await version(), 404)

    await page.locator('form.install input[name="spec"]').fill('pk-good@1.0.0')
    await page.locator('form.install').getByRole('button', { name: 'Install' }).click()
    await page.waitForURL(`${url}/pluginkit/`, { timeout: 30_000 })
    assert.equal(await pluginRow(page, 'pk-good').getAttribute('data-version'), '1.0.0')
    assert.equal(await version(), '1.0.0')

    // A package outside the allow-list: the page again, at the engine's status, with its message.
    await page.locator('form.install input[name="spec"]').fill('other-pkg')
    const [refused] = await Promise.all([
      page.waitForResponse(`${url}/pluginkit/install`),
      page.locator('form.install').getByRole('button', { name: 'Install' }).click()
    ])
    assert.equal(refused.status(), 403)
    assert.match(await page.locator('#message').innerText(), /install failed \(HTTP 403\).*other-pkg/)
  })
})

test('while an operation runs, the page shows its step and holds the controls; then the result and the pending list', { timeout: 60_000 }, async (t) => {
  const executablePath = requireBinary(t, CHROMIUM)
  if (executablePath === undefined) return
  const base = await makeTree({ 'plugins/local/index.mjs': pluginSource({ name: 'local' }) })
  const app = await buildApp(base, { admin: { authorize: basicAuthorize(TOKEN) }, install: { allow: ['pk-*'] } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo

  // The install API held at one step until the test lets it go, as a slow registry would.
  let operation: RunningOperation | undefined
  let pending: PendingOperation[] = []
  let release = () => {}
  Object.defineProperties(app.pluginKit, { operation: { get: () => operation }, pending: { get: () => pending } })
  app.pluginKit.install = async (spec) => {
    operation = { action: 'install', target: String(spec), step: 'fetching', startedAt: new Date().toISOString() }
    await new Promise<void>((resolve) => { release = resolve })
    operation = undefined
    pending = [{ action: 'install', name: 'pk-good', package: 'pk-good', version: '1.0.0' }]
    return { plugin: { name: 'pk-good', version: '1.0.0', package: 'pk-good', integrity: 'sha512-x' }, activated: false }
  }

  const browser = await chromium.launch({ executablePath, args: chromiumArgs })
  t.after(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`http://admin:${TOKEN}@127.0.0.1:${port}/pluginkit/`)
  assert.equal(await page.locator('#operation').isVisible(), false)
  await page.locator('form.install input[name="spec"]').fill('pk-good@1.0.0')
  await page.locator('form.install').getByRole('button', { name: 'Install' }).click()
  await page.getByText(/Running: install pk-good@1\.0\.0: fetching/).waitFor({ timeout: 20_000 })
  assert.ok(await page.locator('form.install button').isDisabled(), 'the controls wait for the operation')
  assert.ok(await pluginRow(page, 'local').getByRole('button').isDisabled())
  if (operation !== undefined) operation = { ...operation, step: 'validating' }
  await page.getByText(/Running: install pk-good@1\.0\.0: validating/).waitFor({ timeout: 20_000 })

  release()
  await page.getByText('Installed pk-good 1.0.0: takes effect at the next restart').waitFor({ timeout: 20_000 })
  await page.locator('#pending').getByText('install pk-good (pk-good → 1.0.0)').waitFor({ timeout: 20_000 })
  assert.equal(await page.locator('#operation').isVisible(), false)
  assert.ok(await page.locator('form.install button').isEnabled())
})
