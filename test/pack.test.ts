import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import semver from 'semver'
import { makeTree } from './helpers.ts'

// The package as users get it: `npm pack`, then installed into fresh ESM and CommonJS
// projects next to fastify@5, each booting an app with one local plugin.
const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))
const { version, engines } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string, engines: { node: string } }

interface PackResult { filename: string, files: Array<{ path: string }> }

// The build is `npm run build` (npm test runs it first); packing must not rebuild dist/
// while other test files import it, hence --ignore-scripts.
assert.ok(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: run `npm run build` first')
const destination = await mkdtemp(join(tmpdir(), 'pluginkit-pack-'))
after(() => rm(destination, { recursive: true, force: true }))
const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', destination], { cwd: root })
const [result] = JSON.parse(packed.stdout) as PackResult[]
assert.ok(result !== undefined, 'npm pack reported a tarball')
const tarball = join(destination, result.filename)

const esmProject = await makeTree({
  'package.json': JSON.stringify({ name: 'esm-consumer', private: true, type: 'module' }),
  'plugins/hello/index.js': `import { definePlugin } from 'fastify-pluginkit'

export default definePlugin({
  name: 'hello',
  version: '1.0.0',
  author: 'consumer',
  register (ctx) {
    return {
      bep: { prefix: '/hello', blueprint: async (app) => { app.get('/', async () => ({ from: ctx.name, config: ctx.config })) } },
      tep: { greeting: 'Hi {{ who }}' }
    }
  }
})
`,
  'main.js': `import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import pluginKit, { pluginKit as named, definePlugin, PluginKitError, MemoryStore, FileStore, kitVersion } from 'fastify-pluginkit'

const app = Fastify()
app.get('/', async () => 'hello world')
await app.register(pluginKit, { pluginsBase: dirname(fileURLToPath(import.meta.url)), store: new MemoryStore(), pluginConfig: { hello: { a: 1 } } })
await app.ready()
const hello = await app.inject('/hello')
const slot = app.pluginKit.emitTep('greeting', { who: 'ESM' })
let notFound
try { app.pluginKit.get('nope') } catch (error) { notFound = { isKitError: error instanceof PluginKitError, code: error.code } }
await app.pluginKit.disable('hello')
const disabled = await app.inject('/hello')
console.log(JSON.stringify({
  status: hello.statusCode,
  body: hello.json(),
  slot,
  disabledStatus: disabled.statusCode,
  slotWhenDisabled: app.pluginKit.emitTep('greeting', { who: 'ESM' }),
  plugins: app.pluginKit.plugins.map((plugin) => [plugin.name, plugin.source, plugin.state]),
  notFound,
  kitVersion,
  same: named === pluginKit,
  types: [typeof definePlugin, typeof FileStore]
}))
await app.close()
`,
  'check.ts': `import Fastify from 'fastify'
import pluginKit, { definePlugin, type PluginInfo } from 'fastify-pluginkit'
import { Type } from 'typebox'

const app = Fastify()
await app.register(pluginKit, { store: 'memory', strict: true })
const info: Promise<PluginInfo> = app.pluginKit.enable('hello')
// @ts-expect-error strict is a boolean
await app.register(pluginKit, { strict: 'yes' })
export default definePlugin({
  name: 'typed',
  version: '1.0.0',
  author: 'consumer',
  configSchema: Type.Object({ limitIp: Type.String({ default: '127.0.0.1' }) }),
  register (ctx) {
    const ip: string = ctx.config.limitIp
    // @ts-expect-error no such config key
    void ctx.config.limitIP
    return { tcp: { ip, info } }
  }
})
`,
  'tsconfig.json': JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(root, 'node_modules/@types')]
    },
    files: ['check.ts']
  })
})

const cjsProject = await makeTree({
  'package.json': JSON.stringify({ name: 'cjs-consumer', private: true, type: 'commonjs' }),
  'plugins/hello/index.js': `module.exports = {
  name: 'hello',
  version: '1.0.0',
  author: 'consumer',
  register () {
    return { bep: { prefix: '/hello', blueprint: async (app) => { app.get('/', async () => ({ from: 'cjs' })) } } }
  }
}
`,
  'main.js': `const Fastify = require('fastify')
const pluginKit = require('fastify-pluginkit')

async function boot (plugin) {
  const app = Fastify()
  await app.register(plugin, { pluginsBase: __dirname, store: 'memory' })
  const response = await app.inject('/hello')
  const result = { status: response.statusCode, body: response.json(), plugins: app.pluginKit.plugins.map((p) => p.name) }
  await app.close()
  return result
}

async function main () {
  let notFound
  try {
    const app = Fastify()
    await app.register(pluginKit.default, { pluginsBase: __dirname, store: new pluginKit.MemoryStore() })
    await app.pluginKit.enable('nope')
  } catch (error) {
    notFound = { isKitError: error instanceof pluginKit.PluginKitError, code: error.code }
  }
  console.log(JSON.stringify({
    moduleItself: await boot(pluginKit),
    viaDefault: await boot(pluginKit.default),
    named: await boot(pluginKit.pluginKit),
    exports: ['definePlugin', 'PluginKitError', 'MemoryStore', 'FileStore'].map((name) => typeof pluginKit[name]),
    kitVersion: pluginKit.kitVersion,
    notFound
  }))
}
main()
`
})

