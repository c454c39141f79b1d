// SPEC section 5 `decorate`: app-wide Fastify decorators (instance, request, reply) added by
// plugins to the host's root instance, seen by host routes and every plugin; clashes fail boot
// naming the plugin and the decorator; values that every request would share are refused.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fastifyCookie from '@fastify/cookie'
import type { FastifyInstance } from 'fastify'
import { buildApp, makeTree, pluginSource, type Tree } from './helpers.ts'
import { assertKitError, bootError, names, readyError } from './helpers-loading.ts'

type Loose = Record<string, unknown>

/**
 * `auth` decorates the instance, requests and replies, and fills `request.user` from the
 * `x-token` header in its before_request hook; `comments` (a dependent) uses them in its blueprint.
 */
const authBody = `
    const users = { s3cret: 'ada' }
    return {
      decorate: {
        instance: { authRealm: 'demo', authConfig: { header: 'x-token' }, userFor (token) { return users[token] ?? null } },
        request: { user: null, isAdmin () { return this.user === 'ada' }, flag: 'initial' },
        reply: { sendUser () { return this.send({ user: this.request.user, admin: this.request.isAdmin() }) } }
      },
      hep: { before_request (request) { request.user = users[request.headers['x-token']] ?? null } }
    }`
const authSource = pluginSource({ name: 'auth' }, authBody)

const commentsSource = pluginSource({ name: 'comments', dependencies: ['auth'] }, `
    return {
      bep: {
        prefix: '/comments',
        blueprint: async (app) => {
          app.get('/', async (request) => ({ user: request.user, admin: request.isAdmin(), realm: app.authRealm }))
          app.get('/me', (request, reply) => reply.sendUser())
        }
      }
    }`)

const pair: Tree = { 'plugins/auth/index.mjs': authSource, 'plugins/comments/index.mjs': commentsSource }

/** A host route reading what `auth` decorated. */
function hostRoute (instance: FastifyInstance, url: string): void {
  instance.get(url, async (request) => ({
    user: (request as unknown as Loose).user,
    flag: String((request as unknown as Loose).flag),
    realm: (instance as unknown as Loose).authRealm,
    lookup: ((instance as unknown as Loose).userFor as (token: string) => string | null)('s3cret')
  }))
}

async function pairApp (tree: Tree = pair, options: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app = await buildApp(await makeTree(tree), options, {
    // A host plugin registered before the kit: its context exists before the decorators do.
    setup: (instance) => { instance.register(async (early) => hostRoute(early, '/early')) }
  })
  hostRoute(app, '/host')
  app.register(async (late) => hostRoute(late, '/late'))
  await app.ready()
  return app
}

const ada = { 'x-token': 's3cret' }

test('a plugin\'s decorators reach host routes (in contexts created before and after the kit; initial values only after) and every plugin', async () => {
  const app = await pairApp()
  for (const url of ['/host', '/early', '/late']) {
    // Fastify copies per-request initial values into a context when it creates it: one created before the kit has none.
    const flag = url === '/early' ? 'undefined' : 'initial'
    assert.deepEqual((await app.inject({ url, headers: ada })).json(), { user: 'ada', flag, realm: 'demo', lookup: 'ada' }, url)
    assert.deepEqual((await app.inject(url)).json(), { user: null, flag, realm: 'demo', lookup: 'ada' }, `${url}: no value left from the last request`)
  }
  assert.deepEqual((await app.inject({ url: '/comments/', headers: ada })).json(), { user: 'ada', admin: true, realm: 'demo' })
  assert.deepEqual((await app.inject('/comments/')).json(), { user: null, admin: false, realm: 'demo' })
  assert.deepEqual((await app.inject({ url: '/comments/me', headers: ada })).json(), { user: 'ada', admin: true })

  assert.ok(app.hasDecorator('authRealm'))
  assert.ok(app.hasRequestDecorator('user'))
  assert.ok(app.hasReplyDecorator('sendUser'))
  // An instance value may be an object: there is one instance.
  assert.deepEqual((app as unknown as Loose).authConfig, { header: 'x-token' })
})

