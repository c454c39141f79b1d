import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { chromium } from 'playwright-core'
import { buildExampleApp } from '../example-app/app.ts'
import { CHROMIUM, requireBinary } from './helpers-services.ts'

// The example app's /demo page: the theme plugin's stylesheet (emit_assets in the
// base_head slot) and the demo plugin's footer template (footer slot), seen by a real
// browser, before and after the plugins are switched off live.
const footerText = 'Powered by fastify-pluginkit-demo, an npm plugin.'
const themeBackground = 'rgb(253, 246, 227)' // set only by example-app/plugins/theme/static/theme.css

test('headless Chromium sees plugin slots appear and disappear with enable/disable', { timeout: 60_000 }, async (t) => {
  const executablePath = requireBinary(t, CHROMIUM)
  if (executablePath === undefined) return

  const app = await buildExampleApp({ store: 'memory' })
  t.after(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}/demo`

  const browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync']
  })
  t.after(() => browser.close())
  const page = await browser.newPage()
  // A string expression: this file is type-checked without the DOM lib.
  const background = () => page.evaluate<string>('getComputedStyle(document.body).backgroundColor')
  const footer = page.getByText(footerText)

  const first = await page.goto(url)
  assert.equal(first?.status(), 200)
  assert.equal(await background(), themeBackground, 'the theme stylesheet is applied')
  assert.equal(await footer.isVisible(), true, 'the footer is visible')
  assert.equal(await page.locator('h1').innerText(), 'FASTIFY-PLUGINKIT DEMO!')

  await app.pluginKit.disable('theme')
  await page.reload()
  assert.notEqual(await background(), themeBackground, 'the stylesheet is gone')
  assert.equal(await page.locator('link[rel="stylesheet"]').count(), 0)
  assert.equal(await footer.isVisible(), true, 'the other plugin\'s footer stays')

  await app.pluginKit.disable('demo')
  await page.reload()
  assert.equal(await footer.count(), 0, 'the footer is gone')
  assert.notEqual(await background(), themeBackground)

  await app.pluginKit.enable('theme')
  await app.pluginKit.enable('demo')
  await page.reload()
  assert.equal(await background(), themeBackground, 'the stylesheet is back')
  assert.equal(await footer.isVisible(), true, 'the footer is back')
})
