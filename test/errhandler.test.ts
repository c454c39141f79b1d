import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, makeTree, pluginSource } from './helpers.ts'

test('errhandler { 500: handler } answers errors app-wide', async () => {
  const base = await makeTree({
    'plugins/catcher/index.mjs': pluginSource({ name: 'catcher' }, `
      return {
        errhandler: {
          500: (error, request, reply) => { reply.code(500).send({ caughtBy: 'catcher', message: error.message }) },
          418: async (error, request, reply) => { reply.code(418); return { teapot: error.message } }
        },
        vep: { method: 'GET', url: '/plugin-throw', handler: async () => { throw new Error('from plugin route') } }
      }`)
  })
  const app = await buildApp(base)
  app.get('/throw', async () => { throw new Error('plain failure') })
  app.get('/teapot', async () => { throw Object.assign(new Error('short and stout'), { statusCode: 418 }) })
  await app.ready()

  const host = await app.inject('/throw')
  assert.equal(host.statusCode, 500)
  assert.deepEqual(host.json(), { caughtBy: 'catcher', message: 'plain failure' })
  const plugin = await app.inject('/plugin-throw')
  assert.equal(plugin.statusCode, 500)
  assert.deepEqual(plugin.json(), { caughtBy: 'catcher', message: 'from plugin route' })
  const teapot = await app.inject('/teapot')
  assert.equal(teapot.statusCode, 418)
  assert.deepEqual(teapot.json(), { teapot: 'short and stout' })
  assert.equal((await app.inject('/')).body, 'hello world')
})

test('errhandler { 404: handler } answers unknown routes and a disabled plugin\'s routes', async () => {
  const base = await makeTree({
    'plugins/notfound/index.mjs': pluginSource({ name: 'notfound' }, `
      return { errhandler: { 404: (error, request, reply) => {
        reply.code(404).type('text/html').send('<h1>custom 404 for ' + request.url + '</h1>')
      } } }`),
    'plugins/sleeper/index.mjs': pluginSource({ name: 'sleeper', state: 'disabled' }, `
      return {
        bep: { prefix: '/sleeper', blueprint: async (app) => { app.get('/', async () => 'awake') } },
        vep: { method: 'GET', url: '/sleeper-route', handler: async () => 'awake route' }
      }`),
    'plugins/toggled/index.mjs': pluginSource({ name: 'toggled' }, `
      return { bep: { prefix: '/toggled', blueprint: async (app) => { app.get('/', async () => 'on') } } }`)
  })
  const app = await buildApp(base)
  await app.ready()

  for (const url of ['/nowhere', '/sleeper/', '/sleeper-route']) {
    const response = await app.inject(url)
    assert.equal(response.statusCode, 404, url)
    assert.match(String(response.headers['content-type']), /^text\/html/, url)
    assert.equal(response.body, `<h1>custom 404 for ${url}</h1>`)
  }
  assert.equal((await app.inject('/toggled/')).body, 'on')
  await app.pluginKit.disable('toggled')
  const toggled = await app.inject('/toggled/')
  assert.equal(toggled.statusCode, 404)
  assert.equal(toggled.body, '<h1>custom 404 for /toggled/</h1>')

  await app.pluginKit.enable('sleeper')
  assert.equal((await app.inject('/sleeper/')).body, 'awake')
})

interface ErrorClasses {
  DomainError: new (message: string) => Error
  NotAllowedError: new (message: string) => Error
}