test('a disabled plugin\'s decorators stay (Fastify cannot remove them); its hook that fills them is gated', async () => {
  const app = await pairApp()
  await app.pluginKit.disable('auth', { cascade: true })
  assert.deepEqual((await app.inject({ url: '/host', headers: ada })).json(), { user: null, flag: 'initial', realm: 'demo', lookup: 'ada' })
  assert.ok(app.hasRequestDecorator('user'))
  assert.equal((await app.inject({ url: '/comments/', headers: ada })).statusCode, 404)

  await app.pluginKit.enable('comments', { cascade: true })
  assert.deepEqual((await app.inject({ url: '/host', headers: ada })).json(), { user: 'ada', flag: 'initial', realm: 'demo', lookup: 'ada' })

  // Disabled at boot: the decorators are there from the start, so enabling it needs no restart.
  const disabled = await pairApp({ ...pair, 'plugins/auth/index.mjs': pluginSource({ name: 'auth', state: 'disabled' }, authBody) })
  assert.equal(disabled.pluginKit.get('auth').state, 'disabled')
  assert.deepEqual((await disabled.inject({ url: '/host', headers: ada })).json(), { user: null, flag: 'initial', realm: 'demo', lookup: 'ada' })
  await disabled.pluginKit.enable('auth')
  assert.deepEqual((await disabled.inject({ url: '/host', headers: ada })).json(), { user: 'ada', flag: 'initial', realm: 'demo', lookup: 'ada' })
})

