import { after, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildExampleApp } from '../example-app/app.ts'
import { makeTree } from './helpers.ts'

const stylesheet = '<link rel="stylesheet" href="/assets/theme/theme.css">'
const footer = 'Powered by fastify-pluginkit-demo, an npm plugin.'

// The memory store: tests never write a state file into example-app/.
async function exampleApp (t: TestContext): Promise<FastifyInstance> {
  const app = await buildExampleApp({ store: 'memory' })
  t.after(() => app.close())
  await app.ready()
  return app
}

test('helloworld redirects the index page to /limit for X-Real-Ip 127.0.0.1', async (t) => {
  const app = await exampleApp(t)
  const response = await app.inject({ url: '/', headers: { 'x-real-ip': '127.0.0.1' } })
  assert.equal(response.statusCode, 302)
  assert.equal(response.headers.location, '/limit')
})

test('without X-Real-Ip the socket address (127.0.0.1 under inject) is used', async (t) => {
  const app = await exampleApp(t)
  const response = await app.inject({ url: '/' })
  assert.equal(response.statusCode, 302)
  assert.equal(response.headers.location, '/limit')
})

test('another client IP gets the host index page', async (t) => {
  const app = await exampleApp(t)
  const response = await app.inject({ url: '/', headers: { 'x-real-ip': '10.0.0.1' } })
  assert.equal(response.statusCode, 200)
  assert.equal(response.body, 'hello world')
})

test('/limit answers the Access Denial JSON; only the index route is redirected', async (t) => {
  const app = await exampleApp(t)
  const response = await app.inject({ url: '/limit', headers: { 'x-real-ip': '127.0.0.1' } })
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /^application\/json/)
  assert.deepEqual(response.json(), { status: 0, message: 'Access Denial' })
  assert.equal((await app.inject({ url: '/demo', headers: { 'x-real-ip': '127.0.0.1' } })).statusCode, 200)
})

test('disabling helloworld stops the redirect and its /limit route', async (t) => {
  const app = await exampleApp(t)
  await app.pluginKit.disable('helloworld')
  const index = await app.inject({ url: '/', headers: { 'x-real-ip': '127.0.0.1' } })
  assert.equal(index.statusCode, 200)
  assert.equal(index.body, 'hello world')
  assert.equal((await app.inject('/limit')).statusCode, 404)
  await app.pluginKit.enable('helloworld')
  assert.equal((await app.inject('/')).headers.location, '/limit')
})

test('the plugins: the npm package first, then local plugins alphabetically', async (t) => {
  const app = await exampleApp(t)
  const plugins = app.pluginKit.plugins
  assert.deepEqual(plugins.map((plugin) => [plugin.name, plugin.source, plugin.packageName]), [
    ['demo', 'package', 'fastify-pluginkit-demo'],
    ['auth', 'local', undefined],
    ['comments', 'local', undefined],
    ['helloworld', 'local', undefined],
    ['theme', 'local', undefined]
  ])
  const helloworld = app.pluginKit.get('helloworld')
  assert.equal(helloworld.version, '0.1.0')
  assert.equal(helloworld.author, 'staugur')
  assert.equal(typeof helloworld.description, 'string')
  assert.deepEqual(helloworld.extensionPoints.sort(), ['bep', 'hep'])
  assert.ok(plugins.every((plugin) => plugin.state === 'enabled'))
})

test('the npm plugin serves its blueprint under /demo-api', async (t) => {
  const app = await exampleApp(t)
  const response = await app.inject('/demo-api/hello?name=fastify')
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), { plugin: 'demo', hello: 'fastify' })
})

