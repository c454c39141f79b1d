// Issue 5.6: an app instance using RedisStore (its own process) serves a plugin route under
// load while redis-server is stopped and started again. No 5xx and no socket error at any
// point; while Redis is down, state changes are refused (503 from the admin,
// PLUGINKIT_ERR_STATE_STORE from the API) and the last known state keeps serving; after
// the restart, changes made by a second instance reach the first one again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import pluginKit, { PluginKitError, type PluginInfo } from 'fastify-pluginkit'
import { RedisStore } from 'fastify-pluginkit/redis'
import { pluginSource, makeTree } from '../helpers.ts'
import { eventually } from '../helpers-runtime.ts'
import { startRedis } from '../helpers-redis.ts'
import { describeLoad, runLoad, stressSeconds } from './helpers-load.ts'
import { httpRequest } from '../helpers-views.ts'

const hostScript = fileURLToPath(new URL('../fixtures/redis/host.mjs', import.meta.url))
const TOKEN = 'redis-faults-token'
const CONNECTIONS = 20

/** One admin-authorized HTTP request (socket errors reject). */
const send = (port: number, method: string, path: string, body?: string) =>
  httpRequest(port, path, { method, body, headers: { 'x-admin-token': TOKEN } })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

test('Redis stopped and restarted under load: no 5xx, no socket error, changes refused while down, state reconverges after', { timeout: (stressSeconds() + 120) * 1000 }, async (t) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const seconds = Math.max(5, stressSeconds())
  const key = `pluginkit-faults:${randomUUID()}`
  const base = await makeTree({
    'plugins/shared/index.mjs': pluginSource({ name: 'shared', version: '1.0.0', author: 'tester' },
      "return { bep: { prefix: '/shared', blueprint: async (app) => { app.get('/', async () => ({ plugin: 'shared' })) } } }"),
    'plugins/other/index.mjs': pluginSource({ name: 'other', version: '1.0.0', author: 'tester' },
      "return { vep: { method: 'GET', url: '/other', handler: async () => ({ plugin: 'other' }) } }")
  })

  // Instance A: its own process, under load. Instance B: here, used to change the state.
  const child = fork(hostScript, [JSON.stringify({ url: redis.url, key, base, token: TOKEN })], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const [ready] = await once(child, 'message') as [{ port: number }]
  const { port } = ready
  const appB = Fastify({ logger: false })
  t.after(() => appB.close())
  await appB.register(pluginKit, { pluginsBase: base, store: new RedisStore({ url: redis.url, key }) })
  await appB.ready()

  const pluginAnswer = await send(port, 'GET', '/shared/')
  assert.equal(pluginAnswer.status, 200)
  const notFoundAnswer = await send(port, 'GET', '/no-such-url')
  const classify = (status: number, body: string) => {
    if (status === 200 && body === pluginAnswer.body) return 'plugin'
    if (status === 404 && body === notFoundAnswer.body.replace('/no-such-url', '/shared/')) return 'not-found'
    return undefined
  }
  const stateOnA = async () => {
    const { plugins } = JSON.parse((await send(port, 'GET', '/pluginkit/api/plugins')).body) as { plugins: PluginInfo[] }
    return plugins.find((plugin) => plugin.name === 'shared')?.state
  }

  const load = runLoad({ port, path: '/shared/', connections: CONNECTIONS, durationMs: seconds * 1000, classify })
  const timeline: string[] = []

  // The outage, in the middle of the load.
  await sleep(seconds * 200)
  await redis.stop()
  timeline.push('redis stopped')
  const refused = await send(port, 'POST', '/pluginkit/api/plugins/shared/disable', '{}')
  assert.equal(refused.status, 503, `a change while Redis is down is refused: ${refused.body}`)
  assert.equal((JSON.parse(refused.body) as { code?: string }).code, 'PLUGINKIT_ERR_STATE_STORE')
  await assert.rejects(appB.pluginKit.disable('shared'), (error: unknown) => error instanceof PluginKitError && error.code === 'PLUGINKIT_ERR_STATE_STORE')
  assert.equal(appB.pluginKit.get('shared').state, 'enabled', 'nothing changed on B')
  assert.equal(await stateOnA(), 'enabled', 'nothing changed on A')
  assert.equal((await send(port, 'GET', '/other')).status, 200)
  await sleep(seconds * 200)
  await redis.start()
  timeline.push('redis started')

  // After the restart (Redis lost its data), B's change reaches A, under load.
  assert.ok(await eventually(async () => { await appB.pluginKit.disable('shared'); return true }, 15_000), 'B can change the state again once Redis is back')
  timeline.push('disabled on B')
  assert.ok(await eventually(async () => await stateOnA() === 'disabled', 15_000), 'A applies the change made on B')
  timeline.push('disabled on A')

  const result = await load
  t.diagnostic(`timeline: ${timeline.join(' -> ')}; load: ${describeLoad(result)}`)
  assert.deepEqual(Object.fromEntries(result.errors), {}, 'no socket errors')
  assert.deepEqual([...result.statuses.keys()].filter((status) => status >= 500), [], 'no 5xx')
  assert.deepEqual(result.unexpected, [], 'every answer is the plugin\'s or the not-found answer')
  assert.ok((result.kinds.get('plugin') ?? 0) > 0)

  // A serves the converged state, and the other direction converges too.
  const stale = await send(port, 'GET', '/shared/')
  assert.equal(classify(stale.status, stale.body), 'not-found')
  await appB.pluginKit.enable('shared')
  assert.ok(await eventually(async () => (await send(port, 'GET', '/shared/')).status === 200, 15_000), 'A applies B\'s enable')
  // And A's own changes work again.
  assert.equal((await send(port, 'POST', '/pluginkit/api/plugins/other/disable', '{}')).status, 200)
  assert.ok(await eventually(async () => appB.pluginKit.get('other').state === 'disabled', 15_000), 'B applies A\'s change')

  child.send({ type: 'close' })
  await once(child, 'exit')
})
