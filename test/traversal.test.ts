import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { buildApp, pluginSource, makeTree } from './helpers.ts'
import { rawRequest } from './helpers-views.ts'

// Unique markers: a body containing one of them means a file outside static/ leaked.
const marker = (label: string) => `${label}-${randomBytes(12).toString('hex')}`
const MARKERS = {
  plugin: marker('PLUGIN-SECRET'),
  base: marker('BASE-SECRET'),
  other: marker('OTHER-PLUGIN-SECRET'),
  disabled: marker('DISABLED-STATIC'),
  dot: marker('DOTFILE')
}

async function fixture () {
  const base = await makeTree({
    'secret.txt': MARKERS.base,
    'plugins/a1/index.mjs': pluginSource({ name: 'a1', version: '1.0.0', author: 'a' }),
    'plugins/a1/secret.txt': MARKERS.plugin,
    'plugins/a1/static/ok.txt': 'ok',
    'plugins/a1/static/css/site.css': 'body {}',
    'plugins/a1/static/.env': MARKERS.dot,
    // Symlinks inside static/ that lead outside it.
    'plugins/a1/static/link.txt': { symlink: '../secret.txt' },
    'plugins/a1/static/link-base.txt': { symlink: '../../../secret.txt' },
    'plugins/a1/static/link-off.txt': { symlink: '../../c3/static/c3.txt' },
    'plugins/a1/static/linkdir': { symlink: '..' },
    'plugins/a1/static/css/up': { symlink: '../..' },
    'plugins/b2/index.mjs': pluginSource({ name: 'b2', version: '1.0.0', author: 'b' }),
    'plugins/b2/secret.txt': MARKERS.other,
    'plugins/b2/static/b2.txt': 'b2',
    'plugins/c3/index.mjs': pluginSource({ name: 'c3', version: '1.0.0', author: 'c', state: 'disabled' }),
    'plugins/c3/static/c3.txt': MARKERS.disabled
  })
  const app = await buildApp(base)
  return { base, app }
}

/** Request-targets sent verbatim; none may be answered with a file. */
function corpus (base: string): string[] {
  const abs = join(base, 'secret.txt')
  const absPlugin = join(base, 'plugins/a1/secret.txt')
  return [
    // plain ../
    '/assets/a1/../secret.txt',
    '/assets/a1/../../secret.txt',
    '/assets/a1/../../../secret.txt',
    '/assets/a1/./../secret.txt',
    '/assets/a1/css/../../secret.txt',
    '/assets/a1/ok.txt/../../secret.txt',
    '/assets/a1//../secret.txt',
    '/assets/a1/../../b2/secret.txt',
    '/assets/a1/../../c3/static/c3.txt',
    '/assets/a1/../../../../../../../../../../etc/passwd',
    // percent-encoded dots and slashes, mixed case
    '/assets/a1/%2e%2e/secret.txt',
    '/assets/a1/%2e%2e%2fsecret.txt',
    '/assets/a1/%2E%2E%2Fsecret.txt',
    '/assets/a1/%2e%2E/%2E%2e/secret.txt',
    '/assets/a1/.%2e/secret.txt',
    '/assets/a1/%2e./secret.txt',
    '/assets/a1/..%2fsecret.txt',
    '/assets/a1/..%2F..%2Fsecret.txt',
    '/assets/a1/..%2f..%2fsecret.txt',
    '/assets/a1/..%2f..%2f..%2fsecret.txt',
    '/assets/a1/..%2f..%2fb2%2fsecret.txt',
    '/assets/a1/%2e%2e%2f%2e%2e%2fc3%2fstatic%2fc3.txt',
    '/assets/a1/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/assets/a1/ok.txt/..%2f..%2fsecret.txt',
    '/assets/a1/..%2fsecret.txt?download=1',
    // double encoding
    '/assets/a1/%252e%252e%252fsecret.txt',
    '/assets/a1/%252e%252e/secret.txt',
    '/assets/a1/..%252fsecret.txt',
    '/assets/a1/..%255csecret.txt',
    '/assets/a1/%25252e%25252e%25252fsecret.txt',
    // backslashes
    '/assets/a1/..\\secret.txt',
    '/assets/a1/..\\..\\secret.txt',
    '/assets/a1/css\\..\\..\\secret.txt',
    '/assets/a1/..%5csecret.txt',
    '/assets/a1/..%5C..%5Csecret.txt',
    '/assets/a1/%2e%2e%5csecret.txt',
    // NUL
    '/assets/a1/../secret.txt%00',
    '/assets/a1/../secret.txt%00.css',
    '/assets/a1/ok.txt%00/../../secret.txt',
    '/assets/a1/%00../secret.txt',
    '/assets/a1/.%00./secret.txt',
    '/assets/a1/..%00%2fsecret.txt',
    // overlong UTF-8 and other unicode look-alikes
    '/assets/a1/%c0%ae%c0%ae/secret.txt',
    '/assets/a1/%c0%ae%c0%ae%c0%afsecret.txt',
    '/assets/a1/%e0%80%ae%e0%80%ae/secret.txt',
    '/assets/a1/%c0%2e%c0%2e/secret.txt',
    '/assets/a1/..%c0%afsecret.txt',
    '/assets/a1/..%c1%9csecret.txt',
    '/assets/a1/%ef%bc%8e%ef%bc%8e/secret.txt',
    '/assets/a1/%ef%bc%8e%ef%bc%8e%ef%bc%8fsecret.txt',
    '/assets/a1/..%e2%88%95secret.txt',
    '/assets/a1/%uff0e%uff0e/secret.txt',
    '/assets/a1/..%u2215secret.txt',
    // dot tricks
    '/assets/a1/....//secret.txt',
    '/assets/a1/....//....//secret.txt',
    '/assets/a1/..../secret.txt',
    '/assets/a1/.../secret.txt',
    '/assets/a1/..;/secret.txt',
    '/assets/a1/.../.../secret.txt',
    // absolute paths
    `/assets/a1/${abs}`,
    `/assets/a1//${abs}`,
    `/assets/a1/${encodeURIComponent(abs)}`,
    `/assets/a1/${encodeURIComponent(absPlugin)}`,
    `/assets/a1/${abs.replaceAll('/', '%5c')}`,
    '/assets/a1//etc/passwd',
    '/assets/a1/%2fetc%2fpasswd',
    '/assets/a1/C:%5cWindows%5cwin.ini',
    '/assets/a1/file:%2f%2f%2fetc%2fpasswd',
    // symlinks inside static/ pointing outside it
    '/assets/a1/link.txt',
    '/assets/a1/link-base.txt',
    '/assets/a1/link-off.txt',
    '/assets/a1/linkdir/secret.txt',
    '/assets/a1/linkdir/index.mjs',
    '/assets/a1/css/up/secret.txt',
    '/assets/a1/css/up/a1/secret.txt',
    '/assets/a1/css/up/b2/secret.txt',
    // traversal through the plugin segment, other plugins, disabled plugins, case
    '/assets/..%2fsecret.txt',
    '/assets/%2e%2e/secret.txt',
    '/assets/%2e%2e/plugins/a1/secret.txt',
    '/assets/..%2fplugins%2fa1%2fsecret.txt/x',
    '/assets/a1%2f..%2f..%2fsecret.txt/x',
    '/assets/b2/../a1/../../secret.txt',
    '/assets/b2/..%2fsecret.txt',
    '/assets/c3/c3.txt',
    '/assets/c3/../c3/c3.txt',
    '/assets/C3/c3.txt',
    '/ASSETS/a1/../secret.txt',
    '/assets/A1/..%2fsecret.txt',
    // dotfiles
    '/assets/a1/.env',
    '/assets/a1/%2eenv',
    '/assets/a1/css/..%2f.env',
    // absolute-form request-target
    'http://127.0.0.1/assets/a1/../secret.txt',
    'http://127.0.0.1/assets/a1/..%2fsecret.txt'
  ]
}

