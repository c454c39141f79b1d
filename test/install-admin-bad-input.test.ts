// SPEC section 11, "Bad input", over the admin API with the real engine and a real registry:
// every refused request answers its status with the code in the body, the lockfile stays
// byte-identical, and the app goes on serving what it served.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { gzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { freePort } from './helpers-redis.ts'
import { pluginSource, routeBody } from './helpers.ts'
import { deferToFileEnd, get, hostTree, installHost, registryFixtures, snapshot, type Fixtures } from './helpers-registry.ts'

const fixtures = registryFixtures()
const defer = deferToFileEnd()
const PREFIX = '/pluginkit'

/** A multipart/form-data body with one `tarball` file field, as the admin page's form sends it. */
function upload (tarball: Buffer): { payload: Buffer, headers: Record<string, string> } {
  const boundary = '----pluginkit-bad-input'
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="tarball"; filename="x.tgz"\r\ncontent-type: application/gzip\r\n\r\n`),
    tarball,
    Buffer.from(`\r\n--${boundary}--\r\n`)
  ])
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }
}

type Request = { method: 'POST' | 'DELETE', url: string, json?: unknown, upload?: Buffer }

async function send (app: FastifyInstance, request: Request): Promise<string> {
  const body = request.upload === undefined
    ? { payload: JSON.stringify(request.json ?? {}), headers: { 'content-type': 'application/json' } }
    : upload(request.upload)
  const response = await app.inject({ method: request.method, url: `${PREFIX}${request.url}`, ...body })
  const answer = response.json() as { code?: string }
  return `${response.statusCode} ${answer.code ?? '(no code)'}`
}

interface Host { app: FastifyInstance, dir: string, base: string }

async function host (f: Fixtures, registry: string, maxTarballBytes?: number): Promise<Host> {
  const base = await hostTree({ 'plugins/clash/index.mjs': pluginSource({ name: 'clash' }, routeBody('clash')) }, defer)
  const setup = await installHost(base, f.registry.url, { defer })
  await setup.app.pluginKit.install('pk-good@1.0.0')
  await setup.app.pluginKit.install('pk-needs-good')
  await setup.app.close()
  const kit = { admin: { prefix: PREFIX, authorize: () => true } }
  const limit = maxTarballBytes === undefined ? {} : { maxTarballBytes }
  const { app, dir } = await installHost(base, registry, { restartable: false, defer, kit, ...limit })
  return { app, dir, base }
}

/** Sends every request, then checks the answers, that the folder (lockfile bytes included) is as before, and what is served. */
async function refusesAll (h: Host, cases: Array<[Request, string]>): Promise<void> {
  const before = await snapshot(h.dir)
  assert.ok(before.lockfile !== undefined)
  const actual: Record<string, string> = {}
  const expected: Record<string, string> = {}
  for (const [request, want] of cases) {
    const label = `${request.method} ${request.url} ${request.upload === undefined ? JSON.stringify(request.json ?? {}) : '(upload)'}`
    actual[label] = await send(h.app, request)
    expected[label] = want
  }
  assert.deepEqual(actual, expected)
  assert.deepEqual(await snapshot(h.dir), before, 'lockfile byte-identical, no folder added or removed')
  assert.deepEqual((await get(h.app, '/good/version')).body, { plugin: 'pk-good', version: '1.0.0' })
  assert.deepEqual((await get(h.app, '/clash')).body, { plugin: 'clash' })
}

test('the admin API refuses every bad input of SPEC 11 with its status and code, and changes nothing', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const h = await host(f, f.registry.url)
  await refusesAll(h, [
    [{ method: 'POST', url: '/api/install', json: { spec: 'other-pkg' } }, '403 PLUGINKIT_ERR_INSTALL'],
    [{ method: 'POST', url: '/api/install', upload: f.tarball('other-pkg@1.0.0') }, '403 PLUGINKIT_ERR_INSTALL'],
    [{ method: 'POST', url: '/api/install', json: { spec: 'pk good' } }, '400 PLUGINKIT_ERR_INSTALL'],
    [{ method: 'POST', url: '/api/install', json: { spec: 'file:../pk-good' } }, '400 PLUGINKIT_ERR_INSTALL'],
    [{ method: 'POST', url: '/api/install', json: { spec: 42 } }, '400 FST_ERR_VALIDATION'],
    [{ method: 'POST', url: '/api/install', json: { spec: 'pk-good@9.9.9' } }, '404 PLUGINKIT_ERR_INSTALL'],
    [{ method: 'POST', url: '/api/install', json: { spec: 'pk-nonexistent' } }, '404 PLUGINKIT_ERR_INSTALL'],
    [{ method: 'POST', url: '/api/install', upload: Buffer.from('this is not a tarball') }, '400 PLUGINKIT_ERR_INSTALL'],
    [{ method: 'POST', url: '/api/install', upload: gzipSync(Buffer.from('gzip, but no tar inside')) }, '400 PLUGINKIT_ERR_INSTALL'],
    [{ method: 'POST', url: '/api/install', json: { spec: 'pk-invalid' } }, '422 PLUGINKIT_ERR_PLUGIN_METADATA'],
    [{ method: 'POST', url: '/api/install', json: { spec: 'pk-throws' } }, '422 PLUGINKIT_ERR_REGISTER'],
    [{ method: 'POST', url: '/api/install', json: { spec: 'pk-tampered' } }, '422 PLUGINKIT_ERR_INTEGRITY'],
    [{ method: 'POST', url: '/api/install', json: { spec: 'pk-clash' } }, '409 PLUGINKIT_ERR_DUPLICATE_PLUGIN'],
    [{ method: 'POST', url: '/api/plugins/clash/upgrade', json: {} }, '409 PLUGINKIT_ERR_INSTALL'],
    [{ method: 'POST', url: '/api/plugins/clash/rollback' }, '409 PLUGINKIT_ERR_INSTALL'],
    [{ method: 'DELETE', url: '/api/plugins/clash', json: {} }, '409 PLUGINKIT_ERR_INSTALL'],
    [{ method: 'POST', url: '/api/plugins/pk-good/rollback' }, '409 PLUGINKIT_ERR_INSTALL'],
    [{ method: 'DELETE', url: '/api/plugins/pk-good', json: {} }, '409 PLUGINKIT_ERR_DEPENDENCY'],
    [{ method: 'DELETE', url: '/api/plugins/nobody', json: {} }, '404 PLUGINKIT_ERR_NOT_FOUND'],
    [{ method: 'POST', url: '/api/plugins/pk-good/upgrade', json: { spec: 'pk-good@9.9.9' } }, '404 PLUGINKIT_ERR_INSTALL']
  ])
})

test('over the admin API: an unreachable registry answers 502, a tarball over the limit 413', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const down = await host(f, `http://127.0.0.1:${await freePort()}`)
  await refusesAll(down, [
    [{ method: 'POST', url: '/api/install', json: { spec: 'pk-good@1.1.0' } }, '502 PLUGINKIT_ERR_INSTALL'],
    [{ method: 'POST', url: '/api/plugins/pk-good/upgrade', json: {} }, '502 PLUGINKIT_ERR_INSTALL']
  ])
  const small = await host(f, f.registry.url, 8192)
  await refusesAll(small, [
    [{ method: 'POST', url: '/api/install', json: { spec: 'pk-big' } }, '413 PLUGINKIT_ERR_INSTALL'],
    [{ method: 'POST', url: '/api/install', upload: f.tarball('pk-big@1.0.0') }, '413 FST_REQ_FILE_TOO_LARGE']
  ])
})
