import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, realpathSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, sep } from 'node:path'
import pacote from 'pacote'
import * as hostKit from 'fastify-pluginkit'
import type { InstallResult, PluginInfo } from 'fastify-pluginkit'
import { pluginSource, routeBody } from './helpers.ts'
import {
  get, hostTree, installHost, packageFolders, readLockfile, registryFixtures, rejectsWith, snapshot, type Fixtures
} from './helpers-registry.ts'

// SPEC section 11 through the public API: install, upgrade, rollback and uninstall plugin
// packages from a real registry (verdaccio, test/helpers-registry.ts) or an uploaded tarball,
// activated by an in-process swap under @fastify/restartable, or pending until the next start.

const fixtures = registryFixtures()

function published (f: Fixtures, id: string): { integrity: string, tarballUrl: string } {
  const found = f.published[id]
  assert.ok(found !== undefined, `fixture ${id} was published`)
  return found
}

function expectedResult (f: Fixtures, name: string, pkg: string, version: string, activated: boolean): InstallResult {
  return { plugin: { name, version, package: pkg, integrity: published(f, `${pkg}@${version}`).integrity }, activated }
}

test('the registry harness: pk-good@latest is 1.1.0, and pk-tampered fails its published integrity', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const registry = f.registry.url
  const latest = await pacote.manifest('pk-good@latest', { registry })
  assert.equal(latest.version, '1.1.0')
  assert.equal(latest._integrity, published(f, 'pk-good@1.1.0').integrity)
  const dir = await mkdtemp(join(tmpdir(), 'pluginkit-harness-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const integrity = published(f, 'pk-tampered@1.0.0').integrity
  await assert.rejects(pacote.extract('pk-tampered@1.0.0', join(dir, 'tampered'), { registry, integrity }), { code: 'EINTEGRITY' })
  await pacote.extract('pk-good@1.0.0', join(dir, 'good'), { registry, integrity: published(f, 'pk-good@1.0.0').integrity })
  assert.equal(JSON.parse(await readFile(join(dir, 'good', 'package.json'), 'utf8')).version, '1.0.0')

  // The install scripts of pk-lib, as the registry serves them, do write the marker when run
  // (so its absence after an install means they did not run); the marker is removed again.
  const lib = await pacote.manifest('pk-lib@1.0.0', { registry, fullMetadata: true })
  execFileSync('sh', ['-c', lib.scripts?.postinstall ?? 'false'], { cwd: dir })
  assert.equal(await readFile(f.scriptMarker, 'utf8'), 'pk-lib postinstall\n')
  await rm(f.scriptMarker)
})

test('install from the registry under restartable: activated, served at once, PluginInfo source installed, lockfile as SPEC says', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const base = await hostTree()
  const { app, dir, url } = await installHost(base, f.registry.url, { listen: true })
  assert.equal((await fetch(`${url}/good/version`)).status, 404)

  const before = Date.now()
  const result = await app.pluginKit.install('pk-good@1.0.0')
  const afterInstall = Date.now()
  assert.deepEqual(result, expectedResult(f, 'pk-good', 'pk-good', '1.0.0', true))

  // The server answers from the new app as soon as the call resolves.
  const response = await fetch(`${url}/good/version`)
  assert.equal(response.status, 200)
  assert.deepEqual(await response.json(), { plugin: 'pk-good', version: '1.0.0' })
  assert.equal((await fetch(`${url}/`)).status, 200, 'the host route still serves')

  const info = app.pluginKit.get('pk-good')
  assert.equal(info.source, 'installed')
  assert.equal(info.packageName, 'pk-good')
  assert.equal(info.version, '1.0.0')
  assert.equal(info.integrity, published(f, 'pk-good@1.0.0').integrity)
  assert.equal(info.state, 'enabled')
  assert.equal(realpathSync(info.dir), realpathSync(join(dir, 'packages', 'pk-good@1.0.0')))
  assert.deepEqual(app.pluginKit.pending, [])
  assert.equal(app.pluginKit.operation, undefined)

  const lock = await readLockfile(dir)
  assert.ok(lock !== undefined, 'plugins.lock.json written')
  assert.equal(lock.lockfileVersion, 1)
  assert.deepEqual(Object.keys(lock.plugins), ['pk-good'])
  const entry = lock.plugins['pk-good']
  assert.ok(entry !== undefined)
  assert.equal(entry.package, 'pk-good')
  assert.equal(entry.version, '1.0.0')
  assert.equal(entry.integrity, published(f, 'pk-good@1.0.0').integrity)
  assert.equal(entry.source, 'registry')
  assert.equal(entry.resolved, published(f, 'pk-good@1.0.0').tarballUrl)
  const installedAt = Date.parse(entry.installedAt)
  assert.ok(new Date(installedAt).toISOString() === entry.installedAt, `installedAt is an ISO date: ${entry.installedAt}`)
  assert.ok(installedAt >= before - 1000 && installedAt <= afterInstall + 1000, 'installedAt is the time of the install')
  assert.deepEqual(await packageFolders(dir), ['pk-good@1.0.0'])
  assert.equal(JSON.parse(await readFile(join(dir, 'packages', 'pk-good@1.0.0', 'package.json'), 'utf8')).version, '1.0.0')
})

