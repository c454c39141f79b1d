import { after, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import Fastify, { type FastifyInstance } from 'fastify'
import pluginKit, { PluginKitError } from 'fastify-pluginkit'
import { RedisStore } from 'fastify-pluginkit/redis'
import { pluginSource, makeTree } from './helpers.ts'
import { eventually } from './helpers-runtime.ts'
import { freePort, startRedis, type RedisServer } from './helpers-redis.ts'

// SPEC section 8: RedisStore, a Redis hash plus pub/sub shared by app instances, against
// a real redis-server started per test on a free loopback port, without persistence.

const hostScript = fileURLToPath(new URL('./fixtures/redis/host.mjs', import.meta.url))
const TOKEN = 'redis-test-token'

/** Two plugins with one route each: GET /alpha and GET /beta answer 200 while enabled. */
function pluginsTree () {
  return makeTree({
    'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', version: '1.0.0', author: 'tester' },
      "return { vep: { method: 'GET', url: '/alpha', handler: async () => ({ plugin: 'alpha' }) } }"),
    'plugins/beta/index.mjs': pluginSource({ name: 'beta', version: '1.0.0', author: 'tester' },
      "return { vep: { method: 'GET', url: '/beta', handler: async () => ({ plugin: 'beta' }) } }")
  })
}

function uniqueKey (): string {
  return `pluginkit-test:${randomUUID()}`
}

/** A plain ioredis client for the test itself, closed when the test ends. */
function rawClient (t: TestContext, server: RedisServer, password?: string): Redis {
  const client = new Redis(server.url, { password, maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  // Waits for the close: ioredis keeps a timer until the socket is gone, which the next test's handle count would see.
  t.after(async () => {
    const open = ['connect', 'ready'].includes(client.status)
    client.disconnect()
    // Only an open connection ends with an event (one already lost has nothing left to close).
    if (!open || client.status === 'end') return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([once(client, 'end'), new Promise((resolve) => { timer = setTimeout(resolve, 3000) })])
    clearTimeout(timer)
  })
  return client
}

/** Whether no kind of handle is more numerous than in `before` (a handle of an earlier test may close meanwhile). */
function noMoreHandles (before: Record<string, number>): boolean {
  return Object.entries(openHandles()).every(([kind, count]) => count <= (before[kind] ?? 0))
}

/** How many connections of the kinds Node reports as active resources are open (sockets, timers). */
function openHandles (): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind === 'TCPSocketWrap' || kind === 'TCPWRAP' || kind === 'Timeout') counts[kind] = (counts[kind] ?? 0) + 1
  }
  return counts
}

/** How many connections the Redis server has besides `raw`'s own. */
async function otherConnections (raw: Redis): Promise<number> {
  const list = await raw.client('LIST') as string
  return list.trim().split('\n').length - 1
}

// A Redis connection leaked by the store keeps this process alive (reconnecting forever
// once the test's redis-server is gone). Turn that hang into a visible failure.
after(() => {
  setTimeout(() => {
    console.error(`# redis.test.ts: still alive 3 s after the last test, kept open by: ${process.getActiveResourcesInfo().join(', ')}`)
    process.exit(1)
  }, 3000).unref()
})

async function kitApp (base: string, store: RedisStore): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await app.register(pluginKit, { pluginsBase: base, store })
  await app.ready()
  return app
}

async function status (app: FastifyInstance, url: string): Promise<number> {
  return (await app.inject(url)).statusCode
}

test('RedisStore needs a client or a url', () => {
  assert.throws(() => new RedisStore({}), (error: unknown) => {
    assert.ok(error instanceof PluginKitError)
    assert.equal(error.code, 'PLUGINKIT_ERR_INVALID_OPTION')
    assert.match(error.message, /client|url/)
    return true
  })
})

