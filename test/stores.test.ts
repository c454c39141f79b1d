import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import pluginKit, { FileStore, MemoryStore, type PluginState, type StateStore } from 'fastify-pluginkit'
import { buildApp, makeTree, pluginSource, type Tree } from './helpers.ts'
import { eventually } from './helpers-runtime.ts'
import { kitErrorWith } from './helpers-loading.ts'

const twoPlugins = (): Tree => ({
  'plugins/x/index.mjs': pluginSource({ name: 'x' }, `
    return {
      bep: { prefix: '/x', blueprint: async (app) => { app.get('/', async () => 'x') } },
      hep: { after_request: (request, reply) => { reply.header('x-hook', 'x') } }
    }`, { async: true }),
  'plugins/y/index.mjs': pluginSource({ name: 'y' }, `
    return { bep: { prefix: '/y', blueprint: async (app) => { app.get('/', async () => 'y') } } }`, { async: true })
})

const stateOf = (app: FastifyInstance, name: string) => app.pluginKit.get(name).state

async function readJson (path: string): Promise<Record<string, string>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, string>
}

/** Every entry of `dir` except the plugins folder. */
async function entriesBeside (dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((entry) => entry !== 'plugins').sort()
}

test('store: "memory" writes nothing', async () => {
  const base = await makeTree(twoPlugins())
  const app = await buildApp(base, { store: 'memory' })
  await app.ready()
  await app.pluginKit.disable('x')
  await app.pluginKit.enable('x')
  await app.pluginKit.disable('y')
  assert.equal(stateOf(app, 'y'), 'disabled')
  assert.deepEqual(await entriesBeside(base), [])
  assert.deepEqual(await readdir(join(base, 'plugins')), ['x', 'y'])
})

test('store: default file <pluginsBase>/.pluginkit-state.json, written only on enable/disable, atomically', async () => {
  const base = await makeTree(twoPlugins())
  const app = await buildApp(base, { store: undefined })
  await app.ready()
  assert.deepEqual(await entriesBeside(base), [], 'booting writes nothing')
  assert.equal((await app.inject('/x/')).body, 'x')

  await app.pluginKit.disable('x')
  const file = join(base, '.pluginkit-state.json')
  assert.deepEqual(await entriesBeside(base), ['.pluginkit-state.json'])
  assert.equal((await readJson(file)).x, 'disabled')

  // Readers never see a half-written file while states change.
  const progress = { toggling: true }
  const reader = (async () => {
    let reads = 0
    while (progress.toggling || reads === 0) {
      const saved = await readJson(file)
      assert.ok(saved.x === 'enabled' || saved.x === 'disabled')
      reads++
    }
    return reads
  })()
  for (let round = 0; round < 10; round++) {
    await app.pluginKit.enable('x')
    await app.pluginKit.disable('y')
    await app.pluginKit.enable('y')
    await app.pluginKit.disable('x')
  }
  await app.pluginKit.enable('x')
  await app.pluginKit.disable('y')
  progress.toggling = false
  assert.ok(await reader > 0)
  const saved = await readJson(file)
  assert.equal(saved.x, 'enabled')
  assert.equal(saved.y, 'disabled')
  assert.deepEqual(await entriesBeside(base), ['.pluginkit-state.json'], 'no temporary file left behind')
})

test('store: { file } writes that file (valid JSON), and only on a state change', async () => {
  const base = await makeTree({ ...twoPlugins(), 'state/.keep': '' })
  const file = join(base, 'state', 'kit-state.json')
  const app = await buildApp(base, { store: { file } })
  await app.ready()
  assert.deepEqual(await readdir(join(base, 'state')), ['.keep'])
  assert.deepEqual(await entriesBeside(base), ['state'])

  await app.pluginKit.disable('y')
  assert.deepEqual(await readdir(join(base, 'state')), ['.keep', 'kit-state.json'])
  const text = await readFile(file, 'utf8')
  const saved = JSON.parse(text) as Record<string, string>
  assert.equal(saved.y, 'disabled')
  for (const value of Object.values(saved)) assert.ok(value === 'enabled' || value === 'disabled')
  assert.deepEqual(await entriesBeside(base), ['state'], 'the default file is not used')
})

