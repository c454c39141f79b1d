import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PluginKitError } from 'fastify-pluginkit'
import { buildApp, makeTree, pluginSource } from './helpers.ts'
import { fastifyPluginUrl } from './helpers-runtime.ts'
import { kitErrorWith } from './helpers-loading.ts'

test('bep: each blueprint gets its own encapsulated context under its prefix', async () => {
  const base = await makeTree({
    'plugins/alpha/index.mjs': pluginSource({ name: 'alpha' }, `
      return { bep: { prefix: '/alpha', blueprint: async (app) => {
        app.decorate('alphaSecret', 'a')
        app.decorateRequest('alphaFlag', true)
        app.addHook('onSend', async (request, reply) => { reply.header('x-alpha', '1') })
        app.get('/info', async function (request) {
          return { decorator: this.hasDecorator('alphaSecret'), flag: request.alphaFlag === true }
        })
      } } }`),
    'plugins/beta/index.mjs': pluginSource({ name: 'beta' }, `
      return { bep: { prefix: '/beta', blueprint: async (app) => {
        app.get('/info', async function (request) {
          return { decorator: this.hasDecorator('alphaSecret'), flag: request.alphaFlag === true }
        })
      } } }`)
  })
  const app = await buildApp(base)
  app.get('/host-info', async function (request) {
    return { decorator: this.hasDecorator('alphaSecret'), flag: (request as unknown as { alphaFlag?: unknown }).alphaFlag === true }
  })
  await app.ready()

  const alpha = await app.inject('/alpha/info')
  assert.equal(alpha.statusCode, 200)
  assert.deepEqual(alpha.json(), { decorator: true, flag: true })
  assert.equal(alpha.headers['x-alpha'], '1')

  const beta = await app.inject('/beta/info')
  assert.equal(beta.statusCode, 200)
  assert.deepEqual(beta.json(), { decorator: false, flag: false })
  assert.equal(beta.headers['x-alpha'], undefined)

  const host = await app.inject('/host-info')
  assert.deepEqual(host.json(), { decorator: false, flag: false })
  assert.equal(host.headers['x-alpha'], undefined)
  assert.equal(app.hasDecorator('alphaSecret'), false)
  assert.equal((await app.inject('/')).headers['x-alpha'], undefined)

  // The blueprint's routes exist only under its prefix.
  assert.equal((await app.inject('/info')).statusCode, 404)
})

test('bep: a blueprint wrapped with fastify-plugin still gets its own context and its prefix', async () => {
  const base = await makeTree({
    'plugins/wrapped/index.mjs': pluginSource({ name: 'wrapped' }, `
      return { bep: { prefix: '/wrapped', blueprint: fp(async (app) => {
        app.decorate('wrappedSecret', 1)
        app.addHook('onRequest', async (request, reply) => { reply.header('x-wrapped', 'yes') })
        app.get('/ping', async function () { return { pong: true, decorator: this.hasDecorator('wrappedSecret') } })
      }, { name: 'wrapped-blueprint' }) } }`, { header: `import fp from ${JSON.stringify(fastifyPluginUrl)}` }),
    'plugins/other/index.mjs': pluginSource({ name: 'other' }, `
      return { vep: { method: 'GET', url: '/other', handler: async function () { return { decorator: this.hasDecorator('wrappedSecret') } } } }`)
  })
  const app = await buildApp(base)
  await app.ready()

  const ping = await app.inject('/wrapped/ping')
  assert.equal(ping.statusCode, 200)
  assert.deepEqual(ping.json(), { pong: true, decorator: true })
  assert.equal(ping.headers['x-wrapped'], 'yes')

  assert.equal((await app.inject('/ping')).statusCode, 404, 'the prefix is not ignored')
  assert.equal(app.hasDecorator('wrappedSecret'), false, 'the decorator does not leak into the host')
  const host = await app.inject('/')
  assert.equal(host.body, 'hello world')
  assert.equal(host.headers['x-wrapped'], undefined, 'the hook does not leak into the host')
  const other = await app.inject('/other')
  assert.deepEqual(other.json(), { decorator: false })
  assert.equal(other.headers['x-wrapped'], undefined, 'the hook does not leak into another plugin')
})

