import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance, FastifyReply, FastifyRequest, LightMyRequestResponse } from 'fastify'
import { PluginKitError, type PluginState, type StateMap, type StateStore } from 'fastify-pluginkit'
import { buildApp, pluginSource, makeTree } from './helpers.ts'

// SPEC section 9: the admin API and page, through app.inject.

type Authorize = (request: FastifyRequest, reply: FastifyReply) => unknown

/** A store that records saves and can be made to fail. */
class RecordingStore implements StateStore {
  readonly saves: Array<[string, PluginState]> = []
  failing = false
  async load (): Promise<StateMap> {
    return {}
  }

  async save (name: string, state: PluginState): Promise<void> {
    if (this.failing) throw new Error('the disk is on fire')
    this.saves.push([name, state])
  }
}

const alpha = pluginSource({ name: 'alpha', version: '1.2.3', author: 'Ada', description: 'The first plugin' },
  "return { bep: { prefix: '/alpha', blueprint: async (app) => { app.get('/', async () => ({ plugin: 'alpha' })) } } }")
const beta = pluginSource({ name: 'beta', version: '0.1.0', author: 'Bob', dependencies: { alpha: '^1.0.0' } },
  "return { vep: { method: 'GET', url: '/beta', handler: async () => ({ plugin: 'beta' }) } }")

interface AdminApp {
  app: FastifyInstance
  store: RecordingStore
  /** How many times authorize was called. */
  calls: () => number
}

interface AdminAppOptions { prefix?: string, extraPlugins?: Record<string, string> }

async function adminApp (authorize: Authorize, options: AdminAppOptions = {}): Promise<AdminApp> {
  const base = await makeTree({ 'plugins/alpha/index.mjs': alpha, 'plugins/beta/index.mjs': beta, ...options.extraPlugins })
  const store = new RecordingStore()
  let calls = 0
  const counted: Authorize = (request, reply) => {
    calls++
    return authorize(request, reply)
  }
  const prefix = options.prefix === undefined ? {} : { prefix: options.prefix }
  const app = await buildApp(base, { store, admin: { authorize: counted, ...prefix } })
  await app.ready()
  return { app, store, calls: () => calls }
}

const secret = { 'x-admin': 's3cret' }
const allowIfHeader: Authorize = (request) => request.headers['x-admin'] === 's3cret'

function post (app: FastifyInstance, url: string, payload: string | undefined = '{}', headers: Record<string, string> = { ...secret, 'content-type': 'application/json' }) {
  return app.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload }) })
}

function state (app: FastifyInstance, name: string): PluginState {
  return app.pluginKit.get(name).state
}

/** Every admin route under `prefix`, as inject options (state-changing ones with a valid JSON body). */
function adminRoutes (prefix: string) {
  return [
    { method: 'GET' as const, url: `${prefix}/` },
    { method: 'GET' as const, url: `${prefix}/api/plugins` },
    { method: 'POST' as const, url: `${prefix}/api/plugins/alpha/disable`, payload: '{}', headers: { 'content-type': 'application/json' } },
    { method: 'POST' as const, url: `${prefix}/api/plugins/alpha/enable`, payload: '{}', headers: { 'content-type': 'application/json' } },
    { method: 'GET' as const, url: `${prefix}/api/failures` }
  ]
}

function assertNoPluginData (response: LightMyRequestResponse, what: string) {
  assert.ok(!response.body.includes('alpha') && !response.body.includes('Ada'), `${what} leaks plugin data: ${response.body}`)
}