test('/demo has the theme stylesheet, the demo footer, the filter and the context processor', async (t) => {
  const app = await exampleApp(t)
  const response = await app.inject('/demo')
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /^text\/html/)
  assert.ok(response.body.includes(stylesheet), 'stylesheet link in the head')
  assert.ok(response.body.includes(footer), 'footer text')
  assert.ok(response.body.includes('<h1>FASTIFY-PLUGINKIT DEMO!</h1>'), 'shout filter applied to emit_config(\'siteName\')')
  assert.ok(response.body.includes('<title>Slots demo · fastify-pluginkit demo</title>'))
  assert.ok(response.body.includes('Rendered for 127.0.0.1 by the demo plugin&#39;s context processor.'), 'tcp value rendered')

  const css = await app.inject('/assets/theme/theme.css')
  assert.equal(css.statusCode, 200)
  assert.match(String(css.headers['content-type']), /^text\/css/)
  assert.match(css.body, /background-color: rgb\(253, 246, 227\)/)
})

test('disabling theme removes the stylesheet link and its static files; the footer stays', async (t) => {
  const app = await exampleApp(t)
  await app.pluginKit.disable('theme')
  const page = await app.inject('/demo')
  assert.equal(page.statusCode, 200)
  assert.ok(!page.body.includes('theme.css'), 'no stylesheet link')
  assert.ok(page.body.includes(footer))
  assert.equal((await app.inject('/assets/theme/theme.css')).statusCode, 404)

  await app.pluginKit.enable('theme')
  assert.ok((await app.inject('/demo')).body.includes(stylesheet))
})

test('disabling demo removes the footer, the context processor and /demo-api; the stylesheet stays', async (t) => {
  const app = await exampleApp(t)
  await app.pluginKit.disable('demo')
  const page = await app.inject('/demo')
  assert.equal(page.statusCode, 200)
  assert.ok(!page.body.includes(footer), 'no footer')
  assert.ok(!page.body.includes('class="visitor"'), 'no context processor value')
  assert.ok(page.body.includes(stylesheet))
  assert.equal((await app.inject('/demo-api/hello')).statusCode, 404)

  await app.pluginKit.enable('demo')
  assert.ok((await app.inject('/demo')).body.includes(footer))
})

test('a file store given to buildExampleApp is not written at boot and persists enable/disable', async (t) => {
  const base = await makeTree({})
  const file = join(base, 'state.json')
  const app = await buildExampleApp({ store: { file } })
  t.after(() => app.close())
  await app.ready()
  assert.equal(existsSync(file), false, 'booting never writes the store')
  await app.pluginKit.disable('theme')
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { theme: 'disabled' })

  const again = await buildExampleApp({ store: { file } })
  t.after(() => again.close())
  await again.ready()
  assert.equal(again.pluginKit.get('theme').state, 'disabled')
  assert.ok(!(await again.inject('/demo')).body.includes('theme.css'))
})

test('the example admin is mounted at /pluginkit behind HTTP Basic with the token, and refuses an empty token', async () => {
  const app = await buildExampleApp({ store: 'memory', adminToken: 's3cret-token', redisUrl: undefined })
  after(() => app.close())
  const denied = await app.inject('/pluginkit/api/plugins')
  assert.equal(denied.statusCode, 401)
  assert.match(String(denied.headers['www-authenticate']), /^Basic /)
  const wrong = await app.inject({ url: '/pluginkit/api/plugins', headers: { authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}` } })
  assert.equal(wrong.statusCode, 401)
  const allowed = await app.inject({ url: '/pluginkit/api/plugins', headers: { authorization: `Basic ${Buffer.from('admin:s3cret-token').toString('base64')}` } })
  assert.equal(allowed.statusCode, 200)
  assert.deepEqual(allowed.json().plugins.map((plugin: { name: string }) => plugin.name).sort(), ['auth', 'comments', 'demo', 'helloworld', 'theme'])

  const withoutToken = await buildExampleApp({ store: 'memory', adminToken: undefined, redisUrl: undefined })
  after(() => withoutToken.close())
  assert.equal((await withoutToken.inject('/pluginkit/api/plugins')).statusCode, 404)
  await assert.rejects(buildExampleApp({ store: 'memory', adminToken: '' }), /empty/)
})
