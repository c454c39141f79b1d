// SPEC section 5 `provide` and section 7 `services` / `service(name)`: plugins offer services
// to their dependents (ctx.services, read in their own register) and to the host
// (app.pluginKit.services), gated by the provider's state.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { FastifyInstance } from 'fastify'
import { buildExampleApp } from '../example-app/app.ts'
import type { AuthService } from '../example-app/plugins/auth/index.ts'
import { buildApp, makeTree, pluginSource, routeBody, type Tree } from './helpers.ts'
import { assertKitError, bootError, kitErrorWith, names } from './helpers-loading.ts'
import { probe } from './helpers-runtime.ts'

// Plugins here log through the probe (`__log`).
probe()

/** The host's lookup by any name (the typed `service` only takes declared names). */
function service (app: FastifyInstance, name: string): unknown {
  return (app.pluginKit.service as (name: string) => unknown)(name)
}

/** `app.pluginKit.services` by any name. */
function servicesOf (app: FastifyInstance): Record<string, unknown> {
  return app.pluginKit.services as Record<string, unknown>
}

/** `auth` provides a service; `comments` (before it alphabetically) depends on it, reads it in register and uses it in a route. */
const authSource = pluginSource({ name: 'auth' }, `
    const users = { s3cret: 'ada' }
    __log('auth registered')
    return { provide: { auth: { userFor: (token) => users[token] ?? null }, clock: () => 42 } }`)

const commentsSource = pluginSource({ name: 'comments', dependencies: ['auth'] }, `
    const auth = ctx.services.auth
    __log('comments registered with ' + typeof auth.userFor)
    return {
      bep: {
        prefix: '/comments',
        blueprint: async (app) => {
          app.get('/', async (request) => ({ user: auth.userFor(request.headers['x-token']), keys: Object.keys(ctx.services) }))
        }
      }
    }`)

const pair: Tree = {
  'plugins/auth/index.mjs': authSource,
  'plugins/comments/index.mjs': commentsSource
}

async function pairApp (tree: Tree = pair, options: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app = await buildApp(await makeTree(tree), options)
  app.get('/whoami', async (request) => ({
    user: (service(app, 'auth') as { userFor (token: unknown): string | null }).userFor(request.headers['x-token'])
  }))
  await app.ready()
  return app
}

test('a dependent reads its provider\'s service in register; the host reads it as services.<name> and service(name)', async () => {
  const calls = probe()
  // `comments` sorts before `auth` by name: the dependency order registers auth first.
  const app = await pairApp()
  assert.deepEqual(names(app), ['auth', 'comments'])
  assert.deepEqual(calls.calls, ['auth registered', 'comments registered with function'])

  const comments = await app.inject({ url: '/comments/', headers: { 'x-token': 's3cret' } })
  assert.deepEqual(comments.json(), { user: 'ada', keys: ['auth', 'clock'] })
  assert.deepEqual((await app.inject('/comments/')).json(), { user: null, keys: ['auth', 'clock'] })
  assert.deepEqual((await app.inject({ url: '/whoami', headers: { 'x-token': 's3cret' } })).json(), { user: 'ada' })

  const services = servicesOf(app)
  assert.equal(services.auth, service(app, 'auth'))
  assert.equal((service(app, 'clock') as () => number)(), 42)
  assert.deepEqual(Object.keys(services), ['auth', 'clock'])
  assert.ok('auth' in services)
  assert.ok(!('nope' in services))
  assert.equal(JSON.stringify(services), '{"auth":{}}', 'enumerable, functions left out as JSON does')
  assert.equal(Reflect.get(services, 'then'), undefined, 'not a thenable')
  assert.throws(() => { services.auth = 'replaced' }, TypeError)
  assert.equal(service(app, 'auth'), services.auth)
})

test('the host\'s lookup of a service nobody provides throws PLUGINKIT_ERR_SERVICE naming the service', async () => {
  const app = await pairApp()
  assert.throws(() => service(app, 'billing'), kitErrorWith('PLUGINKIT_ERR_SERVICE', 'services.billing', 'no loaded plugin provides service "billing"'))
  assert.throws(() => servicesOf(app).billing, kitErrorWith('PLUGINKIT_ERR_SERVICE', '"billing"'))
  // Plugins see the host's view too, through ctx.kit.
  const base = await makeTree({
    ...pair,
    'plugins/reporter/index.mjs': pluginSource({ name: 'reporter' }, `
      return { vep: { method: 'GET', url: '/report', handler: async () => ({ clock: ctx.kit.service('clock')() }) } }`)
  })
  const withReporter = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual((await withReporter.inject('/report')).json(), { clock: 42 })
})