test('RedisStore: load/save round trip through the hash, pub/sub reaches other stores, close leaves nothing open', async (t) => {
  const server = await startRedis(t)
  if (server === undefined) return
  const raw = rawClient(t, server)
  const key = uniqueKey()
  await raw.ping()
  const before = openHandles()

  const writer = new RedisStore({ url: server.url, key })
  const reader = new RedisStore({ url: server.url, key })
  assert.equal(writer.key, key)
  assert.deepEqual(await writer.load(), {}, 'a missing hash is an empty state')
  assert.deepEqual(await reader.load(), {})

  const seen: Array<[string, string]> = []
  const unsubscribe = reader.subscribe((name, state) => { seen.push([name, state]) })
  // The subscription is established in the background; the store subscribes to `<key>:changes`.
  assert.ok(await eventually(async () => (await raw.pubsub('NUMSUB', `${key}:changes`))[1] === 1, 5000), 'the reader subscribes to <key>:changes')

  await writer.save('alpha', 'disabled')
  assert.deepEqual(await raw.hgetall(key), { alpha: 'disabled' }, 'the state lives in the Redis hash <key>')
  assert.deepEqual(await writer.load(), { alpha: 'disabled' })
  assert.deepEqual(await reader.load(), { alpha: 'disabled' })
  assert.ok(await eventually(() => seen.some(([name, state]) => name === 'alpha' && state === 'disabled'), 5000),
    `the other store hears about the change within a second, heard ${JSON.stringify(seen)}`)

  await writer.save('alpha', 'enabled')
  await writer.save('beta', 'disabled')
  assert.deepEqual(await reader.load(), { alpha: 'enabled', beta: 'disabled' })
  assert.ok(await eventually(() => seen.some(([name, state]) => name === 'beta' && state === 'disabled'), 5000))
  assert.deepEqual(seen.filter(([name]) => name === 'alpha').at(-1), ['alpha', 'enabled'], 'changes arrive in order')

  // Foreign data in the hash and garbage on the channel are ignored, not fatal.
  await raw.hset(key, 'gamma', 'sideways')
  assert.deepEqual(await reader.load(), { alpha: 'enabled', beta: 'disabled' })
  const heard = seen.length
  await raw.publish(`${key}:changes`, 'not json')
  await raw.publish(`${key}:changes`, JSON.stringify({ name: 'gamma', state: 'sideways' }))
  await raw.publish(`${key}:changes`, JSON.stringify({ name: 'delta', state: 'disabled' }))
  assert.ok(await eventually(() => seen.some(([name]) => name === 'delta'), 5000), 'a well-formed change after garbage still arrives')
  assert.deepEqual(seen.slice(heard), [['delta', 'disabled']])

  unsubscribe()
  await writer.save('alpha', 'disabled')
  await raw.publish(`${key}:changes`, JSON.stringify({ name: 'epsilon', state: 'disabled' }))
  await raw.ping()
  assert.equal(seen.some(([name]) => name === 'epsilon'), false, 'no delivery after unsubscribe')

  await writer.close()
  await reader.close()
  assert.ok(await eventually(() => noMoreHandles(before), 5000),
    `close() leaves no socket or timer open: before ${JSON.stringify(before)}, after ${JSON.stringify(openHandles())}`)
})

test('an app restarted on the same Redis boots with the saved state, booting writes nothing, close leaves no handle', async (t) => {
  const server = await startRedis(t)
  if (server === undefined) return
  const raw = rawClient(t, server)
  const key = uniqueKey()
  const base = await pluginsTree()
  await raw.ping()
  const before = openHandles()

  const first = await kitApp(base, new RedisStore({ url: server.url, key }))
  assert.equal(await raw.exists(key), 0, 'booting does not write to the store')
  assert.equal(await status(first, '/alpha'), 200)
  const info = await first.pluginKit.disable('alpha')
  assert.equal(info.state, 'disabled')
  assert.equal(await status(first, '/alpha'), 404)
  assert.deepEqual(await raw.hgetall(key), { alpha: 'disabled' })
  await first.close()

  const second = await kitApp(base, new RedisStore({ url: server.url, key }))
  assert.equal(second.pluginKit.get('alpha').state, 'disabled', 'the saved state wins at boot')
  assert.equal(second.pluginKit.get('beta').state, 'enabled')
  assert.equal(await status(second, '/alpha'), 404)
  assert.equal(await status(second, '/beta'), 200)
  assert.deepEqual(await raw.hgetall(key), { alpha: 'disabled' }, 'booting again wrote nothing')
  await second.pluginKit.enable('alpha')
  assert.equal(await status(second, '/alpha'), 200)
  await second.close()

  assert.deepEqual(await raw.hgetall(key), { alpha: 'enabled' })
  assert.ok(await eventually(async () => await otherConnections(raw) === 0, 5000),
    `after app.close() the Redis server still has ${await otherConnections(raw)} connection(s) of the store`)
  assert.ok(await eventually(() => noMoreHandles(before), 5000),
    `app.close() leaves no socket or timer of the store open: before ${JSON.stringify(before)}, after ${JSON.stringify(openHandles())}`)
})