test('admin: a falsy authorize result answers 401 on every route (default and custom prefix), and nothing happens', async () => {
  for (const prefix of [undefined, '/ops/kit']) {
    for (const verdict of [false, undefined, null, 0, '']) {
      const { app, store, calls } = await adminApp(() => verdict, prefix === undefined ? {} : { prefix })
      const routes = adminRoutes(prefix ?? '/pluginkit')
      // The disable route first: if it went through, alpha would be disabled.
      for (const route of [routes[2], routes[0], routes[1], routes[3], routes[4]]) {
        if (route === undefined) continue
        const before = calls()
        const response = await app.inject(route)
        assert.equal(response.statusCode, 401, `${route.method} ${route.url} with authorize -> ${JSON.stringify(verdict)}`)
        assert.equal(calls(), before + 1, `authorize is called for ${route.method} ${route.url}`)
        assertNoPluginData(response, `${route.method} ${route.url}`)
      }
      assert.deepEqual(store.saves, [], 'nothing was saved')
      assert.equal(state(app, 'alpha'), 'enabled')
      assert.equal((await app.inject('/alpha')).statusCode, 200)
      await app.close()
    }
  }
})

test('admin: authorize receives (request, reply), may be async, and guards only the admin routes', async () => {
  const seen: Array<{ url: string, hasReply: boolean }> = []
  const { app, calls } = await adminApp(async (request, reply) => {
    seen.push({ url: request.url, hasReply: typeof reply.header === 'function' })
    await new Promise((resolve) => setImmediate(resolve))
    return request.headers['x-admin'] === 's3cret'
  })
  assert.equal((await app.inject('/pluginkit/api/plugins')).statusCode, 401)
  assert.equal((await app.inject({ url: '/pluginkit/api/plugins', headers: { 'x-admin': 'wrong' } })).statusCode, 401)
  const ok = await app.inject({ url: '/pluginkit/api/plugins', headers: secret })
  assert.equal(ok.statusCode, 200)
  assert.deepEqual(seen.map((entry) => entry.url), ['/pluginkit/api/plugins', '/pluginkit/api/plugins', '/pluginkit/api/plugins'])
  assert.ok(seen.every((entry) => entry.hasReply), 'authorize gets the reply too')

  const before = calls()
  assert.equal((await app.inject('/')).statusCode, 200, 'host routes need no admin authorization')
  assert.equal((await app.inject('/alpha')).statusCode, 200, 'plugin routes need no admin authorization')
  assert.equal(calls(), before, 'authorize runs only for admin routes')
})

test('admin: an authorize that throws or rejects never lets the request through', async () => {
  const authorizers: Authorize[] = [
    () => { throw new Error('auth backend down') },
    async () => { throw new Error('auth backend down') }
  ]
  for (const authorize of authorizers) {
    const { app, store } = await adminApp(authorize)
    for (const route of adminRoutes('/pluginkit')) {
      const response = await app.inject(route)
      assert.ok(response.statusCode >= 400, `${route.method} ${route.url} answered ${response.statusCode}`)
      assertNoPluginData(response, `${route.method} ${route.url}`)
    }
    assert.deepEqual(store.saves, [])
    assert.equal(state(app, 'alpha'), 'enabled')
    await app.close()
  }
})

test('admin: authorize may answer by itself (e.g. a redirect to a login page)', async () => {
  const { app, store } = await adminApp((request, reply) => {
    if (request.headers['x-admin'] === 's3cret') return true
    reply.redirect('/login')
    return false
  })
  const response = await post(app, '/pluginkit/api/plugins/alpha/disable', '{}', { 'content-type': 'application/json' })
  assert.equal(response.statusCode, 302)
  assert.equal(response.headers.location, '/login')
  assert.deepEqual(store.saves, [])
  assert.equal(state(app, 'alpha'), 'enabled')
})