test('upgrade keeps a disabled state and the previous version on disk; rollback goes back; uninstall removes route, record and folders', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const base = await hostTree()
  const { app, dir } = await installHost(base, f.registry.url)
  await app.pluginKit.install('pk-good@1.0.0')
  await app.pluginKit.disable('pk-good')
  assert.equal((await get(app, '/good/version')).status, 404)

  // Without a spec: <package>@latest, which is 1.1.0 (2.0.0-broken.0 is only tagged `broken`).
  const upgraded = await app.pluginKit.upgrade('pk-good')
  assert.deepEqual(upgraded, expectedResult(f, 'pk-good', 'pk-good', '1.1.0', true))
  assert.equal(app.pluginKit.get('pk-good').version, '1.1.0')
  assert.equal(app.pluginKit.get('pk-good').state, 'disabled', 'the disabled state is kept across the upgrade')
  assert.equal((await get(app, '/good/version')).status, 404)
  assert.deepEqual(await packageFolders(dir), ['pk-good@1.0.0', 'pk-good@1.1.0'], 'the previous version stays on disk for rollback')
  let lock = await readLockfile(dir)
  assert.equal(lock?.plugins['pk-good']?.version, '1.1.0')
  assert.equal(lock?.plugins['pk-good']?.integrity, published(f, 'pk-good@1.1.0').integrity)

  await app.pluginKit.enable('pk-good')
  assert.deepEqual((await get(app, '/good/version')).body, { plugin: 'pk-good', version: '1.1.0' })

  const rolledBack = await app.pluginKit.rollback('pk-good')
  assert.deepEqual(rolledBack, expectedResult(f, 'pk-good', 'pk-good', '1.0.0', true))
  assert.deepEqual((await get(app, '/good/version')).body, { plugin: 'pk-good', version: '1.0.0' })
  assert.equal(app.pluginKit.get('pk-good').state, 'enabled')
  assert.equal(app.pluginKit.get('pk-good').integrity, published(f, 'pk-good@1.0.0').integrity)
  lock = await readLockfile(dir)
  assert.equal(lock?.plugins['pk-good']?.version, '1.0.0')
  assert.equal(lock?.plugins['pk-good']?.integrity, published(f, 'pk-good@1.0.0').integrity)

  assert.deepEqual(await app.pluginKit.uninstall('pk-good'), { activated: true })
  assert.equal((await get(app, '/good/version')).status, 404)
  assert.equal((await get(app, '/')).status, 200)
  await rejectsWith(Promise.resolve().then(() => app.pluginKit.get('pk-good')), 'PLUGINKIT_ERR_NOT_FOUND', 404)
  assert.deepEqual((await readLockfile(dir))?.plugins, {})
  assert.deepEqual(await packageFolders(dir), [], 'every version of the package is deleted once the app without it serves')
})