test('closing an app right after boot leaves no Redis connection open', async (t) => {
  const server = await startRedis(t)
  if (server === undefined) return
  const raw = rawClient(t, server)
  const key = uniqueKey()
  const base = await pluginsTree()
  const pauses: Array<() => Promise<unknown>> = [
    async () => {},
    () => new Promise((resolve) => setImmediate(resolve)),
    () => new Promise((resolve) => setTimeout(resolve, 1)),
    () => new Promise((resolve) => setTimeout(resolve, 5))
  ]
  for (let round = 0; round < 12; round++) {
    const app = await kitApp(base, new RedisStore({ url: server.url, key }))
    await pauses[round % pauses.length]?.()
    await app.close()
  }
  assert.ok(await eventually(async () => await otherConnections(raw) === 0, 5000),
    `12 apps were closed, yet the Redis server still has ${await otherConnections(raw)} connection(s) from their stores`)
})

test('one RedisStore given to two apps: closing them leaves no Redis connection open (each subscription has its own)', async (t) => {
  const server = await startRedis(t)
  if (server === undefined) return
  const raw = rawClient(t, server)
  const base = await pluginsTree()
  const store = new RedisStore({ url: server.url, key: uniqueKey() })
  const first = await kitApp(base, store)
  const second = await kitApp(base, store)
  assert.ok(await eventually(async () => await otherConnections(raw) === 3, 5000),
    `a command connection and one subscriber per app: ${await otherConnections(raw)}`)
  await first.close()
  await second.close()
  assert.ok(await eventually(async () => await otherConnections(raw) === 0, 5000),
    `both apps were closed, yet the Redis server still has ${await otherConnections(raw)} connection(s) from the store`)
})

test('boot fails with PLUGINKIT_ERR_STATE_STORE when Redis is unreachable', async (t) => {
  const base = await pluginsTree()
  const port = await freePort()
  const app = Fastify({ logger: false })
  t.after(() => app.close())
  app.register(pluginKit, { pluginsBase: base, store: new RedisStore({ url: `redis://127.0.0.1:${port}`, key: uniqueKey() }) })
  await assert.rejects(async () => { await app.ready() }, (error: unknown) => {
    assert.ok(error instanceof PluginKitError, `expected a PluginKitError, got ${String(error)}`)
    assert.equal(error.code, 'PLUGINKIT_ERR_STATE_STORE')
    return true
  })
})

test('while Redis is down, enable/disable reject with PLUGINKIT_ERR_STATE_STORE naming the plugin and change nothing', async (t) => {
  const server = await startRedis(t)
  if (server === undefined) return
  const base = await pluginsTree()
  const app = await kitApp(base, new RedisStore({ url: server.url, key: uniqueKey() }))
  t.after(() => app.close())
  await app.pluginKit.disable('beta')
  await server.stop()

  assert.equal(await status(app, '/alpha'), 200, 'the app keeps serving with the last known state')
  assert.equal(await status(app, '/beta'), 404, 'the app keeps serving with the last known state')
  for (const [name, action, state, code] of [['alpha', 'disable', 'enabled', 200], ['beta', 'enable', 'disabled', 404]] as const) {
    await assert.rejects(app.pluginKit[action](name), (error: unknown) => {
      assert.ok(error instanceof PluginKitError, `expected a PluginKitError, got ${String(error)}`)
      assert.equal(error.code, 'PLUGINKIT_ERR_STATE_STORE')
      assert.ok(error.message.includes(name), `the message names the plugin ${name}: ${error.message}`)
      return true
    })
    assert.equal(app.pluginKit.get(name).state, state, `${name} is unchanged`)
    assert.equal(await status(app, `/${name}`), code, `${name} is unchanged`)
  }
})

