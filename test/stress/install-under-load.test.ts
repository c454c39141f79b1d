// Issue #13: 50 keep-alive connections load a host route, an installed plugin's route that is
// never touched (pk-steady) and the route of a plugin that is installed, upgraded, rolled back
// and uninstalled, cycle after cycle (20 cycles, or STRESS_SECONDS of them with at least 5), on a
// real listening server under @fastify/restartable (its own process) with a FileStore.
// Install, rollback and uninstall go through the admin API (an uploaded tarball as multipart);
// an upload upgrade has no admin route (the admin's upgrade takes a registry spec), so it is the
// JS API's upgrade(name, { tarball }), called in the server process over IPC.
// Asserted: zero 5xx, zero socket errors, /host and /steady/ always answer, and every /hello/
// answer is one version's in all three fields that its hooks and handler set (never a mix),
// or the app's exact not-found answer; and it is the answer of a set that was being served
// while the request was in flight: once an operation has resolved, no request started
// afterwards gets what it replaced.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { makeTree } from '../helpers.ts'
import { httpRequest } from '../helpers-views.ts'
import { describeLoad, runLoad, stressSeconds } from './helpers-load.ts'
import { HELLO, helloAnswer, helloFiles, pack, steadyFiles } from '../fixtures/reliability/install-packages.mjs'
import { adminRequest, startInstallServer } from '../fixtures/reliability/install-harness.mjs'

const CONNECTIONS = { hello: 30, host: 15, steady: 5 }
const TOKEN = 'stress-admin'
const CYCLES = Math.min(20, Math.max(5, Math.round(stressSeconds())))

/** What pk-hello serves after an operation: a version, or null (not installed: 404). */
type Served = string | null

interface Operation { name: string, expected: Served, startedAt: number, resolvedAt: number }

interface Sample { startedAt: number, endedAt: number, served: Served }

/**
 * The samples whose answer no set served while they were in flight. The set after operation k
 * may be served from the moment k is sent until operation k + 1 has resolved (the swap happens
 * in between); before the first operation, nothing is installed.
 */
function stale (samples: Sample[], operations: Operation[]): Array<Sample & { allowed: Served[] }> {
  const periods = [{ served: null as Served, from: -Infinity, to: operations[0]?.resolvedAt ?? Infinity }]
  operations.forEach((operation, index) => {
    periods.push({ served: operation.expected, from: operation.startedAt, to: operations[index + 1]?.resolvedAt ?? Infinity })
  })
  const wrong: Array<Sample & { allowed: Served[] }> = []
  for (const sample of samples) {
    const allowed = periods
      .filter((period) => period.from <= sample.endedAt && period.to >= sample.startedAt)
      .map((period) => period.served)
    if (!allowed.includes(sample.served)) wrong.push({ ...sample, allowed })
  }
  return wrong
}

