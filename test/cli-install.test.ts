// The install commands of the CLI (SPEC 11): `install <spec | file.tgz>`, `uninstall <name>`,
// `list` and `install --frozen`, run as `node dist/cli.js` against a real registry (verdaccio)
// in a host project, and an app started afterwards serving what they installed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pluginkit } from './helpers-cli.ts'
import { deferToFileEnd, get, hostTree, installHost, registryFixtures } from './helpers-registry.ts'

const fixtures = registryFixtures()
const defer = deferToFileEnd()

test('install, list, uninstall and install --frozen from the command line; an app started after serves what they left', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const base = await hostTree({}, defer)
  const registry = ['--registry', f.registry.url]

  const installed = await pluginkit(['install', 'pk-good@1.0.0', ...registry, '--allow', 'pk-*'], base)
  assert.equal(installed.code, 0, installed.stderr)
  assert.match(installed.stdout, /installed pk-good@1\.0\.0 as plugin "pk-good"/)
  await writeFile(join(base, 'upload.tgz'), f.tarball('pk-alias@1.0.0'))
  const uploaded = await pluginkit(['install', 'upload.tgz', ...registry], base)
  assert.equal(uploaded.code, 0, uploaded.stderr)

  const refused = await pluginkit(['install', 'other-pkg', ...registry, '--allow', 'pk-*'], base)
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /PLUGINKIT_ERR_INSTALL .*other-pkg.*not allowed/)

  const listed = JSON.parse((await pluginkit(['list', '--json'], base)).stdout) as { plugins: Array<Record<string, unknown>> }
  assert.deepEqual(listed.plugins.map(({ name, package: pkg, version, source, problem }) => ({ name, pkg, version, source, problem })), [
    { name: 'alias-plugin', pkg: 'pk-alias', version: '1.0.0', source: 'upload', problem: undefined },
    { name: 'pk-good', pkg: 'pk-good', version: '1.0.0', source: 'registry', problem: undefined }
  ])

  // An app started now serves them (a CLI operation is for the next start of an app that is not running).
  const app = await installHost(base, f.registry.url, { restartable: false, defer })
  assert.deepEqual((await get(app.app, '/good/version')).body, { plugin: 'pk-good', version: '1.0.0' })
  await app.app.close()

  // A fresh image: the lockfile (and the uploaded tarballs) but no package folders.
  const lockfile = await readFile(join(base, '.pluginkit', 'plugins.lock.json'), 'utf8')
  await rm(join(base, '.pluginkit', 'packages'), { recursive: true })
  const missing = await pluginkit(['list'], base)
  assert.match(missing.stdout, /pk-good.*missing or incomplete/)
  const frozen = await pluginkit(['install', '--frozen', ...registry], base)
  assert.equal(frozen.code, 0, frozen.stderr)
  assert.match(frozen.stdout, /2 package versions as pinned/)
  assert.equal(await readFile(join(base, '.pluginkit', 'plugins.lock.json'), 'utf8'), lockfile, '--frozen never writes the lockfile')
  assert.doesNotMatch((await pluginkit(['list'], base)).stdout, /missing|changed/)

  // A pinned integrity the registry's tarball does not match: --frozen fails, naming it.
  const pinned = JSON.parse(lockfile) as { plugins: Record<string, { integrity: string }> }
  const good = pinned.plugins['pk-good'] as { integrity: string }
  good.integrity = f.published['pk-good@1.1.0']?.integrity as string
  await writeFile(join(base, '.pluginkit', 'plugins.lock.json'), JSON.stringify(pinned))
  await rm(join(base, '.pluginkit', 'packages', 'pk-good@1.0.0'), { recursive: true })
  const mismatch = await pluginkit(['install', '--frozen', ...registry], base)
  assert.equal(mismatch.code, 1)
  assert.match(mismatch.stderr, /PLUGINKIT_ERR_INTEGRITY/)
  await writeFile(join(base, '.pluginkit', 'plugins.lock.json'), lockfile)
  assert.equal((await pluginkit(['install', '--frozen', ...registry], base)).code, 0)

  const removed = await pluginkit(['uninstall', 'pk-good', ...registry], base)
  assert.equal(removed.code, 0, removed.stderr)
  const after = JSON.parse((await pluginkit(['list', '--json'], base)).stdout) as { plugins: Array<{ name: string }> }
  assert.deepEqual(after.plugins.map(({ name }) => name), ['alias-plugin'])
})