test('with a client of its own: outage rejects changes and keeps serving; once every connection is back the full state is reloaded', async (t) => {
  const server = await startRedis(t)
  if (server === undefined) return
  const key = uniqueKey()
  const base = await pluginsTree()
  // The application's own client, given to the store (which duplicates it for pub/sub and leaves it open).
  const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  t.after(() => { client.disconnect() })
  await once(client, 'ready')

  const app = await kitApp(base, new RedisStore({ client, key }))
  t.after(() => app.close())
  const raw = rawClient(t, server)
  assert.ok(await eventually(async () => (await raw.pubsub('NUMSUB', `${key}:changes`))[1] === 1, 5000), 'the app subscribes')

  await server.stop()
  // The application's client comes back later than the store's subscriber connection.
  client.disconnect()
  assert.equal(await status(app, '/alpha'), 200, 'the app keeps serving with the last known state')
  await assert.rejects(app.pluginKit.disable('alpha'), (error: unknown) => {
    assert.ok(error instanceof PluginKitError, `expected a PluginKitError, got ${String(error)}`)
    assert.equal(error.code, 'PLUGINKIT_ERR_STATE_STORE')
    return true
  })
  assert.equal(app.pluginKit.get('alpha').state, 'enabled', 'nothing changed')
  assert.equal(await status(app, '/alpha'), 200)

  await server.start()
  const restarted = rawClient(t, server)
  await restarted.hset(key, 'beta', 'disabled') // written while the app is not connected: no PUBLISH reaches it
  assert.ok(await eventually(async () => (await restarted.pubsub('NUMSUB', `${key}:changes`))[1] === 1, 5000), 'the subscriber reconnects')
  await client.connect()
  assert.ok(await eventually(async () => await status(app, '/beta') === 404, 5000),
    'after reconnecting, the state written while disconnected is loaded (beta disabled)')
  assert.equal(app.pluginKit.get('beta').state, 'disabled')

  await app.pluginKit.disable('alpha')
  assert.deepEqual(await restarted.hgetall(key), { alpha: 'disabled', beta: 'disabled' })
  await app.close()
  assert.equal(client.status, 'ready', 'a client given to the store is left open')
  assert.equal(await client.ping(), 'PONG')
})

// ---- Separate processes sharing one Redis ----

interface Host {
  readonly base: string
  readonly child: ChildProcess
  /** GET a URL of this instance, answers its status. */
  status (path: string): Promise<number>
  /** POST {prefix}/api/plugins/:name/:action through the admin API. */
  toggle (name: string, action: 'enable' | 'disable'): Promise<{ status: number, body: { plugin?: { state: string }, code?: string } }>
  /** Asks the instance to close its app; resolves with its exit code once the process exited on its own. */
  close (): Promise<{ code: number | null, resources: string[] }>
}

