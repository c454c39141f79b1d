// Issue 5.2 / SPEC section 10, quarantine: with `quarantine: { maxErrors, windowMs }` a
// plugin whose hooks or routes throw maxErrors times within windowMs is disabled
// automatically, persisted through the store, logged with the reason, and reported in
// PluginInfo.quarantined (and by the admin) until it is enabled again.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { chromium } from 'playwright-core'
import type { FastifyInstance } from 'fastify'
import { FileStore, type PluginInfo, type PluginKitOptions, type PluginState, type StateDetail } from 'fastify-pluginkit'
import { buildApp, pluginSource, makeTree } from './helpers.ts'
import { eventually } from './helpers-runtime.ts'
import { captureLogs, WARN, type LogLine } from './helpers-views.ts'
import { CHROMIUM, requireBinary } from './helpers-services.ts'

const ADMIN = { 'x-admin': 'yes' }

const plugins = {
  // Routes that fail on demand.
  'plugins/flaky/index.mjs': pluginSource({ name: 'flaky' }, `return { bep: { prefix: '/flaky', blueprint: async (app) => {
    app.get('/ok', async () => ({ plugin: 'flaky' }))
    app.get('/boom', async () => { throw new Error('flaky boom') })
  } } }`),
  // Depends on flaky: disabled with it.
  'plugins/follower/index.mjs': pluginSource({ name: 'follower', dependencies: ['flaky'] }, `return { bep: { prefix: '/follower', blueprint: async (app) => {
    app.get('/', async () => ({ plugin: 'follower' }))
  } } }`),
  // Hooks that fail on other plugins' routes and on host routes.
  'plugins/hooky/index.mjs': pluginSource({ name: 'hooky' }, `return { hep: {
    before_request: (request) => { if (request.url === '/victim/fail') throw new Error('hooky before') },
    after_request: async (request) => { if (request.url === '/host-after') throw new Error('hooky after') }
  } }`),
  'plugins/victim/index.mjs': pluginSource({ name: 'victim' }, `return { bep: { prefix: '/victim', blueprint: async (app) => {
    app.get('/', async () => ({ plugin: 'victim' }))
    app.get('/fail', async () => ({ plugin: 'victim', fine: true }))
  } } }`),
  // A route whose client can send invalid input (a 400 is not the plugin failing).
  'plugins/strict-input/index.mjs': pluginSource({ name: 'strict-input' }, `return { vep: {
    method: 'POST', url: '/strict-input',
    schema: { body: { type: 'object', required: ['x'], properties: { x: { type: 'integer' } } } },
    handler: async (request) => ({ x: request.body.x })
  } }`)
}

/**
 * A FileStore that records every save it is asked for (synchronously, so "nothing was
 * saved" can be asserted without waiting) and can wait until its saves are done.
 */
class RecordingStore extends FileStore {
  readonly saves: Array<[string, PluginState]> = []
  readonly #pending = new Set<Promise<unknown>>()

  override save (name: string, state: PluginState, detail?: StateDetail): Promise<void> {
    this.saves.push([name, state])
    const saving = super.save(name, state, detail)
    const settled = saving.catch(() => {}).finally(() => this.#pending.delete(settled))
    this.#pending.add(settled)
    return saving
  }

  async drain (): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending)
  }
}

interface Setup {
  app: FastifyInstance
  base: string
  /** The folder of the state file (not under `base`), shared by an app restarted with `previous`. */
  stateDir: string
  stateFile: string
  store: RecordingStore
  logs: LogLine[]
}

/** An app over the plugins above with a recording FileStore; `previous`: restart on its plugins and state file. */
async function setup (quarantine: PluginKitOptions['quarantine'] | undefined, previous?: Setup): Promise<Setup> {
  let base: string
  let stateDir: string
  let stores: RecordingStore[]
  if (previous === undefined) {
    stores = []
    const own = stores
    // Registered first, so it runs before the plugin folder is removed: saves still in flight finish first.
    after(async () => {
      for (const store of own) await store.drain()
      await rm(stateDir, { recursive: true, force: true })
    })
    stateDir = await mkdtemp(join(tmpdir(), 'pluginkit-quarantine-'))
    base = await makeTree(plugins)
  } else {
    ({ base, stateDir } = previous)
    stores = storesOf.get(previous.store) as RecordingStore[]
  }
  const stateFile = join(stateDir, 'state.json')
  const store = new RecordingStore(stateFile)
  stores.push(store)
  storesOf.set(store, stores)
  const logs = captureLogs()
  const app = await buildApp(base, {
    store,
    ...(quarantine === undefined ? {} : { quarantine }),
    admin: { authorize: (request) => request.headers['x-admin'] === 'yes' }
  }, { fastify: logs.fastifyOptions })
  app.get('/host-after', async () => 'host')
  await app.ready()
  return { app, base, stateDir, stateFile, store, logs: logs.lines }
}