test('bep: prefix null or absent mounts the blueprint at the root', async () => {
  const base = await makeTree({
    'plugins/noprefix/index.mjs': pluginSource({ name: 'noprefix' }, `
      return { bep: [
        { prefix: null, blueprint: async (app) => { app.get('/from-null', async () => 'null prefix') } },
        { blueprint: async (app) => { app.get('/from-absent', async () => 'no prefix') } }
      ] }`)
  })
  const app = await buildApp(base)
  await app.ready()
  const fromNull = await app.inject('/from-null')
  assert.equal(fromNull.statusCode, 200)
  assert.equal(fromNull.body, 'null prefix')
  const fromAbsent = await app.inject('/from-absent')
  assert.equal(fromAbsent.statusCode, 200)
  assert.equal(fromAbsent.body, 'no prefix')
})

test('bep: an array of blueprints, each with its own prefix, options and context', async () => {
  const base = await makeTree({
    'plugins/multi/index.mjs': pluginSource({ name: 'multi' }, `
      const blueprint = async (app, opts) => {
        app.decorate('which', opts.which)
        app.get('/who', async function () { return { which: this.which, greeting: opts.greeting } })
      }
      return { bep: [
        { prefix: '/one', blueprint, options: { which: 'one', greeting: 'hello' } },
        { prefix: '/two', blueprint, options: { which: 'two', greeting: 'hi' } }
      ] }`)
  })
  const app = await buildApp(base)
  await app.ready()
  // Decorating the same name twice would fail if both shared one context.
  assert.deepEqual((await app.inject('/one/who')).json(), { which: 'one', greeting: 'hello' })
  assert.deepEqual((await app.inject('/two/who')).json(), { which: 'two', greeting: 'hi' })
  assert.equal((await app.inject('/who')).statusCode, 404)
})

test('bep: options are passed to the blueprint', async () => {
  const base = await makeTree({
    'plugins/opts/index.mjs': pluginSource({ name: 'opts' }, `
      return { bep: { prefix: '/opts', options: { answer: 42, nested: { ok: true } }, blueprint: async (app, options) => {
        app.get('/', async () => ({ answer: options.answer, nested: options.nested }))
      } } }`)
  })
  const app = await buildApp(base)
  await app.ready()
  const response = await app.inject('/opts/')
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), { answer: 42, nested: { ok: true } })
  // As with any Fastify prefix, the prefix itself reaches the '/' route.
  assert.deepEqual((await app.inject('/opts')).json(), { answer: 42, nested: { ok: true } })
})

test('bep: parent nests a blueprint inside the other plugin\'s first blueprint context', async () => {
  // The child comes before its parent in load order (alphabetical, no dependency).
  const base = await makeTree({
    'plugins/a-child/index.mjs': pluginSource({ name: 'a-child' }, `
      return { bep: { parent: 'z-parent', prefix: '/child', blueprint: async (app) => {
        app.get('/x', async function (request) {
          return { parentDecorator: this.hasDecorator('parentThing'), parentHookRan: request.parentHookRan === true }
        })
      } } }`),
    'plugins/z-parent/index.mjs': pluginSource({ name: 'z-parent' }, `
      return { bep: [
        { prefix: '/p1', blueprint: async (app) => {
          app.decorate('parentThing', 'p')
          app.decorateRequest('parentHookRan', false)
          app.addHook('onRequest', async (request, reply) => { request.parentHookRan = true; reply.header('x-parent', 'first') })
          app.get('/own', async () => 'parent own')
        } },
        { prefix: '/p2', blueprint: async (app) => {
          app.addHook('onRequest', async (request, reply) => { reply.header('x-parent', 'second') })
        } }
      ] }`)
  })
  const app = await buildApp(base)
  await app.ready()

  const nested = await app.inject('/p1/child/x')
  assert.equal(nested.statusCode, 200)
  assert.deepEqual(nested.json(), { parentDecorator: true, parentHookRan: true })
  assert.equal(nested.headers['x-parent'], 'first')

  assert.equal((await app.inject('/child/x')).statusCode, 404)
  assert.equal((await app.inject('/p2/child/x')).statusCode, 404)
  assert.equal((await app.inject('/p1/own')).body, 'parent own')
})