test('FileStore: two app instances on the same file keep each other\'s changes', async () => {
  const base = await makeTree({
    ...twoPlugins(),
    'plugins/z/index.mjs': pluginSource({ name: 'z' }, 'return {}', { async: true })
  })
  const file = join(base, 'shared-state.json')
  const a = await buildApp(base, { store: { file } })
  await a.ready()
  const b = await buildApp(base, { store: { file } })
  await b.ready()

  // Both booted; A then B change different plugins: B's save must not erase A's.
  await a.pluginKit.disable('x')
  await b.pluginKit.disable('y')
  assert.deepEqual({ x: (await readJson(file)).x, y: (await readJson(file)).y }, { x: 'disabled', y: 'disabled' })
  await a.pluginKit.disable('z')
  const afterBoth = await readJson(file)
  assert.equal(afterBoth.x, 'disabled')
  assert.equal(afterBoth.y, 'disabled')
  assert.equal(afterBoth.z, 'disabled')

  // An instance booted afterwards sees every change.
  const c = await buildApp(base, { store: { file } })
  await c.ready()
  assert.equal(stateOf(c, 'x'), 'disabled')
  assert.equal(stateOf(c, 'y'), 'disabled')
  assert.equal(stateOf(c, 'z'), 'disabled')
  assert.equal((await c.inject('/x/')).statusCode, 404)
  assert.equal((await c.inject('/y/')).statusCode, 404)

  await c.pluginKit.enable('y')
  const final = await readJson(file)
  assert.deepEqual({ x: final.x, y: final.y, z: final.z }, { x: 'disabled', y: 'enabled', z: 'disabled' })
})

test('FileStore: concurrent changes from two app instances on the same file are all kept', async () => {
  const names = ['p0', 'p1', 'p2', 'p3']
  const base = await makeTree(Object.fromEntries(names.map((name) => [`plugins/${name}/index.mjs`, pluginSource({ name }, 'return {}', { async: true })])))
  const file = join(base, 'shared-state.json')
  const a = await buildApp(base, { store: { file } })
  const b = await buildApp(base, { store: { file } })
  await a.ready()
  await b.ready()
  for (let round = 0; round < 6; round++) {
    const disabling = round % 2 === 0
    const expected = disabling ? 'disabled' : 'enabled'
    // A changes p0 and p2 while B changes p1 and p3, at the same time.
    await Promise.all(names.map((name, index) => {
      const app = index % 2 === 0 ? a : b
      return disabling ? app.pluginKit.disable(name) : app.pluginKit.enable(name)
    }))
    const saved = await readJson(file)
    assert.deepEqual(names.map((name) => saved[name]), names.map(() => expected), `round ${round}: ${JSON.stringify(saved)}`)
  }
  assert.deepEqual(await entriesBeside(base), ['shared-state.json'])
})

/** Two running apps with the two plugins, each with its own FileStore on one shared file. */
async function twoWatchingInstances (interval: number): Promise<{ file: string, a: FastifyInstance, b: FastifyInstance }> {
  const base = await makeTree(twoPlugins())
  const file = join(base, 'shared-state.json')
  const a = await buildApp(base, { store: new FileStore(file, { interval }) })
  const b = await buildApp(base, { store: new FileStore(file, { interval }) })
  await a.ready()
  await b.ready()
  return { file, a, b }
}

test('FileStore: a change made by one running instance reaches another running instance on the same file', async () => {
  const { a, b } = await twoWatchingInstances(50)

  await a.pluginKit.disable('x')
  assert.ok(await eventually(async () => (await b.inject('/x/')).statusCode === 404), 'b sees x disabled')
  assert.equal(stateOf(b, 'x'), 'disabled')
  assert.equal((await b.inject('/')).headers['x-hook'], undefined, "x's after_request no longer runs on b")

  await b.pluginKit.enable('x')
  assert.ok(await eventually(async () => (await a.inject('/x/')).body === 'x'), 'a sees x enabled again')
  assert.equal(stateOf(a, 'x'), 'enabled')
  assert.equal((await a.inject('/')).headers['x-hook'], 'x')
})

