// Issue #11 items 7, 8 and 2 with a real redis-server: after any Redis fault every instance
// agrees with Redis within a second of it coming back (measured: 3-300 ms; the waits below allow
// 5 s so a loaded CI machine does not turn a slow scheduler into a failure), and no answer claims "nothing was
// changed" when that is not known (7); instances converge when Redis loses its data (8);
// quarantine records reach other instances and survive restarts (2).
//
// Convergence after data loss, as implemented: a running instance that finds a plugin
// missing from the hash (on reconnect, or at its periodic reload) while it runs that plugin
// in a state other than the manifest's default writes it back with HSETNX and publishes it.
// So the running fleet's states win over new instances' defaults, and a state saved
// meanwhile (by a new instance, say) is never overwritten.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import Fastify, { type FastifyInstance } from 'fastify'
import pluginKit, { PluginKitError, type PluginState } from 'fastify-pluginkit'
import { RedisStore } from 'fastify-pluginkit/redis'
import { pluginSource, makeTree } from './helpers.ts'
import { eventually } from './helpers-runtime.ts'
import { startRedis, type RedisServer } from './helpers-redis.ts'

const ADMIN = { 'x-admin': 'yes' }
const DEFAULTS: Record<string, PluginState> = { alpha: 'enabled', beta: 'enabled', gamma: 'disabled' }

function pluginsTree () {
  const route = (name: string) => `return { vep: { method: 'GET', url: '/${name}', handler: async () => ({ plugin: '${name}' }) } }`
  return makeTree({
    'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', version: '1.0.0', author: 'tester' }, route('alpha')),
    'plugins/beta/index.mjs': pluginSource({ name: 'beta', version: '1.0.0', author: 'tester' }, route('beta')),
    'plugins/gamma/index.mjs': pluginSource({ name: 'gamma', version: '1.0.0', author: 'tester', state: 'disabled' }, route('gamma')),
    // Fails on every request to its route: quarantined after two.
    'plugins/flaky/index.mjs': pluginSource({ name: 'flaky', version: '1.0.0', author: 'tester' },
      "return { vep: { method: 'GET', url: '/flaky', handler: async () => { throw new Error('flaky boom') } } }")
  })
}

function rawClient (t: TestContext, server: RedisServer): Redis {
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  t.after(() => { client.disconnect() })
  return client
}

interface Fleet {
  key: string
  base: string
  raw: Redis
  /** Boots an instance (closed when the test ends). */
  boot: (options?: { reloadInterval?: number }) => Promise<FastifyInstance>
  /** Whether every given instance runs, for every plugin, the state Redis holds (its default when Redis holds none). */
  agree: (apps: FastifyInstance[]) => Promise<boolean>
  describe: (apps: FastifyInstance[]) => Promise<string>
}

async function fleet (t: TestContext, server: RedisServer): Promise<Fleet> {
  const key = `pluginkit-convergence:${randomUUID()}`
  const base = await pluginsTree()
  const raw = rawClient(t, server)
  const boot = async ({ reloadInterval = 5000 } = {}) => {
    const app = Fastify({ logger: false })
    t.after(() => app.close())
    await app.register(pluginKit, {
      pluginsBase: base,
      store: new RedisStore({ url: server.url, key, reloadInterval }),
      quarantine: { maxErrors: 2, windowMs: 60_000 },
      admin: { authorize: (request) => request.headers['x-admin'] === 'yes' }
    })
    await app.ready()
    return app
  }
  const expected = async () => ({ ...DEFAULTS, ...(await raw.hgetall(key)) })
  const agree = async (apps: FastifyInstance[]) => {
    const states = await expected()
    return apps.every((app) => Object.keys(DEFAULTS).every((name) => app.pluginKit.get(name).state === states[name]))
  }
  const describe = async (apps: FastifyInstance[]) => JSON.stringify({
    redis: await raw.hgetall(key),
    instances: apps.map((app) => Object.fromEntries(Object.keys(DEFAULTS).map((name) => [name, app.pluginKit.get(name).state])))
  })
  return { key, base, raw, boot, agree, describe }
}

