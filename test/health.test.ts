// SPEC 13, health: a manifest's `health(ctx)` (sync or async, 2 s each), app.pluginKit.health()
// over the enabled plugins that define one, and GET {admin.prefix}/api/health (200 / 503).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, code, makeTree, pluginSource } from './helpers.ts'
import { assertKitError } from './helpers-loading.ts'

const withHealth = (name: string, health: string, fields: Record<string, unknown> = {}) =>
  pluginSource({ name, ...fields, health: code(health) })

const checks = {
  'plugins/fine/index.mjs': withHealth('fine', '() => true'),
  'plugins/fine-async/index.mjs': withHealth('fine-async', "async () => ({ ok: true, detail: 'pool 3/10' })"),
  'plugins/silent/index.mjs': withHealth('silent', '() => {}'),
  'plugins/down/index.mjs': withHealth('down', '() => false'),
  'plugins/degraded/index.mjs': withHealth('degraded', "async () => ({ ok: false, detail: 'replica lag 12 s' })"),
  'plugins/throws/index.mjs': withHealth('throws', "() => { throw new Error('db unreachable') }"),
  'plugins/rejects/index.mjs': withHealth('rejects', "async () => { throw new Error('cache gone') }"),
  'plugins/hangs/index.mjs': withHealth('hangs', '() => new Promise(() => {})'),
  // Disabled plugins are not checked: this one would throw.
  'plugins/off/index.mjs': withHealth('off', "() => { throw new Error('must not run') }", { state: 'disabled' }),
  // No health check: not in the report.
  'plugins/plain/index.mjs': pluginSource({ name: 'plain' })
}

test('health(): every enabled plugin with a check, healthy or not, with why and how long; one hanging check costs its 2 s once', async () => {
  const app = await buildApp(await makeTree(checks))
  const started = performance.now()
  const report = await app.pluginKit.health()
  const elapsed = performance.now() - started

  assert.equal(report.ok, false)
  assert.deepEqual(Object.keys(report.plugins).sort(),
    ['degraded', 'down', 'fine', 'fine-async', 'hangs', 'rejects', 'silent', 'throws'])
  const without = (name: string) => {
    const { ms, ...rest } = report.plugins[name] as { ms: number }
    assert.ok(typeof ms === 'number' && ms >= 0, `${name}: ms`)
    return rest
  }
  assert.deepEqual(without('fine'), { ok: true })
  assert.deepEqual(without('fine-async'), { ok: true, detail: 'pool 3/10' })
  assert.deepEqual(without('silent'), { ok: true })
  assert.deepEqual(without('down'), { ok: false })
  assert.deepEqual(without('degraded'), { ok: false, detail: 'replica lag 12 s' })
  assert.deepEqual(without('throws'), { ok: false, detail: 'db unreachable' })
  assert.deepEqual(without('rejects'), { ok: false, detail: 'cache gone' })
  assert.deepEqual(without('hangs'), { ok: false, detail: 'timed out after 2000 ms' })
  // The checks run at once: the whole report takes the one timeout, not a sum.
  const hung = report.plugins.hangs?.ms ?? 0
  // Upper bounds with room for a loaded machine: what they rule out is checks waiting for each other.
  assert.ok(hung >= 1990 && hung < 4000, `hanging check ${hung} ms`)
  assert.ok(elapsed < 4000, `report took ${elapsed} ms`)
  assert.ok((report.plugins.fine?.ms ?? Infinity) < 1000)
})

