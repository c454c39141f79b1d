import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import { chmod, mkdir, rename, symlink } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { buildApp, pluginSource, makeTree } from './helpers.ts'
import { rawRequest } from './helpers-views.ts'

// Issue #11, item 10: the static route checks that the file it sends is inside the
// plugin's static/ folder on every request (a symlink may be re-pointed at any time), and
// every file system error answers exactly like an unknown URL, with no path in the answer.

const SECRET = `OUTSIDE-SECRET-${randomBytes(12).toString('hex')}`
const METHODS = ['GET', 'HEAD'] as const

async function fixture () {
  const base = await makeTree({
    'outside/secret.txt': SECRET,
    'outside/dir/secret.txt': SECRET,
    'plugins/p/index.mjs': pluginSource({ name: 'p', version: '1.0.0', author: 'a' }),
    'plugins/p/static/in.txt': 'inside',
    'plugins/p/static/dir/in.txt': 'inside dir',
    'plugins/p/static/link.txt': { symlink: 'in.txt' },
    'plugins/p/static/linkdir': { symlink: 'dir' },
    'plugins/p/static/out.txt': { symlink: '../../../outside/secret.txt' },
    'plugins/p/static/loop-a': { symlink: 'loop-b' },
    'plugins/p/static/loop-b': { symlink: 'loop-a' },
    'plugins/p/static/self': { symlink: 'self' },
    'plugins/p/static/dir/loop': { symlink: '../loop-a' }
  })
  // Long params reach the file system instead of being refused by the router.
  const app = await buildApp(base, {}, { fastify: { maxParamLength: 100_000 } })
  await app.ready()
  const unknown = await app.inject('/no-such-url')
  return { base, app, unknown: { type: unknown.headers['content-type'], body: unknown.body } }
}

/** Points the symlink `path` at `target`, atomically (a new link renamed over the old one). */
async function repoint (path: string, target: string): Promise<void> {
  const temporary = `${path}.new-${randomBytes(4).toString('hex')}`
  await symlink(target, temporary)
  await rename(temporary, path)
}

interface NotFoundCheck {
  base: string
  app: FastifyInstance
  unknown: { type: string | number | string[] | undefined, body: string }
}

/** `url` answers exactly like an unknown URL (GET and HEAD), and nothing in the answer names a path or a secret. */
async function assertNotFound ({ base, app, unknown }: NotFoundCheck, url: string, methods: readonly string[] = METHODS): Promise<void> {
  for (const method of methods) {
    const response = await app.inject({ method: method as 'GET', url })
    const text = JSON.stringify(response.headers) + response.body
    assert.equal(response.statusCode, 404, `${method} ${url}: ${response.body}`)
    assert.equal(response.headers['content-type'], unknown.type, `${method} ${url}`)
    if (method === 'GET') assert.equal(response.body, unknown.body.replace('GET:/no-such-url', `GET:${url}`), `${method} ${url}`)
    for (const leak of [base, SECRET, 'ELOOP', 'ENAMETOOLONG', 'ENOTDIR', 'ENXIO', 'EACCES', 'static/']) {
      assert.ok(!text.includes(leak), `${method} ${url} leaks ${leak}: ${text.slice(0, 300)}`)
    }
  }
}

test('a symlink re-pointed after its first request: inside → outside becomes 404, outside → inside becomes 200', async () => {
  const check = await fixture()
  const { base, app } = check
  const staticDir = join(base, 'plugins/p/static')
  for (let round = 0; round < 3; round++) {
    for (const method of METHODS) {
      const served = await app.inject({ method, url: '/assets/p/link.txt' })
      assert.equal(served.statusCode, 200, `round ${round} ${method}`)
      if (method === 'GET') assert.equal(served.body, 'inside')
      assert.equal((await app.inject({ method, url: '/assets/p/linkdir/in.txt' })).statusCode, 200)
    }
    // Re-pointed outside: refused at once, for the file and for a directory link.
    await repoint(join(staticDir, 'link.txt'), '../../../outside/secret.txt')
    await repoint(join(staticDir, 'linkdir'), '../../../outside/dir')
    await assertNotFound(check, '/assets/p/link.txt')
    await assertNotFound(check, '/assets/p/linkdir/secret.txt')
    // Conditional and range requests are refused the same way.
    for (const headers of [{ range: 'bytes=0-3' }, { 'if-none-match': '*' }, { 'if-modified-since': new Date().toUTCString() }]) {
      const response = await app.inject({ url: '/assets/p/link.txt', headers })
      assert.equal(response.statusCode, 404, JSON.stringify(headers))
      assert.ok(!response.body.includes(SECRET))
    }
    // And back inside: served again.
    await repoint(join(staticDir, 'link.txt'), 'in.txt')
    await repoint(join(staticDir, 'linkdir'), 'dir')
  }
  // A link that starts outside and is then pointed inside is served.
  await assertNotFound(check, '/assets/p/out.txt')
  await repoint(join(staticDir, 'out.txt'), 'dir/in.txt')
  const now = await app.inject('/assets/p/out.txt')
  assert.equal(now.statusCode, 200)
  assert.equal(now.body, 'inside dir')
})

