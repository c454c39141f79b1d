import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, makeTree, pluginSource } from './helpers.ts'
import { probe } from './helpers-runtime.ts'

test('vep: a single route object and an array of routes', async () => {
  const base = await makeTree({
    'plugins/single/index.mjs': pluginSource({ name: 'single' }, `
      return { vep: { method: 'GET', url: '/single', handler: async () => ({ route: 'single' }) } }`),
    'plugins/many/index.mjs': pluginSource({ name: 'many' }, `
      return { vep: [
        { method: 'GET', url: '/many', handler: async () => ({ route: 'many-get' }) },
        { method: 'POST', url: '/many', handler: async (request) => ({ route: 'many-post', body: request.body }) },
        { method: ['PUT', 'PATCH'], url: '/many/:id', handler: async (request) => ({ method: request.method, id: request.params.id }) }
      ] }`)
  })
  const app = await buildApp(base)
  await app.ready()
  assert.deepEqual((await app.inject('/single')).json(), { route: 'single' })
  assert.deepEqual((await app.inject('/many')).json(), { route: 'many-get' })
  const posted = await app.inject({ method: 'POST', url: '/many', payload: { a: 1 } })
  assert.equal(posted.statusCode, 200)
  assert.deepEqual(posted.json(), { route: 'many-post', body: { a: 1 } })
  assert.deepEqual((await app.inject({ method: 'PATCH', url: '/many/7' })).json(), { method: 'PATCH', id: '7' })
  assert.deepEqual((await app.inject({ method: 'PUT', url: '/many/8' })).json(), { method: 'PUT', id: '8' })
  assert.equal((await app.inject({ method: 'DELETE', url: '/many/8' })).statusCode, 404)
})

test('vep: the route schema is honoured', async () => {
  const base = await makeTree({
    'plugins/typed/index.mjs': pluginSource({ name: 'typed' }, `
      return { vep: {
        method: 'GET',
        url: '/typed',
        schema: {
          querystring: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
          response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } }
        },
        handler: async (request) => ({ n: request.query.n, hidden: 'not in the response schema' })
      } }`)
  })
  const app = await buildApp(base)
  await app.ready()
  const ok = await app.inject('/typed?n=41')
  assert.equal(ok.statusCode, 200)
  assert.deepEqual(ok.json(), { n: 41 })
  const missing = await app.inject('/typed')
  assert.equal(missing.statusCode, 400)
  assert.equal(missing.json().code, 'FST_ERR_VALIDATION')
  const wrongType = await app.inject('/typed?n=abc')
  assert.equal(wrongType.statusCode, 400)
})

test('vep: blueprint puts the route inside that plugin\'s blueprint context (prefix and hooks apply)', async () => {
  const base = await makeTree({
    'plugins/adder/index.mjs': pluginSource({ name: 'adder' }, `
      return { vep: [
        { blueprint: 'owner', method: 'GET', url: '/added', handler: async function (request) {
          return { decorator: this.hasDecorator('ownerThing'), hooked: request.ownerHook === true }
        } },
        { method: 'GET', url: '/plain', handler: async function (request) {
          return { decorator: this.hasDecorator('ownerThing'), hooked: request.ownerHook === true }
        } }
      ] }`),
    'plugins/owner/index.mjs': pluginSource({ name: 'owner' }, `
      return { bep: { prefix: '/owner', blueprint: async (app) => {
        app.decorate('ownerThing', true)
        app.decorateRequest('ownerHook', false)
        app.addHook('onRequest', async (request, reply) => { request.ownerHook = true; reply.header('x-owner', 'hooked') })
        app.get('/', async () => 'owner index')
      } } }`)
  })
  const app = await buildApp(base)
  await app.ready()
  const added = await app.inject('/owner/added')
  assert.equal(added.statusCode, 200)
  assert.deepEqual(added.json(), { decorator: true, hooked: true })
  assert.equal(added.headers['x-owner'], 'hooked')
  assert.equal((await app.inject('/added')).statusCode, 404)

  const plain = await app.inject('/plain')
  assert.equal(plain.statusCode, 200)
  assert.deepEqual(plain.json(), { decorator: false, hooked: false })
  assert.equal(plain.headers['x-owner'], undefined)

  // The route still belongs to (and is gated with) the plugin that declared it.
  await app.pluginKit.disable('adder')
  const unknown = await app.inject('/definitely-unknown')
  const gated = await app.inject('/owner/added')
  assert.equal(gated.statusCode, 404)
  assert.equal(gated.body, unknown.body.replace('/definitely-unknown', '/owner/added'))
  assert.equal((await app.inject('/owner/')).body, 'owner index')
  await app.pluginKit.enable('adder')
  assert.equal((await app.inject('/owner/added')).statusCode, 200)
})

