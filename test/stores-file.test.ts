// Issue #11: FileStore follows symbolic links (items 5), refuses oversized state files
// (item 12), and keeps quarantine records beside the states, as MemoryStore does (item 2).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lstat, open, readFile, readdir, readlink, symlink, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { FileStore, MemoryStore, type PluginState, type StateDetail, type StateStore } from 'fastify-pluginkit'
import { buildApp, pluginSource, makeTree } from './helpers.ts'
import { eventually } from './helpers-runtime.ts'
import { kitErrorWith } from './helpers-loading.ts'

const LIMIT = 1024 * 1024
const ADMIN = { 'x-admin': 'yes' }

const plugins = {
  'plugins/x/index.mjs': pluginSource({ name: 'x' }, "return { vep: { method: 'GET', url: '/x', handler: async () => 'x' } }"),
  'plugins/y/index.mjs': pluginSource({ name: 'y' }, "return { vep: { method: 'GET', url: '/y', handler: async () => 'y' } }")
}

async function readJson (path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
}

async function adminApp (base: string, store: StateStore | { file: string }): Promise<FastifyInstance> {
  const app = await buildApp(base, { store, admin: { authorize: (request) => request.headers['x-admin'] === 'yes' } })
  await app.ready()
  return app
}

function toggle (app: FastifyInstance, name: string, action: 'enable' | 'disable') {
  return app.inject({ method: 'POST', url: `/pluginkit/api/plugins/${name}/${action}`, headers: { ...ADMIN, 'content-type': 'application/json' }, payload: '{}' })
}

// ---- Item 5: symbolic links ----

test('FileStore on a symbolic link writes through to its target: the link stays a link, lock and temporary files go beside the target', async (t) => {
  const cases: Array<[string, (root: string) => Promise<{ path: string, target: string }>]> = [
    ['a link to an existing file', async (root) => {
      await writeFile(join(root, 'volume', 'state.json'), JSON.stringify({ y: 'disabled' }))
      await symlink(join(root, 'volume', 'state.json'), join(root, 'app', 'state.json'))
      return { path: join(root, 'app', 'state.json'), target: join(root, 'volume', 'state.json') }
    }],
    ['a relative link to a file that does not exist yet', async (root) => {
      await symlink('../volume/state.json', join(root, 'app', 'state.json'))
      return { path: join(root, 'app', 'state.json'), target: join(root, 'volume', 'state.json') }
    }],
    ['a chain of two links', async (root) => {
      await writeFile(join(root, 'volume', 'state.json'), '{}')
      await symlink(join(root, 'volume', 'state.json'), join(root, 'volume', 'current.json'))
      await symlink(join(root, 'volume', 'current.json'), join(root, 'app', 'state.json'))
      return { path: join(root, 'app', 'state.json'), target: join(root, 'volume', 'state.json') }
    }],
    ['a file inside a linked folder', async (root) => {
      await symlink(join(root, 'volume'), join(root, 'app', 'data'))
      return { path: join(root, 'app', 'data', 'state.json'), target: join(root, 'volume', 'state.json') }
    }]
  ]
  for (const [label, arrange] of cases) {
    await t.test(label, async () => {
      const root = await makeTree({ 'volume/.keep': '', 'app/.keep': '' })
      const { path, target } = await arrange(root)
      const appEntries = await readdir(join(root, 'app'))
      const linkBefore = await readlink(join(root, 'app', appEntries.find((entry) => entry !== '.keep') as string))

      const store = new FileStore(path)
      for (let round = 0; round < 3; round++) {
        await store.save('x', round % 2 === 0 ? 'disabled' : 'enabled')
        await store.save(`k${round}`, 'enabled')
      }
      const saved = await readJson(target)
      assert.equal(saved.x, 'disabled')
      assert.deepEqual([saved.k0, saved.k1, saved.k2], ['enabled', 'enabled', 'enabled'])
      assert.deepEqual(await new FileStore(path).load(), saved, 'read back through the link')
      assert.deepEqual(await readdir(join(root, 'app')), appEntries, 'nothing written beside the link')
      for (const entry of appEntries.filter((name) => name !== '.keep')) {
        assert.ok((await lstat(join(root, 'app', entry))).isSymbolicLink(), `${entry} is still a link`)
        assert.equal(await readlink(join(root, 'app', entry)), linkBefore, 'pointing where it pointed')
      }
      assert.deepEqual((await readdir(join(root, 'volume'))).filter((name) => !['.keep', 'state.json', 'current.json'].includes(name)), [],
        'no lock or temporary file left beside the target')
    })
  }
})