test('admin: GET api/plugins lists every plugin as PluginInfo, in load order', async () => {
  const { app } = await adminApp(allowIfHeader)
  const response = await app.inject({ url: '/pluginkit/api/plugins', headers: secret })
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /^application\/json/)
  const { plugins } = response.json() as { plugins: Array<Record<string, unknown>> }
  assert.deepEqual(plugins.map((plugin) => plugin.name), ['alpha', 'beta'])
  assert.deepEqual(plugins, JSON.parse(JSON.stringify(app.pluginKit.plugins)))
  const [first] = plugins
  assert.equal(first?.version, '1.2.3')
  assert.equal(first?.author, 'Ada')
  assert.equal(first?.description, 'The first plugin')
  assert.equal(first?.state, 'enabled')
  assert.equal(first?.source, 'local')
  assert.equal(typeof first?.dir, 'string')
  assert.deepEqual(plugins[1]?.dependencies, { alpha: '^1.0.0' })
})

test('admin: GET api/failures lists the plugins skipped at boot (strict: false) with code and message', async () => {
  const base = await makeTree({
    'plugins/alpha/index.mjs': alpha,
    'plugins/no-version/index.mjs': pluginSource({ name: 'no-version', version: undefined, author: 'Eve' }),
    'plugins/needs-missing/index.mjs': pluginSource({ name: 'needs-missing', version: '1.0.0', author: 'Eve', dependencies: { ghost: '^1.0.0' } })
  })
  const app = await buildApp(base, { strict: false, admin: { authorize: allowIfHeader } })
  await app.ready()
  const response = await app.inject({ url: '/pluginkit/api/failures', headers: secret })
  assert.equal(response.statusCode, 200)
  const { failures } = response.json() as { failures: Array<{ plugin: string, dir?: string, code: string, message: string }> }
  assert.deepEqual(failures.map(({ plugin, code }) => [plugin, code]).sort(), [
    ['needs-missing', 'PLUGINKIT_ERR_DEPENDENCY'],
    ['no-version', 'PLUGINKIT_ERR_PLUGIN_METADATA']
  ])
  assert.deepEqual(failures, app.pluginKit.failures.map((failure) =>
    ({ plugin: failure.plugin, dir: failure.dir, code: failure.error.code, message: failure.error.message })))
  for (const failure of failures) {
    assert.ok(failure.message.includes(failure.plugin), failure.message)
    assert.ok(typeof failure.dir === 'string' && failure.dir.endsWith(failure.plugin), String(failure.dir))
  }

  const clean = await adminApp(allowIfHeader)
  assert.deepEqual((await clean.app.inject({ url: '/pluginkit/api/failures', headers: secret })).json(), { failures: [] })
})

test('admin: POST enable/disable answers 200 { plugin } and takes effect at once; an empty JSON body is accepted', async () => {
  const { app, store } = await adminApp(allowIfHeader)
  // beta depends on alpha: disable beta first.
  const disabled = await post(app, '/pluginkit/api/plugins/beta/disable', '')
  assert.equal(disabled.statusCode, 200, disabled.body)
  const body = disabled.json() as { plugin: Record<string, unknown> }
  assert.deepEqual(Object.keys(body), ['plugin'])
  assert.equal(body.plugin.name, 'beta')
  assert.equal(body.plugin.state, 'disabled')
  assert.equal(body.plugin.version, '0.1.0')
  assert.deepEqual(body.plugin, JSON.parse(JSON.stringify(app.pluginKit.get('beta'))))
  assert.equal((await app.inject('/beta')).statusCode, 404)
  assert.deepEqual(store.saves, [['beta', 'disabled']])

  const withCharset = await post(app, '/pluginkit/api/plugins/beta/enable', '{}', { ...secret, 'content-type': 'application/json; charset=utf-8' })
  assert.equal(withCharset.statusCode, 200, withCharset.body)
  assert.equal((withCharset.json() as { plugin: { state: string } }).plugin.state, 'enabled')
  assert.equal((await app.inject('/beta')).statusCode, 200)

  const listed = await app.inject({ url: '/pluginkit/api/plugins', headers: secret })
  assert.deepEqual((listed.json() as { plugins: Array<{ state: string }> }).plugins.map((plugin) => plugin.state), ['enabled', 'enabled'])
})