/** The stores sharing one state file (restarts), drained together before it is removed. */
const storesOf = new WeakMap<RecordingStore, RecordingStore[]>()

/** Lets microtasks and immediate callbacks run: a quarantine decided by now has called the store's save. */
async function settle (): Promise<void> {
  for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve))
}

async function hit (app: FastifyInstance, url: string, times: number, status: number): Promise<void> {
  for (let index = 0; index < times; index++) assert.equal((await app.inject(url)).statusCode, status, url)
}

/** The states in the file, without the quarantine records kept beside them. */
async function savedStates (stateFile: string): Promise<Record<string, string>> {
  const { $quarantined: _records, ...states } = JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, string>
  return states
}

test('a plugin whose routes fail maxErrors times is quarantined: disabled, persisted, logged, reported; enabling clears it', async () => {
  const { app, stateFile, store, logs } = await setup({ maxErrors: 3, windowMs: 60_000 })
  const notFound = await app.inject('/no-such-url')

  await hit(app, '/flaky/boom', 2, 500)
  await settle()
  assert.equal(app.pluginKit.get('flaky').state, 'enabled', 'two errors are below maxErrors')
  assert.equal(app.pluginKit.get('flaky').quarantined, undefined)
  assert.deepEqual(store.saves, [], 'nothing saved yet')

  const startedAt = Date.now()
  await hit(app, '/flaky/boom', 1, 500)
  assert.ok(await eventually(() => app.pluginKit.get('flaky').state === 'disabled'), 'flaky disabled')

  // PluginInfo.quarantined: the reason and when.
  const info = app.pluginKit.get('flaky')
  assert.ok(info.quarantined !== undefined)
  assert.match(info.quarantined.reason, /flaky boom/)
  const at = Date.parse(info.quarantined.at)
  assert.ok(Number.isFinite(at) && at >= startedAt - 1000 && at <= Date.now(), info.quarantined.at)
  assert.deepEqual(app.pluginKit.enabledPlugins.map((plugin) => plugin.name).includes('flaky'), false)

  // Its dependent goes with it (cascade); only flaky itself is quarantined.
  assert.equal(app.pluginKit.get('follower').state, 'disabled')
  assert.equal(app.pluginKit.get('follower').quarantined, undefined)
  assert.equal(app.pluginKit.get('victim').state, 'enabled')

  // Its routes answer like an unknown URL.
  for (const url of ['/flaky/ok', '/flaky/boom', '/follower/']) {
    const response = await app.inject(url)
    assert.equal(response.statusCode, notFound.statusCode, url)
    assert.equal(response.body.replace(url, '/no-such-url'), notFound.body, url)
  }

  // Persisted through the store.
  await store.drain()
  assert.deepEqual(await savedStates(stateFile), { flaky: 'disabled', follower: 'disabled' })
  // The reason is saved with the state (only for the quarantined plugin, not its dependents).
  const records = (JSON.parse(await readFile(stateFile, 'utf8')) as { $quarantined?: Record<string, { reason: string }> }).$quarantined
  assert.deepEqual(Object.keys(records ?? {}), ['flaky'])
  assert.match(records?.flaky?.reason ?? '', /3 errors within 60000 ms; last: flaky boom/)

  // Logged at warn level or above, with the plugin and the reason.
  assert.ok(await eventually(() => logs.some((line) => line.level >= WARN && line.plugin === 'flaky' && /quarantin/i.test(line.msg))), 'the quarantine is logged')
  const line = logs.find((entry) => entry.level >= WARN && entry.plugin === 'flaky' && /quarantin/i.test(entry.msg)) as LogLine
  assert.ok(JSON.stringify(line).includes(info.quarantined.reason), JSON.stringify(line))

  // The admin API lists it as quarantined (the page is checked in a browser below).
  const listed = await app.inject({ url: '/pluginkit/api/plugins', headers: ADMIN })
  assert.equal(listed.statusCode, 200)
  const flaky = (listed.json() as { plugins: PluginInfo[] }).plugins.find((plugin) => plugin.name === 'flaky')
  assert.equal(flaky?.state, 'disabled')
  assert.deepEqual(flaky?.quarantined, info.quarantined)

  // Enabling (through the admin) clears the quarantine and brings the routes back.
  const enabled = await app.inject({ method: 'POST', url: '/pluginkit/api/plugins/flaky/enable', headers: { ...ADMIN, 'content-type': 'application/json' }, payload: '{}' })
  assert.equal(enabled.statusCode, 200, enabled.body)
  const plugin = (enabled.json() as { plugin: PluginInfo }).plugin
  assert.equal(plugin.state, 'enabled')
  assert.equal(plugin.quarantined, undefined)
  assert.equal(app.pluginKit.get('flaky').quarantined, undefined)
  assert.deepEqual((await app.inject('/flaky/ok')).json(), { plugin: 'flaky' })
  assert.equal((await savedStates(stateFile)).flaky, 'enabled')
  const relisted = (await app.inject({ url: '/pluginkit/api/plugins', headers: ADMIN })).json() as { plugins: PluginInfo[] }
  assert.equal(relisted.plugins.find((entry) => entry.name === 'flaky')?.quarantined, undefined)

  // The count starts afresh: two more errors do not quarantine it again, a third does.
  const savesBefore = store.saves.length
  await hit(app, '/flaky/boom', 2, 500)
  await settle()
  assert.equal(store.saves.length, savesBefore, 'no new save after two more errors')
  assert.equal(app.pluginKit.get('flaky').state, 'enabled')
  await hit(app, '/flaky/boom', 1, 500)
  assert.ok(await eventually(() => app.pluginKit.get('flaky').state === 'disabled'), 'quarantined again')
  assert.ok(app.pluginKit.get('flaky').quarantined !== undefined)
})

