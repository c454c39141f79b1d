import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { appendFile, cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, parse } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import type { InstallSpec } from 'fastify-pluginkit'
import * as tar from 'tar'
import { freePort } from './helpers-redis.ts'
import { pluginSource, routeBody } from './helpers.ts'
import {
  deferToFileEnd, expectOutcomes, get, hostTree, installHost, integrityOf, packFolder, registryFixtures, rejectsWith, snapshot,
  type Fixtures
} from './helpers-registry.ts'

// SPEC section 11, "Bad input gets a clear error and changes nothing": every refused operation
// rejects with its code and HTTP status, the lockfile stays byte-identical, no folder is left
// behind, and the app keeps serving what it served.

const fixtures = registryFixtures()
const defer = deferToFileEnd()

interface Shared {
  f: Fixtures
  base: string
  dir: string
  /** A plain app (no restartable) serving pk-good 1.0.0, pk-needs-good (depends on pk-good) and the local plugin `clash`. */
  app: FastifyInstance
}

let shared: Promise<Shared> | undefined

/** The host every test refuses operations on, set up once for the file. */
async function setup (t: Parameters<typeof fixtures>[0]): Promise<Shared | undefined> {
  const f = await fixtures(t)
  if (f === undefined) return undefined
  shared ??= (async () => {
    const base = await hostTree({ 'plugins/clash/index.mjs': pluginSource({ name: 'clash' }, routeBody('clash')) }, defer)
    const first = await installHost(base, f.registry.url, { defer })
    await first.app.pluginKit.install('pk-good@1.0.0')
    await first.app.pluginKit.install('pk-needs-good')
    await first.app.close()
    const { app, dir } = await installHost(base, f.registry.url, { restartable: false, defer })
    return { f, base, dir, app }
  })()
  return shared
}

/** Runs `refuse` and checks that nothing changed: the folder (lockfile bytes included) and what the app serves. */
async function changesNothing (s: Shared, refuse: () => Promise<void>): Promise<void> {
  const before = await snapshot(s.dir)
  assert.ok(before.lockfile !== undefined, 'the setup wrote a lockfile')
  await refuse()
  assert.deepEqual(await snapshot(s.dir), before, 'lockfile byte-identical, no folder added or removed')
  assert.deepEqual((await get(s.app, '/good/version')).body, { plugin: 'pk-good', version: '1.0.0' })
  assert.deepEqual((await get(s.app, '/needs/version')).body, { plugin: 'pk-needs-good', version: '1.0.0' })
  assert.deepEqual((await get(s.app, '/clash')).body, { plugin: 'clash' })
  assert.deepEqual(s.app.pluginKit.pending, [])
  assert.equal(s.app.pluginKit.operation, undefined)
}

test('a package outside allow: PLUGINKIT_ERR_INSTALL 403, by spec or by upload', async (t) => {
  const s = await setup(t)
  if (s === undefined) return
  const kit = s.app.pluginKit
  await changesNothing(s, async () => {
    await expectOutcomes([
      // Checked before the registry is asked: a name outside allow that the registry lacks is 403 too.
      ...['other-pkg', 'other-pkg@1.0.0', 'other-pkg@latest', 'not-published-anywhere'].map((spec) =>
        [spec, () => kit.install(spec), 'PLUGINKIT_ERR_INSTALL 403'] as [string, () => Promise<unknown>, string]),
      ['upload of other-pkg', () => kit.install({ tarball: s.f.tarball('other-pkg@1.0.0') }), 'PLUGINKIT_ERR_INSTALL 403']
    ])
    const error = await rejectsWith(kit.install('other-pkg'), 'PLUGINKIT_ERR_INSTALL', 403)
    assert.match(error.message, /other-pkg/)
  })
})