test('admin: state changes require content-type application/json (415, nothing changes) and a valid body', async () => {
  const { app, store } = await adminApp(allowIfHeader)
  const attempts: Array<{ payload?: string, headers: Record<string, string>, status: number }> = [
    { headers: { ...secret }, status: 415 },
    { payload: '{}', headers: { ...secret, 'content-type': 'text/plain' }, status: 415 },
    { payload: 'cascade=true', headers: { ...secret, 'content-type': 'application/x-www-form-urlencoded' }, status: 415 },
    { payload: '{}', headers: { ...secret, 'content-type': 'multipart/form-data; boundary=x' }, status: 415 },
    { payload: '{', headers: { ...secret, 'content-type': 'application/json' }, status: 400 },
    { payload: '{"cascade":"sometimes"}', headers: { ...secret, 'content-type': 'application/json' }, status: 400 }
  ]
  for (const attempt of attempts) {
    const response = await post(app, '/pluginkit/api/plugins/beta/disable', attempt.payload, attempt.headers)
    assert.equal(response.statusCode, attempt.status, `${attempt.headers['content-type'] ?? '(no content-type)'} ${attempt.payload ?? '(no body)'}: ${response.body}`)
  }
  assert.deepEqual(store.saves, [], 'nothing was saved')
  assert.equal(state(app, 'beta'), 'enabled')
  assert.equal((await app.inject('/beta')).statusCode, 200)
})

test('admin: 404 for an unknown plugin, 409 for a dependency conflict, { "cascade": true } resolves it', async () => {
  const { app, store } = await adminApp(allowIfHeader)
  const unknown = await post(app, '/pluginkit/api/plugins/nope/disable')
  assert.equal(unknown.statusCode, 404)
  assert.equal((unknown.json() as { code: string }).code, 'PLUGINKIT_ERR_NOT_FOUND')
  assert.match((unknown.json() as { message: string }).message, /nope/)

  const conflict = await post(app, '/pluginkit/api/plugins/alpha/disable')
  assert.equal(conflict.statusCode, 409)
  const conflictBody = conflict.json() as { code: string, message: string }
  assert.equal(conflictBody.code, 'PLUGINKIT_ERR_DEPENDENCY')
  assert.match(conflictBody.message, /beta/, 'the message names the dependent plugin')
  assert.equal(state(app, 'alpha'), 'enabled')
  assert.equal(state(app, 'beta'), 'enabled')
  assert.deepEqual(store.saves, [])

  const cascaded = await post(app, '/pluginkit/api/plugins/alpha/disable', '{ "cascade": true }')
  assert.equal(cascaded.statusCode, 200, cascaded.body)
  assert.equal((cascaded.json() as { plugin: { name: string, state: string } }).plugin.name, 'alpha')
  assert.equal(state(app, 'alpha'), 'disabled')
  assert.equal(state(app, 'beta'), 'disabled')
  assert.equal((await app.inject('/alpha')).statusCode, 404)
  assert.equal((await app.inject('/beta')).statusCode, 404)

  const blocked = await post(app, '/pluginkit/api/plugins/beta/enable')
  assert.equal(blocked.statusCode, 409, 'enabling a plugin whose dependency is disabled')
  assert.match((blocked.json() as { message: string }).message, /alpha/)
  assert.equal(state(app, 'beta'), 'disabled')

  const both = await post(app, '/pluginkit/api/plugins/beta/enable', '{"cascade":true}')
  assert.equal(both.statusCode, 200, both.body)
  assert.equal(state(app, 'alpha'), 'enabled')
  assert.equal(state(app, 'beta'), 'enabled')
  assert.equal((await app.inject('/beta')).statusCode, 200)

  const noCascade = await post(app, '/pluginkit/api/plugins/alpha/disable', '{"cascade":false}')
  assert.equal(noCascade.statusCode, 409, '{ "cascade": false } is no cascade')
})