test('a service provided twice fails boot with PLUGINKIT_ERR_SERVICE naming both plugins', async () => {
  const base = await makeTree({
    'plugins/auth/index.mjs': authSource,
    'plugins/sso/index.mjs': pluginSource({ name: 'sso' }, 'return { provide: { auth: { userFor: () => \'sso\' } } }')
  })
  await bootError(base, {}, 'PLUGINKIT_ERR_SERVICE', 'plugin "sso"', 'provide.auth', 'already provided by plugin "auth"')

  // strict: false: the second provider is skipped; the first one serves.
  const app = await buildApp(base, { strict: false }, { until: 'ready' })
  assert.deepEqual(names(app), ['auth'])
  assert.deepEqual(app.pluginKit.failures.map((failure) => [failure.plugin, failure.error.code]), [['sso', 'PLUGINKIT_ERR_SERVICE']])
  assert.equal((service(app, 'auth') as { userFor (token: string): string | null }).userFor('s3cret'), 'ada')
})

test('reading a service without depending on its provider throws PLUGINKIT_ERR_SERVICE naming both plugins and the service', async () => {
  // `zz-reader` registers after `auth` (alphabetical order) but does not list it.
  const readsInRegister = await makeTree({
    'plugins/auth/index.mjs': authSource,
    'plugins/zz-reader/index.mjs': pluginSource({ name: 'zz-reader' }, 'ctx.services.auth; return {}')
  })
  const error = await bootError(readsInRegister, {}, 'PLUGINKIT_ERR_SERVICE',
    'plugin "zz-reader"', 'services.auth', 'provided by plugin "auth"', 'not in its dependencies')
  assert.equal(error.plugin, 'zz-reader')
  assert.equal(error.field, 'services.auth')

  // A provider that registers later is unknown yet: the message says to list it in dependencies.
  const beforeProvider = await makeTree({
    'plugins/a-reader/index.mjs': pluginSource({ name: 'a-reader', dependencies: ['comments'] }, 'ctx.services.auth; return {}'),
    'plugins/comments/index.mjs': pluginSource({ name: 'comments' }),
    'plugins/zz-auth/index.mjs': pluginSource({ name: 'zz-auth' }, 'return { provide: { auth: {} } }')
  })
  await bootError(beforeProvider, {}, 'PLUGINKIT_ERR_SERVICE', 'plugin "a-reader"', 'services.auth', 'its dependencies: "comments"', 'list the provider in dependencies')

  // Read later, in a route: the request fails with that error, the app keeps running.
  const readsLater = await makeTree({
    'plugins/auth/index.mjs': authSource,
    'plugins/zz-reader/index.mjs': pluginSource({ name: 'zz-reader' }, `
      return { vep: { method: 'GET', url: '/read', handler: async () => typeof ctx.services.auth } }`)
  })
  const app = await buildApp(readsLater, {}, { until: 'ready' })
  const response = await app.inject('/read')
  assert.equal(response.statusCode, 500)
  assert.equal(response.json().code, 'PLUGINKIT_ERR_SERVICE')
  assert.match(response.json().message, /plugin "zz-reader": services\.auth: service "auth" is provided by plugin "auth"/)
  assert.equal((await app.inject('/')).body, 'hello world')
})