test('an invalid spec: PLUGINKIT_ERR_INSTALL 400 (only name, name@version, name@range, name@tag, or { tarball: Buffer })', async (t) => {
  const s = await setup(t)
  if (s === undefined) return
  const specs: unknown[] = [
    '',
    'pk good',
    'pk-good@1.0.0@2',
    'pk-good@<script>',
    '../pk-good',
    'file:../pk-good',
    'http://127.0.0.1:1/pk-good-1.0.0.tgz',
    'git+https://127.0.0.1/pk-good.git',
    42,
    null,
    { tarball: 'not a buffer' },
    {}
  ]
  const kit = s.app.pluginKit
  await changesNothing(s, async () => {
    await expectOutcomes([
      ...specs.map((spec) =>
        [`install(${JSON.stringify(spec)})`, () => kit.install(spec as InstallSpec), 'PLUGINKIT_ERR_INSTALL 400'] as [string, () => Promise<unknown>, string]),
      ['upgrade(pk-good, "pk good")', () => kit.upgrade('pk-good', 'pk good'), 'PLUGINKIT_ERR_INSTALL 400'],
      ['upgrade(pk-good, "file:../pk-good")', () => kit.upgrade('pk-good', 'file:../pk-good'), 'PLUGINKIT_ERR_INSTALL 400']
    ])
  })
})

test('an unknown package, version, range or tag: PLUGINKIT_ERR_INSTALL 404', async (t) => {
  const s = await setup(t)
  if (s === undefined) return
  const kit = s.app.pluginKit
  await changesNothing(s, async () => {
    await expectOutcomes([
      ...['pk-nonexistent', 'pk-good@9.9.9', 'pk-good@^5.0.0', 'pk-good@nosuchtag'].map((spec) =>
        [spec, () => kit.install(spec), 'PLUGINKIT_ERR_INSTALL 404'] as [string, () => Promise<unknown>, string]),
      ['upgrade to pk-good@9.9.9', () => kit.upgrade('pk-good', 'pk-good@9.9.9'), 'PLUGINKIT_ERR_INSTALL 404']
    ])
  })
})

test('a production dependency at a version the registry does not have: PLUGINKIT_ERR_INSTALL 404 naming it', async (t) => {
  const s = await setup(t)
  if (s === undefined) return
  await changesNothing(s, async () => {
    const error = await rejectsWith(s.app.pluginKit.install('pk-unsat'), 'PLUGINKIT_ERR_INSTALL', 404)
    assert.match(error.message, /pk-lib|pk-unsat/)
  })
})

test('an unreachable registry (a closed port): PLUGINKIT_ERR_INSTALL 502, for install and upgrade', async (t) => {
  const s = await setup(t)
  if (s === undefined) return
  const closed = `http://127.0.0.1:${await freePort()}`
  // Another app on the same folder, whose registry is down: it boots from what is on disk.
  const { app } = await installHost(s.base, closed, { restartable: false })
  assert.deepEqual((await get(app, '/good/version')).body, { plugin: 'pk-good', version: '1.0.0' })
  await changesNothing(s, async () => {
    const started = Date.now()
    await rejectsWith(app.pluginKit.install('pk-good@1.1.0'), 'PLUGINKIT_ERR_INSTALL', 502)
    await rejectsWith(app.pluginKit.upgrade('pk-good'), 'PLUGINKIT_ERR_INSTALL', 502)
    assert.ok(Date.now() - started < 20_000, `an unreachable registry is reported without long retries (${Date.now() - started} ms)`)
  })
})

test('a tarball over maxTarballBytes: PLUGINKIT_ERR_INSTALL 413, from the registry or uploaded', async (t) => {
  const s = await setup(t)
  if (s === undefined) return
  const limit = 8192
  assert.ok(s.f.tarball('pk-big@1.0.0').length > limit, 'pk-big is over the limit')
  assert.ok(s.f.tarball('pk-good@1.1.0').length < limit, 'the other fixtures are under it')
  const { app } = await installHost(s.base, s.f.registry.url, { restartable: false, maxTarballBytes: limit })
  await changesNothing(s, async () => {
    await expectOutcomes([
      ['pk-big from the registry', () => app.pluginKit.install('pk-big'), 'PLUGINKIT_ERR_INSTALL 413'],
      ['pk-big uploaded', () => app.pluginKit.install({ tarball: s.f.tarball('pk-big@1.0.0') }), 'PLUGINKIT_ERR_INSTALL 413']
    ])
  })
})

