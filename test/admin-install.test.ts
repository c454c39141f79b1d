import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { InstallResult } from 'fastify-pluginkit'
import { buildApp, pluginSource, makeTree } from './helpers.ts'

// SPEC section 11 "Admin": the install routes' own behaviour (what they accept and refuse, how
// they map the install API's answers and errors), with the install API replaced by recorders.
// Installing for real through the routes and the page: admin-install-browser.test.ts.

const secret = { 'x-admin': 's3cret' }
const authorize = (request: { headers: Record<string, unknown> }) => request.headers['x-admin'] === 's3cret'
const json = { ...secret, 'content-type': 'application/json' }
const MAX = 1024

async function installApp (install: Record<string, unknown> | undefined = { allow: ['pk-*'], maxTarballBytes: MAX }): Promise<FastifyInstance> {
  const base = await makeTree({ 'plugins/alpha/index.mjs': pluginSource({ name: 'alpha' }) })
  return buildApp(base, { admin: { authorize }, ...(install === undefined ? {} : { install }) }, { until: 'ready' })
}

/** A multipart/form-data body, as a browser's FormData sends it. */
type Part = { name: string, value: string | Buffer, filename?: string }

function multipart (parts: Part[]): { payload: Buffer, headers: Record<string, string> } {
  const boundary = '----pluginkit-test-boundary'
  const chunks: Buffer[] = []
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename === undefined ? '' : `; filename="${part.filename}"`}`
    const type = part.filename === undefined ? '' : 'content-type: application/gzip\r\n'
    chunks.push(Buffer.from(`--${boundary}\r\ncontent-disposition: ${disposition}\r\n${type}\r\n`), Buffer.from(part.value), Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { payload: Buffer.concat(chunks), headers: { ...secret, 'content-type': `multipart/form-data; boundary=${boundary}` } }
}

type Call = [string, ...unknown[]]

/** Replaces the install API of `app` with recorders answering `result` (or throwing `error`). */
function record (app: FastifyInstance, outcome: { result?: unknown, error?: Error } = {}): Call[] {
  const calls: Call[] = []
  const kit = app.pluginKit as unknown as Record<string, unknown>
  for (const method of ['install', 'upgrade', 'rollback', 'uninstall'] as const) {
    kit[method] = async (...args: unknown[]) => {
      calls.push([method, ...args])
      if (outcome.error !== undefined) throw outcome.error
      return outcome.result
    }
  }
  return calls
}

const result: InstallResult = { plugin: { name: 'pk-good', version: '1.0.0', package: 'pk-good', integrity: 'sha512-abc' }, activated: true }

function status (response: LightMyRequestResponse, expected: number, what: string) {
  assert.equal(response.statusCode, expected, `${what}: ${response.body}`)
  return response.json() as Record<string, unknown>
}

test('install routes call app.pluginKit and answer 200 { plugin?, activated }', async () => {
  const app = await installApp()
  const calls = record(app, { result })
  assert.deepEqual(status(await app.inject({ method: 'POST', url: '/pluginkit/api/install', headers: json, payload: { spec: 'pk-good@^1.0.0' } }), 200, 'install'), result)
  const tarball = Buffer.from('not really a tarball, the engine checks')
  const upload = multipart([{ name: 'tarball', value: tarball, filename: 'pk-good-1.0.0.tgz' }])
  assert.deepEqual(status(await app.inject({ method: 'POST', url: '/pluginkit/api/install', ...upload }), 200, 'upload'), result)
  assert.deepEqual(status(await app.inject({ method: 'POST', url: '/pluginkit/api/plugins/pk-good/upgrade', headers: json, payload: {} }), 200, 'upgrade'), result)
  status(await app.inject({ method: 'POST', url: '/pluginkit/api/plugins/pk-good/upgrade', headers: json, payload: { spec: 'pk-good@1.1.0' } }), 200, 'upgrade to')
  status(await app.inject({ method: 'POST', url: '/pluginkit/api/plugins/pk-good/rollback', headers: json, payload: '' }), 200, 'rollback')
  const removed = record(app, { result: { activated: false, extra: 'not passed on' } })
  assert.deepEqual(status(await app.inject({ method: 'DELETE', url: '/pluginkit/api/plugins/pk-good', headers: secret }), 200, 'uninstall'), { activated: false })
  status(await app.inject({ method: 'DELETE', url: '/pluginkit/api/plugins/pk-good', headers: json, payload: { cascade: true } }), 200, 'uninstall cascade')
  assert.deepEqual(calls, [
    ['install', 'pk-good@^1.0.0'],
    ['install', { tarball }],
    ['upgrade', 'pk-good', undefined],
    ['upgrade', 'pk-good', 'pk-good@1.1.0'],
    ['rollback', 'pk-good']
  ])
  assert.deepEqual(removed, [['uninstall', 'pk-good', { cascade: false }], ['uninstall', 'pk-good', { cascade: true }]])
})

test('the install API\'s errors keep their status, and the body has the code', async () => {
  for (const statusCode of [400, 403, 404, 409, 413, 422, 502]) {
    const app = await installApp()
    const error = Object.assign(new Error(`package "pk-x": refused with ${statusCode}`), { code: 'PLUGINKIT_ERR_INSTALL', statusCode })
    record(app, { error })
    for (const request of [
      { method: 'POST' as const, url: '/pluginkit/api/install', payload: { spec: 'pk-x' } },
      { method: 'POST' as const, url: '/pluginkit/api/plugins/pk-x/upgrade', payload: {} },
      { method: 'POST' as const, url: '/pluginkit/api/plugins/pk-x/rollback', payload: {} },
      { method: 'DELETE' as const, url: '/pluginkit/api/plugins/pk-x', payload: {} }
    ]) {
      const body = status(await app.inject({ ...request, headers: json }), statusCode, `${request.method} ${request.url}`)
      assert.equal(body.code, 'PLUGINKIT_ERR_INSTALL')
      assert.equal(body.message, error.message)
    }
    await app.close()
  }
})

test('install routes refuse what they cannot take: 401, 415, 400, 413 and cross-site uploads, without calling the engine', async () => {
  const app = await installApp()
  const calls = record(app, { result })
  const refusals: Array<[string, { method: 'POST' | 'DELETE', url: string, headers?: Record<string, string>, payload?: string | Buffer | object }, number]> = [
    ['no authorization', { method: 'POST', url: '/pluginkit/api/install', headers: { 'content-type': 'application/json' }, payload: { spec: 'pk-good' } }, 401],
    ['text body', { method: 'POST', url: '/pluginkit/api/install', headers: { ...secret, 'content-type': 'text/plain' }, payload: 'pk-good' }, 415],
    ['form body', { method: 'POST', url: '/pluginkit/api/install', headers: { ...secret, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'spec=pk-good' }, 415],
    ['no body', { method: 'POST', url: '/pluginkit/api/install', headers: secret }, 415],
    ['upgrade, text', { method: 'POST', url: '/pluginkit/api/plugins/pk-good/upgrade', headers: { ...secret, 'content-type': 'text/plain' }, payload: '{}' }, 415],
    ['rollback, no type', { method: 'POST', url: '/pluginkit/api/plugins/pk-good/rollback', headers: secret }, 415],
    ['delete, text', { method: 'DELETE', url: '/pluginkit/api/plugins/pk-good', headers: { ...secret, 'content-type': 'text/plain' }, payload: 'x' }, 415],
    ['empty object', { method: 'POST', url: '/pluginkit/api/install', headers: json, payload: {} }, 400],
    ['empty spec', { method: 'POST', url: '/pluginkit/api/install', headers: json, payload: { spec: '' } }, 400],
    ['spec not a string', { method: 'POST', url: '/pluginkit/api/install', headers: json, payload: { spec: 1 } }, 400],
    ['unknown key', { method: 'POST', url: '/pluginkit/api/install', headers: json, payload: { spec: 'pk-good', force: true } }, 400],
    ['bad JSON', { method: 'POST', url: '/pluginkit/api/install', headers: json, payload: '{' }, 400],
    ['upgrade spec not a string', { method: 'POST', url: '/pluginkit/api/plugins/pk-good/upgrade', headers: json, payload: { spec: 5 } }, 400],
    ['rollback with keys', { method: 'POST', url: '/pluginkit/api/plugins/pk-good/rollback', headers: json, payload: { version: '1.0.0' } }, 400],
    ['cascade not boolean', { method: 'DELETE', url: '/pluginkit/api/plugins/pk-good', headers: json, payload: { cascade: 'yes' } }, 400]
  ]
  const uploads: Array<[string, ReturnType<typeof multipart>, number]> = [
    ['no tarball', multipart([]), 400],
    ['an empty file field (a form with no file chosen)', multipart([{ name: 'tarball', value: '', filename: '' }]), 400],
    ['another file field', multipart([{ name: 'package', value: 'x', filename: 'x.tgz' }]), 400],
    ['another field', multipart([{ name: 'force', value: 'yes' }]), 400],
    ['spec and tarball', multipart([{ name: 'spec', value: 'pk-good' }, { name: 'tarball', value: 'x', filename: 'x.tgz' }]), 400],
    ['two files', multipart([{ name: 'tarball', value: 'x', filename: 'x.tgz' }, { name: 'tarball', value: 'y', filename: 'y.tgz' }]), 413],
    ['too large', multipart([{ name: 'tarball', value: Buffer.alloc(MAX + 1), filename: 'big.tgz' }]), 413]
  ]
  for (const [what, request, expected] of refusals) status(await app.inject(request), expected, what)
  for (const [what, upload, expected] of uploads) {
    const body = status(await app.inject({ method: 'POST', url: '/pluginkit/api/install', ...upload }), expected, what)
    assert.equal(typeof body.code, 'string', `${what}: the body has a code`)
  }
  const tooLarge = multipart([{ name: 'tarball', value: Buffer.alloc(MAX + 1), filename: 'big.tgz' }])
  assert.equal(status(await app.inject({ method: 'POST', url: '/pluginkit/api/install', ...tooLarge }), 413, 'too large').code, 'FST_REQ_FILE_TOO_LARGE')
  const exact = multipart([{ name: 'tarball', value: Buffer.alloc(MAX), filename: 'max.tgz' }])
  status(await app.inject({ method: 'POST', url: '/pluginkit/api/install', ...exact }), 200, 'exactly maxTarballBytes')
  const crossSite = multipart([{ name: 'tarball', value: 'x', filename: 'x.tgz' }])
  crossSite.headers['sec-fetch-site'] = 'cross-site'
  status(await app.inject({ method: 'POST', url: '/pluginkit/api/install', ...crossSite }), 403, 'a cross-site form upload')
  assert.equal(calls.length, 1, 'only the upload of exactly maxTarballBytes reached the engine')
})

test('GET api/operations reports the running operation, the pending ones and the sync error', async () => {
  const app = await installApp()
  const idle = await app.inject({ url: '/pluginkit/api/operations', headers: secret })
  assert.deepEqual(status(idle, 200, 'idle'), { operation: null, pending: [], syncError: null })
  const operation = { action: 'install', target: 'pk-good@1.0.0', step: 'fetching', startedAt: new Date(0).toISOString() }
  const pending = [{ action: 'upgrade', name: 'pk-good', package: 'pk-good', version: '1.1.0', from: '1.0.0' }]
  const syncError = Object.assign(new Error('registry unreachable'), { code: 'PLUGINKIT_ERR_INSTALL', statusCode: 502, stack: 'hidden' })
  Object.defineProperties(app.pluginKit, {
    operation: { get: () => operation },
    pending: { get: () => pending },
    syncError: { get: () => syncError }
  })
  const busy = await app.inject({ url: '/pluginkit/api/operations', headers: secret })
  assert.deepEqual(status(busy, 200, 'busy'), { operation, pending, syncError: { code: 'PLUGINKIT_ERR_INSTALL', message: 'registry unreachable' } })
  assert.equal((await app.inject('/pluginkit/api/operations')).statusCode, 401)

  const page = (await app.inject({ url: '/pluginkit/', headers: secret })).body
  assert.match(page, /Running: install pk-good@1\.0\.0: fetching/)
  assert.match(page, /<li>upgrade pk-good \(pk-good 1\.0\.0 → 1\.1\.0\)<\/li>/)
  assert.match(page, /Applying another instance&#39;s change failed: PLUGINKIT_ERR_INSTALL: registry unreachable/)
  assert.match(page, /<form method="post" action="\/pluginkit\/install" enctype="multipart\/form-data" data-action="install"/)
  assert.doesNotMatch(page, /plugins\/alpha\/upgrade/, 'a local plugin gets no upgrade / rollback / uninstall controls')
})

test('the page\'s install forms: multipart or urlencoded, from the same origin, 303 back to the page; errors are pages', async () => {
  const app = await installApp()
  const calls = record(app, { result })
  const sameOrigin = { 'sec-fetch-site': 'same-origin' }
  const bySpec = multipart([{ name: 'spec', value: ' pk-good@1.0.0 ' }, { name: 'tarball', value: '', filename: '' }])
  const posted = await app.inject({ method: 'POST', url: '/pluginkit/install', payload: bySpec.payload, headers: { ...bySpec.headers, ...sameOrigin } })
  assert.equal(posted.statusCode, 303, posted.body)
  assert.equal(posted.headers.location, '/pluginkit/')
  const form = { ...secret, ...sameOrigin, 'content-type': 'application/x-www-form-urlencoded' }
  assert.equal((await app.inject({ method: 'POST', url: '/pluginkit/install', headers: form, payload: 'spec=pk-good' })).statusCode, 303)
  assert.equal((await app.inject({ method: 'POST', url: '/pluginkit/plugins/pk-good/upgrade', headers: form, payload: 'spec=' })).statusCode, 303)
  assert.equal((await app.inject({ method: 'POST', url: '/pluginkit/plugins/pk-good/rollback', headers: form, payload: '' })).statusCode, 303)
  assert.equal((await app.inject({ method: 'POST', url: '/pluginkit/plugins/pk-good/uninstall', headers: form, payload: 'cascade=1' })).statusCode, 303)
  assert.deepEqual(calls, [
    ['install', 'pk-good@1.0.0'], ['install', 'pk-good'], ['upgrade', 'pk-good', undefined], ['rollback', 'pk-good'],
    ['uninstall', 'pk-good', { cascade: true }]
  ])
  const empty = await app.inject({ method: 'POST', url: '/pluginkit/install', headers: form, payload: 'spec=' })
  assert.equal(empty.statusCode, 400)
  assert.match(empty.body, /install failed \(HTTP 400\): no package given/)
  assert.equal((await app.inject({ method: 'POST', url: '/pluginkit/install', headers: { ...form, 'sec-fetch-site': 'cross-site' }, payload: 'spec=pk-evil' })).statusCode, 403)

  const conflict = Object.assign(new Error('plugin "pk-good": "pk-child" depends on it'), { code: 'PLUGINKIT_ERR_DEPENDENCY', statusCode: 409 })
  record(app, { error: conflict })
  const refused = await app.inject({ method: 'POST', url: '/pluginkit/plugins/pk-good/uninstall', headers: form, payload: '' })
  assert.equal(refused.statusCode, 409)
  assert.match(refused.body, /uninstall pk-good failed \(HTTP 409\): plugin &quot;pk-good&quot;: &quot;pk-child&quot; depends on it/)
  assert.match(refused.body, /action="\/pluginkit\/plugins\/pk-good\/uninstall" data-action="uninstall" data-plugin="pk-good"><input type="hidden" name="cascade" value="1">/)
  assert.equal(calls.length, 5, 'nothing refused reached the engine')
})