test('errhandler array form: error classes (instanceof) are tried before status handlers; first in load order wins; gated', async () => {
  // The classes live on globalThis so that plugins and host routes share them.
  const shared = `
    globalThis.__pkErrors ??= (() => {
      class DomainError extends Error { constructor (message) { super(message); this.name = 'DomainError' } }
      class NotAllowedError extends DomainError { constructor (message) { super(message); this.statusCode = 403 } }
      return { DomainError, NotAllowedError }
    })()
    const { DomainError, NotAllowedError } = globalThis.__pkErrors`
  const base = await makeTree({
    // a-status comes first in load order: its status handlers win over b's.
    'plugins/a-status/index.mjs': pluginSource({ name: 'a-status' }, `
      return { errhandler: {
        500: (error, request, reply) => reply.code(500).send({ by: 'a-status', status: 500 }),
        403: (error, request, reply) => reply.code(403).send({ by: 'a-status', status: 403 })
      } }`, { header: shared }),
    'plugins/b-class/index.mjs': pluginSource({ name: 'b-class' }, `
      return {
        errhandler: [
          { error: DomainError, handler: (error, request, reply) => reply.code(422).send({ by: 'b-class', kind: error.name, message: error.message }) },
          { error: 500, handler: (error, request, reply) => reply.code(500).send({ by: 'b-class', status: 500 }) },
          { error: 409, handler: (error, request, reply) => reply.code(409).send({ by: 'b-class', status: 409 }) }
        ],
        vep: { method: 'GET', url: '/plugin-domain', handler: async () => { throw new DomainError('from plugin') } }
      }`, { header: shared }),
    'plugins/c-class/index.mjs': pluginSource({ name: 'c-class' }, `
      return { errhandler: [
        { error: DomainError, handler: (error, request, reply) => reply.code(400).send({ by: 'c-class' }) }
      ] }`, { header: shared })
  })
  const app = await buildApp(base)
  const classes = () => (globalThis as unknown as { __pkErrors: ErrorClasses }).__pkErrors
  app.get('/domain', async () => { throw new (classes().DomainError)('bad domain') })
  app.get('/not-allowed', async () => { throw new (classes().NotAllowedError)('no way') })
  app.get('/plain', async () => { throw new Error('plain') })
  app.get('/conflict', async () => { throw Object.assign(new Error('conflict'), { statusCode: 409 }) })
  await app.ready()

  const domain = await app.inject('/domain')
  assert.equal(domain.statusCode, 422)
  assert.deepEqual(domain.json(), { by: 'b-class', kind: 'DomainError', message: 'bad domain' })
  assert.deepEqual((await app.inject('/plugin-domain')).json(), { by: 'b-class', kind: 'DomainError', message: 'from plugin' })
  // A subclass instance matches the class handler, before a-status's 403 handler.
  const notAllowed = await app.inject('/not-allowed')
  assert.equal(notAllowed.statusCode, 422)
  assert.equal(notAllowed.json().by, 'b-class')
  // Status handlers: a-status is first in load order.
  assert.deepEqual((await app.inject('/plain')).json(), { by: 'a-status', status: 500 })
  const conflict = await app.inject('/conflict')
  assert.equal(conflict.statusCode, 409)
  assert.deepEqual(conflict.json(), { by: 'b-class', status: 409 })

  // Gated: without b-class, c-class's class handler comes first; 409 falls back to Fastify.
  await app.pluginKit.disable('b-class')
  assert.deepEqual((await app.inject('/domain')).json(), { by: 'c-class' })
  assert.deepEqual((await app.inject('/not-allowed')).json(), { by: 'c-class' })
  assert.deepEqual((await app.inject('/plain')).json(), { by: 'a-status', status: 500 })
  const defaultConflict = await app.inject('/conflict')
  assert.equal(defaultConflict.statusCode, 409)
  assert.deepEqual(defaultConflict.json(), { statusCode: 409, error: 'Conflict', message: 'conflict' })

  // Without any class handler, status handlers apply.
  await app.pluginKit.disable('c-class')
  const forbidden = await app.inject('/not-allowed')
  assert.equal(forbidden.statusCode, 403)
  assert.deepEqual(forbidden.json(), { by: 'a-status', status: 403 })
  assert.deepEqual((await app.inject('/domain')).json(), { by: 'a-status', status: 500 })

  // No enabled handler at all: the app's own (Fastify's default) handling.
  await app.pluginKit.disable('a-status')
  const plain = await app.inject('/plain')
  assert.equal(plain.statusCode, 500)
  assert.deepEqual(plain.json(), { statusCode: 500, error: 'Internal Server Error', message: 'plain' })

  // Enabled again: back without a restart.
  await app.pluginKit.enable('b-class')
  assert.equal((await app.inject('/domain')).statusCode, 422)
  assert.deepEqual((await app.inject('/plain')).json(), { by: 'b-class', status: 500 })
})

test('errhandler: with no matching handler the host\'s own error and not-found handling applies', async () => {
  const base = await makeTree({
    'plugins/only503/index.mjs': pluginSource({ name: 'only503' }, `
      return { errhandler: { 503: (error, request, reply) => reply.code(503).send({ by: 'only503' }) } }`),
    'plugins/only404/index.mjs': pluginSource({ name: 'only404', state: 'disabled' }, `
      return { errhandler: { 404: (error, request, reply) => reply.code(404).send({ by: 'only404' }) } }`)
  })
  const app = await buildApp(base, {}, {
    setup (host) {
      host.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
        reply.code(error.statusCode ?? 500).send({ host: true, message: error.message })
      })
      host.setNotFoundHandler((request, reply) => {
        reply.code(404).type('text/plain').send(`host 404 ${request.url}`)
      })
    }
  })
  app.get('/throw', async () => { throw new Error('plain failure') })
  app.get('/unavailable', async () => { throw Object.assign(new Error('down'), { statusCode: 503 }) })
  await app.ready()

  const thrown = await app.inject('/throw')
  assert.equal(thrown.statusCode, 500)
  assert.deepEqual(thrown.json(), { host: true, message: 'plain failure' })
  const unavailable = await app.inject('/unavailable')
  assert.equal(unavailable.statusCode, 503)
  assert.deepEqual(unavailable.json(), { by: 'only503' })
  const missing = await app.inject('/missing')
  assert.equal(missing.statusCode, 404)
  assert.equal(missing.body, 'host 404 /missing')

  await app.pluginKit.enable('only404')
  assert.deepEqual((await app.inject('/missing')).json(), { by: 'only404' })
  await app.pluginKit.disable('only503')
  assert.deepEqual((await app.inject('/unavailable')).json(), { host: true, message: 'down' })
  await app.pluginKit.disable('only404')
  assert.equal((await app.inject('/missing')).body, 'host 404 /missing')
})