test('a gzip bomb under maxTarballBytes: PLUGINKIT_ERR_INSTALL 413 before anything is unpacked, for the package or its package.json', async (t) => {
  const s = await setup(t)
  if (s === undefined) return
  const limit = 64 * 1024
  // 2 MiB of zeros beside a valid plugin: a few KiB gzipped, over 20 × the limit unpacked.
  const bomb = await craftTarball({ ...validPackage('pk-bomb'), 'package/zeros.bin': '\0'.repeat(2 * 1024 * 1024) })
  // A package.json padded with 1.1 MiB of spaces: valid JSON, the package within its limit (1.25 MiB).
  const manifest = JSON.stringify({ name: 'pk-bomb', version: '1.0.0', type: 'module', main: 'index.js' }) + ' '.repeat(1126 * 1024)
  const bigManifest = await craftTarball({ ...validPackage('pk-bomb'), 'package/package.json': manifest })
  assert.ok(bomb.length < limit && bigManifest.length < limit, `both are under the limit as tarballs (${bomb.length}, ${bigManifest.length} bytes)`)
  const { app } = await installHost(s.base, s.f.registry.url, { restartable: false, maxTarballBytes: limit, defer })
  await changesNothing(s, async () => {
    await expectOutcomes([
      ['unpacks to 2 MiB', () => app.pluginKit.install({ tarball: bomb }), 'PLUGINKIT_ERR_INSTALL 413'],
      ['a 1.1 MiB package.json', () => app.pluginKit.install({ tarball: bigManifest }), 'PLUGINKIT_ERR_INSTALL 413']
    ])
    assert.match((await rejectsWith(app.pluginKit.install({ tarball: bomb }), 'PLUGINKIT_ERR_INSTALL', 413)).message, /unpacks to \d+ bytes/)
    assert.match((await rejectsWith(app.pluginKit.install({ tarball: bigManifest }), 'PLUGINKIT_ERR_INSTALL', 413)).message, /package\.json over/)
  })
  assert.equal(await existsBelow(s.dir, 'zeros.bin'), false, 'nothing was unpacked')
})