test('FileStore: a change written by another process is picked up; a corrupt file meanwhile changes nothing', async () => {
  const base = await makeTree(twoPlugins())
  const file = join(base, 'state.json')
  const app = await buildApp(base, { store: new FileStore(file, { interval: 50 }) })
  await app.ready()

  // Another process, using the package as any user would.
  const script = "import { FileStore } from 'fastify-pluginkit'; await new FileStore(process.argv[1]).save('y', 'disabled')"
  await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, file], { cwd: fileURLToPath(new URL('..', import.meta.url)) })
  assert.ok(await eventually(() => stateOf(app, 'y') === 'disabled'), 'y disabled by the other process')
  assert.equal((await app.inject('/y/')).statusCode, 404)

  // Someone breaks the file by hand: the running app keeps its state and reports nothing.
  await writeFile(file, '{ "y": "enab')
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.equal(stateOf(app, 'y'), 'disabled')
  assert.equal(stateOf(app, 'x'), 'enabled')
  // Fixed again, with a change: it applies.
  await writeFile(file, JSON.stringify({ x: 'disabled', y: 'enabled' }))
  assert.ok(await eventually(() => stateOf(app, 'x') === 'disabled' && stateOf(app, 'y') === 'enabled'), 'the fixed file applies')
})

test('FileStore: rapid toggles of the same plugins from two instances settle to the file\'s state everywhere', async () => {
  const { file, a, b } = await twoWatchingInstances(20)
  for (let round = 0; round < 15; round++) {
    // Both instances change x and y, partly at the same time.
    await Promise.all([
      a.pluginKit.disable('x').then(() => a.pluginKit.enable('y')),
      b.pluginKit.enable('x').then(() => b.pluginKit.disable('y'))
    ])
    await new Promise((resolve) => setTimeout(resolve, round * 3))
  }
  await a.pluginKit.disable('x')
  await b.pluginKit.enable('y')
  const saved = await readJson(file)
  assert.deepEqual(saved, { x: 'disabled', y: 'enabled' })
  const settled = () => [a, b].every((app) => stateOf(app, 'x') === 'disabled' && stateOf(app, 'y') === 'enabled')
  assert.ok(await eventually(settled), 'both instances run with the file\'s state')
  // And they stay there: nothing read earlier brings an older state back.
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.ok(settled(), JSON.stringify([a, b].map((app) => [stateOf(app, 'x'), stateOf(app, 'y')])))
})

test('FileStore.subscribe: reports the file\'s entries when it changes, and nothing once unsubscribed', async () => {
  const base = await makeTree({})
  const file = join(base, 'state.json')
  await writeFile(file, JSON.stringify({ a: 'enabled' }))
  const store = new FileStore(file, { interval: 20 })
  const reports: string[] = []
  const stop = store.subscribe((name, state) => reports.push(`${name}=${state}`))
  assert.ok(await eventually(() => reports.includes('a=enabled')), 'the first look reports what is in the file')

  await new FileStore(file).save('b', 'disabled')
  assert.ok(await eventually(() => reports.includes('b=disabled')), 'a save by another store is reported')
  await store.save('c', 'enabled')
  assert.ok(await eventually(() => reports.includes('c=enabled')), 'own saves show up as ordinary entries')

  stop()
  stop()
  const seen = reports.length
  await new FileStore(file).save('d', 'disabled')
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.equal(reports.length, seen, 'no report after unsubscribing')
  await store.close()
})

test('FileStore: a corrupt state file fails boot with PLUGINKIT_ERR_STATE_STORE and is left untouched', async (t) => {
  for (const [label, content] of [
    ['invalid JSON', '{ "x": "disabled", oops'],
    ['wrong value', '{ "x": "off" }\n'],
    ['not an object', '["x"]']
  ] as const) {
    await t.test(label, async () => {
      const base = await makeTree({ ...twoPlugins(), '.pluginkit-state.json': content })
      const file = join(base, '.pluginkit-state.json')
      const before = await readFile(file)
      const app = Fastify({ logger: false })
      app.register(pluginKit, { pluginsBase: base })
      await assert.rejects(async () => { await app.ready() }, kitErrorWith('PLUGINKIT_ERR_STATE_STORE', file))
      await app.close().catch(() => {})
      assert.deepEqual(await readFile(file), before, 'the file is byte-for-byte unchanged')
      assert.deepEqual(await entriesBeside(base), ['.pluginkit-state.json'])
    })
  }
})

