// A real npm registry for the install tests (SPEC section 11): verdaccio, installed on first use
// into a cache folder outside the repository's node_modules, started per test file on 127.0.0.1,
// and the fixture plugin packages published into it.
//
//     const fixtures = registryFixtures()          // at the top of the test file: one registry per file
//     test('...', async (t) => {
//       const f = await fixtures(t)                // skips the test (with a notice) when verdaccio cannot be installed
//       if (f === undefined) return
//       ... install: { allow: ['pk-*'], registry: f.registry.url } ...
//     })
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, type Dirent } from 'node:fs'
import { mkdir, mkdtemp, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { after, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { restartable } from '@fastify/restartable'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import pluginKit, { PluginKitError, type PluginKitOptions } from 'fastify-pluginkit'
import lockfile from 'proper-lockfile'
import ssri from 'ssri'
import * as tar from 'tar'
import { servicesRequired } from './helpers-services.ts'

/**
 * 6.8.0 runs on Node 20 (6.10 wants Node 22) once node-fetch is pinned to 2.7.0 (DESIGN-NOTES),
 * and was checked to start, create a user and serve packages on Node 20.20, 22, 24 and 26.
 */
export const VERDACCIO_VERSION = '6.8.0'

/** Where verdaccio is installed; PLUGINKIT_VERDACCIO_DIR overrides. Shared by every checkout and test file. */
export const verdaccioCache = process.env.PLUGINKIT_VERDACCIO_DIR ?? join(tmpdir(), `pluginkit-verdaccio-${VERDACCIO_VERSION}`)

const cachePackageJson = {
  name: 'pluginkit-test-verdaccio',
  private: true,
  description: 'verdaccio for fastify-pluginkit tests (test/helpers-registry.ts)',
  dependencies: { verdaccio: VERDACCIO_VERSION },
  overrides: { 'node-fetch': '2.7.0' }
}

/** verdaccio's package folder in the cache, or why it cannot be there. */
class RegistryUnavailable extends Error {}

async function run (command: string, args: string[], cwd: string): Promise<{ code: number | null, output: string }> {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: withoutCoverage() })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-8000) })
  child.stderr.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-8000) })
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', (error) => { output += String(error); resolve(null) })
    child.once('close', resolve)
  })
  return { code, output }
}

/** The environment for child processes, without c8's NODE_V8_COVERAGE (verdaccio's coverage would only slow the report). */
function withoutCoverage (): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.NODE_V8_COVERAGE
  return env
}

const installedMarker = () => join(verdaccioCache, '.installed')

/**
 * Installs verdaccio into the cache folder unless it is there. Parallel test files take a lock
 * (proper-lockfile) so that one installs while the others wait; the install goes to a staging
 * folder renamed into place, and `.installed` is written last, so a half-done install is never used.
 */
async function ensureVerdaccio (): Promise<string> {
  const entry = join(verdaccioCache, 'node_modules', 'verdaccio')
  if (existsSync(installedMarker())) return entry
  await mkdir(dirname(verdaccioCache), { recursive: true })
  const release = await lockfile.lock(verdaccioCache, {
    realpath: false,
    stale: 30_000,
    update: 5_000,
    retries: { retries: 300, minTimeout: 500, maxTimeout: 1000 }
  })
  try {
    if (existsSync(installedMarker())) return entry
    const staging = `${verdaccioCache}.staging-${process.pid}`
    await rm(staging, { recursive: true, force: true })
    await mkdir(staging, { recursive: true })
    await writeFile(join(staging, 'package.json'), JSON.stringify(cachePackageJson, null, 2) + '\n')
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    // --ignore-scripts: nothing verdaccio needs is built by a script. The registry is the host's npm configuration.
    const { code, output } = await run(npm, ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], staging)
    if (code !== 0) {
      await rm(staging, { recursive: true, force: true })
      // npm's first lines say why (ECONNREFUSED, ENOTFOUND...); the rest is its stack and log path.
      const why = output.trim().split('\n').slice(0, 3).join(' | ')
      throw new RegistryUnavailable(`npm install verdaccio@${VERDACCIO_VERSION} failed (exit ${code}): ${why}`)
    }
    await writeFile(join(staging, '.installed'), new Date().toISOString() + '\n')
    await rm(verdaccioCache, { recursive: true, force: true })
    await rename(staging, verdaccioCache)
    return entry
  } finally {
    await release()
  }
}