test(`install under load: ${CONNECTIONS.hello + CONNECTIONS.host + CONNECTIONS.steady} connections while a plugin is installed, upgraded, rolled back and uninstalled ${CYCLES} times`, {
  timeout: CYCLES * 10_000 + 60_000
}, async (t) => {
  const base = await makeTree({})
  const tarballs = { '1.0.0': join(base, 'pk-hello-1.0.0.tgz'), '1.1.0': join(base, 'pk-hello-1.1.0.tgz') }
  const uploads = { '1.0.0': await pack(helloFiles('1.0.0')), '1.1.0': await pack(helloFiles('1.1.0')) }
  await writeFile(tarballs['1.0.0'], uploads['1.0.0'])
  await writeFile(tarballs['1.1.0'], uploads['1.1.0'])
  const server = await startInstallServer({ base, token: TOKEN })
  t.after(() => server.kill())
  const { port } = server
  const admin = (method: string, path: string, options?: { json?: unknown, tarball?: Buffer }) => adminRequest(port, TOKEN, method, `/pluginkit${path}`, options)

  // pk-steady is installed before the load starts and stays.
  const steady = await admin('POST', '/api/install', { tarball: await pack(steadyFiles()) })
  assert.equal(steady.status, 200, JSON.stringify(steady.body))
  const steadyAnswer = await httpRequest(port, '/steady/')
  assert.equal(steadyAnswer.status, 200)
  const notFound = await httpRequest(port, '/hello/')
  assert.equal(notFound.status, 404)

  const stop = new AbortController()
  // Whatever fails, the load stops (its workers would otherwise loop on a dead server).
  t.after(() => stop.abort())
  // /hello/ answers with their timing, checked against the operations afterwards.
  const samples: Sample[] = []
  const load = (path: string, connections: number, classify: (status: number, body: string) => string | undefined,
    observe?: (status: number, body: string, startedAt: number, endedAt: number) => void) =>
    runLoad({ port, path, connections, classify, signal: stop.signal, timeoutMs: 30_000, ...(observe === undefined ? {} : { observe }) })
  // A version, null when not installed, 'mixed', or undefined for anything else.
  const helloServed = (status: number, body: string): Served | 'mixed' | undefined => {
    if (status === notFound.status && body === notFound.body) return null
    const answer = helloAnswer(status, body)
    return answer === undefined ? undefined : 'mixed' in answer ? 'mixed' : answer.version
  }
  const loads = {
    hello: load('/hello/', CONNECTIONS.hello, (status, body) => {
      const served = helloServed(status, body)
      return served === null ? 'not installed' : served
    }, (status, body, startedAt, endedAt) => {
      const served = helloServed(status, body)
      if (served !== undefined && served !== 'mixed') samples.push({ startedAt, endedAt, served })
    }),
    host: load('/host', CONNECTIONS.host, (status, body) => status === 200 && body === 'host' ? 'host' : undefined),
    steady: load('/steady/', CONNECTIONS.steady,
      (status, body) => status === steadyAnswer.status && body === steadyAnswer.body ? 'steady' : undefined)
  }

  const operations: Operation[] = []
  const failures: string[] = []
  const step = async (name: string, expected: Served, run: () => Promise<{ status: number, body: unknown }>) => {
    const startedAt = performance.now()
    const { status, body } = await run()
    operations.push({ name, expected, startedAt, resolvedAt: performance.now() })
    const activated = (body as { activated?: unknown }).activated
    const version = (body as { plugin?: { version?: unknown } }).plugin?.version
    if (status !== 200 || activated !== true || (expected !== null && version !== expected)) {
      failures.push(`${name}: ${status} ${JSON.stringify(body)}`)
    }
    // Right after the operation resolved, a new request gets its result.
    const after = await httpRequest(port, '/hello/')
    const served = after.status === 404 ? null : helloAnswer(after.status, after.body)
    if (!(served === null ? expected === null : served !== undefined && 'version' in served && served.version === expected)) {
      failures.push(`after ${name}: GET /hello/ answered ${after.status} ${after.body}, expected ${expected ?? '404'}`)
    }
  }
  const viaJsApi = async (run: () => Promise<unknown>) => {
    try {
      return { status: 200, body: await run() }
    } catch (error) {
      return { status: 500, body: { code: (error as { code?: string }).code, message: (error as Error).message } }
    }
  }

  await new Promise((resolve) => setTimeout(resolve, 300))
  const startedAt = performance.now()
  for (let cycle = 0; cycle < CYCLES && failures.length === 0; cycle++) {
    await step('install 1.0.0', '1.0.0', () => admin('POST', '/api/install', { tarball: uploads['1.0.0'] }))
    await step('upgrade to 1.1.0', '1.1.0', () => viaJsApi(() => server.call('upgrade', HELLO, tarballs['1.1.0'])))
    await step('rollback', '1.0.0', () => admin('POST', `/api/plugins/${HELLO}/rollback`, { json: {} }))
    await step('uninstall', null, () => admin('DELETE', `/api/plugins/${HELLO}`))
  }
  const seconds = (performance.now() - startedAt) / 1000
  await new Promise((resolve) => setTimeout(resolve, 300))
  stop.abort()
  const hello = await loads.hello
  const host = await loads.host
  const steadyLoad = await loads.steady

  const durations = operations.map((operation) => operation.resolvedAt - operation.startedAt).sort((a, b) => a - b)
  const wrong = stale(samples, operations)
  t.diagnostic(`${operations.length} operations (${CYCLES} cycles) in ${seconds.toFixed(1)} s; ` +
    `median ${durations[Math.floor(durations.length / 2)]?.toFixed(0)} ms, max ${durations.at(-1)?.toFixed(0)} ms`)
  t.diagnostic(`/hello/: ${describeLoad(hello)}`)
  t.diagnostic(`/host: ${describeLoad(host)}`)
  t.diagnostic(`/steady/: ${describeLoad(steadyLoad)}`)
  t.diagnostic(`answers of a set no longer served: ${wrong.length}`)

  assert.deepEqual(failures, [], 'every operation succeeded and its result served at once')
  for (const [route, tally] of Object.entries({ hello, host, steady: steadyLoad })) {
    assert.deepEqual(Object.fromEntries(tally.errors), {}, `${route}: no socket errors`)
    assert.deepEqual([...tally.statuses.keys()].filter((status) => status >= 500), [], `${route}: no 5xx`)
    assert.deepEqual(tally.unexpected, [], `${route}: every answer is an expected one`)
    assert.ok(tally.requests > 0, `${route}: requests were answered`)
  }
  assert.equal(hello.kinds.get('mixed'), undefined, 'no /hello/ answer mixes two versions')
  assert.deepEqual(wrong.slice(0, 5), [], 'no answer of a set that was no longer served')
  for (const kind of ['1.0.0', '1.1.0', 'not installed']) assert.ok((hello.kinds.get(kind) ?? 0) > 0, `/hello/ answered ${kind} at times`)
  assert.deepEqual(server.errorLogs(), [], 'the server logged no errors')
  assert.equal(await server.close(), 0, 'the server closed cleanly')
})