// Both installs run at once; each test awaits its own.
function install (project: string): Promise<unknown> {
  const installing = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball, 'fastify@5'], { cwd: project })
  installing.catch(() => {}) // reported by the test that awaits it
  return installing
}
const esmInstalled = install(esmProject)
const cjsInstalled = install(cjsProject)

async function node (project: string, file: string): Promise<unknown> {
  const { stdout } = await run(process.execPath, [file], { cwd: project })
  return JSON.parse(stdout)
}

test('the tarball holds the build and the package files, not sources, tests or source maps', () => {
  const files = result.files.map((file) => file.path)
  for (const file of ['package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/stores/file.js']) {
    assert.ok(files.includes(file), `${file} is packed`)
  }
  assert.deepEqual(files.filter((file) => !/^(package\.json|README\.md|LICENSE|dist\/.*\.(js|d\.ts))$/.test(file)), [])
})

test('an ESM project imports the package and boots a local plugin', { timeout: 180_000 }, async () => {
  await esmInstalled
  assert.deepEqual(await node(esmProject, 'main.js'), {
    status: 200,
    body: { from: 'hello', config: { a: 1 } },
    slot: 'Hi ESM',
    disabledStatus: 404,
    slotWhenDisabled: '',
    plugins: [['hello', 'local', 'disabled']],
    notFound: { isKitError: true, code: 'PLUGINKIT_ERR_NOT_FOUND' },
    kitVersion: version,
    same: true,
    types: ['function', 'function']
  })
})

test('a TypeScript consumer type-checks against the packed declarations', { timeout: 180_000 }, async () => {
  await esmInstalled
  // typebox comes with the package; @types/node from this repository.
  const tsc = join(root, 'node_modules/typescript/bin/tsc')
  await assert.doesNotReject(run(process.execPath, [tsc, '-p', join(esmProject, 'tsconfig.json')], { cwd: esmProject }))
})

test('a CommonJS project requires the package; the module itself, .default and .pluginKit register', { timeout: 180_000 }, async () => {
  await cjsInstalled
  const booted = { status: 200, body: { from: 'cjs' }, plugins: ['hello'] }
  assert.deepEqual(await node(cjsProject, 'main.js'), {
    moduleItself: booted,
    viaDefault: booted,
    named: booted,
    exports: ['function', 'function', 'function', 'function'],
    kitVersion: version,
    notFound: { isKitError: true, code: 'PLUGINKIT_ERR_NOT_FOUND' }
  })
})

test('the packed package.json runs nothing at install time: the build runs on prepack', async () => {
  await esmInstalled
  const pkg = JSON.parse(await readFile(join(esmProject, 'node_modules/fastify-pluginkit/package.json'), 'utf8')) as { scripts?: Record<string, string> }
  for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(pkg.scripts?.[script], undefined, `no ${script} script`)
  assert.equal(pkg.scripts?.prepack, 'npm run build')
})

/** name@version and engines.node of every package under `dir`/node_modules, nested ones included. */
async function installedEngines (dir: string): Promise<Array<[string, string | undefined]>> {
  const found: Array<[string, string | undefined]> = []
  const modules = join(dir, 'node_modules')
  if (!existsSync(modules)) return found
  for (const entry of await readdir(modules)) {
    const names = entry.startsWith('@') ? (await readdir(join(modules, entry))).map((name) => `${entry}/${name}`) : entry.startsWith('.') ? [] : [entry]
    for (const name of names) {
      const path = join(modules, name)
      if (!existsSync(join(path, 'package.json'))) continue
      const pkg = JSON.parse(await readFile(join(path, 'package.json'), 'utf8')) as { version: string, engines?: { node?: string } }
      found.push([`${name}@${pkg.version}`, pkg.engines?.node], ...await installedEngines(path))
    }
  }
  return found
}

// npm install --engine-strict (CI runs it on the Node versions engines admits) fails on the
// first package that refuses the running Node; this checks the whole tree against the whole range.
test('engines.node is truthful: every package installed with the tarball (and fastify) admits every Node version it admits', async () => {
  await esmInstalled
  const refusing = (await installedEngines(esmProject))
    .filter(([, range]) => range !== undefined && !semver.subset(engines.node, range))
    .map(([name, range]) => `${name} wants node ${range}`)
  assert.deepEqual(refusing, [], `engines.node is ${engines.node}`)
})