// ---------------------------------------------------------------- the server

export interface Published {
  name: string
  version: string
  /** The SRI sha512 the registry publishes as `dist.integrity`. */
  integrity: string
  /** The tarball's URL on the registry. */
  tarballUrl: string
  /** The `npm pack` tarball that was published. */
  tarball: Buffer
}

export interface Registry {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string
  /** A token of the registry's one user, allowed to publish. */
  readonly token: string
  /** verdaccio's storage folder: `<storage>/<name>/<name>-<version>.tgz`, `<storage>/<name>/package.json`. */
  readonly storage: string
  /** A temporary folder beside the storage, removed with the registry: fixture sources, markers. */
  readonly work: string
  /** Packs `dir` (a folder holding package.json) like `npm pack` and publishes it under `tag`. */
  publish (dir: string, options?: { tag?: string }): Promise<Published>
  /** Stops verdaccio and removes its folders. */
  stop (): Promise<void>
}

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

// Listens on port 0 itself (no race for a free port) and prints the port it got.
const runnerSource = (verdaccio: string, config: string) => `'use strict'
const { runServer } = require(${JSON.stringify(verdaccio)})
runServer(${JSON.stringify(config)}).then((server) => {
  server.listen(0, '127.0.0.1', () => { process.stdout.write('PLUGINKIT_VERDACCIO_PORT=' + server.address().port + '\\n') })
}, (error) => {
  console.error(error)
  process.exit(1)
})
// The test process holds stdin: when it goes away, so does the registry.
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
`

