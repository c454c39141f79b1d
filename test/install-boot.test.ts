import { test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PluginInfo } from 'fastify-pluginkit'
import { pluginSource, routeBody } from './helpers.ts'
import { get, hostTree, installHost, registryFixtures, rejectsWith, snapshot, type Fixtures } from './helpers-registry.ts'

// SPEC section 11 at boot: installed packages load like pluginPackages (after them, in name
// order, before the local plugins), and each one's files are checked against the digests taken
// at install: a changed or missing file fails that plugin with PLUGINKIT_ERR_INTEGRITY. A
// registry tarball that does not match its published integrity is refused at install.

const fixtures = registryFixtures()

/** A host with a package plugin, a local plugin, and pk-good 1.0.0 and pk-alias installed (by an app that is closed again). */
async function installedHost (f: Fixtures): Promise<{ base: string, dir: string }> {
  const base = await hostTree({
    'node_modules/zz-package/package.json': JSON.stringify({ name: 'zz-package', version: '1.0.0', type: 'module', exports: './main.js' }),
    'node_modules/zz-package/main.js': pluginSource({ name: 'zz-package' }, routeBody('zz-package')),
    'plugins/a-local/index.mjs': pluginSource({ name: 'a-local' }, routeBody('a-local'))
  })
  const { app, dir } = await installHost(base, f.registry.url, { restartable: false, kit: { pluginPackages: ['zz-package'] } })
  await app.pluginKit.install('pk-good@1.0.0')
  await app.pluginKit.install({ tarball: f.tarball('pk-alias@1.0.0') })
  await app.close()
  return { base, dir }
}

const kit = { pluginPackages: ['zz-package'] }

test('installed plugins load after pluginPackages, in name order, before the local plugins', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const { base } = await installedHost(f)
  const { app } = await installHost(base, f.registry.url, { restartable: false, kit })
  assert.deepEqual(app.pluginKit.plugins.map((plugin: PluginInfo) => plugin.name), ['zz-package', 'alias-plugin', 'pk-good', 'a-local'])
  assert.deepEqual(app.pluginKit.plugins.map((plugin: PluginInfo) => plugin.source), ['package', 'installed', 'installed', 'local'])
  assert.deepEqual((await get(app, '/good/version')).body, { plugin: 'pk-good', version: '1.0.0' })
  assert.deepEqual((await get(app, '/alias/version')).body, { plugin: 'alias-plugin', version: '1.0.0' })
})

test('a changed file of an installed package: strict boot fails with PLUGINKIT_ERR_INTEGRITY; strict: false skips only that plugin', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const { base, dir } = await installedHost(f)
  const entry = join(dir, 'packages', 'pk-good@1.0.0', 'index.js')
  const original = await readFile(entry)
  await appendFile(entry, '\nglobalThis.__pkTamperedCodeRan = true\n')

  const error = await rejectsWith(installHost(base, f.registry.url, { restartable: false, kit }), 'PLUGINKIT_ERR_INTEGRITY')
  assert.match(error.message, /pk-good/)
  assert.equal((globalThis as { __pkTamperedCodeRan?: boolean }).__pkTamperedCodeRan, undefined, 'the changed code never ran')

  const { app } = await installHost(base, f.registry.url, { restartable: false, kit: { ...kit, strict: false } })
  const failures = app.pluginKit.failures
  assert.equal(failures.length, 1)
  assert.equal(failures[0]?.plugin, 'pk-good')
  assert.equal(failures[0]?.source, 'installed')
  assert.equal(failures[0]?.error.code, 'PLUGINKIT_ERR_INTEGRITY')
  assert.equal((await get(app, '/good/version')).status, 404)
  assert.deepEqual((await get(app, '/alias/version')).body, { plugin: 'alias-plugin', version: '1.0.0' })
  assert.deepEqual((await get(app, '/a-local')).body, { plugin: 'a-local' })
  assert.deepEqual((await get(app, '/zz-package')).body, { plugin: 'zz-package' })
  assert.equal(app.pluginKit.plugins.some((plugin: PluginInfo) => plugin.name === 'pk-good'), false)
  await app.close()

  // The check is on the content: the original bytes boot again.
  await writeFile(entry, original)
  const restored = await installHost(base, f.registry.url, { restartable: false, kit })
  assert.deepEqual((await get(restored.app, '/good/version')).body, { plugin: 'pk-good', version: '1.0.0' })
})

test('a deleted file of an installed package fails that plugin with PLUGINKIT_ERR_INTEGRITY', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const { base, dir } = await installedHost(f)
  await rm(join(dir, 'packages', 'pk-good@1.0.0', 'README.md'))
  const error = await rejectsWith(installHost(base, f.registry.url, { restartable: false, kit }), 'PLUGINKIT_ERR_INTEGRITY')
  assert.match(error.message, /pk-good/)

  const { app } = await installHost(base, f.registry.url, { restartable: false, kit: { ...kit, strict: false } })
  assert.deepEqual(app.pluginKit.failures.map((failure) => [failure.plugin, failure.error.code]), [['pk-good', 'PLUGINKIT_ERR_INTEGRITY']])
  assert.deepEqual((await get(app, '/alias/version')).body, { plugin: 'alias-plugin', version: '1.0.0' })
})

test('a registry tarball that does not match its published integrity: PLUGINKIT_ERR_INTEGRITY 422, nothing changes', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const { base, dir } = await installedHost(f)
  const { app } = await installHost(base, f.registry.url, { kit })
  const before = await snapshot(dir)
  await rejectsWith(app.pluginKit.install('pk-tampered'), 'PLUGINKIT_ERR_INTEGRITY', 422)
  await rejectsWith(app.pluginKit.install('pk-tampered@1.0.0'), 'PLUGINKIT_ERR_INTEGRITY', 422)
  assert.deepEqual(await snapshot(dir), before)
  assert.equal((await get(app, '/tampered/version')).status, 404)
  assert.deepEqual((await get(app, '/good/version')).body, { plugin: 'pk-good', version: '1.0.0' })
  assert.deepEqual(app.pluginKit.pending, [])
})
