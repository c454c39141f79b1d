// Issue #11 items 7 and 8, as a class: 3 instances toggle plugins (cascades included) while
// Redis suffers one fault after another, each kind in turn at a random moment: a write pause (CLIENT PAUSE
// WRITE), a frozen process (SIGSTOP/SIGCONT), a restart without persistence, a FLUSHALL, a
// SIGKILL during a freeze. After each fault, within a second of Redis being back, every
// instance runs, for every plugin, the state Redis holds (its default when Redis holds
// none). No answer during a fault may claim that nothing was changed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import Fastify, { type FastifyInstance } from 'fastify'
import pluginKit, { PluginKitError, type PluginState } from 'fastify-pluginkit'
import { RedisStore } from 'fastify-pluginkit/redis'
import { pluginSource, makeTree } from '../helpers.ts'
import { eventually } from '../helpers-runtime.ts'
import { startRedis, type RedisServer } from '../helpers-redis.ts'

const ROUNDS = Math.max(4, Math.min(12, Number(process.env.STRESS_KILLS ?? 10) || 10))
const DEFAULTS: Record<string, PluginState> = { alpha: 'enabled', beta: 'enabled', gamma: 'disabled', core: 'enabled', addon: 'enabled' }
const FAULT_MS = 2500

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T

/** Starts the fault; resolves when Redis is back. */
type Fault = (server: RedisServer, raw: Redis) => Promise<void>

const faults: Record<string, Fault> = {
  'CLIENT PAUSE WRITE': async (_server, raw) => {
    await raw.client('PAUSE', FAULT_MS, 'WRITE')
    await sleep(FAULT_MS)
  },
  'SIGSTOP/SIGCONT': async (server) => {
    process.kill(server.pid as number, 'SIGSTOP')
    await sleep(FAULT_MS)
    process.kill(server.pid as number, 'SIGCONT')
  },
  'restart without persistence': async (server) => {
    await server.stop()
    await sleep(FAULT_MS / 2)
    await server.start()
  },
  FLUSHALL: async (_server, raw) => {
    await sleep(FAULT_MS / 2)
    await raw.flushall()
  },
  'SIGKILL while frozen': async (server) => {
    process.kill(server.pid as number, 'SIGSTOP')
    await sleep(FAULT_MS / 2)
    process.kill(server.pid as number, 'SIGKILL')
    await server.stop()
    await server.start()
  }
}

test(`Redis faults while 3 instances toggle: every instance agrees with Redis within a second of each fault (${ROUNDS} faults)`, { timeout: ROUNDS * 30_000 }, async (t) => {
  const server = await startRedis(t)
  if (server === undefined) return
  const key = `pluginkit-stress:${randomUUID()}`
  const route = (name: string) => `return { vep: { method: 'GET', url: '/${name}', handler: async () => '${name}' } }`
  const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, version: '1.0.0', author: 'tester', ...extra })
  const base = await makeTree({
    'plugins/alpha/index.mjs': pluginSource(meta('alpha'), route('alpha')),
    'plugins/beta/index.mjs': pluginSource(meta('beta'), route('beta')),
    'plugins/gamma/index.mjs': pluginSource(meta('gamma', { state: 'disabled' }), route('gamma')),
    'plugins/core/index.mjs': pluginSource(meta('core'), route('core')),
    'plugins/addon/index.mjs': pluginSource(meta('addon', { dependencies: ['core'] }), route('addon'))
  })
  const apps: FastifyInstance[] = []
  for (let index = 0; index < 3; index++) {
    const app = Fastify({ logger: false })
    t.after(() => app.close())
    await app.register(pluginKit, { pluginsBase: base, store: new RedisStore({ url: server.url, key, reloadInterval: 300 }) })
    await app.ready()
    apps.push(app)
  }
  let raw = new Redis(server.url, { maxRetriesPerRequest: 1 })
  raw.on('error', () => {})
  t.after(() => { raw.disconnect() })

  const expected = async () => ({ ...DEFAULTS, ...(await raw.hgetall(key)) })
  const agree = async () => {
    const states = await expected()
    return apps.every((app) => Object.keys(DEFAULTS).every((name) => app.pluginKit.get(name).state === states[name]))
  }
  const describe = async () => JSON.stringify({
    redis: await raw.hgetall(key),
    instances: apps.map((app) => Object.fromEntries(Object.keys(DEFAULTS).map((name) => [name, app.pluginKit.get(name).state])))
  })

  const claims: string[] = []
  const outcomes = { saved: 0, refused: 0 }
  const toggleSome = async (until: () => boolean) => {
    while (!until()) {
      const app = pick(apps)
      const name = pick(Object.keys(DEFAULTS))
      const action = pick(['enable', 'disable'] as const)
      try {
        await app.pluginKit[action](name, { cascade: true })
        outcomes.saved++
      } catch (error) {
        assert.ok(error instanceof PluginKitError && error.code === 'PLUGINKIT_ERR_STATE_STORE', String(error))
        if (/nothing (was )?changed/i.test(error.message) && !/Stream isn't writeable|closed|ECONNREFUSED|store is closed/i.test(error.message)) claims.push(error.message)
        outcomes.refused++
      }
      await sleep(20 + Math.random() * 80)
    }
  }

  const timings: string[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const name = Object.keys(faults)[round % Object.keys(faults).length] as string
    let faulting = true
    const togglers = Promise.all(apps.map(() => toggleSome(() => !faulting)))
    await sleep(100 + Math.random() * 300)
    await (faults[name] as Fault)(server, raw)
    faulting = false
    const back = Date.now()
    if (name !== 'CLIENT PAUSE WRITE' && name !== 'FLUSHALL') {
      raw.disconnect()
      raw = new Redis(server.url, { maxRetriesPerRequest: 1 })
      raw.on('error', () => {})
    }
    const agreed = await eventually(() => agree(), 1000, 10)
    assert.ok(agreed, `round ${round} (${name}): not in agreement with Redis a second after it was back: ${await describe()}`)
    timings.push(`${name}: ${Date.now() - back} ms`)
    // And it holds once the toggles sent during the fault have all answered (no late echo
    // or stale read moves an instance away from Redis).
    await togglers
    await sleep(400)
    assert.ok(await agree(), `round ${round} (${name}): agreement did not hold: ${await describe()}`)
  }
  t.diagnostic(`agreement after each fault: ${timings.join('; ')}; toggles: ${outcomes.saved} saved, ${outcomes.refused} refused`)
  assert.deepEqual(claims, [], 'no refusal claimed that nothing was changed when that was not known')
})