const configSource = (storage: string, htpasswd: string) => `storage: ${JSON.stringify(storage)}
uplinks: {}
packages:
  '**':
    access: $all
    publish: $authenticated
max_body_size: 100mb
auth:
  htpasswd:
    file: ${JSON.stringify(htpasswd)}
    max_users: 100
log: { type: stdout, format: json, level: error }
`

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Starts verdaccio; throws RegistryUnavailable when it cannot be installed. Nothing is stopped for you. */
export async function launchRegistry (): Promise<Registry> {
  const verdaccio = await ensureVerdaccio()
  const root = await mkdtemp(join(tmpdir(), 'pluginkit-registry-'))
  const storage = join(root, 'storage')
  const work = join(root, 'work')
  await mkdir(storage)
  await mkdir(work)
  await writeFile(join(root, 'config.yaml'), configSource(storage, join(root, 'htpasswd')))
  await writeFile(join(root, 'run.cjs'), runnerSource(verdaccio, join(root, 'config.yaml')))

  const child = spawn(process.execPath, [join(root, 'run.cjs')], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: withoutCoverage() })
  running.add(child)
  let output = ''
  let exited = false
  child.once('exit', () => {
    exited = true
    running.delete(child)
  })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`verdaccio did not start within 30 s:\n${output}`)), 30_000)
    child.stdout.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000)
      const found = /PLUGINKIT_VERDACCIO_PORT=(\d+)/.exec(output)
      if (found !== null) {
        clearTimeout(timer)
        resolve(Number(found[1]))
      }
    })
    child.stderr.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-8000) })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`verdaccio exited (${code}) before listening:\n${output}`))
    })
  })
  const url = `http://127.0.0.1:${port}`

  async function stop (): Promise<void> {
    if (!exited) {
      const gone = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(timer)
    }
    await rm(root, { recursive: true, force: true })
  }

  try {
    const deadline = Date.now() + 15_000
    while ((await fetch(`${url}/-/ping`).then((response) => response.status, () => 0)) !== 200) {
      if (Date.now() > deadline) throw new Error(`verdaccio on ${url} does not answer /-/ping:\n${output}`)
      await sleep(50)
    }
    const user = 'pluginkit'
    const response = await fetch(`${url}/-/user/org.couchdb.user:${user}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: user, password: `pw-${process.pid}-${Date.now()}` })
    })
    const body = await response.json() as { token?: string }
    if (response.status !== 201 || typeof body.token !== 'string') {
      throw new Error(`verdaccio refused to create a user (${response.status}): ${JSON.stringify(body)}`)
    }
    const token = body.token
    return {
      url,
      token,
      storage,
      work,
      publish: (dir, options = {}) => publishFolder(url, token, dir, options.tag ?? 'latest'),
      stop
    }
  } catch (error) {
    await stop()
    throw error
  }
}

/**
 * A registry for the test file, stopped after it (node:test `after`, in the scope it is called
 * from). When verdaccio cannot be installed (no network) the test `t` is skipped with a visible
 * notice and undefined is returned, unless PLUGINKIT_REQUIRE_SERVICES=1, which makes it a failure.
 */
export async function startRegistry (t?: TestContext): Promise<Registry | undefined> {
  try {
    const registry = await launchRegistry()
    after(() => registry.stop())
    return registry
  } catch (error) {
    if (!(error instanceof RegistryUnavailable)) throw error
    skipWithoutRegistry(t, error.message)
    return undefined
  }
}

function skipWithoutRegistry (t: TestContext | undefined, reason: string): void {
  const hint = `verdaccio@${VERDACCIO_VERSION} could not be installed into ${verdaccioCache}: ${reason}`
  if (servicesRequired) throw new Error(`${hint}\nPLUGINKIT_REQUIRE_SERVICES=1 requires it`)
  const notice = `${hint}; set PLUGINKIT_REQUIRE_SERVICES=1 to make this a failure`
  console.warn(`SKIPPED${t === undefined ? '' : ` "${t.name}"`}: ${notice}`)
  if (t !== undefined) {
    t.diagnostic(notice)
    t.skip(notice)
  }
}

// ---------------------------------------------------------------- packing and publishing

/** The folder `dir` as `npm pack` lays it out: every file under `package/`, gzipped. */
export async function packFolder (dir: string): Promise<Buffer> {
  const files = await readdir(dir, { recursive: true, withFileTypes: true })
  const paths = files.filter((file) => file.isFile())
    .map((file) => join(file.parentPath ?? file.path, file.name).slice(dir.length + 1))
    .sort()
  // tar adds `prefix` to each entry: `package/index.js`, as npm pack writes them.
  const pack = tar.create({ gzip: true, cwd: dir, portable: true, prefix: 'package', noDirRecurse: true }, paths)
  return Buffer.from(await pack.concat())
}

/** The SRI sha512 of `data`, as npm and the registry compute it. */
export function integrityOf (data: Buffer): string {
  return ssri.fromData(data, { algorithms: ['sha512'] }).toString()
}

/** Publishes like `npm publish --tag <tag>`: verdaccio's PUT /<name> with the tarball attached. */
async function publishFolder (url: string, token: string, dir: string, tag: string): Promise<Published> {
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name: string, version: string }
  const { name, version } = manifest
  const tarball = await packFolder(dir)
  const integrity = integrityOf(tarball)
  const fileName = `${name}-${version}.tgz`
  const tarballUrl = `${url}/${name}/-/${fileName}`
  const body = {
    _id: name,
    name,
    'dist-tags': { [tag]: version },
    versions: {
      [version]: {
        ...manifest,
        _id: `${name}@${version}`,
        dist: { integrity, shasum: createHash('sha1').update(tarball).digest('hex'), tarball: tarballUrl }
      }
    },
    access: null,
    _attachments: { [fileName]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } }
  }
  const response = await fetch(`${url}/${name.replace('/', '%2f')}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body)
  })
  if (response.status !== 201 && response.status !== 200) {
    throw new Error(`publishing ${name}@${version} failed (${response.status}): ${await response.text()}`)
  }
  return { name, version, integrity, tarballUrl, tarball }
}