test('a request or reply decorator whose initial value is an object or array is refused; a getter is computed per request', async () => {
  const refused: Array<[string, string]> = [
    ['request: { user: {} }', 'decorate.request.user: is an object, which every request would share'],
    ['request: { roles: [] }', 'decorate.request.roles: is an array'],
    ['reply: { bag: { items: [] } }', 'decorate.reply.bag: is an object'],
    ['request: { user: { setter () {} } }', 'decorate.request.user: is an object']
  ]
  for (const [decorators, mention] of refused) {
    const base = await makeTree({ 'plugins/p/index.mjs': pluginSource({ name: 'p' }, `return { decorate: { ${decorators} } }`) })
    const error = await bootError(base, {}, 'PLUGINKIT_ERR_EXTENSION_POINT', 'plugin "p"', mention, 'before_request')
    assert.equal(error.plugin, 'p')
  }

  const base = await makeTree({
    'plugins/p/index.mjs': pluginSource({ name: 'p' }, `
      return {
        decorate: { request: { trail: { getter () { return { url: this.url } } } } },
        vep: { method: 'GET', url: '/trail/:n', handler: async (request) => { request.trail.seen = true; return request.trail } }
      }`)
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual((await app.inject('/trail/1')).json(), { url: '/trail/1' })
  assert.deepEqual((await app.inject('/trail/2')).json(), { url: '/trail/2' })
})

test('a decorator that @fastify/cookie added first fails boot naming the plugin and the decorator', async () => {
  const base = await makeTree({
    'plugins/jar/index.mjs': pluginSource({ name: 'jar' }, `
      return {
        decorate: { request: { sessionId: null, cookies: null } },
        hep: { before_request (request) { request.sessionId = 'from-jar' } }
      }`)
  })
  const cookieFirst = { setup: (instance: FastifyInstance) => { instance.register(fastifyCookie) } }
  const error = assertKitError(await readyError(buildApp(base, {}, { ...cookieFirst, until: 'none' })),
    'PLUGINKIT_ERR_EXTENSION_POINT', 'plugin "jar"', 'decorate.request.cookies', 'request.cookies already exists', 'registered before the kit')
  assert.equal(error.field, 'decorate.request.cookies')

  // strict: false: the plugin is skipped and adds none of its decorators; @fastify/cookie works.
  const app = await buildApp(base, { strict: false }, { ...cookieFirst, until: 'register' })
  app.get('/cookies', async (request) => ({ cookies: request.cookies, session: (request as unknown as Loose).sessionId ?? 'none' }))
  await app.ready()
  assert.deepEqual(names(app), [])
  assert.deepEqual(app.pluginKit.failures.map((failure) => [failure.plugin, failure.error.code]), [['jar', 'PLUGINKIT_ERR_EXTENSION_POINT']])
  assert.equal(app.hasRequestDecorator('sessionId'), false)
  assert.deepEqual((await app.inject({ url: '/cookies', headers: { cookie: 'a=1' } })).json(), { cookies: { a: '1' }, session: 'none' })

  // Registered after the kit, @fastify/cookie is the one refused, by Fastify itself.
  const cookieLast = buildApp(base, {}, { until: 'none' })
  cookieLast.register(fastifyCookie)
  assert.equal((await readyError(cookieLast) as { code?: string }).code, 'FST_ERR_DEC_ALREADY_PRESENT')
})

test('two plugins decorating the same name: the second fails boot naming both; with strict: false it is skipped with its dependents', async () => {
  const tree: Tree = {
    ...pair,
    'plugins/sso/index.mjs': pluginSource({ name: 'sso' }, "return { decorate: { instance: { ssoRealm: 'sso' }, request: { user: 'guest' } } }"),
    'plugins/sso-admin/index.mjs': pluginSource({ name: 'sso-admin', dependencies: ['sso'] }, "return { decorate: { reply: { ssoAdmin: 'yes' } } }")
  }
  const base = await makeTree(tree)
  await bootError(base, {}, 'PLUGINKIT_ERR_EXTENSION_POINT', 'plugin "sso"', 'decorate.request.user', 'already decorated by plugin "auth"')

  const app = await buildApp(base, { strict: false }, { until: 'ready' })
  assert.deepEqual(names(app), ['auth', 'comments'])
  assert.deepEqual(app.pluginKit.failures.map((failure) => [failure.plugin, failure.error.code]), [
    ['sso', 'PLUGINKIT_ERR_EXTENSION_POINT'],
    ['sso-admin', 'PLUGINKIT_ERR_DEPENDENCY']
  ])
  assert.equal(app.hasDecorator('ssoRealm'), false, 'none of the skipped plugin\'s decorators is added')
  assert.equal(app.hasReplyDecorator('ssoAdmin'), false, 'nor its dependents\'')
  assert.deepEqual((await app.inject({ url: '/comments/', headers: ada })).json(), { user: 'ada', admin: true, realm: 'demo' })
})

test('names Fastify or the kit already use are refused: instance.get, instance.pluginKit, request.headers, request.body, reply.send, reply.view', async () => {
  const cases: Array<[string, string, string]> = [
    ['instance', 'get', 'instance.get already exists'],
    ['instance', 'pluginKit', 'instance.pluginKit already exists'],
    ['request', 'headers', 'request.headers already exists'],
    ['request', 'body', 'request.body already exists'],
    ['reply', 'send', 'reply.send already exists'],
    ['reply', 'view', 'reply.view is reserved by the kit'],
    ['reply', 'locals', 'reply.locals is reserved by the kit']
  ]
  for (const [kind, name, mention] of cases) {
    const base = await makeTree({ 'plugins/p/index.mjs': pluginSource({ name: 'p' }, `return { decorate: { ${kind}: { ${name}: null } } }`) })
    await bootError(base, {}, 'PLUGINKIT_ERR_EXTENSION_POINT', 'plugin "p"', `decorate.${kind}.${name}`, mention)
  }
})

test('decorate must be { instance?, request?, reply? } of objects', async () => {
  const cases: Array<[string, string]> = [
    ["'user'", 'decorate: must be an object { instance?, request?, reply? }'],
    ['{ headers: {} }', 'decorate.headers: is not a kind of decorator'],
    ['{ request: [] }', 'decorate.request: must be an object'],
    ["{ request: { '': null } }", 'decorate.request: has an empty decorator name']
  ]
  for (const [value, mention] of cases) {
    const base = await makeTree({ 'plugins/p/index.mjs': pluginSource({ name: 'p' }, `return { decorate: ${value} }`) })
    await bootError(base, {}, 'PLUGINKIT_ERR_EXTENSION_POINT', 'plugin "p"', mention)
  }
  const empty = await makeTree({ 'plugins/p/index.mjs': pluginSource({ name: 'p' }, 'return { decorate: {} }') })
  const app = await buildApp(empty, {}, { until: 'ready' })
  assert.deepEqual(app.pluginKit.get('p').extensionPoints, ['decorate'])
})