test('admin: 503 when the store cannot save, and nothing changes', async () => {
  const { app, store } = await adminApp(allowIfHeader)
  store.failing = true
  const response = await post(app, '/pluginkit/api/plugins/beta/disable')
  assert.equal(response.statusCode, 503)
  const body = response.json() as { code: string, message: string }
  assert.equal(body.code, 'PLUGINKIT_ERR_STATE_STORE')
  assert.match(body.message, /beta/)
  assert.equal(state(app, 'beta'), 'enabled')
  assert.equal((await app.inject('/beta')).statusCode, 200)

  const cascade = await post(app, '/pluginkit/api/plugins/alpha/disable', '{"cascade":true}')
  assert.equal(cascade.statusCode, 503)
  assert.equal(state(app, 'alpha'), 'enabled')
  assert.equal(state(app, 'beta'), 'enabled')
  assert.equal((await app.inject('/alpha')).statusCode, 200)

  store.failing = false
  assert.equal((await post(app, '/pluginkit/api/plugins/beta/disable')).statusCode, 200, 'works again once the store does')
})

test('admin: the HTML page is self-contained, sent with a CSP, and wired to the API under its prefix', async () => {
  for (const prefix of ['/pluginkit', '/ops/kit']) {
    const { app } = await adminApp(allowIfHeader, { prefix })
    const response = await app.inject({ url: `${prefix}/`, headers: secret })
    assert.equal(response.statusCode, 200)
    assert.match(String(response.headers['content-type']), /^text\/html/)
    const csp = String(response.headers['content-security-policy'] ?? '')
    assert.match(csp, /default-src 'none'|default-src 'self'/, `a restrictive CSP: ${csp}`)
    const html = response.body
    assert.match(html, /<html/i)
    assert.ok(html.includes(`data-prefix="${prefix}"`), 'the script finds the API under the prefix')
    assert.ok(html.includes(`<form method="post" action="${prefix}/plugins/alpha/disable"`), 'the controls post to the admin under its prefix')

    // No external assets: no absolute or protocol-relative URL in src/href/url()/@import.
    assert.doesNotMatch(html, /\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i, 'no external src/href')
    assert.doesNotMatch(html, /url\(\s*["']?\s*(?:https?:)?\/\//i, 'no external url()')
    assert.doesNotMatch(html, /@import/i)
    assert.doesNotMatch(html, /cdn|unpkg|jsdelivr|googleapis/i)
    assert.doesNotMatch(html, /<script[^>]*\ssrc=/i, 'scripts are inline')
    assert.doesNotMatch(html, /<link[^>]*rel=["']?stylesheet/i, 'styles are inline')

    // Inline scripts and styles must be allowed by the CSP (nonce), or the page would not work.
    const nonces = [...html.matchAll(/<(?:script|style)\b[^>]*\bnonce="([^"]+)"/g)].map((match) => match[1])
    const tags = [...html.matchAll(/<(?:script|style)\b/g)].length
    assert.doesNotMatch(csp, /'unsafe-inline'/)
    assert.equal(nonces.length, tags, 'every inline script/style carries the nonce')
    for (const nonce of nonces) assert.ok(csp.includes(`'nonce-${nonce}'`), `the CSP allows nonce ${nonce}`)
    const again = await app.inject({ url: `${prefix}/`, headers: secret })
    assert.notEqual(again.headers['content-security-policy'], csp, 'a fresh nonce per response')
    await app.close()
  }
})

test('admin: plugins\' errhandler never answers the admin\'s errors', async () => {
  const trap = pluginSource({ name: 'trap', version: '1.0.0', author: 'Eve' }, `
    const handler = (error, request, reply) => reply.code(418).send({ trapped: true })
    return { errhandler: [
      { error: Error, handler },
      { error: 400, handler }, { error: 401, handler }, { error: 404, handler }, { error: 409, handler },
      { error: 415, handler }, { error: 500, handler }, { error: 503, handler }
    ] }`)
  const { app, store } = await adminApp(allowIfHeader, { extraPlugins: { 'plugins/trap/index.mjs': trap } })
  // The trap does answer the app's own errors.
  assert.equal((await app.inject('/no-such-page')).statusCode, 418)

  const checks: Array<[string, Promise<LightMyRequestResponse>, number]> = [
    ['401', app.inject('/pluginkit/api/plugins'), 401],
    ['404', post(app, '/pluginkit/api/plugins/nope/disable'), 404],
    ['409', post(app, '/pluginkit/api/plugins/alpha/disable'), 409],
    ['415', post(app, '/pluginkit/api/plugins/alpha/disable', '{}', { ...secret, 'content-type': 'text/plain' }), 415],
    ['400', post(app, '/pluginkit/api/plugins/alpha/disable', '{'), 400]
  ]
  for (const [what, pending, status] of checks) {
    const response = await pending
    assert.equal(response.statusCode, status, `${what}: ${response.body}`)
    assert.doesNotMatch(response.body, /trapped/, `${what} answered by a plugin's errhandler`)
  }
  store.failing = true
  const unavailable = await post(app, '/pluginkit/api/plugins/beta/disable')
  assert.equal(unavailable.statusCode, 503)
  assert.doesNotMatch(unavailable.body, /trapped/)
})

test('admin: an authorize that throws is not answered by a plugin errhandler either', async () => {
  const trap = pluginSource({ name: 'trap', version: '1.0.0', author: 'Eve' },
    'return { errhandler: [{ error: Error, handler: (error, request, reply) => reply.code(200).send({ trapped: true }) }] }')
  const { app, store } = await adminApp(() => { throw new Error('auth backend down') }, { extraPlugins: { 'plugins/trap/index.mjs': trap } })
  for (const route of adminRoutes('/pluginkit')) {
    const response = await app.inject(route)
    assert.ok(response.statusCode >= 400, `${route.method} ${route.url} answered ${response.statusCode}`)
    assert.doesNotMatch(response.body, /trapped/)
  }
  assert.deepEqual(store.saves, [])
})

test('admin option: authorize is required and must be a function; the prefix must be valid', async () => {
  const base = await makeTree({ 'plugins/alpha/index.mjs': alpha })
  const invalid: Array<[unknown, string]> = [
    [{}, 'authorize'],
    [{ prefix: '/pluginkit' }, 'authorize'],
    [{ authorize: 'yes' }, 'authorize'],
    [{ authorize: true }, 'authorize'],
    [{ authorize: () => true, prefix: 'pluginkit' }, 'prefix'],
    [{ authorize: () => true, prefix: '/pluginkit/' }, 'prefix'],
    [{ authorize: () => true, prefix: '/plugin kit' }, 'prefix']
  ]
  for (const [admin, field] of invalid) {
    const app = buildApp(base, { admin }, { until: 'none' })
    await assert.rejects(async () => { await app.ready() }, (error: unknown) => {
      assert.ok(error instanceof PluginKitError, `expected a PluginKitError for ${JSON.stringify(admin)}, got ${String(error)}`)
      assert.equal(error.code, 'PLUGINKIT_ERR_INVALID_OPTION')
      assert.match(error.message, /admin/, `the message names the admin option: ${error.message}`)
      assert.ok(error.message.includes(field), `the message names ${field}: ${error.message}`)
      return true
    }, JSON.stringify(admin))
    await app.close()
  }
})

test('without the admin option there are no admin routes', async () => {
  const base = await makeTree({ 'plugins/alpha/index.mjs': alpha })
  const app = await buildApp(base)
  await app.ready()
  assert.equal((await app.inject('/pluginkit/api/plugins')).statusCode, 404)
  assert.equal((await app.inject('/pluginkit/')).statusCode, 404)
})