// ---------------------------------------------------------------- the fixture plugins

/** The kit's allow-list the fixtures are made for: every fixture but other-pkg matches it. */
export const FIXTURE_ALLOW = ['pk-*']

export interface Fixtures {
  registry: Registry
  /** `pk-good@1.0.0` -> what was published (before tampering, for pk-tampered). */
  published: Record<string, Published>
  /** Appended to by every install script of the fixtures (none may ever run): absent while none ran. */
  scriptMarker: string
  /** The sources, as folders: `sources['pk-good@1.0.0']` holds package.json, index.js... */
  sources: Record<string, string>
  /** A packed tarball of a fixture (the same bytes that were published), for `{ tarball }` installs. */
  tarball (id: string): Buffer
}

type Files = Record<string, string>

/**
 * A plugin package importing the kit (a peer dependency, so it is the host's copy) and recording
 * the kit it got in `globalThis.__pkFixtureKits['<name>@<version>']`, so tests can check it is
 * the host's module instance.
 */
function kitPlugin (pkg: Record<string, unknown> & { name: string, version: string }, manifest: string, extra: Files = {}, header = ''): Files {
  const id = `${pkg.name}@${pkg.version}`
  return {
    'package.json': JSON.stringify({
      type: 'module',
      main: 'index.js',
      license: 'MIT',
      peerDependencies: { 'fastify-pluginkit': '*' },
      ...pkg
    }, null, 2) + '\n',
    'index.js': `${header}import * as kit from 'fastify-pluginkit'
globalThis.__pkFixtureKits ??= {}
globalThis.__pkFixtureKits[${JSON.stringify(id)}] = kit
export default kit.definePlugin(${manifest})
`,
    'README.md': `# ${pkg.name}\n\nA fixture plugin of fastify-pluginkit's install tests.\n`,
    ...extra
  }
}

/** A manifest answering GET /<prefix>/version with `{ plugin, version }`. */
function versionRoute (name: string, version: string, prefix: string, more = ''): string {
  return `{
  name: ${JSON.stringify(name)},
  version: ${JSON.stringify(version)},
  author: 'fixtures',
  description: 'answers its version',
  ${more}
  register () {
    return {
      bep: {
        prefix: ${JSON.stringify(prefix)},
        async blueprint (app) {
          app.get('/version', async () => ({ plugin: ${JSON.stringify(name)}, version: ${JSON.stringify(version)} }))
        }
      }
    }
  }
}`
}

/** Every npm lifecycle script that runs on install, each appending to `marker`. */
function installScripts (marker: string, name: string): Record<string, string> {
  const append = (event: string) => `node -e "require('fs').appendFileSync(${JSON.stringify(marker).replace(/"/g, "'")}, '${name} ${event}\\n')"`
  return { preinstall: append('preinstall'), install: append('install'), postinstall: append('postinstall'), prepare: append('prepare') }
}