/** A store over a map, with switches to make `save` fail and counters for the calls. */
class ProbeStore implements StateStore {
  readonly states: Record<string, PluginState>
  saves: Array<[string, PluginState]> = []
  failSaves = false
  /** Fail only the n-th save from now (1-based); 0: off. */
  failNth = 0
  closes = 0
  listener: ((name: string, state: PluginState) => void) | undefined
  unsubscribed = 0

  constructor (initial: Record<string, PluginState> = {}) {
    this.states = { ...initial }
  }

  async load (): Promise<Record<string, PluginState>> {
    return { ...this.states }
  }

  async save (name: string, state: PluginState): Promise<void> {
    if (this.failNth > 0 && --this.failNth === 0) throw new Error('disk on fire')
    if (this.failSaves) throw new Error('store unavailable')
    this.saves.push([name, state])
    this.states[name] = state
  }

  subscribe (listener: (name: string, state: PluginState) => void): () => void {
    this.listener = listener
    return () => { this.unsubscribed++ }
  }

  async close (): Promise<void> {
    this.closes++
  }
}

test('custom store: a failing save rejects enable/disable with PLUGINKIT_ERR_STATE_STORE and changes nothing', async () => {
  const base = await makeTree(twoPlugins())
  const store = new ProbeStore({ y: 'disabled' })
  const app = await buildApp(base, { store })
  await app.ready()
  assert.deepEqual(store.saves, [], 'booting never saves')
  assert.equal(stateOf(app, 'y'), 'disabled')

  store.failSaves = true
  await assert.rejects(app.pluginKit.disable('x'), kitErrorWith('PLUGINKIT_ERR_STATE_STORE', 'x'))
  await assert.rejects(app.pluginKit.enable('y'), kitErrorWith('PLUGINKIT_ERR_STATE_STORE', 'y'))
  assert.equal(stateOf(app, 'x'), 'enabled')
  assert.equal(stateOf(app, 'y'), 'disabled')
  const x = await app.inject('/x/')
  assert.equal(x.body, 'x')
  assert.equal(x.headers['x-hook'], 'x')
  assert.equal((await app.inject('/y/')).statusCode, 404)

  store.failSaves = false
  await app.pluginKit.disable('x')
  assert.equal((await app.inject('/x/')).statusCode, 404)
  assert.deepEqual(store.saves, [['x', 'disabled']])
})

test('custom store: a save failing halfway through a cascade changes nothing', async () => {
  const base = await makeTree({
    'plugins/core/index.mjs': pluginSource({ name: 'core' }, `
      return { bep: { prefix: '/core', blueprint: async (app) => { app.get('/', async () => 'core') } } }`, { async: true }),
    'plugins/addon/index.mjs': pluginSource({ name: 'addon', dependencies: ['core'] }, `
      return { bep: { prefix: '/addon', blueprint: async (app) => { app.get('/', async () => 'addon') } } }`, { async: true })
  })
  const store = new ProbeStore()
  const app = await buildApp(base, { store })
  await app.ready()
  store.failNth = 2
  await assert.rejects(app.pluginKit.disable('core', { cascade: true }), kitErrorWith('PLUGINKIT_ERR_STATE_STORE', 'core'))
  assert.equal(stateOf(app, 'core'), 'enabled')
  assert.equal(stateOf(app, 'addon'), 'enabled')
  assert.equal((await app.inject('/core/')).body, 'core')
  assert.equal((await app.inject('/addon/')).body, 'addon')
  for (const name of ['core', 'addon']) assert.notEqual(store.states[name], 'disabled', `store state of ${name}`)
})

