// A registry that misbehaves must never take the host down: SPEC 11's size limit stops the
// download itself (not only what the kit keeps), and a connection the registry drops, during
// or after an install, surfaces as that install's error and never as an uncaught exception.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { eventually } from './helpers-runtime.ts'
import { deferToFileEnd, get, hostTree, installHost, lockfileBytes, packageFolders, rejectsWith } from './helpers-registry.ts'

const defer = deferToFileEnd()
const INTEGRITY = `sha512-${Buffer.alloc(64, 7).toString('base64')}`
const TARBALL_BYTES = 4 * 1024 * 1024

interface Hostile {
  url: string
  /** Per tarball request: bytes written before the connection closed, and who closed it. */
  downloads: Array<{ sent: number, closedBy: 'client' | 'registry' | 'open' }>
  /** Destroys every open connection, as a registry that crashes or restarts does. */
  dropAll: () => void
  /** Resolves once no connection to the registry is open (both ends closed). */
  idle: () => Promise<void>
}

interface Behaviour {
  /** The registry itself cuts the tarball's connection after this many bytes. */
  dropAfter?: number
  /** The packument, or the tarball, comes one byte every 100 ms, for ever: never idle, never done. */
  drip?: 'packument' | 'tarball'
}

/** Sends one byte every 100 ms until the connection closes. */
function drip (request: IncomingMessage, response: ServerResponse, type: string): void {
  response.writeHead(200, { 'content-type': type })
  const timer = setInterval(() => response.write(' '), 100)
  request.socket.once('close', () => clearInterval(timer))
}

/**
 * Serves one package, `pk-hostile@1.0.0`, whose tarball is 4 MiB sent in 16 KiB chunks, one
 * every 5 ms, unless `behaviour` says otherwise.
 */
async function hostileRegistry ({ dropAfter, drip: dripping }: Behaviour = {}): Promise<Hostile> {
  const downloads: Hostile['downloads'] = []
  const sockets = new Set<Socket>()
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    if (request.url === '/pk-hostile' && dripping === 'packument') return drip(request, response, 'application/json')
    if (request.url === '/pk-hostile') {
      response.setHeader('content-type', 'application/json')
      response.end(JSON.stringify({
        name: 'pk-hostile',
        'dist-tags': { latest: '1.0.0' },
        versions: { '1.0.0': { name: 'pk-hostile', version: '1.0.0', dist: { tarball: `${origin}/pk-hostile/-/pk-hostile-1.0.0.tgz`, integrity: INTEGRITY } } }
      }))
      return
    }
    const download: Hostile['downloads'][number] = { sent: 0, closedBy: 'open' }
    downloads.push(download)
    if (dripping === 'tarball') {
      request.socket.once('close', () => { download.closedBy = 'client' })
      return drip(request, response, 'application/octet-stream')
    }
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(TARBALL_BYTES) })
    const timer = setInterval(() => {
      if (dropAfter !== undefined && download.sent >= dropAfter) {
        download.closedBy = 'registry'
        request.socket.destroy()
      } else if (download.sent < TARBALL_BYTES) {
        download.sent += 16 * 1024
        response.write(Buffer.alloc(16 * 1024, 1))
      } else {
        response.end()
      }
    }, 5)
    request.socket.once('close', () => {
      clearInterval(timer)
      if (download.closedBy === 'open') download.closedBy = 'client'
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  defer(() => new Promise((resolve) => {
    for (const socket of sockets) socket.destroy()
    server.close(resolve)
  }))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    downloads,
    dropAll: () => {
      for (const download of downloads) if (download.closedBy === 'open') download.closedBy = 'registry'
      for (const socket of sockets) socket.destroy()
    },
    idle: async () => {
      while (sockets.size > 0) await sleep(20)
    }
  }
}