function fixtureSources (marker: string): Array<{ files: Files, tag?: string, tamper?: Files }> {
  const good = (version: string) => kitPlugin({ name: 'pk-good', version }, versionRoute('pk-good', version, '/good'))
  return [
    // pk-good: 1.0.0, then 1.1.0 (latest); 2.0.0-broken.0 is published under the `broken` tag
    // (outside every ^1 range, not latest) and its register throws.
    { files: good('1.0.0') },
    { files: good('1.1.0') },
    {
      tag: 'broken',
      files: kitPlugin({ name: 'pk-good', version: '2.0.0-broken.0' }, `{
  name: 'pk-good', version: '2.0.0-broken.0', author: 'fixtures',
  register () { throw new Error('pk-good 2.0.0-broken.0 exploded in register') }
}`)
    },
    {
      files: kitPlugin({ name: 'pk-throws', version: '1.0.0' }, `{
  name: 'pk-throws', version: '1.0.0', author: 'fixtures',
  register () { throw new Error('pk-throws exploded in register') }
}`)
    },
    // A production dependency on a pk-lib version that the registry does not have.
    { files: kitPlugin({ name: 'pk-unsat', version: '1.0.0', dependencies: { 'pk-lib': '^9.0.0' } }, versionRoute('pk-unsat', '1.0.0', '/unsat')) },
    // A valid plugin outside the allow-list.
    { files: kitPlugin({ name: 'other-pkg', version: '1.0.0' }, versionRoute('other-pkg', '1.0.0', '/other')) },
    // Published, then its tarball in the registry's storage is replaced by another one (tamper),
    // so that the bytes served no longer match the integrity the registry publishes.
    {
      files: kitPlugin({ name: 'pk-tampered', version: '1.0.0' }, versionRoute('pk-tampered', '1.0.0', '/tampered')),
      tamper: kitPlugin({ name: 'pk-tampered', version: '1.0.0' }, versionRoute('pk-tampered', '1.0.0', '/tampered', "description: 'evil',"))
    },
    // pk-lib: a plain CommonJS library with install scripts; pk-dep: a plugin depending on it
    // (and, for development only, on pk-good: dev dependencies are never installed).
    {
      files: {
        'package.json': JSON.stringify({
          name: 'pk-lib', version: '1.0.0', main: 'index.js', license: 'MIT', scripts: installScripts(marker, 'pk-lib')
        }, null, 2) + '\n',
        'index.js': "'use strict'\nmodule.exports = { answer: 42, file: __filename }\n"
      }
    },
    {
      files: kitPlugin({
        name: 'pk-dep',
        version: '1.0.0',
        dependencies: { 'pk-lib': '^1.0.0' },
        devDependencies: { 'pk-good': '^1.0.0' },
        scripts: installScripts(marker, 'pk-dep')
      }, `{
  name: 'pk-dep', version: '1.0.0', author: 'fixtures',
  register () {
    return {
      bep: {
        prefix: '/dep',
        async blueprint (app) {
          app.get('/', async () => ({ answer: lib.answer, libFile: lib.file, kit: import.meta.resolve('fastify-pluginkit') }))
        }
      }
    }
  }
}`, {}, "import lib from 'pk-lib'\n")
    },
    // A devDependency the registry does not have (a private tool, say): it must not stop the install.
    {
      files: kitPlugin({ name: 'pk-devdeps', version: '1.0.0', dependencies: { 'pk-lib': '^1.0.0' }, devDependencies: { 'pk-dev-only': '^1.0.0' } },
        versionRoute('pk-devdeps', '1.0.0', '/devdeps'))
    },
    // Not a valid plugin: its manifest has no author (PLUGINKIT_ERR_PLUGIN_METADATA at boot).
    { files: kitPlugin({ name: 'pk-invalid', version: '1.0.0' }, "{ name: 'pk-invalid', version: '1.0.0', register () { return {} } }") },
    // Depends on the pk-good plugin (manifest dependencies).
    { files: kitPlugin({ name: 'pk-needs-good', version: '1.0.0' }, versionRoute('pk-needs-good', '1.0.0', '/needs', "dependencies: { 'pk-good': '^1.0.0' },")) },
    // A package whose plugin name differs from the package name.
    { files: kitPlugin({ name: 'pk-alias', version: '1.0.0' }, versionRoute('alias-plugin', '1.0.0', '/alias')) },
    // A plugin named `clash`, the name of a local plugin in the tests that use it.
    { files: kitPlugin({ name: 'pk-clash', version: '1.0.0' }, versionRoute('clash', '1.0.0', '/clash-installed')) },
    // A plugin whose manifest says it starts disabled.
    { files: kitPlugin({ name: 'pk-starts-off', version: '1.0.0' }, versionRoute('pk-starts-off', '1.0.0', '/off', "state: 'disabled',")) },
    // A 64 KiB incompressible file: a tarball well over a small maxTarballBytes.
    {
      files: kitPlugin({ name: 'pk-big', version: '1.0.0' }, versionRoute('pk-big', '1.0.0', '/big'), {
        'blob.txt': Array.from({ length: 1024 }, (_, i) => createHash('sha512').update(String(i)).digest('base64')).join('\n')
      })
    }
  ]
}

