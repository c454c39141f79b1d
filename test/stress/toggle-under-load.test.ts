// Issue 5.4: 50 keep-alive connections load a plugin route for STRESS_SECONDS (default 20)
// on a real listening server (its own process) with a FileStore, while the plugin is
// toggled 20 times a second through the admin API. Zero 5xx, zero socket errors, every
// answer either the plugin's own or exactly the app's not-found answer, and the state
// file valid JSON that matches the final state.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { Agent } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PluginInfo } from 'fastify-pluginkit'
import { pluginSource, makeTree } from '../helpers.ts'
import { describeLoad, runLoad, stressSeconds } from './helpers-load.ts'
import { httpRequest } from '../helpers-views.ts'

const CONNECTIONS = 50
const TOGGLES_PER_SECOND = 20
/** Toggles that may wait at once (the kit applies them one after the other). */
const MAX_IN_FLIGHT = 20
const TOKEN = 'stress-admin'
const serverScript = fileURLToPath(new URL('../fixtures/reliability/server.mjs', import.meta.url))

/** One admin-authorized HTTP request (socket errors reject). */
const send = (port: number, agent: Agent | undefined, method: string, path: string, body?: string) =>
  httpRequest(port, path, { agent, method, body, headers: { 'x-admin': TOKEN }, timeoutMs: 30_000 })

test(`toggle under load: ${CONNECTIONS} connections for STRESS_SECONDS while the plugin is toggled ${TOGGLES_PER_SECOND}/s through the admin API`, { timeout: (stressSeconds() + 90) * 1000 }, async (t) => {
  const seconds = stressSeconds()
  const base = await makeTree({
    'plugins/toggled/index.mjs': pluginSource({ name: 'toggled', version: '1.0.0', author: 'tester' }, `return {
      bep: { prefix: '/toggled', blueprint: async (app) => { app.get('/', async () => ({ plugin: 'toggled', ok: true })) } },
      hep: { after_request: (request, reply) => { reply.header('x-toggled', 'on') } }
    }`),
    'plugins/steady/index.mjs': pluginSource({ name: 'steady', version: '1.0.0', author: 'tester' }, `return {
      bep: { prefix: '/steady', blueprint: async (app) => { app.get('/', async () => ({ plugin: 'steady' })) } }
    }`)
  })
  const stateFile = join(base, 'state.json')
  const child = fork(serverScript, [JSON.stringify({ base, stateFile, token: TOKEN })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const [ready] = await once(child, 'message') as [{ port: number }]
  const { port } = ready

  // The two answers a request may get: the plugin's, or the app's not-found answer.
  const pluginAnswer = await send(port, undefined, 'GET', '/toggled/')
  assert.equal(pluginAnswer.status, 200)
  assert.equal((await send(port, undefined, 'POST', '/pluginkit/api/plugins/toggled/disable', '{}')).status, 200)
  const notFoundAnswer = await send(port, undefined, 'GET', '/toggled/')
  assert.equal(notFoundAnswer.status, 404)
  assert.equal((await send(port, undefined, 'POST', '/pluginkit/api/plugins/toggled/enable', '{}')).status, 200)
  const classify = (status: number, body: string) => {
    if (status === pluginAnswer.status && body === pluginAnswer.body) return 'plugin'
    if (status === notFoundAnswer.status && body === notFoundAnswer.body) return 'not-found'
    return undefined
  }

  // Toggle 20 times a second through the admin API, alternating disable / enable. The
  // timer shares this process with the load generator and may fire late: each tick sends
  // every toggle that is due by then, so the rate holds on average.
  const adminAgent = new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT })
  const adminStatuses = new Map<number, number>()
  const adminErrors: string[] = []
  let sent = 0
  let skipped = 0
  let next: 'enable' | 'disable' = 'disable'
  const pending = new Set<Promise<void>>()
  const startedAt = Date.now()
  const timer = setInterval(() => {
    const due = Math.floor((Date.now() - startedAt) * TOGGLES_PER_SECOND / 1000)
    while (sent < due) {
      sent++
      if (pending.size >= MAX_IN_FLIGHT) {
        skipped++
        continue
      }
      const action = next
      next = next === 'enable' ? 'disable' : 'enable'
      const job: Promise<void> = send(port, adminAgent, 'POST', `/pluginkit/api/plugins/toggled/${action}`, '{}').then(
        ({ status }) => { adminStatuses.set(status, (adminStatuses.get(status) ?? 0) + 1) },
        (error: unknown) => { adminErrors.push(String(error)) }
      ).finally(() => { pending.delete(job) })
      pending.add(job)
    }
  }, 1000 / TOGGLES_PER_SECOND)

  const steady = runLoad({ port, path: '/steady/', connections: 2, durationMs: seconds * 1000, classify: (status) => status === 200 ? 'steady' : undefined })
  const load = await runLoad({ port, path: '/toggled/', connections: CONNECTIONS, durationMs: seconds * 1000, classify })
  clearInterval(timer)
  const steadyResult = await steady
  await Promise.all(pending)
  adminAgent.destroy()

  const toggles = [...adminStatuses.values()].reduce((sum, count) => sum + count, 0)
  t.diagnostic(`load: ${describeLoad(load)}`)
  t.diagnostic(`toggles: ${toggles} in ${seconds} s (${JSON.stringify(Object.fromEntries(adminStatuses))}); ${skipped} not sent because ${MAX_IN_FLIGHT} were still waiting`)
  t.diagnostic(`steady: ${describeLoad(steadyResult)}`)

  assert.deepEqual(Object.fromEntries(load.errors), {}, 'no socket errors')
  assert.deepEqual([...load.statuses.keys()].filter((status) => status >= 500), [], 'no 5xx')
  assert.deepEqual(load.unexpected, [], 'every answer is the plugin\'s or the not-found answer')
  assert.ok((load.kinds.get('plugin') ?? 0) > 0 && (load.kinds.get('not-found') ?? 0) > 0, `both answers were seen: ${describeLoad(load)}`)
  assert.deepEqual(adminErrors, [], 'no admin request failed')
  assert.deepEqual([...adminStatuses.keys()], [200], 'every toggle succeeded')
  // The plugin that was never toggled kept answering.
  assert.ok(steadyResult.requests > 0)
  assert.deepEqual(steadyResult.unexpected, [])
  assert.deepEqual(Object.fromEntries(steadyResult.errors), {})

  // The state file is valid JSON and holds the final state, which the app also reports and serves.
  const listed = JSON.parse((await send(port, undefined, 'GET', '/pluginkit/api/plugins')).body) as { plugins: PluginInfo[] }
  const finalState = listed.plugins.find((plugin) => plugin.name === 'toggled')?.state
  const saved = JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, string>
  assert.deepEqual(saved, { toggled: finalState })
  const final = await send(port, undefined, 'GET', '/toggled/')
  assert.equal(classify(final.status, final.body), finalState === 'enabled' ? 'plugin' : 'not-found')

  child.send({ type: 'close' })
  const [code] = await once(child, 'exit') as [number | null]
  assert.equal(code, 0, 'the server closed cleanly')
})