async function startHost (t: TestContext, url: string, key: string, base: string): Promise<Host> {
  const child = fork(hostScript, [JSON.stringify({ url, key, base, token: TOKEN })], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })

  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (message: { type?: string, port?: number }) => { if (message.type === 'ready') resolve(message.port as number) })
    exited.then(([code]) => reject(new Error(`host exited (${String(code)}) before it was ready:\n${output}`)), reject)
  })
  const origin = `http://127.0.0.1:${port}`
  return {
    base,
    child,
    async status (path) {
      return (await fetch(origin + path)).status
    },
    async toggle (name, action) {
      const response = await fetch(`${origin}/pluginkit/api/plugins/${name}/${action}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-admin-token': TOKEN },
        body: '{}'
      })
      return { status: response.status, body: await response.json() as { plugin?: { state: string }, code?: string } }
    },
    async close () {
      const closed = new Promise<string[]>((resolve) => {
        child.on('message', (message: { type?: string, resources?: string[] }) => { if (message.type === 'closed') resolve(message.resources ?? []) })
      })
      child.send({ type: 'close' })
      const resources = await closed
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      const [code, signal] = await exited
      clearTimeout(timer)
      assert.equal(signal, null, `the host did not exit by itself after app.close(); active resources after close: ${resources.join(', ')}\n${output}`)
      return { code, resources }
    }
  }
}

test('two app processes sharing a Redis', { timeout: 60_000 }, async (t) => {
  const server = await startRedis(t)
  if (server === undefined) return
  const key = uniqueKey()
  const base = await pluginsTree()
  const [a, b] = await Promise.all([startHost(t, server.url, key, base), startHost(t, server.url, key, base)])
  let raw = rawClient(t, server)
  const subscribers = async () => (await raw.pubsub('NUMSUB', `${key}:changes`))[1]
  assert.ok(await eventually(async () => await subscribers() === 2, 3000), 'both instances subscribe to <key>:changes')

  await t.test('a change made in one instance is applied by the other within a second', async () => {
    assert.equal(await a.status('/alpha'), 200)
    assert.equal(await b.status('/alpha'), 200)

    const disabled = await a.toggle('alpha', 'disable')
    assert.equal(disabled.status, 200)
    assert.equal(disabled.body.plugin?.state, 'disabled')
    assert.equal(await a.status('/alpha'), 404, 'the instance that made the change applies it at once')
    assert.ok(await eventually(async () => await b.status('/alpha') === 404, 5000), 'the other instance applies it within a second')
    assert.equal(await b.status('/beta'), 200, 'other plugins are untouched')

    const enabled = await b.toggle('alpha', 'enable')
    assert.equal(enabled.status, 200)
    assert.equal(await b.status('/alpha'), 200)
    assert.ok(await eventually(async () => await a.status('/alpha') === 200, 5000), 'and back, the other way round')

    // A change made directly in Redis (by another tool, or another kind of instance).
    await raw.hset(key, 'beta', 'disabled')
    await raw.publish(`${key}:changes`, JSON.stringify({ name: 'beta', state: 'disabled' }))
    assert.ok(await eventually(async () => await a.status('/beta') === 404 && await b.status('/beta') === 404, 5000),
      'a change written to the hash and published on <key>:changes reaches both within a second')
    await raw.hset(key, 'beta', 'enabled')
    await raw.publish(`${key}:changes`, JSON.stringify({ name: 'beta', state: 'enabled' }))
    assert.ok(await eventually(async () => await a.status('/beta') === 200 && await b.status('/beta') === 200, 5000))
  })

  await t.test('through a Redis stop/start cycle: last known state kept, changes rejected, full reload and live changes after reconnect', async () => {
    assert.equal((await a.toggle('alpha', 'disable')).status, 200)
    assert.ok(await eventually(async () => await b.status('/alpha') === 404, 5000))

    await server.stop()
    for (const host of [a, b]) {
      assert.equal(await host.status('/alpha'), 404, 'serving with the last known state while Redis is down')
      assert.equal(await host.status('/beta'), 200, 'serving with the last known state while Redis is down')
    }
    const rejected = await a.toggle('alpha', 'enable')
    assert.equal(rejected.status, 503, 'enable is rejected while Redis is down')
    assert.equal(rejected.body.code, 'PLUGINKIT_ERR_STATE_STORE')
    const rejectedToo = await b.toggle('beta', 'disable')
    assert.equal(rejectedToo.status, 503, 'disable is rejected while Redis is down')
    assert.equal(rejectedToo.body.code, 'PLUGINKIT_ERR_STATE_STORE')
    assert.equal(await a.status('/alpha'), 404, 'a rejected change changes nothing')
    assert.equal(await b.status('/beta'), 200, 'a rejected change changes nothing')

    // Redis comes back on the same port, empty (no persistence) and, at first, locked with
    // a password the instances do not know: they keep retrying while the test writes a
    // state with HSET only (no PUBLISH), which they can learn only by reloading the hash.
    await server.start({ requirepass: 'let-me-in' })
    raw = rawClient(t, server, 'let-me-in')
    await raw.hset(key, 'alpha', 'disabled', 'beta', 'disabled')
    assert.equal(await a.status('/beta'), 200)
    await raw.config('SET', 'requirepass', '')
    assert.ok(await eventually(async () => await subscribers() === 2, 5000), 'both instances subscribe again')
    const reloadedA = await eventually(async () => await a.status('/beta') === 404, 3000)
    const reloadedB = await eventually(async () => await b.status('/beta') === 404, 5000)
    assert.ok(reloadedA && reloadedB, `after reconnecting, each instance reloads the full state (beta disabled by HSET only): instance A ${reloadedA ? 'did' : 'did not'}, instance B ${reloadedB ? 'did' : 'did not'}`)

    // Live changes flow again: directly in Redis...
    await raw.hset(key, 'alpha', 'enabled')
    await raw.publish(`${key}:changes`, JSON.stringify({ name: 'alpha', state: 'enabled' }))
    assert.ok(await eventually(async () => await a.status('/alpha') === 200 && await b.status('/alpha') === 200, 5000), 'a published change reaches both instances again')

    // ...and through an instance, once its own (non-subscriber) connection is back too.
    assert.ok(await eventually(async () => await otherConnections(raw) >= 4, 5000), 'the instances\' clients reconnect')
    const again = await a.toggle('alpha', 'disable')
    assert.equal(again.status, 200, `changes are accepted again after reconnect: ${JSON.stringify(again.body)}`)
    assert.ok(await eventually(async () => await b.status('/alpha') === 404, 5000))
    assert.equal(await raw.hget(key, 'alpha'), 'disabled')
  })

  await t.test('after app.close() each process exits by itself', async () => {
    const [closedA, closedB] = await Promise.all([a.close(), b.close()])
    assert.equal(closedA.code, 0)
    assert.equal(closedB.code, 0)
  })
})