test('install of an uploaded npm pack tarball: the package name differs from the plugin name; source upload', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const base = await hostTree()
  const { app, dir } = await installHost(base, f.registry.url)
  const result = await app.pluginKit.install({ tarball: f.tarball('pk-alias@1.0.0') })
  // The integrity of an upload is computed from its bytes: the same bytes the registry has.
  assert.deepEqual(result, expectedResult(f, 'alias-plugin', 'pk-alias', '1.0.0', true))
  assert.deepEqual((await get(app, '/alias/version')).body, { plugin: 'alias-plugin', version: '1.0.0' })
  const info = app.pluginKit.get('alias-plugin')
  assert.equal(info.source, 'installed')
  assert.equal(info.packageName, 'pk-alias')
  const entry = (await readLockfile(dir))?.plugins['alias-plugin']
  assert.equal(entry?.package, 'pk-alias')
  assert.equal(entry?.version, '1.0.0')
  assert.equal(entry?.source, 'upload')
  assert.equal(entry?.integrity, published(f, 'pk-alias@1.0.0').integrity)
  assert.deepEqual(await packageFolders(dir), ['pk-alias@1.0.0'])

  // Operations name the plugin, not the package.
  assert.deepEqual(await app.pluginKit.uninstall('alias-plugin'), { activated: true })
  assert.equal((await get(app, '/alias/version')).status, 404)
  assert.deepEqual(await packageFolders(dir), [])
})

test('a new plugin starts in its manifest state (disabled), and can then be enabled', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const { app } = await installHost(await hostTree(), f.registry.url)
  await app.pluginKit.install('pk-starts-off')
  assert.equal(app.pluginKit.get('pk-starts-off').state, 'disabled')
  assert.equal((await get(app, '/off/version')).status, 404)
  await app.pluginKit.enable('pk-starts-off')
  assert.deepEqual((await get(app, '/off/version')).body, { plugin: 'pk-starts-off', version: '1.0.0' })
})

test('without restartable: activated false, pending until the next start; a fresh app on the same folder serves it', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const base = await hostTree()
  const first = await installHost(base, f.registry.url, { restartable: false })
  const installed = await first.app.pluginKit.install('pk-good@^1.0.0 <1.1.0')
  assert.deepEqual(installed, expectedResult(f, 'pk-good', 'pk-good', '1.0.0', false))
  assert.deepEqual(first.app.pluginKit.pending, [{ action: 'install', name: 'pk-good', package: 'pk-good', version: '1.0.0' }])
  assert.equal((await get(first.app, '/good/version')).status, 404, 'this process does not serve it yet')
  await rejectsWith(Promise.resolve().then(() => first.app.pluginKit.get('pk-good')), 'PLUGINKIT_ERR_NOT_FOUND', 404)
  assert.equal((await readLockfile(first.dir))?.plugins['pk-good']?.version, '1.0.0')
  await first.app.close()

  const second = await installHost(base, f.registry.url, { restartable: false })
  assert.deepEqual(second.app.pluginKit.pending, [])
  assert.deepEqual((await get(second.app, '/good/version')).body, { plugin: 'pk-good', version: '1.0.0' })
  assert.equal(second.app.pluginKit.get('pk-good').source, 'installed')

  const upgraded = await second.app.pluginKit.upgrade('pk-good', 'pk-good@1.1.0')
  assert.deepEqual(upgraded, expectedResult(f, 'pk-good', 'pk-good', '1.1.0', false))
  assert.deepEqual(second.app.pluginKit.pending, [{ action: 'upgrade', name: 'pk-good', package: 'pk-good', version: '1.1.0', from: '1.0.0' }])
  assert.deepEqual((await get(second.app, '/good/version')).body, { plugin: 'pk-good', version: '1.0.0' }, 'still the version it booted with')

  // Measured against what this process serves (1.0.0): the upgrade then the uninstall is one uninstall.
  assert.deepEqual(await second.app.pluginKit.uninstall('pk-good'), { activated: false })
  assert.deepEqual(second.app.pluginKit.pending, [{ action: 'uninstall', name: 'pk-good', package: 'pk-good', from: '1.0.0' }])
  assert.deepEqual((await get(second.app, '/good/version')).body, { plugin: 'pk-good', version: '1.0.0' })
  await second.app.close()

  const third = await installHost(base, f.registry.url, { restartable: false })
  assert.equal((await get(third.app, '/good/version')).status, 404)
  assert.deepEqual(third.app.pluginKit.pending, [])
  assert.equal(third.app.pluginKit.plugins.some((plugin: PluginInfo) => plugin.name === 'pk-good'), false)
})