test('cvep: a controller class is instantiated once and mapped Flask-Classful style', async () => {
  const seen = probe()
  const base = await makeTree({
    'plugins/classy/index.mjs': pluginSource({ name: 'classy' }, `
      return { cvep: { prefix: '/items', controller: ItemsView } }`, {
      header: `
      class Base {
        inherited () { return { inherited: this.label } }
      }
      class ItemsView extends Base {
        label = 'items'
        count = 3
        constructor () { super(); __count('ctor') }
        index (request, reply) { return { action: 'index', label: this.label } }
        get (request) { return { action: 'get', id: request.params.id, label: this.label } }
        post (request, reply) { reply.code(201); return { action: 'post', body: request.body } }
        put (request) { return { action: 'put', id: request.params.id } }
        patch (request) { return { action: 'patch', id: request.params.id } }
        delete (request) { return { action: 'delete', id: request.params.id } }
        search (request) { return { action: 'search', q: request.query.q, label: this.label } }
        async later () { await null; return { action: 'later', label: this.label } }
        _secret () { return { action: 'secret' } }
      }`
    })
  })
  const app = await buildApp(base)
  await app.ready()

  assert.deepEqual((await app.inject('/items/')).json(), { action: 'index', label: 'items' })
  assert.deepEqual((await app.inject('/items/12')).json(), { action: 'get', id: '12', label: 'items' })
  const posted = await app.inject({ method: 'POST', url: '/items/', payload: { name: 'x' } })
  assert.equal(posted.statusCode, 201)
  assert.deepEqual(posted.json(), { action: 'post', body: { name: 'x' } })
  assert.deepEqual((await app.inject({ method: 'PUT', url: '/items/5' })).json(), { action: 'put', id: '5' })
  assert.deepEqual((await app.inject({ method: 'PATCH', url: '/items/5' })).json(), { action: 'patch', id: '5' })
  assert.deepEqual((await app.inject({ method: 'DELETE', url: '/items/5' })).json(), { action: 'delete', id: '5' })
  assert.deepEqual((await app.inject('/items/search?q=abc')).json(), { action: 'search', q: 'abc', label: 'items' })
  assert.deepEqual((await app.inject('/items/later')).json(), { action: 'later', label: 'items' })
  assert.deepEqual((await app.inject('/items/inherited')).json(), { inherited: 'items' })

  // Not routes: `_secret` and non-function properties (they reach `get` with that id instead).
  assert.deepEqual((await app.inject('/items/_secret')).json(), { action: 'get', id: '_secret', label: 'items' })
  assert.deepEqual((await app.inject('/items/count')).json(), { action: 'get', id: 'count', label: 'items' })
  // Other public methods are GET routes only.
  assert.equal((await app.inject({ method: 'POST', url: '/items/search' })).statusCode, 404)
  assert.equal((await app.inject('/items/constructor')).json().action, 'get')

  assert.equal(seen.counts.ctor, 1, 'the controller class is instantiated exactly once')
})

test('cvep: a plain object controller, private and non-function members are not routes', async () => {
  probe()
  const base = await makeTree({
    'plugins/objecty/index.mjs': pluginSource({ name: 'objecty' }, `
      const controller = {
        greeting: 'hello',
        limit: 10,
        index () { return { action: 'index', greeting: this.greeting } },
        hello (request) { return { action: 'hello', greeting: this.greeting, name: request.query.name } },
        _hidden () { return { action: 'hidden' } }
      }
      return { cvep: [{ prefix: '/obj', controller }, { prefix: '/again', controller: { post (request, reply) { reply.code(202); return 'accepted' } } }] }`)
  })
  const app = await buildApp(base)
  await app.ready()
  assert.deepEqual((await app.inject('/obj/')).json(), { action: 'index', greeting: 'hello' })
  assert.deepEqual((await app.inject('/obj/hello?name=ann')).json(), { action: 'hello', greeting: 'hello', name: 'ann' })
  assert.equal((await app.inject('/obj/_hidden')).statusCode, 404)
  assert.equal((await app.inject('/obj/greeting')).statusCode, 404)
  assert.equal((await app.inject('/obj/limit')).statusCode, 404)
  assert.equal((await app.inject('/obj/5')).statusCode, 404, 'no get method, no prefix/:id route')
  const accepted = await app.inject({ method: 'POST', url: '/again/' })
  assert.equal(accepted.statusCode, 202)
  assert.equal(accepted.body, 'accepted')
  assert.equal((await app.inject('/again/')).statusCode, 404)
})