test('FileStore: a store on the link and a store on the target share one lock: concurrent saves are all kept', async () => {
  const root = await makeTree({ 'volume/state.json': '{}' })
  const link = join(root, 'link.json')
  await symlink(join(root, 'volume', 'state.json'), link)
  const viaLink = new FileStore(link)
  const direct = new FileStore(join(root, 'volume', 'state.json'))
  await Promise.all(Array.from({ length: 40 }, (_, index) => (index % 2 === 0 ? viaLink : direct).save(`p${index}`, 'disabled')))
  const saved = await readJson(join(root, 'volume', 'state.json'))
  assert.equal(Object.keys(saved).length, 40)
  assert.ok((await lstat(link)).isSymbolicLink())
})

test('an app on a symlinked state file: toggles update the target, a restart reads them, another instance sees them', async () => {
  const base = await makeTree({ ...plugins, 'volume/state.json': JSON.stringify({ y: 'disabled' }) })
  const link = join(base, 'state.json')
  await symlink(join(base, 'volume', 'state.json'), link)
  const a = await buildApp(base, { store: new FileStore(link, { interval: 20 }) })
  const b = await buildApp(base, { store: new FileStore(link, { interval: 20 }) })
  await a.ready()
  await b.ready()
  assert.equal(a.pluginKit.get('y').state, 'disabled', 'booted on the target\'s content')

  await a.pluginKit.disable('x')
  assert.ok((await lstat(link)).isSymbolicLink(), 'the first save did not replace the link')
  assert.equal((await readJson(join(base, 'volume', 'state.json'))).x, 'disabled')
  assert.ok(await eventually(() => b.pluginKit.get('x').state === 'disabled'), 'the other instance follows the target')
  await b.pluginKit.enable('y')
  assert.ok(await eventually(() => a.pluginKit.get('y').state === 'enabled'))

  const c = await buildApp(base, { store: { file: link } })
  await c.ready()
  assert.deepEqual([c.pluginKit.get('x').state, c.pluginKit.get('y').state], ['disabled', 'enabled'])
})

// ---- Item 12: size limit ----

/** A valid state file of exactly `bytes` bytes (JSON padded with spaces). */
function paddedState (bytes: number): string {
  const json = JSON.stringify({ y: 'disabled' })
  return json.slice(0, -1) + ' '.repeat(bytes - json.length) + '}'
}

test('FileStore: a state file of exactly 1 MiB loads; one byte more is PLUGINKIT_ERR_STATE_STORE naming the file and the limit', async () => {
  const base = await makeTree({})
  const file = join(base, 'state.json')
  await writeFile(file, paddedState(LIMIT))
  assert.deepEqual(await new FileStore(file).load(), { y: 'disabled' })
  await writeFile(file, paddedState(LIMIT + 1))
  await assert.rejects(new FileStore(file).load(), kitErrorWith('PLUGINKIT_ERR_STATE_STORE', file, String(LIMIT), '1 MiB'))
  await assert.rejects(new FileStore(file).loadDetails(), kitErrorWith('PLUGINKIT_ERR_STATE_STORE', file, String(LIMIT)))
  const before = await readFile(file)
  await assert.rejects(new FileStore(file).save('x', 'disabled'), kitErrorWith('PLUGINKIT_ERR_STATE_STORE', file, String(LIMIT)))
  assert.deepEqual(await readFile(file), before, 'an oversized file is never overwritten')
})