test('install scripts never run; production dependencies are installed, dev dependencies not; the kit is the host\'s (peer)', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const base = await hostTree()
  const { app, dir } = await installHost(base, f.registry.url)
  const result = await app.pluginKit.install('pk-dep')
  assert.deepEqual(result, expectedResult(f, 'pk-dep', 'pk-dep', '1.0.0', true))

  assert.equal(existsSync(f.scriptMarker), false, 'no preinstall/install/postinstall/prepare script of pk-dep or pk-lib ran')
  const folder = realpathSync(join(dir, 'packages', 'pk-dep@1.0.0'))
  assert.equal(JSON.parse(await readFile(join(folder, 'node_modules', 'pk-lib', 'package.json'), 'utf8')).version, '1.0.0')
  assert.equal(existsSync(join(folder, 'node_modules', 'fastify-pluginkit')), false, 'the peer is not installed into the package')

  const { status, body } = await get(app, '/dep')
  assert.equal(status, 200)
  const answer = body as { answer: number, libFile: string, kit: string }
  assert.equal(answer.answer, 42)
  assert.ok(realpathSync(answer.libFile).startsWith(folder + sep), `pk-lib loads from the package's own node_modules: ${answer.libFile}`)
  assert.equal(answer.kit, import.meta.resolve('fastify-pluginkit'))
  const kits = (globalThis as { __pkFixtureKits?: Record<string, unknown> }).__pkFixtureKits
  assert.equal(kits?.['pk-dep@1.0.0'], hostKit, 'the plugin got the host\'s module instance of fastify-pluginkit')
  assert.equal(existsSync(join(folder, 'node_modules', 'pk-good')), false, 'its devDependency (pk-good) is not installed')
})

test('a devDependency the registry does not have does not stop installing the production ones (dev dependencies are not resolved)', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const { app, dir } = await installHost(await hostTree(), f.registry.url)
  assert.deepEqual(await app.pluginKit.install('pk-devdeps'), expectedResult(f, 'pk-devdeps', 'pk-devdeps', '1.0.0', true))
  assert.deepEqual((await get(app, '/devdeps/version')).body, { plugin: 'pk-devdeps', version: '1.0.0' })
  assert.equal(existsSync(join(dir, 'packages', 'pk-devdeps@1.0.0', 'node_modules', 'pk-lib', 'package.json')), true)
  assert.equal(existsSync(join(dir, 'packages', 'pk-devdeps@1.0.0', 'node_modules', 'pk-dev-only')), false)
})

test('a version whose register throws is refused with PLUGINKIT_ERR_REGISTER (422); the old app keeps serving, nothing changes on disk', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const base = await hostTree()
  const { app, dir } = await installHost(base, f.registry.url)
  await app.pluginKit.install('pk-good@1.0.0')
  const before = await snapshot(dir)

  const upgrade = await rejectsWith(app.pluginKit.upgrade('pk-good', 'pk-good@2.0.0-broken.0'), 'PLUGINKIT_ERR_REGISTER', 422)
  assert.match(upgrade.message, /pk-good/)
  assert.deepEqual((await get(app, '/good/version')).body, { plugin: 'pk-good', version: '1.0.0' })
  assert.equal(app.pluginKit.get('pk-good').version, '1.0.0')
  assert.deepEqual(await snapshot(dir), before, 'lockfile byte-identical, no folder left behind')

  await rejectsWith(app.pluginKit.install('pk-throws'), 'PLUGINKIT_ERR_REGISTER', 422)
  assert.deepEqual((await get(app, '/good/version')).body, { plugin: 'pk-good', version: '1.0.0' })
  assert.equal(app.pluginKit.plugins.some((plugin: PluginInfo) => plugin.name === 'pk-throws'), false)
  assert.deepEqual(await snapshot(dir), before)
  assert.equal(app.pluginKit.operation, undefined)
  assert.deepEqual(app.pluginKit.pending, [])
})

test('strict: false: a local plugin already broken does not stop installs; a package that fails is still refused with its code', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const base = await hostTree({ 'plugins/broken/index.mjs': pluginSource({ name: 'broken' }, "throw new Error('broken before any install')") })
  const { app, dir } = await installHost(base, f.registry.url, { kit: { strict: false } })
  assert.deepEqual(app.pluginKit.failures.map((failure) => failure.plugin), ['broken'])
  assert.equal((await app.pluginKit.install('pk-good@1.0.0')).activated, true)
  assert.deepEqual((await get(app, '/good/version')).body, { plugin: 'pk-good', version: '1.0.0' })
  const before = await snapshot(dir)
  // Under strict: false the new app would boot without it; the operation is refused all the same.
  await rejectsWith(app.pluginKit.install('pk-throws'), 'PLUGINKIT_ERR_REGISTER', 422)
  assert.deepEqual(await snapshot(dir), before, 'lockfile byte-identical, no folder left behind')
  assert.deepEqual(app.pluginKit.failures.map((failure) => failure.plugin), ['broken'])
})

