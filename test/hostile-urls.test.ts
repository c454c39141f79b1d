// Issue 5.3: hostile and malformed request-targets, written verbatim over a real socket,
// against plugin prefixes (routes with params and wildcards, a disabled plugin's routes,
// class views, the admin) and the static route. Never a 5xx, never a secret: no file
// outside a plugin's static/ folder, no disabled plugin's route or file, no admin answer
// without authorization. (test/traversal.test.ts holds the ../ corpus of the static route.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { buildApp, pluginSource, makeTree } from './helpers.ts'
import { rawRequest } from './helpers-views.ts'

const marker = (label: string) => `${label}-${randomBytes(12).toString('hex')}`
const SECRETS = {
  base: marker('BASE-FILE'),
  pluginFile: marker('PLUGIN-FILE'),
  disabledRoute: marker('DISABLED-ROUTE'),
  disabledStatic: marker('DISABLED-STATIC'),
  adminOnly: marker('ADMIN-ONLY'),
  dotfile: marker('DOTFILE')
}

async function fixture () {
  const base = await makeTree({
    'secret.txt': SECRETS.base,
    // Echoes its params: a hostile URL may reach it, but it has nothing to leak.
    'plugins/echo/index.mjs': pluginSource({ name: 'echo', description: SECRETS.adminOnly }, `return {
      bep: { prefix: '/echo', blueprint: async (app) => {
        app.get('/item/:id', async (request) => ({ id: request.params.id }))
        app.get('/files/*', async (request) => ({ rest: request.params['*'] }))
        app.get('/', async () => ({ plugin: 'echo' }))
      } },
      cvep: { prefix: '/things', controller: class { index () { return { things: [] } } get (request) { return { thing: request.params.id } } } }
    }`),
    'plugins/echo/secret.txt': SECRETS.pluginFile,
    'plugins/echo/static/app.css': 'body {}',
    'plugins/echo/static/.hidden': SECRETS.dotfile,
    'plugins/echo/static/sub/page.txt': 'page',
    // Disabled: neither its routes nor its static files may answer, however the URL is spelt.
    'plugins/locked/index.mjs': pluginSource({ name: 'locked', state: 'disabled' }, `return {
      bep: { prefix: '/locked', blueprint: async (app) => {
        app.get('/secret', async () => ${JSON.stringify(SECRETS.disabledRoute)})
        app.get('/p/:id', async () => ${JSON.stringify(SECRETS.disabledRoute)})
      } },
      vep: { method: 'GET', url: '/locked-vep', handler: async () => ${JSON.stringify(SECRETS.disabledRoute)} }
    }`),
    'plugins/locked/static/data.txt': SECRETS.disabledStatic
  })
  const app = await buildApp(base, { admin: { authorize: (request) => request.headers['x-admin'] === 'let-me-in' } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return { base, app, port }
}

/**
 * `denied`: a disabled plugin's routes and files and the admin, spelt every which way:
 * never a success. `others`: may be answered (a param echoed, a 404), never with a secret.
 */
function payloads (base: string): { denied: string[], others: string[] } {
  const long = 'a'.repeat(20_000)
  const denied = [
    '/locked/secret',
    '/locked/secret/',
    '/locked//secret',
    '/locked/secret?x=1',
    '/locked/secret#frag',
    '/locked/secret%00',
    '/locked/secret%20',
    '/locked/%73ecret',
    '/%6cocked/secret',
    '/LOCKED/secret',
    '/locked%2fsecret',
    '/locked/./secret',
    '/echo/../locked/secret',
    '/echo/..%2flocked/secret',
    '/echo/%2e%2e/locked/secret',
    '/locked/p/..%2f..%2fsecret',
    '/locked/p/%',
    '/locked-vep',
    '/locked-vep/',
    '/locked-vep;x',
    'http://127.0.0.1/locked/secret',
    'http://evil.example/locked/secret',
    '/assets/locked/data.txt',
    '/assets/locked/./data.txt',
    '/assets/locked//data.txt',
    '/assets/%6cocked/data.txt',
    '/assets/LOCKED/data.txt',
    '/assets/echo/../locked/data.txt',
    '/assets/echo/..%2flocked%2fdata.txt',
    '/pluginkit/api/plugins',
    '/pluginkit/api/plugins/',
    '/pluginkit//api/plugins',
    '/PLUGINKIT/api/plugins',
    '/%70luginkit/api/plugins',
    '/pluginkit/api/plugins%2f',
    '/pluginkit/./api/plugins',
    '/echo/../pluginkit/api/plugins',
    '/pluginkit/api/plugins?x=%',
    '/pluginkit/'
  ]
  const others = [
    // malformed escapes, bytes and lengths on a live plugin's params and wildcards
    '/echo/item/%',
    '/echo/item/%zz',
    '/echo/item/%E0%A4%A',
    '/echo/item/%c0%ae%c0%ae',
    '/echo/item/%ff%fe',
    '/echo/item/\xff\xfe',
    '/echo/item/%00',
    `/echo/item/${long}`,
    '/echo/item/' + '%25'.repeat(2000),
    '/echo/files/%2e%2e/%2e%2e/secret.txt',
    '/echo/files/..%5c..%5csecret.txt',
    `/echo/files/${join(base, 'secret.txt')}`,
    '/echo/files/%',
    '/echo/files/\u00e9\u00e8',
    '/things/%',
    '/things/..%2f..%2fsecret.txt',
    '/things/%00',
    '/things/constructor',
    '/things/__proto__',
    '/things/_private',
    // the static route: malformed rather than traversing
    '/assets/echo/%',
    '/assets/echo/%zz',
    '/assets/echo/app.css%',
    '/assets/echo/%E0%A4%A',
    '/assets/echo/\xff.css',
    '/assets/echo/sub',
    '/assets/echo/sub/',
    '/assets/echo/',
    '/assets/echo',
    '/assets/',
    '/assets//echo/app.css/..',
    '/assets/echo/.hidden',
    '/assets/echo/%2ehidden',
    '/assets/echo/sub/..%2f.hidden',
    '/assets/echo/sub%2f..%2f..%2fsecret.txt',
    `/assets/echo/${long}`,
    '/assets/%/app.css',
    '/assets/echo%00/app.css',
    // request-targets that are not paths at all
    '*',
    'echo/item/1',
    '//echo/item/1',
    '\\echo\\item\\1',
    '/\t/echo',
    '/echo/item/\x01'
  ]
  return { denied, others }
}

test('hostile URLs over a real socket: never a 5xx, never a secret, never a disabled plugin or the admin', async () => {
  const { base, app, port } = await fixture()

  // The harness is meaningful: the same secrets are reachable the legitimate way.
  const echo = await rawRequest(port, '/echo/item/42')
  assert.equal(echo.status, 200)
  assert.ok(echo.raw.endsWith('{"id":"42"}'))
  assert.equal((await rawRequest(port, '/assets/echo/sub/page.txt')).status, 200)
  const admin = await app.inject({ url: '/pluginkit/api/plugins', headers: { 'x-admin': 'let-me-in' } })
  assert.ok(admin.body.includes(SECRETS.adminOnly), 'the admin API would show the admin-only secret')
  await app.pluginKit.enable('locked')
  assert.ok((await rawRequest(port, '/locked/secret')).raw.includes(SECRETS.disabledRoute), 'enabled, locked answers with its secret')
  assert.ok((await rawRequest(port, '/assets/locked/data.txt')).raw.includes(SECRETS.disabledStatic))
  await app.pluginKit.disable('locked')

  const { denied, others } = payloads(base)
  const targets = [...denied, ...others]
  assert.ok(targets.length >= 40, `${targets.length} payloads`)
  assert.equal(new Set(targets).size, targets.length, 'no duplicate payloads')
  const statuses = new Map<number, number>()
  for (const method of ['GET', 'HEAD']) {
    for (const target of targets) {
      const { status, raw } = await rawRequest(port, target, method)
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
      const label = `${method} ${JSON.stringify(target.length > 80 ? target.slice(0, 80) + '...' : target)}`
      assert.ok(status >= 200 && status < 500, `${label} answered ${status}`)
      for (const [name, secret] of Object.entries(SECRETS)) assert.ok(!raw.includes(secret), `${label} leaked the ${name} secret`)
      // A disabled plugin's or the admin's URL is never a success, however it is spelt.
      if (denied.includes(target)) assert.ok(status >= 400, `${label} answered ${status}`)
    }
  }
  // The server is still healthy afterwards.
  assert.equal((await rawRequest(port, '/echo/')).status, 200)
  assert.ok(statuses.has(404) && statuses.has(400), JSON.stringify([...statuses]))
})