async function writeFiles (dir: string, files: Files): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true })
    await writeFile(join(dir, path), content)
  }
}

/** Replaces the tarball the registry serves for `name@version` by `tarball`, leaving its metadata (and integrity) as published. */
export async function tamperTarball (registry: Registry, name: string, version: string, tarball: Buffer): Promise<void> {
  const path = join(registry.storage, name, `${name.split('/').pop() ?? name}-${version}.tgz`)
  if (!existsSync(path)) throw new Error(`no tarball at ${path} in verdaccio's storage`)
  await writeFile(path, tarball)
}

/**
 * Writes the fixture plugins (see fixtureSources) under `registry.work` and publishes them.
 * Each package's versions are published in order; packages in parallel.
 */
export async function publishFixtures (registry: Registry): Promise<Fixtures> {
  const scriptMarker = join(registry.work, 'install-scripts-ran.txt')
  const published: Record<string, Published> = {}
  const sources: Record<string, string> = {}
  const byPackage = new Map<string, Array<{ files: Files, tag?: string, tamper?: Files }>>()
  for (const fixture of fixtureSources(scriptMarker)) {
    const name = (JSON.parse(fixture.files['package.json'] as string) as { name: string }).name
    byPackage.set(name, [...(byPackage.get(name) ?? []), fixture])
  }
  await Promise.all([...byPackage.values()].map(async (fixtures) => {
    for (const fixture of fixtures) {
      const { name, version } = JSON.parse(fixture.files['package.json'] as string) as { name: string, version: string }
      const id = `${name}@${version}`
      const dir = join(registry.work, 'sources', id)
      await writeFiles(dir, fixture.files)
      sources[id] = dir
      published[id] = await registry.publish(dir, fixture.tag === undefined ? {} : { tag: fixture.tag })
      if (fixture.tamper !== undefined) {
        const evil = join(registry.work, 'tampered', id)
        await writeFiles(evil, fixture.tamper)
        await tamperTarball(registry, name, version, await packFolder(evil))
      }
    }
  }))
  return {
    registry,
    published,
    scriptMarker,
    sources,
    tarball (id) {
      const found = published[id]
      if (found === undefined) throw new Error(`no fixture ${id}`)
      return found.tarball
    }
  }
}

/**
 * One registry with the fixtures for the whole test file, started by the first test that asks
 * and stopped after the file. Call at the top level of the file; each test awaits
 * `fixtures(t)`, which skips it when verdaccio cannot be installed (see startRegistry).
 */
export function registryFixtures (): (t: TestContext) => Promise<Fixtures | undefined> {
  let started: Promise<Fixtures | RegistryUnavailable> | undefined
  after(async () => {
    const result = await started
    if (result !== undefined && !(result instanceof RegistryUnavailable)) await result.registry.stop()
  })
  return async (t) => {
    started ??= launchRegistry().then(async (registry) => {
      try {
        return await publishFixtures(registry)
      } catch (error) {
        await registry.stop()
        throw error
      }
    }, (error: unknown) => {
      if (error instanceof RegistryUnavailable) return error
      throw error
    })
    const result = await started
    if (result instanceof RegistryUnavailable) {
      skipWithoutRegistry(t, result.message)
      return undefined
    }
    return result
  }
}

// ---------------------------------------------------------------- hosts for the install tests

const repoRoot = fileURLToPath(new URL('..', import.meta.url))

/** Registers a cleanup: node:test's `after` (in the scope it is called from), or a file-wide one (deferToFileEnd). */
export type Defer = (cleanup: () => unknown) => void

/**
 * A Defer whose cleanups run after the whole test file, in reverse order, for things set up
 * once and shared by several tests (node:test's `after` called inside a test or a `before` hook
 * runs when that test or hook ends). Call it at the top level of the file.
 */