/** A gzipped tar of `entries` (path -> content) written as given, `..` and absolute paths included. */
async function craftTarball (entries: Record<string, string>): Promise<Buffer> {
  const work = await mkdtemp(join(tmpdir(), 'pluginkit-craft-'))
  try {
    // Entry paths are resolved against cwd, so `package/../../x` needs cwd two levels deep.
    const cwd = join(work, 'a', 'b')
    for (const [path, content] of Object.entries(entries)) {
      const full = path.startsWith('/') ? path : join(cwd, path)
      await mkdir(dirname(full), { recursive: true })
      await writeFile(full, content)
    }
    await mkdir(join(cwd, 'package'), { recursive: true })
    const pack = tar.create({ gzip: true, cwd, preservePaths: true, portable: true }, Object.keys(entries))
    return Buffer.from(await pack.concat())
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

async function entryPaths (tarball: Buffer): Promise<string[]> {
  const paths: string[] = []
  const parser = new tar.Parser({ onReadEntry: (entry) => { paths.push(entry.path); entry.resume() } })
  await new Promise<void>((resolve, reject) => {
    parser.on('end', resolve)
    parser.on('error', reject)
    parser.end(tarball)
  })
  return paths
}

const validPackage = (name: string) => ({
  'package/package.json': JSON.stringify({ name, version: '1.0.0', type: 'module', main: 'index.js' }),
  'package/index.js': pluginSource({ name }, routeBody(name))
})

test('not a gzip tarball (an invalid body: 400), or a tarball that is not a package (422): PLUGINKIT_ERR_INSTALL', async (t) => {
  const s = await setup(t)
  if (s === undefined) return
  const noPackageJson = await craftTarball({ 'package/index.js': pluginSource({ name: 'pk-nameless' }) })
  const kit = s.app.pluginKit
  const good = s.f.tarball('pk-good@1.1.0')
  await changesNothing(s, async () => {
    await expectOutcomes([
      ['plain text', () => kit.install({ tarball: Buffer.from('this is not a tarball at all') }), 'PLUGINKIT_ERR_INSTALL 400'],
      ['gzip without a tar inside', () => kit.install({ tarball: gzipSync(Buffer.from('gzip, but no tar inside')) }), 'PLUGINKIT_ERR_INSTALL 400'],
      ['a gzip cut short', () => kit.install({ tarball: good.subarray(0, Math.floor(good.length / 2)) }), 'PLUGINKIT_ERR_INSTALL 400'],
      ['no package.json', () => kit.install({ tarball: noPackageJson }), 'PLUGINKIT_ERR_INSTALL 422']
    ])
  })
})

/** Whether a file `name` exists in `dir` or any folder above it. */
function existsAbove (dir: string, name: string): boolean {
  for (let folder = dir; ; folder = dirname(folder)) {
    if (existsSync(join(folder, name))) return true
    if (folder === parse(folder).root) return false
  }
}

async function existsBelow (dir: string, name: string): Promise<boolean> {
  const entries = await readdir(dir, { recursive: true })
  return entries.some((entry) => entry.endsWith(name))
}

test('a tarball whose entries escape the package folder (`..`, absolute paths): PLUGINKIT_ERR_INSTALL 422, nothing written outside', async (t) => {
  const s = await setup(t)
  if (s === undefined) return
  const dotdot = `evil-${randomUUID()}.js`
  const escaping = await craftTarball({ ...validPackage('pk-escape'), [`package/../../${dotdot}`]: 'globalThis.__pkEvil = true\n' })
  assert.ok((await entryPaths(escaping)).includes(`package/../../${dotdot}`), 'the crafted entry keeps its `..`')

  const target = await mkdtemp(join(tmpdir(), 'pluginkit-abs-target-'))
  t.after(() => rm(target, { recursive: true, force: true }))
  const absolute = join(target, 'evil-absolute.js')
  const absoluteTarball = await craftTarball({ ...validPackage('pk-escape'), [absolute]: 'globalThis.__pkEvil = true\n' })
  await rm(absolute)
  assert.ok((await entryPaths(absoluteTarball)).includes(absolute))

  await changesNothing(s, async () => {
    await expectOutcomes([
      ['package/../../evil.js', () => s.app.pluginKit.install({ tarball: escaping }), 'PLUGINKIT_ERR_INSTALL 422'],
      ['an absolute path', () => s.app.pluginKit.install({ tarball: absoluteTarball }), 'PLUGINKIT_ERR_INSTALL 422']
    ])
  })
  // Wherever the engine extracts (a staging folder under <dir>, or elsewhere), `../../x` lands at most two levels up.
  assert.equal(existsAbove(join(s.dir, 'packages', 'staging', 'x', 'y'), dotdot), false)
  assert.equal(existsAbove(join(tmpdir(), 'x', 'y'), dotdot), false)
  assert.equal(await existsBelow(s.base, dotdot), false)
  assert.equal(existsSync(absolute), false)
  assert.equal(s.app.pluginKit.plugins.some((plugin) => plugin.name === 'pk-escape'), false)
})

test('a package that is not a valid plugin: the boot error code (PLUGINKIT_ERR_PLUGIN_METADATA) with 422, naming the package', async (t) => {
  const s = await setup(t)
  if (s === undefined) return
  await changesNothing(s, async () => {
    const error = await rejectsWith(s.app.pluginKit.install('pk-invalid'), 'PLUGINKIT_ERR_PLUGIN_METADATA', 422)
    assert.match(error.message, /pk-invalid/)
    assert.match(error.message, /author/)
  })
})

test('a plugin name already used by a local plugin: PLUGINKIT_ERR_DUPLICATE_PLUGIN 409', async (t) => {
  const s = await setup(t)
  if (s === undefined) return
  await changesNothing(s, async () => {
    const error = await rejectsWith(s.app.pluginKit.install('pk-clash'), 'PLUGINKIT_ERR_DUPLICATE_PLUGIN', 409)
    assert.match(error.message, /clash/)
  })
})

test('uninstall, upgrade and rollback of a local plugin: PLUGINKIT_ERR_INSTALL 409; of an unknown name: PLUGINKIT_ERR_NOT_FOUND 404', async (t) => {
  const s = await setup(t)
  if (s === undefined) return
  const kit = s.app.pluginKit
  await changesNothing(s, async () => {
    await expectOutcomes([
      ['uninstall(clash)', () => kit.uninstall('clash'), 'PLUGINKIT_ERR_INSTALL 409'],
      ['upgrade(clash)', () => kit.upgrade('clash'), 'PLUGINKIT_ERR_INSTALL 409'],
      ['upgrade(clash, pk-good@1.1.0)', () => kit.upgrade('clash', 'pk-good@1.1.0'), 'PLUGINKIT_ERR_INSTALL 409'],
      ['rollback(clash)', () => kit.rollback('clash'), 'PLUGINKIT_ERR_INSTALL 409'],
      ['uninstall(no-such-plugin)', () => kit.uninstall('no-such-plugin'), 'PLUGINKIT_ERR_NOT_FOUND 404'],
      ['upgrade(no-such-plugin)', () => kit.upgrade('no-such-plugin'), 'PLUGINKIT_ERR_NOT_FOUND 404'],
      ['rollback(no-such-plugin)', () => kit.rollback('no-such-plugin'), 'PLUGINKIT_ERR_NOT_FOUND 404']
    ])
  })
})

test('an upload of an installed version with other bytes: PLUGINKIT_ERR_INSTALL 409 (the folder keeps the bytes the lockfile pins)', async (t) => {
  const s = await setup(t)
  if (s === undefined) return
  const changed = await mkdtemp(join(tmpdir(), 'pk-good-changed-'))
  defer(() => rm(changed, { recursive: true, force: true }))
  await cp(s.f.sources['pk-good@1.0.0'] as string, changed, { recursive: true })
  await appendFile(join(changed, 'index.js'), '\n// the same version, other bytes\n')
  const tarball = await packFolder(changed)
  assert.notEqual(integrityOf(tarball), integrityOf(s.f.tarball('pk-good@1.0.0')))
  await changesNothing(s, async () => {
    const error = await rejectsWith(s.app.pluginKit.upgrade('pk-good', { tarball }), 'PLUGINKIT_ERR_INSTALL', 409)
    assert.match(error.message, /1\.0\.0 is already installed from other bytes/)
  })
})

test('rollback of an installed plugin that was never upgraded: PLUGINKIT_ERR_INSTALL 409', async (t) => {
  const s = await setup(t)
  if (s === undefined) return
  await changesNothing(s, async () => {
    await rejectsWith(s.app.pluginKit.rollback('pk-good'), 'PLUGINKIT_ERR_INSTALL', 409)
  })
})

test('uninstall of a plugin an enabled plugin depends on, without cascade: PLUGINKIT_ERR_DEPENDENCY 409', async (t) => {
  const s = await setup(t)
  if (s === undefined) return
  await changesNothing(s, async () => {
    const error = await rejectsWith(s.app.pluginKit.uninstall('pk-good'), 'PLUGINKIT_ERR_DEPENDENCY', 409)
    assert.match(error.message, /pk-needs-good/)
    await rejectsWith(s.app.pluginKit.uninstall('pk-good', { cascade: false }), 'PLUGINKIT_ERR_DEPENDENCY', 409)
  })
  assert.equal(s.app.pluginKit.get('pk-needs-good').state, 'enabled')
})

test('without the install option every operation rejects with PLUGINKIT_ERR_INSTALL, nothing is pending, nothing is written', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const base = await hostTree()
  const { app } = await installHost(base, f.registry.url, { restartable: false, kit: { install: undefined } })
  const operations: Array<() => Promise<unknown>> = [
    () => app.pluginKit.install('pk-good'),
    () => app.pluginKit.install({ tarball: f.tarball('pk-good@1.0.0') }),
    () => app.pluginKit.upgrade('pk-good'),
    () => app.pluginKit.rollback('pk-good'),
    () => app.pluginKit.uninstall('pk-good')
  ]
  for (const operation of operations) {
    const error = await rejectsWith(operation(), 'PLUGINKIT_ERR_INSTALL')
    assert.match(error.message, /install/)
  }
  assert.deepEqual(app.pluginKit.pending, [])
  assert.equal(app.pluginKit.operation, undefined)
  assert.equal(app.pluginKit.syncError, undefined)
  assert.equal(existsSync(join(base, '.pluginkit')), false)
})