test('a quarantined plugin stays disabled after a restart on the same store', async () => {
  const first = await setup({ maxErrors: 2, windowMs: 60_000 })
  await hit(first.app, '/flaky/boom', 2, 500)
  assert.ok(await eventually(() => first.app.pluginKit.get('flaky').state === 'disabled'), 'flaky disabled')
  await first.store.drain()
  await first.app.close()

  const second = await setup({ maxErrors: 2, windowMs: 60_000 }, first)
  assert.equal(second.app.pluginKit.get('flaky').state, 'disabled')
  assert.equal((await second.app.inject('/flaky/ok')).statusCode, 404)
})

test('errors spread wider than windowMs do not quarantine; maxErrors within the window do', async () => {
  // Long enough that two sequential requests fall within it on a loaded machine.
  const windowMs = 1000
  const { app, store } = await setup({ maxErrors: 2, windowMs })
  for (let round = 0; round < 3; round++) {
    await hit(app, '/flaky/boom', 1, 500)
    await settle()
    assert.deepEqual(store.saves, [], `round ${round}: nothing saved`)
    assert.equal(app.pluginKit.get('flaky').state, 'enabled', `round ${round}`)
    // Outlive the window, so that the next error is alone in it.
    await new Promise((resolve) => setTimeout(resolve, windowMs + 50))
  }
  await hit(app, '/flaky/boom', 2, 500)
  assert.ok(await eventually(() => app.pluginKit.get('flaky').state === 'disabled'), 'two errors within the window quarantine')
})

test('a hook error on another plugin\'s route is attributed only to the hook\'s plugin, and counted once', async () => {
  // hooky's before_request counts only because the host opts it in (see the guard tests).
  const { app, stateFile, store } = await setup({ maxErrors: 3, windowMs: 60_000, countBeforeRequest: ['hooky'] })
  await hit(app, '/victim/fail', 2, 500)
  await settle()
  assert.deepEqual(store.saves, [], 'each failing request counts once')
  assert.equal(app.pluginKit.get('hooky').state, 'enabled')

  await hit(app, '/victim/fail', 1, 500)
  assert.ok(await eventually(() => app.pluginKit.get('hooky').state === 'disabled'), 'hooky quarantined')
  assert.match(app.pluginKit.get('hooky').quarantined?.reason ?? '', /hooky before/)
  // The route's owner is untouched, and works again now that the failing hook is off.
  const victim = app.pluginKit.get('victim')
  assert.equal(victim.state, 'enabled')
  assert.equal(victim.quarantined, undefined)
  assert.deepEqual((await app.inject('/victim/fail')).json(), { plugin: 'victim', fine: true })
  await store.drain()
  assert.deepEqual(store.saves, [['hooky', 'disabled']], 'only hooky was saved')
  assert.deepEqual(await savedStates(stateFile), { hooky: 'disabled' })
})

test('after_request failures on host routes count too', async () => {
  const { app } = await setup({ maxErrors: 2, windowMs: 60_000 })
  await hit(app, '/host-after', 2, 500)
  assert.ok(await eventually(() => app.pluginKit.get('hooky').state === 'disabled'), 'hooky quarantined')
  assert.match(app.pluginKit.get('hooky').quarantined?.reason ?? '', /hooky after/)
  assert.equal((await app.inject('/host-after')).body, 'host')
})