test('operations queue: two installs called together both succeed, one after the other, through the app that received them', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const { app, dir } = await installHost(await hostTree(), f.registry.url)
  const kit = app.pluginKit
  const finished: string[] = []
  const first = kit.install('pk-good@1.1.0').then((result) => { finished.push('pk-good'); return result })
  const second = kit.install({ tarball: f.tarball('pk-alias@1.0.0') }).then((result) => { finished.push('alias-plugin'); return result })
  await new Promise((resolve) => setImmediate(resolve))
  const running = kit.operation
  assert.ok(running !== undefined, 'an operation is running')
  assert.equal(running.action, 'install')
  assert.equal(running.target, 'pk-good@1.1.0')
  assert.ok(!Number.isNaN(Date.parse(running.startedAt)))

  const [one, two] = await Promise.all([first, second])
  assert.deepEqual(finished, ['pk-good', 'alias-plugin'])
  assert.deepEqual(one, expectedResult(f, 'pk-good', 'pk-good', '1.1.0', true))
  assert.deepEqual(two, expectedResult(f, 'alias-plugin', 'pk-alias', '1.0.0', true))
  assert.deepEqual((await get(app, '/good/version')).body, { plugin: 'pk-good', version: '1.1.0' })
  assert.deepEqual((await get(app, '/alias/version')).body, { plugin: 'alias-plugin', version: '1.0.0' })
  assert.deepEqual(Object.keys((await readLockfile(dir))?.plugins ?? {}).sort(), ['alias-plugin', 'pk-good'])
  assert.equal(app.pluginKit.operation, undefined)
})

test('uninstall with cascade disables the enabled dependents first; they come back, disabled, with the dependency', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const { app, dir } = await installHost(await hostTree({
    'plugins/local/index.mjs': pluginSource({ name: 'local' }, routeBody('local'))
  }), f.registry.url)
  await app.pluginKit.install('pk-good@1.0.0')
  await app.pluginKit.install('pk-needs-good')
  assert.deepEqual((await get(app, '/needs/version')).body, { plugin: 'pk-needs-good', version: '1.0.0' })

  assert.deepEqual(await app.pluginKit.uninstall('pk-good', { cascade: true }), { activated: true })
  assert.equal((await get(app, '/good/version')).status, 404)
  assert.equal((await get(app, '/needs/version')).status, 404)
  assert.deepEqual((await get(app, '/local')).body, { plugin: 'local' }, 'the app without pk-good serves')
  assert.equal(app.pluginKit.plugins.some((plugin: PluginInfo) => plugin.name === 'pk-good'), false)
  assert.deepEqual(Object.keys((await readLockfile(dir))?.plugins ?? {}), ['pk-needs-good'])
  // SPEC says the dependents are disabled, not where a disabled plugin whose dependency is gone is
  // listed: either in plugins (disabled) or in failures (PLUGINKIT_ERR_DEPENDENCY) is accepted.
  const listed = app.pluginKit.plugins.find((plugin: PluginInfo) => plugin.name === 'pk-needs-good')
  if (listed !== undefined) assert.equal(listed.state, 'disabled')
  else {
    const failure = app.pluginKit.failures.find((failed) => failed.plugin === 'pk-needs-good')
    assert.equal(failure?.error.code, 'PLUGINKIT_ERR_DEPENDENCY')
  }

  // Its disabled state was saved: with pk-good back it loads, disabled, until enabled.
  await app.pluginKit.install('pk-good@1.0.0')
  assert.equal(app.pluginKit.get('pk-needs-good').state, 'disabled')
  assert.equal((await get(app, '/needs/version')).status, 404)
  await app.pluginKit.enable('pk-needs-good')
  assert.deepEqual((await get(app, '/needs/version')).body, { plugin: 'pk-needs-good', version: '1.0.0' })
})