test('FileStore: a huge state file is refused without being read whole (a sparse 256 MiB file)', async () => {
  const base = await makeTree({})
  const file = join(base, 'state.json')
  await (await open(file, 'w')).close()
  await truncate(file, 256 * LIMIT)
  const rss = process.memoryUsage().rss
  await assert.rejects(new FileStore(file).load(), kitErrorWith('PLUGINKIT_ERR_STATE_STORE', file, String(LIMIT)))
  const grown = process.memoryUsage().rss - rss
  assert.ok(grown < 64 * LIMIT, `memory grew by ${Math.round(grown / LIMIT)} MiB reading it`)
})

test('an oversized state file fails boot, and during a save the admin answers a clean 503 and nothing changes', async () => {
  const base = await makeTree({ ...plugins, 'state.json': paddedState(LIMIT + 1) })
  const file = join(base, 'state.json')
  const booting = buildApp(base, { store: { file } }, { until: 'none' })
  await assert.rejects(async () => { await booting.ready() }, kitErrorWith('PLUGINKIT_ERR_STATE_STORE', file, String(LIMIT)))
  await booting.close().catch(() => {})

  await writeFile(file, '{}')
  const app = await adminApp(base, { file })
  await writeFile(file, paddedState(LIMIT + 1))
  const response = await toggle(app, 'x', 'disable')
  assert.equal(response.statusCode, 503)
  const body = response.json() as { code: string, message: string }
  assert.equal(body.code, 'PLUGINKIT_ERR_STATE_STORE')
  assert.ok(body.message.includes(file) && body.message.includes(String(LIMIT)), body.message)
  assert.equal(app.pluginKit.get('x').state, 'enabled')
  assert.equal((await app.inject('/x')).body, 'x')
  assert.equal((await readFile(file, 'utf8')).length, LIMIT + 1, 'left as it was')
})

// ---- Item 2: quarantine records kept with the state ----

const quarantined = (reason: string): StateDetail => ({ quarantined: { reason, at: '2026-01-02T03:04:05.000Z' } })

for (const [label, makeStore] of [
  ['MemoryStore', async () => { const store = new MemoryStore(); return () => store }],
  ['FileStore', async () => { const file = join(await makeTree({}), 'state.json'); return () => new FileStore(file) }]
] as Array<[string, () => Promise<() => StateStore>]>) {
  test(`${label}: a save with detail is returned by loadDetails (a fresh instance for FileStore); any save without detail clears it`, async () => {
    const fresh = await makeStore()
    const store = fresh()
    assert.deepEqual(await store.loadDetails?.(), {})
    await store.save('x', 'disabled', quarantined('3 errors within 60000 ms; last: boom'))
    await store.save('y', 'disabled', quarantined('y broke'))
    await store.save('z', 'disabled')
    assert.deepEqual(await fresh().load(), { x: 'disabled', y: 'disabled', z: 'disabled' })
    assert.deepEqual(await fresh().loadDetails?.(), { x: quarantined('3 errors within 60000 ms; last: boom'), y: quarantined('y broke') })

    await store.save('x', 'enabled')
    await store.save('y', 'disabled')
    assert.deepEqual(await fresh().loadDetails?.(), {}, 'an enable and a plain disable both clear the record')
    assert.deepEqual(await fresh().load(), { x: 'enabled', y: 'disabled', z: 'disabled' })
  })
}

test('FileStore: records live under "$quarantined" (never a plugin name); files without it load; a malformed one is reported', async () => {
  const base = await makeTree({})
  const file = join(base, 'state.json')
  const store = new FileStore(file)
  await store.save('x', 'disabled', quarantined('boom'))
  assert.deepEqual(await readJson(file), { x: 'disabled', $quarantined: { x: { reason: 'boom', at: '2026-01-02T03:04:05.000Z' } } })
  await store.save('x', 'enabled')
  assert.deepEqual(await readJson(file), { x: 'enabled' }, 'without records the file is the plain map older versions read')

  await writeFile(file, JSON.stringify({ x: 'disabled' }))
  assert.deepEqual(await store.loadDetails(), {})
  for (const bad of [{ $quarantined: 'x' }, { $quarantined: { x: { reason: 1, at: 'now' } } }, { $other: {} }]) {
    await writeFile(file, JSON.stringify({ x: 'disabled', ...bad }))
    await assert.rejects(store.load(), kitErrorWith('PLUGINKIT_ERR_STATE_STORE', file), JSON.stringify(bad))
  }
})