function toggle (app: FastifyInstance, name: string, action: 'enable' | 'disable') {
  return app.inject({ method: 'POST', url: `/pluginkit/api/plugins/${name}/${action}`, headers: { ...ADMIN, 'content-type': 'application/json' }, payload: '{}' })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// ---- Item 7: a stall during a toggle ----

const stalls: Array<[string, (server: RedisServer, raw: Redis, ms: number) => Promise<void>]> = [
  ['CLIENT PAUSE WRITE', async (_server, raw, ms) => { await raw.client('PAUSE', ms, 'WRITE') }],
  ['SIGSTOP, then SIGCONT', async (server, _raw, ms) => {
    const pid = server.pid as number
    process.kill(pid, 'SIGSTOP')
    setTimeout(() => process.kill(pid, 'SIGCONT'), ms)
  }]
]

// Right after boot, the instances' subscriptions may still be connecting when Redis stalls.
for (const [label, stall, when] of stalls.flatMap(([label, stall]) => ['right after boot', 'once subscribed'].map((when) => [label, stall, when] as const))) {
  test(`Redis stalls (${label}, ${when}) during a toggle: a 503 that does not claim "nothing was changed", then every instance agrees with Redis within a second`, { timeout: 30_000 }, async (t) => {
    const server = await startRedis(t)
    if (server === undefined) return
    const { key, raw, boot, agree, describe } = await fleet(t, server)
    const [a, b] = [await boot(), await boot()]
    if (when === 'once subscribed') assert.ok(await eventually(async () => (await raw.pubsub('NUMSUB', `${key}:changes`))[1] === 2, 5000))

    const STALL_MS = 5000
    const stalledAt = Date.now()
    await stall(server, raw, STALL_MS)
    // Through the admin on one instance and through the API on the other, during the same stall.
    const [answer, rejected] = await Promise.all([toggle(a, 'alpha', 'disable'), b.pluginKit.enable('gamma').then(() => undefined, (error: unknown) => error)])
    assert.equal(answer.statusCode, 503, answer.body)
    const body = answer.json() as { code: string, message: string }
    assert.equal(body.code, 'PLUGINKIT_ERR_STATE_STORE')
    assert.doesNotMatch(body.message, /nothing (was )?changed/i, body.message)
    assert.match(body.message, /may still be applied/, body.message)
    assert.match(body.message, /follow what Redis holds/, body.message)
    assert.ok(rejected instanceof PluginKitError && rejected.code === 'PLUGINKIT_ERR_STATE_STORE', String(rejected))
    assert.doesNotMatch(rejected.message, /nothing (was )?changed/i)
    assert.equal(a.pluginKit.get('alpha').state, 'enabled', 'not changed on this instance yet')
    assert.equal(b.pluginKit.get('gamma').state, 'disabled', 'not changed on this instance yet')

    await sleep(Math.max(0, stalledAt + STALL_MS - Date.now()))
    const resumed = Date.now()
    const agreed = await eventually(() => agree([a, b]), 5000, 10)
    assert.ok(agreed, `within a second of Redis resuming every instance agrees with it: ${await describe([a, b])}`)
    t.diagnostic(`agreed ${Date.now() - resumed} ms after Redis resumed`)
    // Whether Redis ran the stalled transaction depends on when the client's timeout met the
    // pause (usually it does run it; on a loaded machine sometimes not). Either way, both
    // instances serve what Redis holds: the one that answered 503 included.
    // The transaction may also run a moment after the instances first agreed: wait until Redis
    // and both instances hold the same value for alpha, then check it is served.
    const held = async () => (await raw.hget(key, 'alpha')) === 'disabled' ? 'disabled' : 'enabled'
    assert.ok(await eventually(async () => {
      const want = await held()
      return a.pluginKit.get('alpha').state === want && b.pluginKit.get('alpha').state === want
    }, 5000), `the instance that answered 503 follows Redis: ${await describe([a, b])}`)
    const ran = (await held()) === 'disabled'
    t.diagnostic(`Redis ${ran ? 'ran' : 'did not run'} the stalled change`)
    assert.equal(a.pluginKit.get('gamma').state, b.pluginKit.get('gamma').state)
    assert.equal((await a.inject('/alpha')).statusCode, a.pluginKit.get('alpha').state === 'disabled' ? 404 : 200)

    // And it stays so: no late echo or stale read brings back an older state; changes flow again.
    await sleep(300)
    assert.ok(await agree([a, b]), await describe([a, b]))
    assert.equal((await toggle(a, 'alpha', 'enable')).statusCode, 200)
    assert.ok(await eventually(() => b.pluginKit.get('alpha').state === 'enabled', 5000))
    assert.ok(await agree([a, b]), await describe([a, b]))
  })
}

test('a stalled change that Redis never runs (it dies during the stall and comes back empty): every instance agrees with Redis', { timeout: 30_000 }, async (t) => {
  const server = await startRedis(t)
  if (server === undefined) return
  const { boot, agree, describe } = await fleet(t, server)
  const [a, b] = [await boot(), await boot()]
  process.kill(server.pid as number, 'SIGSTOP')
  const answer = await toggle(a, 'beta', 'disable')
  assert.equal(answer.statusCode, 503)
  assert.doesNotMatch((answer.json() as { message: string }).message, /nothing (was )?changed/i)
  process.kill(server.pid as number, 'SIGKILL')
  await server.stop()
  await server.start()
  const restarted = Date.now()
  assert.ok(await eventually(() => agree([a, b]), 5000, 10), `within a second of Redis being back: ${await describe([a, b])}`)
  t.diagnostic(`agreed ${Date.now() - restarted} ms after Redis came back`)
  assert.equal(a.pluginKit.get('beta').state, 'enabled', 'the change never happened, and the instance that answered 503 did not apply it')
})

// ---- Item 8: Redis loses its data ----

const losses: Array<[string, (server: RedisServer, raw: Redis) => Promise<void>]> = [
  ['FLUSHALL', async (_server, raw) => { await raw.flushall() }],
  ['a restart without persistence', async (server) => {
    await server.stop()
    await server.start()
  }]
]

for (const [label, lose] of losses) {
  test(`Redis loses its data (${label}): running instances write their states back, a new instance converges to them`, { timeout: 30_000 }, async (t) => {
    const server = await startRedis(t)
    if (server === undefined) return
    const { key, boot, agree, describe } = await fleet(t, server)
    const [a, b] = [await boot({ reloadInterval: 300 }), await boot({ reloadInterval: 300 })]
    await a.pluginKit.disable('beta')
    await b.pluginKit.enable('gamma')
    await a.pluginKit.disable('alpha')
    await a.pluginKit.enable('alpha') // saved, but its default: nothing to write back
    assert.ok(await eventually(() => agree([a, b]), 5000))

    await lose(server, rawClient(t, server))
    const raw = rawClient(t, server)
    const lostAt = Date.now()
    // A new instance boots on whatever Redis holds by now (possibly nothing: the defaults).
    const c = await boot({ reloadInterval: 300 })
    assert.ok(await eventually(async () => await agree([a, b, c]) && (await raw.hget(key, 'beta')) === 'disabled', 5000),
      `the running instances' states are written back and every instance follows: ${await describe([a, b, c])}`)
    t.diagnostic(`converged ${Date.now() - lostAt} ms after the loss`)
    assert.deepEqual([c.pluginKit.get('beta').state, c.pluginKit.get('gamma').state], ['disabled', 'enabled'])
    assert.deepEqual(await raw.hgetall(key), { beta: 'disabled', gamma: 'enabled' }, 'only states that differ from the defaults are written back')

    // Changes flow again, from the new instance too.
    assert.equal((await toggle(c, 'beta', 'enable')).statusCode, 200)
    assert.ok(await eventually(() => a.pluginKit.get('beta').state === 'enabled' && b.pluginKit.get('beta').state === 'enabled', 5000))
    await sleep(700)
    assert.ok(await agree([a, b, c]), await describe([a, b, c]))
  })
}

test('after a FLUSHALL, a state saved by a new instance before the running ones reload wins: HSETNX never overwrites', { timeout: 30_000 }, async (t) => {
  const server = await startRedis(t)
  if (server === undefined) return
  const { key, raw, boot, agree, describe } = await fleet(t, server)
  const a = await boot({ reloadInterval: 1000 })
  await a.pluginKit.disable('beta')
  // Another instance, on an empty Redis, enables beta (its default) and says so.
  await raw.multi().flushall().hset(key, 'beta', 'enabled').publish(`${key}:changes`, JSON.stringify({ name: 'beta', state: 'enabled' })).exec()
  assert.ok(await eventually(() => a.pluginKit.get('beta').state === 'enabled', 5000), 'the running instance applies it')
  await sleep(1500) // past a periodic reload
  assert.equal(await raw.hget(key, 'beta'), 'enabled')
  assert.ok(await agree([a]), await describe([a]))
})

// ---- Item 2: quarantine records ----

test('RedisStore keeps quarantine records in <key>:details: a fresh store reads them, a save without detail clears them, subscribers get them', async (t) => {
  const server = await startRedis(t)
  if (server === undefined) return
  const raw = rawClient(t, server)
  const key = `pluginkit-details:${randomUUID()}`
  const record = { reason: '2 errors within 60000 ms; last: boom', at: '2026-01-02T03:04:05.000Z' }
  const writer = new RedisStore({ url: server.url, key })
  const listener = new RedisStore({ url: server.url, key })
  t.after(async () => { await writer.close(); await listener.close() })
  const heard: Array<[string, string, unknown]> = []
  listener.subscribe((name, state, detail) => heard.push([name, state, detail]))
  assert.ok(await eventually(async () => (await raw.pubsub('NUMSUB', `${key}:changes`))[1] === 1, 5000))

  await writer.save('x', 'disabled', { quarantined: record })
  await writer.save('y', 'disabled')
  const fresh = new RedisStore({ url: server.url, key })
  assert.deepEqual(await fresh.load(), { x: 'disabled', y: 'disabled' })
  assert.deepEqual(await fresh.loadDetails(), { x: { quarantined: record } })
  await fresh.close()
  assert.deepEqual(await raw.hgetall(`${key}:details`), { x: JSON.stringify({ quarantined: record }) })
  assert.ok(await eventually(() => heard.some(([name, , detail]) => name === 'x' && JSON.stringify(detail) === JSON.stringify({ quarantined: record })), 5000),
    `published with the change: ${JSON.stringify(heard)}`)

  await writer.save('x', 'enabled')
  const again = new RedisStore({ url: server.url, key })
  assert.deepEqual(await again.loadDetails(), {}, 'a save without detail clears the record')
  await again.close()

  // Malformed records (another tool, an older version) are ignored.
  await raw.hset(`${key}:details`, 'y', 'not json', 'z', JSON.stringify({ quarantined: { reason: 1 } }))
  const tolerant = new RedisStore({ url: server.url, key })
  assert.deepEqual(await tolerant.loadDetails(), {})
  await tolerant.close()
})

test('a plugin quarantined on one instance is quarantined, with the reason, on the others and after a restart', { timeout: 20_000 }, async (t) => {
  const server = await startRedis(t)
  if (server === undefined) return
  const { boot } = await fleet(t, server)
  const [a, b] = [await boot(), await boot()]
  for (let index = 0; index < 2; index++) assert.equal((await a.inject('/flaky')).statusCode, 500)
  assert.ok(await eventually(() => a.pluginKit.get('flaky').state === 'disabled'), 'quarantined')
  const record = a.pluginKit.get('flaky').quarantined
  assert.match(record?.reason ?? '', /flaky boom/)
  assert.ok(await eventually(() => b.pluginKit.get('flaky').state === 'disabled', 5000))
  assert.deepEqual(b.pluginKit.get('flaky').quarantined, record, 'the other instance shows the same record')
  await a.close()
  const c = await boot()
  assert.deepEqual(c.pluginKit.get('flaky').quarantined, record, 'and so does an instance booted afterwards')

  await c.pluginKit.enable('flaky')
  assert.ok(await eventually(() => b.pluginKit.get('flaky').state === 'enabled', 5000))
  assert.equal(b.pluginKit.get('flaky').quarantined, undefined)
  await c.pluginKit.disable('flaky')
  assert.ok(await eventually(() => b.pluginKit.get('flaky').state === 'disabled', 5000))
  assert.equal(b.pluginKit.get('flaky').quarantined, undefined, 'a plain disable is not a quarantine')
})
