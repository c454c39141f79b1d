// SPEC 11 "Many instances", issue #13: app instances (separate processes under
// @fastify/restartable, listening) that share the install state follow each other's
// operations: after install, upgrade, rollback and uninstall on one, the other serves the
// result within 10 s of the call resolving. Operations alternate between the instances, so
// each follows the other. Two ways of sharing:
// - FileStore: both use one pluginsBase, so one `.pluginkit` folder and one lockfile;
// - RedisStore: each has its own pluginsBase (own install folder); the lockfile and the
//   uploaded tarballs are shared through Redis (a real redis-server), and an instance started
//   later boots with what the others serve.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { makeTree } from './helpers.ts'
import { httpRequest } from './helpers-views.ts'
import { startRedis } from './helpers-redis.ts'
import { HELLO, helloAnswer, helloFiles, pack } from './fixtures/reliability/install-packages.mjs'
import { adminRequest, startInstallServer, type InstallServer, type InstallServerConfig } from './fixtures/reliability/install-harness.mjs'

const TOKEN = 'instances-admin'
/** SPEC 11: every instance swaps within 10 s of the first instance's call resolving. */
const CONVERGE_MS = 10_000

/** What GET /hello/ answers on `server`: a version, null for 404, or the unexpected answer as text. */
async function served (server: InstallServer): Promise<string | null> {
  const { status, body } = await httpRequest(server.port, '/hello/')
  if (status === 404) return null
  const answer = helloAnswer(status, body)
  return answer !== undefined && 'version' in answer ? answer.version : `${status} ${body}`
}

/** Polls until `server` serves `expected`; resolves to the milliseconds it took, or fails after CONVERGE_MS. */
async function converges (server: InstallServer, expected: string | null, what: string, own: InstallServer): Promise<number> {
  const started = performance.now()
  let last: string | null = 'nothing yet'
  while (performance.now() - started < CONVERGE_MS) {
    last = await served(server)
    if (last === expected) return performance.now() - started
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const operations = async (instance: InstallServer) =>
    JSON.stringify((await adminRequest(instance.port, TOKEN, 'GET', '/pluginkit/api/operations')).body)
  assert.fail(`${what}: the other instance still serves ${JSON.stringify(last)} ${CONVERGE_MS} ms later, not ${JSON.stringify(expected)}; ` +
    `its operations: ${await operations(server)}, its log: ${server.output()}\n` +
    `the operating instance's operations: ${await operations(own)}, its log: ${own.output()}`)
}

interface Cluster {
  a: InstallServer
  b: InstallServer
  /** Starts one more instance with `config` (stopped when the test ends). */
  start: (config: InstallServerConfig) => Promise<InstallServer>
  tarballs: Record<'1.0.0' | '1.1.0', { file: string, data: Buffer }>
}

async function cluster (t: TestContext, configs: [InstallServerConfig, InstallServerConfig]): Promise<Cluster> {
  const folder = await makeTree({})
  const tarballs = {} as Cluster['tarballs']
  for (const version of ['1.0.0', '1.1.0'] as const) {
    const data = await pack(helloFiles(version))
    const file = join(folder, `pk-hello-${version}.tgz`)
    await writeFile(file, data)
    tarballs[version] = { file, data }
  }
  const started: InstallServer[] = []
  t.after(() => { for (const server of started) server.kill() })
  const start = async (config: InstallServerConfig) => {
    const server = await startInstallServer(config)
    started.push(server)
    return server
  }
  const [a, b] = await Promise.all(configs.map(start)) as [InstallServer, InstallServer]
  return { a, b, start, tarballs }
}

/**
 * install on a, upgrade on b, rollback on a, uninstall on b: each call's own instance serves
 * its result when it resolves, and the other within CONVERGE_MS. Returns the convergence times.
 */
async function operateInTurns (c: Cluster, afterUpgrade?: () => Promise<void>): Promise<Record<string, number>> {
  const { a, b, tarballs } = c
  const times: Record<string, number> = {}
  const check = async (what: string, own: InstallServer, other: InstallServer, expected: string | null,
    result: { status: number, body: unknown }) => {
    assert.equal(result.status, 200, `${what}: ${JSON.stringify(result.body)}`)
    assert.equal((result.body as { activated?: unknown }).activated, true, what)
    assert.equal(await served(own), expected, `${what}: the instance that did it serves the result when the call resolves`)
    times[what] = Math.round(await converges(other, expected, what, own))
  }
  const admin = (server: InstallServer, method: string, path: string, options?: { json?: unknown, tarball?: Buffer }) =>
    adminRequest(server.port, TOKEN, method, `/pluginkit${path}`, options)

  await check('install on A', a, b, '1.0.0', await admin(a, 'POST', '/api/install', { tarball: tarballs['1.0.0'].data }))
  // An upload upgrade has no admin route (the admin's upgrade takes a registry spec): the JS API, in B's process.
  await check('upgrade on B', b, a, '1.1.0', { status: 200, body: await b.call('upgrade', HELLO, tarballs['1.1.0'].file) })
  await afterUpgrade?.()
  await check('rollback on A', a, b, '1.0.0', await admin(a, 'POST', `/api/plugins/${HELLO}/rollback`, { json: {} }))
  await check('uninstall on B', b, a, null, await admin(b, 'DELETE', `/api/plugins/${HELLO}`))
  return times
}

async function finish (t: TestContext, servers: InstallServer[], times: Record<string, number>): Promise<void> {
  t.diagnostic(`the other instance served the result after (ms): ${JSON.stringify(times)}`)
  for (const server of servers) {
    const operations = await adminRequest(server.port, TOKEN, 'GET', '/pluginkit/api/operations')
    assert.equal((operations.body as { syncError?: unknown }).syncError, null, `no sync error: ${JSON.stringify(operations.body)}`)
    assert.deepEqual(server.errorLogs(), [], 'no errors logged')
  }
  for (const server of servers) assert.equal(await server.close(), 0, 'closed cleanly')
}

test('instances sharing one pluginsBase (FileStore) serve each other\'s install, upgrade, rollback and uninstall within 10 s', {
  timeout: 120_000
}, async (t) => {
  const base = await makeTree({})
  const c = await cluster(t, [{ base, token: TOKEN }, { base, token: TOKEN }])
  const times = await operateInTurns(c)
  await finish(t, [c.a, c.b], times)
})

test('instances sharing a RedisStore (own install folders) serve each other\'s install, upgrade, rollback and uninstall within 10 s', {
  timeout: 120_000
}, async (t) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const key = `pluginkit-instances:${randomUUID()}`
  const config = async () => ({ base: await makeTree({}), token: TOKEN, redis: { url: redis.url, key } })
  const c = await cluster(t, [await config(), await config()])
  const late: InstallServer[] = []
  const times = await operateInTurns(c, async () => {
    // A third instance, with an empty install folder, boots with what the others serve.
    const third = await c.start(await config())
    late.push(third)
    assert.equal(await served(third), '1.1.0', 'an instance started later serves the shared set from its boot')
  })
  // ...and follows the later operations like the others (within the same 10 s: the uninstall
  // resolved on B and A has converged, but the third polls Redis on its own clock).
  const third = late[0] as InstallServer
  times['uninstall on B, third instance'] = Math.round(await converges(third, null, 'uninstall on B, third instance', c.b))
  await finish(t, [c.a, c.b, ...late], times)
})