test('bep: callback-style blueprint (app, opts, done)', async () => {
  const base = await makeTree({
    'plugins/callback/index.mjs': pluginSource({ name: 'callback' }, `
      return { bep: { prefix: '/cb', options: { word: 'done' }, blueprint: function (app, opts, done) {
        app.get('/', (request, reply) => { reply.send({ style: 'callback', word: opts.word }) })
        done()
      } } }`)
  })
  const app = await buildApp(base)
  await app.ready()
  const response = await app.inject('/cb/')
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), { style: 'callback', word: 'done' })
})

test('bep: a blueprint that throws while loading makes ready() reject naming the plugin', async (t) => {
  for (const [label, blueprint] of [
    ['async', 'async (app) => { throw new Error(\'blueprint exploded\') }'],
    ['callback', '(app, opts, done) => { done(new Error(\'blueprint exploded\')) }'],
    ['sync throw', 'function (app, opts, done) { throw new Error(\'blueprint exploded\') }']
  ]) {
    await t.test(label, async () => {
      const base = await makeTree({
        'plugins/fine/index.mjs': pluginSource({ name: 'fine' }, 'return { bep: { prefix: \'/fine\', blueprint: async (app) => { app.get(\'/\', async () => \'ok\') } } }'),
        'plugins/exploding/index.mjs': pluginSource({ name: 'exploding' }, `return { bep: { prefix: '/boom', blueprint: ${blueprint} } }`)
      })
      // A short pluginTimeout: should the error escape ready(), the test ends sooner.
      const app = buildApp(base, {}, { fastify: { pluginTimeout: 5000 }, until: 'none' })
      let caught: unknown
      try {
        await app.ready()
      } catch (error) {
        caught = error
      }
      assert.ok(caught instanceof PluginKitError, `ready() should reject with a PluginKitError, got ${String(caught)}`)
      assert.match(caught.code, /^PLUGINKIT_ERR_/)
      assert.ok(caught.message.includes('exploding'), `message names the plugin: ${caught.message}`)
      assert.ok(!caught.message.includes('"fine"'))
      await app.close().catch(() => {})
    })
  }
})

test('bep: an invalid prefix fails boot with PLUGINKIT_ERR_EXTENSION_POINT naming plugin and field', async (t) => {
  for (const prefix of ['no-slash', '/trailing/', '/double//slash', '/with space', '']) {
    await t.test(JSON.stringify(prefix), async () => {
      const base = await makeTree({
        'plugins/badprefix/index.mjs': pluginSource({ name: 'badprefix' }, `
          return { bep: { prefix: ${JSON.stringify(prefix)}, blueprint: async (app) => { app.get('/', async () => 'x') } } }`)
      })
      const app = buildApp(base, {}, { until: 'none' })
      await assert.rejects(async () => { await app.ready() }, kitErrorWith('PLUGINKIT_ERR_EXTENSION_POINT', 'badprefix', 'prefix'))
      await app.close().catch(() => {})
    })
  }
})

test('bep: the blueprint sees the kit on its instance', async () => {
  const base = await makeTree({
    'plugins/seer/index.mjs': pluginSource({ name: 'seer' }, `
      return { bep: { prefix: '/seer', blueprint: async (app) => {
        app.get('/', async function () { return { names: this.pluginKit.plugins.map((p) => p.name) } })
      } } }`)
  })
  const app = await buildApp(base)
  await app.ready()
  assert.deepEqual((await app.inject('/seer/')).json(), { names: ['seer'] })
})
