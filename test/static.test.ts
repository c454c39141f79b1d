import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import type { PluginKitOptions } from 'fastify-pluginkit'
import { buildApp, pluginSource, makeTree, type Tree } from './helpers.ts'

const DATA = '0123456789abcdefghijklmnopqrstuvwxyz'

const tree: Tree = {
  'plugins/shop/index.mjs': pluginSource({ name: 'shop', version: '1.0.0', author: 's' }),
  'plugins/shop/static/css/site.css': 'body { color: red }',
  'plugins/shop/static/js/app.js': 'console.log("shop")',
  'plugins/shop/static/data.txt': DATA,
  'plugins/shop/static/page.html': '<p>static</p>',
  'plugins/shop/static/doc.json': '{"a":1}',
  'plugins/shop/static/.env': 'SECRET=1',
  'plugins/shop/static/.hidden/file.txt': 'hidden',
  'plugins/shop/static/sub/deep/file.txt': 'deep',
  'plugins/shop/static/alias.txt': { symlink: 'data.txt' },
  'plugins/bare/index.mjs': pluginSource({ name: 'bare', version: '1.0.0', author: 'b' }),
  'plugins/off/index.mjs': pluginSource({ name: 'off', version: '1.0.0', author: 'o', state: 'disabled' }),
  'plugins/off/static/off.txt': 'off'
}

async function staticApp (options: PluginKitOptions = {}): Promise<FastifyInstance> {
  const app = await buildApp(await makeTree(tree), options)
  await app.ready()
  return app
}

test('serves <pluginDir>/static files with content type, ETag and Last-Modified', async () => {
  const app = await staticApp()
  const cases: Array<[string, RegExp, string]> = [
    ['/assets/shop/css/site.css', /^text\/css/, 'body { color: red }'],
    ['/assets/shop/js/app.js', /javascript/, 'console.log("shop")'],
    ['/assets/shop/data.txt', /^text\/plain/, DATA],
    ['/assets/shop/page.html', /^text\/html/, '<p>static</p>'],
    ['/assets/shop/doc.json', /^application\/json/, '{"a":1}'],
    ['/assets/shop/sub/deep/file.txt', /^text\/plain/, 'deep'],
    ['/assets/shop/alias.txt', /^text\/plain/, DATA]
  ]
  for (const [url, type, body] of cases) {
    const response = await app.inject(url)
    assert.equal(response.statusCode, 200, url)
    assert.match(String(response.headers['content-type']), type, url)
    assert.equal(response.body, body, url)
    assert.equal(Number(response.headers['content-length']), Buffer.byteLength(body), url)
    assert.ok(typeof response.headers.etag === 'string' && response.headers.etag !== '', `${url} has an ETag`)
    assert.ok(!Number.isNaN(Date.parse(String(response.headers['last-modified']))), `${url} has Last-Modified`)
    assert.equal(response.headers['accept-ranges'], 'bytes', url)
  }
})

test('conditional requests answer 304 with no body', async () => {
  const app = await staticApp()
  const first = await app.inject('/assets/shop/data.txt')
  const etag = String(first.headers.etag)
  const lastModified = String(first.headers['last-modified'])

  const byEtag = await app.inject({ url: '/assets/shop/data.txt', headers: { 'if-none-match': etag } })
  assert.equal(byEtag.statusCode, 304)
  assert.equal(byEtag.body, '')
  const byDate = await app.inject({ url: '/assets/shop/data.txt', headers: { 'if-modified-since': lastModified } })
  assert.equal(byDate.statusCode, 304)
  assert.equal(byDate.body, '')
  const stale = await app.inject({ url: '/assets/shop/data.txt', headers: { 'if-none-match': '"not-the-etag"' } })
  assert.equal(stale.statusCode, 200)
  assert.equal(stale.body, DATA)
})

test('Range requests answer 206 with the right bytes', async () => {
  const app = await staticApp()
  const cases: Array<[string, number, number]> = [
    ['bytes=0-4', 0, 4],
    ['bytes=10-15', 10, 15],
    ['bytes=30-', 30, DATA.length - 1],
    ['bytes=-6', DATA.length - 6, DATA.length - 1]
  ]
  for (const [range, start, end] of cases) {
    const response = await app.inject({ url: '/assets/shop/data.txt', headers: { range } })
    assert.equal(response.statusCode, 206, range)
    assert.equal(response.body, DATA.slice(start, end + 1), range)
    assert.equal(response.headers['content-range'], `bytes ${start}-${end}/${DATA.length}`, range)
    assert.equal(Number(response.headers['content-length']), end - start + 1, range)
  }
  const unsatisfiable = await app.inject({ url: '/assets/shop/data.txt', headers: { range: 'bytes=100-200' } })
  assert.equal(unsatisfiable.statusCode, 416)
  assert.equal(unsatisfiable.headers['content-range'], `bytes */${DATA.length}`)
})