export function deferToFileEnd (): Defer {
  const cleanups: Array<() => unknown> = []
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup()
  })
  return (cleanup) => { cleanups.push(cleanup) }
}

/**
 * A host's folder (a temporary folder, removed by `defer`) whose node_modules holds the kit,
 * fastify and typebox (links to this repository's), so that installed packages resolve their
 * peer `fastify-pluginkit` to the host's copy, as in a real project. `tree` adds local plugins
 * and other files (path -> content).
 */
export async function hostTree (tree: Record<string, string> = {}, defer: Defer = after): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'pluginkit-host-'))
  defer(() => rm(root, { recursive: true, force: true }))
  await mkdir(join(root, 'node_modules'))
  await symlink(repoRoot, join(root, 'node_modules', 'fastify-pluginkit'))
  await symlink(join(repoRoot, 'node_modules', 'fastify'), join(root, 'node_modules', 'fastify'))
  await symlink(join(repoRoot, 'node_modules', 'typebox'), join(root, 'node_modules', 'typebox'))
  await writeFiles(root, tree)
  return root
}

export interface HostOptions {
  /** The registry the kit installs from (default: the fixtures' registry given to installHost). */
  registry?: string
  allow?: string[]
  maxTarballBytes?: number
  /** `install.dir` (default `.pluginkit`). */
  dir?: string
  /** Other kit options (strict, pluginPackages...); `install: undefined` leaves install out. */
  kit?: Record<string, unknown>
  /** Under @fastify/restartable (default) or a plain Fastify app. */
  restartable?: boolean
  /** Listen on 127.0.0.1 (a free port); default: only ready, tests use inject. */
  listen?: boolean
  /** Awaits ready (default true); false returns the app once the kit is registered. */
  ready?: boolean
  /** Closes the app (default: node:test `after` in the caller's scope). */
  defer?: Defer
}

export interface Host {
  /** The app (under restartable: its proxy, which always reaches the app serving now). */
  app: FastifyInstance
  base: string
  /** The install folder (absolute): `<base>/.pluginkit` by default. */
  dir: string
  /** `http://127.0.0.1:<port>` when listening. */
  url: string | undefined
}

/**
 * A host app with the kit over `base`, installing from `registry` with the allow-list
 * `['pk-*']`, a file store (`<base>/state.json`, so states survive an activation) and a host
 * route `GET /`. Built inside a restartable factory by default, as SPEC section 11 shows.
 * Closed after the test (node:test `after` in the caller's scope).
 */
export async function installHost (base: string, registry: string | undefined, options: HostOptions = {}): Promise<Host> {
  const { restartable: underRestartable = true, listen = false, ready = true } = options
  const install = Object.fromEntries(Object.entries({
    allow: options.allow ?? FIXTURE_ALLOW,
    dir: options.dir,
    registry: options.registry ?? registry,
    maxTarballBytes: options.maxTarballBytes
  }).filter(([, value]) => value !== undefined))
  const kitOptions = Object.fromEntries(Object.entries({
    pluginsBase: base,
    store: { file: join(base, 'state.json') },
    install,
    ...options.kit
  }).filter(([, value]) => value !== undefined)) as PluginKitOptions
  const defer = options.defer ?? after
  async function build (fastify: typeof Fastify, opts: FastifyServerOptions): Promise<FastifyInstance> {
    const app = fastify(opts)
    // A plain app is closed even when its boot fails (restartable closes the apps it replaces itself).
    if (!underRestartable) defer(() => app.close().catch(() => {}))
    app.get('/', async () => 'host')
    await app.register(pluginKit, kitOptions)
    return app
  }
  const app = underRestartable
    ? await restartable(build as Parameters<typeof restartable>[0], { logger: false }) as unknown as FastifyInstance
    : await build(Fastify, { logger: false })
  if (underRestartable) defer(() => app.close().catch(() => {}))
  let url: string | undefined
  if (listen) url = await app.listen({ port: 0, host: '127.0.0.1' })
  else if (ready) await app.ready()
  return { app, base, dir: resolve(base, options.dir ?? '.pluginkit'), url }
}