function assertSafe (target: string, status: number, text: string): void {
  assert.ok(status >= 400 && status < 500, `${target} answered ${status}, expected a 4xx`)
  for (const [label, value] of Object.entries(MARKERS)) {
    assert.ok(!text.includes(value), `${target} leaked the ${label} secret`)
  }
}

test('path traversal over a real socket: no payload reaches a file outside the plugin\'s static folder', async () => {
  const { base, app } = await fixture()
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo

  // The harness works: legitimate files are served over the same path.
  const ok = await rawRequest(port, '/assets/a1/ok.txt')
  assert.equal(ok.status, 200)
  assert.ok(ok.raw.endsWith('\r\n\r\nok'))
  assert.equal((await rawRequest(port, '/assets/a1/css/site.css')).status, 200)
  assert.equal((await rawRequest(port, '/assets/b2/b2.txt')).status, 200)

  const payloads = corpus(base)
  assert.ok(payloads.length >= 40, `${payloads.length} payloads`)
  assert.equal(new Set(payloads).size, payloads.length, 'no duplicate payloads')
  for (const method of ['GET', 'HEAD']) {
    for (const target of payloads) {
      const { status, raw } = await rawRequest(port, target, method)
      assertSafe(`${method} ${target}`, status, raw)
    }
  }
  // A disabled plugin's own static file stays hidden even when asked for directly.
  await app.pluginKit.enable('c3')
  const c3 = await rawRequest(port, '/assets/c3/c3.txt')
  assert.equal(c3.status, 200, 'enabled, c3 serves its file (the marker check above was meaningful)')
  assert.ok(c3.raw.includes(MARKERS.disabled))
  await app.pluginKit.disable('c3')
  const hidden = await rawRequest(port, '/assets/c3/c3.txt')
  assertSafe('GET /assets/c3/c3.txt after disable', hidden.status, hidden.raw)
})

test('path traversal through app.inject as well', async () => {
  const { base, app } = await fixture()
  await app.ready()
  assert.equal((await app.inject('/assets/a1/ok.txt')).body, 'ok')
  for (const target of corpus(base)) {
    for (const method of ['GET', 'HEAD'] as const) {
      const response = await app.inject({ method, url: target })
      assertSafe(`inject ${method} ${target}`, response.statusCode, JSON.stringify(response.headers) + response.body)
    }
  }
})