test('symlink loops, over-long names, files used as folders: 404 like an unknown URL, no path in the answer', async () => {
  const check = await fixture()
  const urls = [
    '/assets/p/loop-a',
    '/assets/p/loop-b',
    '/assets/p/self',
    '/assets/p/self/x',
    '/assets/p/dir/loop',
    '/assets/p/loop-a/in.txt',
    `/assets/p/${'n'.repeat(300)}`,
    `/assets/p/${'n'.repeat(300)}.css`,
    `/assets/p/${'d/'.repeat(2500)}in.txt`,
    '/assets/p/in.txt/x',
    '/assets/p/in.txt/'
  ]
  for (const url of urls) await assertNotFound(check, url)
  assert.equal(check.app.pluginKit.get('p').stats.requests, 0, 'only files actually served are counted')
})

test('sockets and FIFOs inside static/ are not served (a FIFO would hang the request)', async (t) => {
  const check = await fixture()
  const staticDir = join(check.base, 'plugins/p/static')
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(join(staticDir, 'app.sock'), resolve))
  t.after(() => server.close())
  await assertNotFound(check, '/assets/p/app.sock')
  try {
    execFileSync('mkfifo', [join(staticDir, 'pipe.txt')])
  } catch {
    t.diagnostic('mkfifo is not available: FIFO case skipped')
    return
  }
  await assertNotFound(check, '/assets/p/pipe.txt')
})

test('a file that cannot be opened after its headers were prepared: 404 like an unknown URL, no path', async (t) => {
  const check = await fixture()
  const target = join(check.base, 'plugins/p/static/in.txt')
  // Fault injection: @fastify/send opens files with fs.createReadStream; make that open fail
  // as it does for an unreadable file (EACCES) or one removed between stat and open (ENOENT).
  const original = fs.createReadStream
  t.after(() => { fs.createReadStream = original })
  for (const code of ['EACCES', 'ENOENT', 'EMFILE']) {
    fs.createReadStream = ((path: fs.PathLike, options?: unknown) => {
      if (path !== target) return original(path, options as Parameters<typeof original>[1])
      return new Readable({
        read () {
          this.destroy(Object.assign(new Error(`${code}: cannot open '${path}'`), { code, syscall: 'open', path }))
        }
      })
    }) as typeof fs.createReadStream
    await assertNotFound(check, '/assets/p/in.txt', ['GET'])
  }
  fs.createReadStream = original
  assert.equal((await check.app.inject('/assets/p/in.txt')).body, 'inside')

  if (process.getuid?.() !== 0) {
    // A real unreadable file and folder (not testable as root, which reads anything).
    await mkdir(join(check.base, 'plugins/p/static/locked'))
    await chmod(join(check.base, 'plugins/p/static/locked'), 0o000)
    await chmod(target, 0o000)
    t.after(async () => {
      await chmod(join(check.base, 'plugins/p/static/locked'), 0o755)
      await chmod(target, 0o644)
    })
    await assertNotFound(check, '/assets/p/in.txt', ['GET'])
    await assertNotFound(check, '/assets/p/locked/x.txt')
  }
})

test('over a real socket: a loop and a re-pointed symlink answer 404 with no path, for GET and HEAD', async () => {
  const { base, app } = await fixture()
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  assert.equal((await rawRequest(port, '/assets/p/link.txt')).status, 200)
  await repoint(join(base, 'plugins/p/static/link.txt'), '../../../outside/secret.txt')
  for (const method of METHODS) {
    for (const target of ['/assets/p/link.txt', '/assets/p/loop-a', '/assets/p/self/x']) {
      const { status, raw } = await rawRequest(port, target, method)
      assert.equal(status, 404, `${method} ${target}`)
      assert.ok(!raw.includes(base) && !raw.includes(SECRET) && !raw.includes('ELOOP'), `${method} ${target}: ${raw}`)
    }
  }
})