test('custom store: subscribe lets another instance toggle plugins here; close() is called once on app.close()', async () => {
  const base = await makeTree(twoPlugins())
  const store = new ProbeStore()
  const app = Fastify({ logger: false })
  after(() => app.close())
  await app.register(pluginKit, { pluginsBase: base, store })
  await app.ready()
  assert.equal(typeof store.listener, 'function')
  const notify = store.listener as (name: string, state: PluginState) => void

  notify('x', 'disabled')
  assert.equal(stateOf(app, 'x'), 'disabled')
  assert.equal((await app.inject('/x/')).statusCode, 404)
  assert.equal((await app.inject('/')).headers['x-hook'], undefined)
  notify('x', 'enabled')
  assert.equal(stateOf(app, 'x'), 'enabled')
  assert.equal((await app.inject('/x/')).body, 'x')
  notify('unknown-plugin', 'disabled')
  assert.deepEqual(app.pluginKit.plugins.map((plugin) => [plugin.name, plugin.state]), [['x', 'enabled'], ['y', 'enabled']])
  assert.deepEqual(store.saves, [], 'a remote change is not saved again')

  assert.equal(store.closes, 0)
  await app.close()
  assert.equal(store.closes, 1)
  assert.equal(store.unsubscribed, 1, 'the kit stops listening on close')
})

test('saved state overrides the manifest\'s state', async () => {
  const base = await makeTree({
    'plugins/off-by-default/index.mjs': pluginSource({ name: 'off-by-default', state: 'disabled' }, `
      return { bep: { prefix: '/off', blueprint: async (app) => { app.get('/', async () => 'off-by-default') } } }`, { async: true }),
    'plugins/on-by-default/index.mjs': pluginSource({ name: 'on-by-default' }, `
      return { bep: { prefix: '/on', blueprint: async (app) => { app.get('/', async () => 'on-by-default') } } }`, { async: true }),
    'plugins/untouched/index.mjs': pluginSource({ name: 'untouched', state: 'disabled' }, 'return {}', { async: true }),
    '.pluginkit-state.json': JSON.stringify({ 'off-by-default': 'enabled', 'on-by-default': 'disabled', 'no-such-plugin': 'enabled' })
  })
  const app = await buildApp(base, { store: undefined })
  await app.ready()
  assert.equal(stateOf(app, 'off-by-default'), 'enabled')
  assert.equal(stateOf(app, 'on-by-default'), 'disabled')
  assert.equal(stateOf(app, 'untouched'), 'disabled')
  assert.equal((await app.inject('/off/')).body, 'off-by-default')
  assert.equal((await app.inject('/on/')).statusCode, 404)

  // The same through a custom store.
  const custom = new ProbeStore({ untouched: 'enabled' })
  const other = await buildApp(base, { store: custom })
  await other.ready()
  assert.equal(stateOf(other, 'untouched'), 'enabled')
  assert.equal(stateOf(other, 'off-by-default'), 'disabled')
})

test('MemoryStore and FileStore classes are usable directly as the store option', async () => {
  const base = await makeTree(twoPlugins())
  const memory = new MemoryStore()
  const inMemory = await buildApp(base, { store: memory })
  await inMemory.ready()
  await inMemory.pluginKit.disable('x')
  assert.equal((await inMemory.inject('/x/')).statusCode, 404)
  assert.deepEqual(await memory.load(), { x: 'disabled' })
  assert.deepEqual(await entriesBeside(base), [])

  const file = join(base, 'direct.json')
  const fileStore = new FileStore(file)
  assert.deepEqual(await fileStore.load(), {}, 'a missing file is an empty state')
  const onFile = await buildApp(base, { store: fileStore })
  await onFile.ready()
  await onFile.pluginKit.disable('y')
  assert.equal((await onFile.inject('/y/')).statusCode, 404)
  assert.equal((await readJson(file)).y, 'disabled')
  assert.deepEqual(await fileStore.load(), await readJson(file))
  assert.deepEqual(await entriesBeside(base), ['direct.json'])

  // A corrupt file through the class: load rejects with a PluginKitError naming the file.
  await writeFile(file, 'nope')
  await assert.rejects(new FileStore(file).load(), kitErrorWith('PLUGINKIT_ERR_STATE_STORE', file))
})

test('store: an object without load and save is an invalid option', async () => {
  const base = await makeTree(twoPlugins())
  const app = Fastify({ logger: false })
  after(() => app.close())
  app.register(pluginKit, { pluginsBase: base, store: { save: async () => {} } as unknown as StateStore })
  await assert.rejects(async () => { await app.ready() }, kitErrorWith('PLUGINKIT_ERR_INVALID_OPTION', 'store'))
})