test('GET {prefix}/api/health: 503 while a check fails, 200 once all pass; disabling a plugin takes it out of the report', async () => {
  const app = await buildApp(await makeTree(checks), { admin: { authorize: (request: { headers: Record<string, unknown> }) => request.headers['x-admin'] === 'yes' } })
  // Disabled before the first check: the hanging plugin is never called here.
  for (const name of ['hangs', 'down']) await app.pluginKit.disable(name)

  assert.equal((await app.inject('/pluginkit/api/health')).statusCode, 401)
  const failing = await app.inject({ url: '/pluginkit/api/health', headers: { 'x-admin': 'yes' } })
  assert.equal(failing.statusCode, 503)
  assert.equal(failing.headers['cache-control'], 'no-store')
  const body = failing.json() as { ok: boolean, plugins: Record<string, { ok: boolean, detail?: string }> }
  assert.equal(body.ok, false)
  assert.deepEqual(Object.keys(body.plugins).sort(), ['degraded', 'fine', 'fine-async', 'rejects', 'silent', 'throws'])
  assert.equal(body.plugins.throws?.detail, 'db unreachable')

  // The admin page shows each plugin's check, read without JavaScript.
  const page = await app.inject({ url: '/pluginkit/', headers: { 'x-admin': 'yes' } })
  assert.equal(page.statusCode, 200)
  const row = (name: string) => page.body.split(`<tr data-plugin="${name}"`)[1]?.split('</tr>')[0] ?? ''
  assert.match(row('throws'), /<span class="health bad">unhealthy<\/span><div class="desc">db unreachable<\/div>/)
  assert.match(row('degraded'), /unhealthy<\/span><div class="desc">replica lag 12 s</)
  assert.match(row('fine-async'), /<span class="health ok">healthy<\/span><div class="desc">pool 3\/10</)
  assert.match(row('fine'), /<span class="health ok">healthy<\/span><\/td>/)
  // No check, or disabled (not checked): a dash in the column after the state.
  for (const name of ['plain', 'hangs', 'off']) assert.match(row(name), /<span class="state [a-z]+" data-state="[a-z]+">[a-z]+<\/span><\/td><td>—<\/td>/, name)

  for (const name of ['degraded', 'rejects', 'throws']) await app.pluginKit.disable(name)
  const passing = await app.inject({ url: '/pluginkit/api/health', headers: { 'x-admin': 'yes' } })
  assert.equal(passing.statusCode, 200)
  assert.deepEqual(Object.keys(passing.json().plugins).sort(), ['fine', 'fine-async', 'silent'])
  assert.equal(passing.json().ok, true)

  // Enabled again: checked again.
  await app.pluginKit.enable('down')
  assert.equal((await app.inject({ url: '/pluginkit/api/health', headers: { 'x-admin': 'yes' } })).statusCode, 503)
})

test('health(ctx) gets the very context register got: its config, logger, kit and directory', async () => {
  const base = await makeTree({
    'plugins/db/index.mjs': pluginSource({
      name: 'db',
      health: code(`function (ctx) {
        return ctx === registered && ctx.config.url === 'mem://x' && ctx.name === 'db' && typeof ctx.log.info === 'function' &&
          typeof ctx.kit.get === 'function' ? true : { ok: false, detail: 'another context' }
      }`)
    }, 'registered = ctx\nreturn {}', { header: 'let registered' })
  })
  const app = await buildApp(base, { pluginConfig: { db: { url: 'mem://x' } } })
  const report = await app.pluginKit.health()
  assert.deepEqual({ ...report, plugins: { db: { ...report.plugins.db, ms: 0 } } }, { ok: true, plugins: { db: { ok: true, ms: 0 } } })
})

test('health(): no plugin defines a check: ok, nothing in it; the admin answers 200', async () => {
  const app = await buildApp(await makeTree({ 'plugins/plain/index.mjs': pluginSource({ name: 'plain' }) }), { admin: { authorize: () => true } })
  assert.deepEqual(await app.pluginKit.health(), { ok: true, plugins: {} })
  const response = await app.inject('/pluginkit/api/health')
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), { ok: true, plugins: {} })
})

test('manifest: health must be a function', async () => {
  const base = await makeTree({ 'plugins/bad/index.mjs': pluginSource({ name: 'bad', health: true }) })
  await assert.rejects(buildApp(base), (error) => {
    assertKitError(error, 'PLUGINKIT_ERR_PLUGIN_METADATA', 'bad', 'health')
    return true
  })
})