/** Collects uncaught exceptions while `body` runs and until every connection to `registry` has closed. */
async function uncaughtDuring (registry: Hostile, body: () => Promise<void>): Promise<Error[]> {
  const seen: Error[] = []
  const listener = (error: Error): void => { seen.push(error) }
  process.on('uncaughtException', listener)
  try {
    await body()
    registry.dropAll()
    await registry.idle()
    await sleep(50) // the client's side of a closed socket reports on a later tick
  } finally {
    process.off('uncaughtException', listener)
  }
  return seen
}

async function hostOn (registry: string, maxTarballBytes?: number, npmrc?: string) {
  const base = await hostTree(npmrc === undefined ? {} : { '.npmrc': npmrc }, defer)
  const limit = maxTarballBytes === undefined ? {} : { maxTarballBytes }
  const { app, dir } = await installHost(base, registry, { restartable: false, defer, ...limit })
  return { app, dir }
}

test('a tarball over maxTarballBytes: the download is cut at the limit, 413, and the registry dropping the connection afterwards harms nothing', async () => {
  const registry = await hostileRegistry()
  const { app, dir } = await hostOn(registry.url, 64 * 1024)
  const uncaught = await uncaughtDuring(registry, async () => {
    await rejectsWith(app.pluginKit.install('pk-hostile'), 'PLUGINKIT_ERR_INSTALL', 413)
    // Before the registry drops what is left: the kit must have closed the download itself.
    await eventually(() => registry.downloads[0]?.closedBy === 'client', 5000)
  })
  assert.deepEqual(uncaught.map((error) => error.message), [], 'no uncaught exception')
  assert.equal(registry.downloads.length, 1)
  const [download] = registry.downloads
  assert.equal(download?.closedBy, 'client', 'the kit closed the connection')
  assert.ok((download?.sent ?? Infinity) < TARBALL_BYTES / 4, `the download stopped near the limit (${download?.sent} of ${TARBALL_BYTES} bytes sent)`)
  assert.equal(await lockfileBytes(dir), undefined, 'no lockfile written')
  assert.deepEqual(await packageFolders(dir), [], 'no package folder left')
  assert.deepEqual(await get(app, '/'), { status: 200, body: 'host' })
})

test('a registry that drops the connection mid-tarball: 502 for that install, no uncaught exception, the app serves', async () => {
  const registry = await hostileRegistry({ dropAfter: 128 * 1024 })
  const { app, dir } = await hostOn(registry.url)
  const uncaught = await uncaughtDuring(registry, async () => {
    await rejectsWith(app.pluginKit.install('pk-hostile'), 'PLUGINKIT_ERR_INSTALL', 502)
  })
  assert.deepEqual(uncaught.map((error) => error.message), [], 'no uncaught exception')
  assert.ok(registry.downloads.length >= 1)
  assert.ok(registry.downloads.every((download) => download.closedBy === 'registry'), JSON.stringify(registry.downloads))
  assert.equal(await lockfileBytes(dir), undefined, 'no lockfile written')
  assert.deepEqual(await packageFolders(dir), [], 'no package folder left')
  assert.deepEqual(await get(app, '/'), { status: 200, body: 'host' })
})

test('a registry that never finishes (a byte every 100 ms, so never idle): 502 at npm\'s fetch-timeout, for the packument and the tarball', async () => {
  for (const dripping of ['packument', 'tarball'] as const) {
    const registry = await hostileRegistry({ drip: dripping })
    const { app, dir } = await hostOn(registry.url, undefined, 'fetch-timeout=1500\nfetch-retries=0\n')
    const error = await rejectsWith(app.pluginKit.install('pk-hostile'), 'PLUGINKIT_ERR_INSTALL', 502)
    assert.match(error.message, /did not answer within npm's fetch-timeout \(1500 ms\)/, dripping)
    if (dripping === 'tarball') assert.deepEqual(registry.downloads.map((download) => download.closedBy), ['client'])
    assert.equal(app.pluginKit.operation, undefined, 'the queue is free again')
    assert.equal(await lockfileBytes(dir), undefined)
  }
})