test('a plugin reads only its dependencies\' services: other keys are absent from ctx.services, and it cannot write them', async () => {
  const base = await makeTree({
    ...pair,
    'plugins/billing/index.mjs': pluginSource({ name: 'billing' }, 'return { provide: { billing: { charge: () => 1 } } }'),
    'plugins/zz-inspect/index.mjs': pluginSource({ name: 'zz-inspect', dependencies: ['billing'] }, `
      let written = 'no'
      try { ctx.services.billing = 1 } catch (error) { written = error.constructor.name }
      return { vep: { method: 'GET', url: '/inspect', handler: async () => ({
        keys: Object.keys(ctx.services), hasAuth: 'auth' in ctx.services, hasBilling: 'billing' in ctx.services, written
      }) } }`)
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual((await app.inject('/inspect')).json(), { keys: ['billing'], hasAuth: false, hasBilling: true, written: 'TypeError' })
})

test('provide must be an object of named values', async () => {
  const cases: Array<[string, string]> = [
    ["return { provide: 'auth' }", 'provide: must be an object'],
    ['return { provide: [1] }', 'provide: must be an object'],
    ["return { provide: { 'bad name': 1 } }", 'provide.bad name: is not a valid service name'],
    ['return { provide: { auth: undefined } }', 'provide.auth: is undefined']
  ]
  for (const [body, mention] of cases) {
    const base = await makeTree({ 'plugins/p/index.mjs': pluginSource({ name: 'p' }, body) })
    await bootError(base, {}, 'PLUGINKIT_ERR_EXTENSION_POINT', 'plugin "p"', mention)
  }
  // Any value but undefined: null, functions, class instances.
  const base = await makeTree({ 'plugins/p/index.mjs': pluginSource({ name: 'p' }, 'return { provide: { none: null, fn: () => 1, map: new Map() } }') })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.equal(servicesOf(app).none, null)
  assert.ok(service(app, 'map') instanceof Map)
  assert.deepEqual(app.pluginKit.get('p').extensionPoints, ['provide'])
})

test('live: a provider under an enabled consumer is not disabled without cascade; disabled, the host\'s lookup throws; enabled, it is back', async () => {
  const app = await pairApp()
  await assert.rejects(app.pluginKit.disable('auth'), kitErrorWith('PLUGINKIT_ERR_DEPENDENCY', '"comments"'))
  assert.equal(app.pluginKit.get('auth').state, 'enabled')
  assert.equal(typeof service(app, 'auth'), 'object')

  await app.pluginKit.disable('auth', { cascade: true })
  assert.deepEqual(app.pluginKit.plugins.map((plugin) => plugin.state), ['disabled', 'disabled'])
  assert.throws(() => service(app, 'auth'),
    kitErrorWith('PLUGINKIT_ERR_SERVICE', 'plugin "auth"', 'provide.auth', 'service "auth" is unavailable while plugin "auth" is disabled'))
  assert.deepEqual(Object.keys(app.pluginKit.services), [])
  assert.ok(!('auth' in app.pluginKit.services))
  // The host route that uses it answers the error; the consumer's route is gone with it.
  const whoami = await app.inject('/whoami')
  assert.equal(whoami.statusCode, 500)
  assert.equal(whoami.json().code, 'PLUGINKIT_ERR_SERVICE')
  assert.equal((await app.inject('/comments/')).statusCode, 404)

  // Enabling the consumer needs its provider: cascade enables both.
  await assert.rejects(app.pluginKit.enable('comments'), kitErrorWith('PLUGINKIT_ERR_DEPENDENCY', '"auth"'))
  await app.pluginKit.enable('comments', { cascade: true })
  assert.deepEqual((await app.inject({ url: '/whoami', headers: { 'x-token': 's3cret' } })).json(), { user: 'ada' })
  assert.deepEqual((await app.inject({ url: '/comments/', headers: { 'x-token': 's3cret' } })).json(), { user: 'ada', keys: ['auth', 'clock'] })

  // Disabling only the consumer leaves the provider's service to the host.
  await app.pluginKit.disable('comments')
  assert.equal(typeof service(app, 'auth'), 'object')
})

test('a provider disabled at boot: its dependents still read its service in register; the host\'s lookup throws until it is enabled', async () => {
  const tree: Tree = {
    'plugins/auth/index.mjs': pluginSource({ name: 'auth', state: 'disabled' }, 'return { provide: { auth: { name: \'auth service\' } } }'),
    'plugins/comments/index.mjs': pluginSource({ name: 'comments', state: 'disabled', dependencies: ['auth'] }, `
      const auth = ctx.services.auth
      return { vep: { method: 'GET', url: '/c', handler: async () => auth.name } }`)
  }
  const app = await buildApp(await makeTree(tree), {}, { until: 'ready' })
  assert.throws(() => service(app, 'auth'), kitErrorWith('PLUGINKIT_ERR_SERVICE', 'disabled'))
  await app.pluginKit.enable('comments', { cascade: true })
  assert.equal((await app.inject('/c')).body, 'auth service')
  assert.deepEqual(service(app, 'auth'), { name: 'auth service' })
})

test('strict: false: a consumer whose provider failed is skipped with PLUGINKIT_ERR_DEPENDENCY, its register never runs', async () => {
  const calls = probe()
  const base = await makeTree({
    'plugins/auth/index.mjs': pluginSource({ name: 'auth' }, "throw new Error('auth backend down')"),
    'plugins/comments/index.mjs': commentsSource,
    'plugins/other/index.mjs': pluginSource({ name: 'other' }, routeBody('other'))
  })
  await bootError(base, {}, 'PLUGINKIT_ERR_REGISTER', 'plugin "auth"', 'auth backend down')

  const app = await buildApp(base, { strict: false }, { until: 'ready' })
  assert.deepEqual(names(app), ['other'])
  assert.deepEqual(app.pluginKit.failures.map((failure) => [failure.plugin, failure.error.code]), [
    ['auth', 'PLUGINKIT_ERR_REGISTER'],
    ['comments', 'PLUGINKIT_ERR_DEPENDENCY']
  ])
  assertKitError(app.pluginKit.failures[1]?.error, 'PLUGINKIT_ERR_DEPENDENCY', 'plugin "comments"', 'requires plugin "auth", which failed to load')
  assert.ok(!calls.calls.some((entry) => entry.startsWith('comments')), 'comments never registered')
  assert.throws(() => service(app, 'auth'), kitErrorWith('PLUGINKIT_ERR_SERVICE', 'no loaded plugin provides service "auth"'))
  assert.deepEqual((await app.inject('/other')).json(), { plugin: 'other' })
  assert.equal((await app.inject('/comments/')).statusCode, 404)
})

test('strict: false: a provider dropped after it registered takes its services and its consumers with it', async () => {
  // `auth` registers and provides, then its blueprint nests into a plugin that does not exist (checked once all registered).
  const base = await makeTree({
    'plugins/auth/index.mjs': pluginSource({ name: 'auth' }, `
      return { provide: { auth: { userFor: () => 'ada' } }, bep: { parent: 'ghost', blueprint: async () => {} } }`),
    'plugins/comments/index.mjs': commentsSource
  })
  const app = await buildApp(base, { strict: false }, { until: 'ready' })
  assert.deepEqual(names(app), [])
  assert.deepEqual(app.pluginKit.failures.map((failure) => [failure.plugin, failure.error.code]), [
    ['auth', 'PLUGINKIT_ERR_EXTENSION_POINT'],
    ['comments', 'PLUGINKIT_ERR_DEPENDENCY']
  ])
  assert.throws(() => service(app, 'auth'), kitErrorWith('PLUGINKIT_ERR_SERVICE', 'no loaded plugin provides service "auth"'))
  assert.deepEqual(Object.keys(app.pluginKit.services), [])
})

test('the example app: auth provides the auth service and request.user; comments depends on it and uses both', async (t) => {
  const app = await buildExampleApp({ store: 'memory' })
  t.after(() => app.close())
  app.get('/example-whoami', async (request) => ({ user: request.user, accounts: (service(app, 'auth') as AuthService).accounts().length }))
  await app.ready()
  assert.deepEqual(app.pluginKit.get('comments').dependencies, { auth: '^1.0.0' })

  const signedOut = await app.inject('/comments/')
  assert.equal(signedOut.statusCode, 200)
  assert.match(signedOut.body, /Signed out\. Sign in as/)
  assert.match(signedOut.body, /<a href="\/auth\/sign-in\/ada-token">ada<\/a>/, 'accounts listed through ctx.services.auth')
  assert.equal((await app.inject({ method: 'POST', url: '/comments/', payload: { text: 'hi' } })).statusCode, 401)

  const signIn = await app.inject('/auth/sign-in/ada-token')
  assert.equal(signIn.statusCode, 302)
  const cookie = String(signIn.headers['set-cookie']).split(';')[0] as string
  assert.equal(cookie, 'demo_token=ada-token')
  const posted = await app.inject({
    method: 'POST', url: '/comments/', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'text=Hello+%3Cb%3Ethere%3C%2Fb%3E'
  })
  assert.equal(posted.statusCode, 303)
  const page = await app.inject({ url: '/comments/', headers: { cookie } })
  assert.match(page.body, /Signed in as <strong>ada<\/strong> \(admin\)/)
  assert.ok(page.body.includes('<li><strong>ada</strong>: Hello &lt;b&gt;there&lt;/b&gt;</li>'), 'the comment, escaped')
  assert.deepEqual((await app.inject({ url: '/auth/me', headers: { authorization: 'Bearer grace-token' } })).json(), { user: { name: 'grace', admin: false } })
  assert.deepEqual((await app.inject({ url: '/example-whoami', headers: { cookie } })).json(), { user: { name: 'ada', admin: true }, accounts: 2 })

  // Live: auth cannot go while comments uses it; with cascade both go, request.user stays null, the host's lookup throws.
  await assert.rejects(app.pluginKit.disable('auth'), kitErrorWith('PLUGINKIT_ERR_DEPENDENCY', '"comments"'))
  await app.pluginKit.disable('auth', { cascade: true })
  assert.equal((await app.inject({ url: '/comments/', headers: { cookie } })).statusCode, 404)
  const whoami = await app.inject({ url: '/example-whoami', headers: { cookie } })
  assert.equal(whoami.statusCode, 500)
  assert.equal(whoami.json().code, 'PLUGINKIT_ERR_SERVICE')
  await app.pluginKit.enable('comments', { cascade: true })
  assert.match((await app.inject({ url: '/comments/', headers: { cookie } })).body, /Signed in as <strong>ada/)
})

test('fastify-pluginkit check lists each plugin\'s services and decorators, and reports service and decorator errors', async () => {
  const root = join(import.meta.dirname, '..')
  const base = await makeTree({
    'node_modules/fastify-pluginkit': { symlink: root },
    'node_modules/fastify': { symlink: join(root, 'node_modules', 'fastify') },
    'plugins/auth/index.mjs': pluginSource({ name: 'auth' }, `
      return { provide: { auth: {}, clock: () => 1 }, decorate: { instance: { realm: 'x' }, request: { user: null }, reply: { sendUser () {} } } }`),
    'plugins/comments/index.mjs': pluginSource({ name: 'comments', dependencies: ['auth'] }, 'ctx.services.auth; return {}'),
    'plugins/sso/index.mjs': pluginSource({ name: 'sso' }, 'return { provide: { auth: {} } }'),
    'plugins/stray/index.mjs': pluginSource({ name: 'stray' }, 'ctx.services.clock; return {}'),
    'plugins/twin/index.mjs': pluginSource({ name: 'twin' }, 'return { decorate: { request: { user: null } } }')
  })
  const run = (args: string[]) => promisify(execFile)(process.execPath, [join(root, 'dist', 'cli.js'), 'check', ...args], { cwd: base, env: { ...process.env, NO_COLOR: '1' } })
    .then(({ stdout }) => stdout, (error: { stdout: string, code: number }) => { assert.equal(error.code, 1); return error.stdout })

  interface Row {
    name: string
    state: string
    services: string[]
    decorators: string[]
    problems: Array<{ code: string, message: string }>
  }
  const report = JSON.parse(await run(['--json'])) as { plugins: Row[] }
  const rows = Object.fromEntries(report.plugins.map((row) => [row.name, row]))
  assert.deepEqual([rows.auth?.services, rows.auth?.decorators], [['auth', 'clock'], ['instance.realm', 'request.user', 'reply.sendUser']])
  assert.deepEqual([rows.comments?.state, rows.comments?.services, rows.comments?.decorators], ['enabled', [], []])
  assert.deepEqual(rows.sso?.problems.map((problem) => problem.code), ['PLUGINKIT_ERR_SERVICE'])
  assert.match(rows.sso?.problems[0]?.message ?? '', /already provided by plugin "auth"/)
  assert.deepEqual(rows.stray?.problems.map((problem) => problem.code), ['PLUGINKIT_ERR_SERVICE'])
  assert.match(rows.stray?.problems[0]?.message ?? '', /services\.clock: service "clock" is provided by plugin "auth", which is not in its dependencies/)
  assert.deepEqual(rows.twin?.problems.map((problem) => problem.code), ['PLUGINKIT_ERR_EXTENSION_POINT'])
  assert.match(rows.twin?.problems[0]?.message ?? '', /decorate\.request\.user: request\.user is already decorated by plugin "auth"/)

  const text = await run([])
  assert.match(text, /Services and decorators:\n {2}auth: provides auth, clock; decorates instance\.realm, request\.user, reply\.sendUser\n/)
  assert.match(text, /\nsso +1\.0\.0 +failed .*PLUGINKIT_ERR_SERVICE\n/)
})