test('HEAD answers the headers with no body', async () => {
  const app = await staticApp()
  const get = await app.inject('/assets/shop/css/site.css')
  const head = await app.inject({ method: 'HEAD', url: '/assets/shop/css/site.css' })
  assert.equal(head.statusCode, 200)
  assert.equal(head.body, '')
  assert.equal(head.headers['content-type'], get.headers['content-type'])
  assert.equal(head.headers['content-length'], get.headers['content-length'])
  assert.equal(head.headers.etag, get.headers.etag)
  assert.equal((await app.inject({ method: 'HEAD', url: '/assets/shop/missing.css' })).statusCode, 404)
  assert.equal((await app.inject({ method: 'HEAD', url: '/assets/off/off.txt' })).statusCode, 404)
})

test('dotfiles are denied', async () => {
  const app = await staticApp()
  for (const url of ['/assets/shop/.env', '/assets/shop/.hidden/file.txt', '/assets/shop/sub/../.env']) {
    const response = await app.inject(url)
    assert.ok([403, 404].includes(response.statusCode), `${url} answered ${response.statusCode}`)
    assert.ok(!response.body.includes('SECRET') && !response.body.includes('hidden'), url)
  }
})

test('unknown plugin, missing file, plugin without static folder, directories and other methods answer 404 (or 403)', async () => {
  const app = await staticApp()
  const unknownUrl = await app.inject('/no-such-route')
  const notFound = ['/assets/nope/data.txt', '/assets/shop/missing.txt', '/assets/shop/css/missing.css', '/assets/bare/x.txt', '/assets/shop/css/site.css/x']
  for (const url of notFound) {
    const response = await app.inject(url)
    assert.equal(response.statusCode, 404, url)
    assert.equal(response.headers['content-type'], unknownUrl.headers['content-type'], url)
  }
  for (const url of ['/assets/shop/', '/assets/shop/sub', '/assets/shop/sub/', '/assets/shop', '/assets/']) {
    const response = await app.inject(url)
    assert.ok([403, 404].includes(response.statusCode), `${url} answered ${response.statusCode}`)
  }
  const post = await app.inject({ method: 'POST', url: '/assets/shop/data.txt' })
  assert.equal(post.statusCode, 404)
})

test('a disabled plugin\'s files answer 404 exactly like an unknown URL, and come back when it is enabled', async () => {
  const app = await staticApp()
  const unknownUrl = await app.inject('/assets/nope/off.txt')
  const off = await app.inject('/assets/off/off.txt')
  assert.equal(off.statusCode, 404)
  assert.equal(off.headers['content-type'], unknownUrl.headers['content-type'])
  assert.equal(off.body, unknownUrl.body.replace('/assets/nope/off.txt', '/assets/off/off.txt'))

  await app.pluginKit.enable('off')
  const on = await app.inject('/assets/off/off.txt')
  assert.equal(on.statusCode, 200)
  assert.equal(on.body, 'off')

  await app.pluginKit.disable('shop')
  assert.equal((await app.inject('/assets/shop/data.txt')).statusCode, 404)
  assert.equal((await app.inject({ url: '/assets/shop/data.txt', headers: { range: 'bytes=0-1' } })).statusCode, 404)
  await app.pluginKit.enable('shop')
  assert.equal((await app.inject('/assets/shop/data.txt')).body, DATA)
})

test('staticUrlPath moves the files', async () => {
  const app = await staticApp({ staticUrlPath: '/static/plugins' })
  const response = await app.inject('/static/plugins/shop/data.txt')
  assert.equal(response.statusCode, 200)
  assert.equal(response.body, DATA)
  assert.equal((await app.inject('/assets/shop/data.txt')).statusCode, 404)
})

test('a host that registers @fastify/static itself is unaffected', async () => {
  const host = await makeTree({ 'public/hello.txt': 'host file' })
  const base = await makeTree(tree)
  const app = await buildApp(base)
  const { default: fastifyStatic } = await import('@fastify/static')
  await app.register(fastifyStatic, { root: `${host}/public`, prefix: '/public/' })
  app.get('/send', (request, reply) => reply.sendFile('hello.txt'))
  await app.ready()
  assert.equal((await app.inject('/public/hello.txt')).body, 'host file')
  assert.equal((await app.inject('/send')).body, 'host file')
  assert.equal((await app.inject('/assets/shop/data.txt')).body, DATA)
})