export interface LockEntry {
  package: string
  version: string
  integrity: string
  resolved?: string
  source: 'registry' | 'upload'
  installedAt: string
  [more: string]: unknown
}

export interface Lockfile {
  lockfileVersion: number
  plugins: Record<string, LockEntry>
}

/** `<dir>/plugins.lock.json` parsed, or undefined when there is none. */
export async function readLockfile (dir: string): Promise<Lockfile | undefined> {
  const bytes = await lockfileBytes(dir)
  return bytes === undefined ? undefined : JSON.parse(bytes.toString('utf8')) as Lockfile
}

/** `<dir>/plugins.lock.json` as bytes, or undefined when there is none. */
export async function lockfileBytes (dir: string): Promise<Buffer | undefined> {
  try {
    return await readFile(join(dir, 'plugins.lock.json'))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/**
 * What `dir` holds: every path under it (folders with a trailing `/`), sorted, and the
 * lockfile's bytes; two snapshots are deepEqual when an operation changed nothing.
 */
export async function snapshot (dir: string): Promise<{ paths: string[], lockfile: string | undefined }> {
  let entries: Dirent[] = []
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const paths = entries.map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name)) + (entry.isDirectory() ? '/' : '')).sort()
  return { paths, lockfile: (await lockfileBytes(dir))?.toString('base64') }
}

/** The installed package folders under `<dir>/packages`, e.g. `['pk-good@1.0.0']`. */
export async function packageFolders (dir: string): Promise<string[]> {
  try {
    return (await readdir(join(dir, 'packages'))).sort()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
}

/** Asserts that `promise` rejects with a PluginKitError of `code` (and `statusCode`, when given); returns the error. */
export async function rejectsWith (promise: Promise<unknown>, code: string, statusCode?: number): Promise<PluginKitError> {
  let caught: unknown
  try {
    await promise
  } catch (error) {
    caught = error
  }
  assert.ok(caught !== undefined, `expected a rejection with ${code}, but it resolved`)
  assert.ok(caught instanceof PluginKitError, `expected a PluginKitError ${code}, got ${String(caught)}`)
  assert.equal(caught.code, code, `expected ${code}: ${caught.message}`)
  if (statusCode !== undefined) assert.equal(caught.statusCode, statusCode, `expected status ${statusCode} for ${code}: ${caught.message}`)
  return caught
}

/** GET `url` through the app (inject): `{ status, body }` with the body parsed when JSON. */
export async function get (app: FastifyInstance, url: string): Promise<{ status: number, body: unknown }> {
  const response = await app.inject({ url })
  const type = String(response.headers['content-type'] ?? '')
  return { status: response.statusCode, body: type.includes('json') ? response.json() : response.body }
}

/**
 * How a call ended, as a line that compares well in a table of cases: `CODE status`, `resolved`,
 * `threw synchronously: CODE status` (an async API must reject, not throw), or the foreign error.
 */
export async function outcome (call: () => Promise<unknown>): Promise<string> {
  const describe = (error: unknown) => error instanceof PluginKitError
    ? `${error.code} ${error.statusCode}`
    : `not a PluginKitError: ${String(error)}`
  let pending: Promise<unknown>
  try {
    pending = call()
  } catch (error) {
    return `threw synchronously: ${describe(error)}`
  }
  try {
    await pending
    return 'resolved'
  } catch (error) {
    return describe(error)
  }
}

/** Runs each case in turn and asserts that each ended as expected, reporting every mismatch at once. */
export async function expectOutcomes (cases: Array<[label: string, call: () => Promise<unknown>, expected: string]>): Promise<void> {
  const actual: Record<string, string> = {}
  const expected: Record<string, string> = {}
  for (const [label, call, want] of cases) {
    actual[label] = await outcome(call)
    expected[label] = want
  }
  assert.deepEqual(actual, expected)
}