test('client errors are not plugin failures: invalid input (400) and unknown sub-URLs (404) never quarantine', async () => {
  const { app, store } = await setup({ maxErrors: 2, windowMs: 60_000 })
  for (let index = 0; index < 5; index++) {
    const invalid = await app.inject({ method: 'POST', url: '/strict-input', payload: { x: 'not a number' } })
    assert.equal(invalid.statusCode, 400)
    assert.equal((await app.inject('/flaky/no-such-page')).statusCode, 404)
  }
  await settle()
  assert.deepEqual(store.saves, [], 'a client sending bad input cannot switch a plugin off')
  await store.drain()
  assert.equal(app.pluginKit.get('strict-input').state, 'enabled')
  assert.equal(app.pluginKit.get('flaky').state, 'enabled')
  assert.deepEqual((await app.inject({ method: 'POST', url: '/strict-input', payload: { x: 1 } })).json(), { x: 1 })
})

test('without the quarantine option failing plugins stay enabled', async () => {
  const { app, stateFile, store } = await setup(undefined)
  await hit(app, '/flaky/boom', 10, 500)
  await hit(app, '/victim/fail', 10, 500)
  await settle()
  assert.deepEqual(store.saves, [])
  for (const name of ['flaky', 'hooky', 'victim']) {
    assert.equal(app.pluginKit.get(name).state, 'enabled', name)
    assert.equal(app.pluginKit.get(name).quarantined, undefined)
  }
  assert.ok(!existsSync(stateFile))
  assert.equal(app.pluginKit.get('hooky').stats.hookErrors, 10)
})

test('thrown values that are not Errors count too (a string, a null-prototype object)', async (t) => {
  for (const [label, thrown] of [['a string', "'plain string'"], ['a null-prototype object', 'Object.create(null)']] as const) {
    await t.test(label, async () => {
      const base = await makeTree({
        'plugins/odd/index.mjs': pluginSource({ name: 'odd' }, `return {
          hep: { before_request: (request) => { if (request.url === '/hook-fail') throw ${thrown} } },
          vep: { method: 'GET', url: '/odd', handler: async () => { throw ${thrown} } }
        }`)
      })
      const app = await buildApp(base, { quarantine: { maxErrors: 2, windowMs: 60_000, countBeforeRequest: ['odd'] } })
      app.get('/hook-fail', async () => 'host')
      await app.ready()
      await hit(app, '/odd', 2, 500)
      assert.ok(await eventually(() => app.pluginKit.get('odd').state === 'disabled'), `quarantined after two route failures throwing ${label}`)
      assert.equal(typeof app.pluginKit.get('odd').quarantined?.reason, 'string')
      await app.pluginKit.enable('odd')
      await hit(app, '/hook-fail', 2, 500)
      assert.ok(await eventually(() => app.pluginKit.get('odd').state === 'disabled'), `quarantined after two hook failures throwing ${label}`)
    })
  }
})

test('the admin page shows a quarantined plugin as quarantined, with the reason; its Enable button clears it', { timeout: 60_000 }, async (t) => {
  const executablePath = requireBinary(t, CHROMIUM)
  if (executablePath === undefined) return
  const { app, stateFile } = await setup({ maxErrors: 2, windowMs: 60_000 })
  await hit(app, '/flaky/boom', 2, 500)
  assert.ok(await eventually(() => app.pluginKit.get('flaky').state === 'disabled'), 'flaky quarantined')
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo

  const browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync']
  })
  t.after(() => browser.close())
  const context = await browser.newContext({ extraHTTPHeaders: ADMIN })
  const page = await context.newPage()
  assert.equal((await page.goto(`http://127.0.0.1:${port}/pluginkit/`))?.status(), 200)

  const badge = page.locator('tr[data-plugin="flaky"] .state')
  await badge.waitFor()
  assert.equal(await badge.innerText(), 'quarantined')
  const title = await badge.getAttribute('title') ?? ''
  assert.ok(title.includes('flaky boom'), `the badge's title gives the reason: ${title}`)
  assert.equal(await page.locator('tr[data-plugin="victim"] .state').innerText(), 'enabled', 'other plugins are shown by their state')

  await page.locator('tr[data-plugin="flaky"] button').click()
  await page.locator('tr[data-plugin="flaky"] .state', { hasText: 'enabled' }).waitFor()
  assert.equal(app.pluginKit.get('flaky').state, 'enabled')
  assert.equal(app.pluginKit.get('flaky').quarantined, undefined)
  assert.equal((await savedStates(stateFile)).flaky, 'enabled')
})