test('FileStore.subscribe reports the quarantine record with the state', async () => {
  const base = await makeTree({})
  const file = join(base, 'state.json')
  const store = new FileStore(file, { interval: 20 })
  const reports: Array<[string, PluginState, StateDetail | undefined]> = []
  const stop = store.subscribe((name, state, detail) => reports.push([name, state, detail]))
  await new FileStore(file).save('x', 'disabled', quarantined('boom'))
  assert.ok(await eventually(() => reports.some(([name, , detail]) => name === 'x' && detail?.quarantined?.reason === 'boom')), JSON.stringify(reports))
  await new FileStore(file).save('constructor', 'disabled')
  assert.ok(await eventually(() => reports.some(([name]) => name === 'constructor')))
  assert.equal(reports.find(([name]) => name === 'constructor')?.[2], undefined, 'no record for a plugin without one')
  stop()
})

test('a plugin quarantined with a FileStore is still quarantined, with the same reason, after a restart and on another running instance', async () => {
  const base = await makeTree({
    // A route that fails, and an after_request hook that fails on a host route.
    'plugins/flaky/index.mjs': pluginSource({ name: 'flaky' }, `return {
      vep: { method: 'GET', url: '/flaky/boom', handler: async () => { throw new Error('flaky boom') } },
      hep: { after_request: async (request) => { if (request.url === '/host') throw new Error('flaky after') } }
    }`)
  })
  const stateDir = await makeTree({})
  const file = join(stateDir, 'state.json')
  const boot = async (interval?: number) => {
    const app = await buildApp(base, { store: new FileStore(file, { interval }), quarantine: { maxErrors: 2, windowMs: 60_000 } })
    app.get('/host', async () => 'host')
    await app.ready()
    return app
  }
  const first = await boot()
  const watcher = await boot(20)

  for (let index = 0; index < 2; index++) assert.equal((await first.inject('/flaky/boom')).statusCode, 500)
  assert.ok(await eventually(() => first.pluginKit.get('flaky').state === 'disabled'), 'quarantined')
  const record = first.pluginKit.get('flaky').quarantined
  assert.match(record?.reason ?? '', /flaky boom/)
  assert.ok(await eventually(async () => JSON.stringify((await readJson(file)).$quarantined) === JSON.stringify({ flaky: record })), 'persisted')
  assert.ok(await eventually(() => watcher.pluginKit.get('flaky').state === 'disabled'), 'the running instance follows')
  assert.deepEqual(watcher.pluginKit.get('flaky').quarantined, record, 'with the record')
  await first.close()

  const second = await boot()
  assert.equal(second.pluginKit.get('flaky').state, 'disabled')
  assert.deepEqual(second.pluginKit.get('flaky').quarantined, record, 'the same reason and time after a restart')

  // Enabling clears it, in the file and for the next boot.
  await second.pluginKit.enable('flaky')
  await second.close()
  const third = await boot()
  assert.equal(third.pluginKit.get('flaky').state, 'enabled')
  assert.equal(third.pluginKit.get('flaky').quarantined, undefined)
  assert.equal((await readJson(file)).$quarantined, undefined)

  // The after_request failure on a host route quarantines it too, and that reason survives as well.
  for (let index = 0; index < 2; index++) assert.equal((await third.inject('/host')).statusCode, 500)
  assert.ok(await eventually(() => third.pluginKit.get('flaky').state === 'disabled'))
  const hookRecord = third.pluginKit.get('flaky').quarantined
  assert.match(hookRecord?.reason ?? '', /flaky after/)
  await third.close()
  const fourth = await boot()
  assert.deepEqual(fourth.pluginKit.get('flaky').quarantined, hookRecord)
})
