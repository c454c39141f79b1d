// Issue 17, item 8: a host route that collides with a plugin's route fails with an error that
// names the plugin, not Fastify's anonymous FST_ERR_DUPLICATED_ROUTE.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, pluginSource, makeTree } from './helpers.ts'

const plugins = {
  'plugins/home/index.mjs': pluginSource({ name: 'home' }, "return { vep: { method: 'GET', url: '/home', handler: async () => 'plugin home' } }"),
  'plugins/blog/index.mjs': pluginSource({ name: 'blog' }, `return { bep: { prefix: '/blog', blueprint: async (app) => {
    app.get('/posts', async () => 'posts')
    app.route({ method: ['POST', 'PUT'], url: '/posts/:id', handler: async () => 'saved' })
  } } }`)
}

test('a host route declared after the kit on a plugin\'s URL names the plugin and the route', async () => {
  const base = await makeTree(plugins)
  for (const [method, url, plugin] of [['GET', '/home', 'home'], ['GET', '/blog/posts', 'blog'], ['PUT', '/blog/posts/:id', 'blog']] as const) {
    const app = await buildApp(base)
    assert.throws(() => app.route({ method, url, handler: async () => 'host' }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'PLUGINKIT_ERR_EXTENSION_POINT')
      assert.match(error.message, new RegExp(`^plugin "${plugin}": route: ${method} ${url.replace(/[/:]/g, '\\$&')} is declared by this plugin and again by the host`))
      return true
    })
  }
})

test('host routes on other URLs, methods or constraints are not affected', async () => {
  const base = await makeTree(plugins)
  const app = await buildApp(base)
  app.get('/about', async () => 'about')
  app.post('/home', async () => 'host post')
  app.get('/blog/posts', { constraints: { host: 'other.example' } }, async () => 'other host')
  await app.ready()
  assert.equal((await app.inject('/home')).body, 'plugin home')
  assert.equal((await app.inject({ method: 'POST', url: '/home' })).body, 'host post')
  assert.equal((await app.inject('/blog/posts')).body, 'posts')
  assert.equal((await app.inject({ url: '/blog/posts', headers: { host: 'other.example' } })).body, 'other host')
})

test('with strict: false the host\'s route wins: the plugin is skipped, named in failures, and its other routes are off', async () => {
  const base = await makeTree(plugins)
  const app = await buildApp(base, { strict: false })
  app.get('/blog/posts', async () => 'host posts')
  app.get('/home', async () => 'host home')
  await app.ready()
  assert.equal((await app.inject('/blog/posts')).body, 'host posts')
  assert.equal((await app.inject('/home')).body, 'host home')
  assert.equal((await app.inject({ method: 'HEAD', url: '/home' })).statusCode, 200)
  assert.equal((await app.inject({ method: 'PUT', url: '/blog/posts/1' })).statusCode, 404, 'the skipped plugin serves nothing')
  const failures = app.pluginKit.failures.map((failure) => [failure.plugin, failure.error.code, failure.error.field])
  assert.deepEqual(failures.sort(), [['blog', 'PLUGINKIT_ERR_EXTENSION_POINT', 'route'], ['home', 'PLUGINKIT_ERR_EXTENSION_POINT', 'route']])
  assert.deepEqual(app.pluginKit.plugins.map((plugin) => plugin.name), [])
})

test('a plugin that declares another plugin\'s URL is the one that fails, naming the first', async () => {
  const base = await makeTree({
    ...plugins,
    'plugins/zz-copy/index.mjs': pluginSource({ name: 'zz-copy' }, "return { vep: { method: 'GET', url: '/home', handler: async () => 'copy' } }")
  })
  const app = await buildApp(base, { strict: false })
  await app.ready()
  assert.equal((await app.inject('/home')).body, 'plugin home')
  const [failure] = app.pluginKit.failures
  assert.equal(failure?.plugin, 'zz-copy')
  assert.match(failure?.error.message ?? '', /plugin "home": route: GET \/home is declared by this plugin and again by another plugin/)
})
