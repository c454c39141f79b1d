// Issue 5.1: a corpus of broken plugins. Each one, booted next to good plugins under
// `strict: true`, rejects ready() with its SPEC section 10 code and a message naming the
// plugin (its name, or its folder / package when the name is unusable) and the field.
// Then all of them together under `strict: false`: every broken one is skipped and listed
// in `failures` with its code, and every good plugin still serves.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { PluginKitErrorCode } from 'fastify-pluginkit'
import { buildApp, code, makeTree, pluginSource, routeBody, type Tree } from './helpers.ts'
import { assertKitError, readyError } from './helpers-loading.ts'

/** Where a failure must be found: by the plugin's folder (relative to the base) or by the plugin / package name. */
type Where = { dir: string } | { plugin: string }

interface Row {
  /** The broken plugin's folder under plugins/ and, where it is valid, its name. */
  id: string
  files: Tree
  code: PluginKitErrorCode
  /** What the error message must contain: the plugin (name / folder / package) and the field. */
  mentions: Array<string | RegExp>
  /** The failures this row produces under strict: false (default: the folder plugins/<id>). */
  failing?: Where[]
  /** Plugins of this row that load anyway (the first of two duplicates). */
  survivors?: string[]
  pluginPackages?: string[]
  pluginConfig?: Record<string, unknown>
  /** The row needs a short loadTimeout (a hang). */
  hangs?: boolean
}

// ---------------------------------------------------------------- sources

/** plugins/<id>/<file> holding `source`. */
function local (id: string, source: string, file = 'index.mjs'): Tree {
  return { [`plugins/${id}/${file}`]: source }
}

/**
 * plugins/<id>: a plugin named <id> whose manifest has `overrides` (JS source per field;
 * `undefined` removes a field, and `register` among them replaces the register function) and
 * whose register runs `body`.
 */
function manifestRow (id: string, overrides: Record<string, string | undefined>, body = 'return {}'): Tree {
  const fields = Object.fromEntries(Object.entries(overrides)
    .map(([key, source]) => [key, source === undefined ? undefined : code(source)]))
  return local(id, pluginSource({ name: id, ...fields }, 'register' in overrides ? null : body))
}

/** A plugin whose register returns `points` (JS source). */
function pointsRow (id: string, points: string): Tree {
  return manifestRow(id, {}, `return ${points}`)
}

const blueprint = "blueprint: async (app) => { app.get('/', async () => 'x') }"

// ---------------------------------------------------------------- the good plugins

const GOOD = ['good-pkg', 'good-a', 'good-b', 'good-cjs', 'good-hooks', 'good-named']

const goodTree: Tree = {
  'node_modules/good-pkg/package.json': JSON.stringify({ name: 'good-pkg', version: '1.0.0', type: 'module', exports: './main.js' }),
  'node_modules/good-pkg/main.js': pluginSource({ name: 'good-pkg' }, routeBody('good-pkg')),
  'plugins/good-a/index.mjs': pluginSource({ name: 'good-a' }, routeBody('good-a')),
  'plugins/good-b/index.mjs': pluginSource({ name: 'good-b', dependencies: { 'good-a': '^1.0.0' } }, routeBody('good-b')),
  'plugins/good-cjs/index.cjs': pluginSource({ name: 'good-cjs' }, routeBody('good-cjs'), { format: 'cjs' }),
  'plugins/good-hooks/index.mjs': pluginSource({ name: 'good-hooks' },
    "return { hep: { after_request (request, reply) { reply.header('x-good-hooks', 'ran') } } }"),
  'plugins/good-named/index.mjs': pluginSource({ name: 'good-named', version: '2.0.0' }, routeBody('good-named'), { format: 'named' })
}

/** Every good plugin loaded, in its place, and serving; the host route too. */
async function assertGoodPluginsWork (app: FastifyInstance, extra: string[] = []): Promise<void> {
  const loaded = app.pluginKit.plugins.map((plugin) => plugin.name)
  for (const name of GOOD) assert.ok(loaded.includes(name), `${name} is loaded (loaded: ${loaded.join(', ')})`)
  for (const name of extra) assert.ok(loaded.includes(name), `${name} is loaded`)
  for (const name of GOOD.filter((good) => good !== 'good-hooks')) {
    const response = await app.inject(`/${name}`)
    assert.equal(response.statusCode, 200, `/${name}`)
    assert.deepEqual(response.json(), { plugin: name })
    assert.equal(response.headers['x-good-hooks'], 'ran', `good-hooks' after_request ran for /${name}`)
  }
  const host = await app.inject('/')
  assert.equal(host.body, 'hello world')
  assert.equal(host.headers['x-good-hooks'], 'ran')
}

// ---------------------------------------------------------------- the corpus

const rows: Row[] = [
  // manifest fields: missing or of the wrong type / shape
  { id: 'm-name-missing', files: manifestRow('m-name-missing', { name: undefined }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-name-missing', 'name'] },
  { id: 'm-name-invalid', files: manifestRow('m-name-invalid', { name: "'bad name!'" }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-name-invalid', 'name'] },
  { id: 'm-name-object', files: manifestRow('m-name-object', { name: '{ first: 1 }' }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-name-object', 'name'] },
  { id: 'm-version-missing', files: manifestRow('m-version-missing', { version: undefined }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-version-missing', 'version'] },
  { id: 'm-author-missing', files: manifestRow('m-author-missing', { author: undefined }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-author-missing', 'author'] },
  { id: 'm-author-empty', files: manifestRow('m-author-empty', { author: "''" }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-author-empty', 'author'] },
  { id: 'm-author-array', files: manifestRow('m-author-array', { author: "['a', 'b']" }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-author-array', 'author'] },
  { id: 'm-description', files: manifestRow('m-description', { description: '42' }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-description', 'description'] },
  { id: 'm-url', files: manifestRow('m-url', { url: "['https://example.org']" }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-url', 'url'] },
  { id: 'm-license', files: manifestRow('m-license', { license: 'false' }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-license', 'license'] },
  { id: 'm-license-file', files: manifestRow('m-license-file', { licenseFile: '{}' }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-license-file', 'licenseFile'] },
  { id: 'm-readme-file', files: manifestRow('m-readme-file', { readmeFile: '1' }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-readme-file', 'readmeFile'] },
  { id: 'm-state', files: manifestRow('m-state', { state: "'paused'" }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-state', 'state'] },
  { id: 'm-register-missing', files: manifestRow('m-register-missing', { register: undefined }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-register-missing', 'register'] },
  { id: 'm-register-string', files: manifestRow('m-register-string', { register: "'register'" }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-register-string', 'register'] },
  { id: 'm-deps-string', files: manifestRow('m-deps-string', { dependencies: "'good-a'" }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-deps-string', 'dependencies'] },
  { id: 'm-deps-bad-range', files: manifestRow('m-deps-bad-range', { dependencies: "{ 'good-a': '>>1' }" }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-deps-bad-range', 'dependencies.good-a'] },
  { id: 'm-deps-bad-name', files: manifestRow('m-deps-bad-name', { dependencies: "['../good-a']" }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-deps-bad-name', 'dependencies'] },
  { id: 'm-config-schema', files: manifestRow('m-config-schema', { configSchema: "'object'" }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-config-schema', 'configSchema'] },
  { id: 'm-fastify-empty', files: manifestRow('m-fastify-empty', { fastify: "''" }), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-fastify-empty', 'fastify'] },
  { id: 'm-default-number', files: local('m-default-number', 'export default 42\n'), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-default-number', 'name'] },
  { id: 'm-empty-module', files: local('m-empty-module', ''), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-empty-module', 'name'] },
  { id: 'm-cjs-null', files: local('m-cjs-null', 'module.exports = null\n', 'index.cjs'), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', mentions: ['m-cjs-null', 'name'] },

  // versions: bad semver, unsatisfied or invalid ranges
  { id: 'v-prefixed', files: manifestRow('v-prefixed', { version: "'v2.19.10'" }), code: 'PLUGINKIT_ERR_PLUGIN_VERSION', mentions: ['v-prefixed', 'version'] },
  { id: 'v-four-parts', files: manifestRow('v-four-parts', { version: "'1.0.1.0'" }), code: 'PLUGINKIT_ERR_PLUGIN_VERSION', mentions: ['v-four-parts', 'version'] },
  { id: 'v-number', files: manifestRow('v-number', { version: '1' }), code: 'PLUGINKIT_ERR_PLUGIN_VERSION', mentions: ['v-number', 'version'] },
  { id: 'v-leading-zero', files: manifestRow('v-leading-zero', { version: "'1.02.0'" }), code: 'PLUGINKIT_ERR_PLUGIN_VERSION', mentions: ['v-leading-zero', 'version'] },
  {
    id: 'v-named-exports',
    files: local('v-named-exports', pluginSource({ name: 'v-named-exports', version: '1.0', author: 'x' }, 'return {}', { format: 'named' })),
    code: 'PLUGINKIT_ERR_PLUGIN_VERSION',
    mentions: ['v-named-exports', 'version']
  },
  { id: 'v-app-version', files: manifestRow('v-app-version', { appVersion: "'>=99.0.0'" }), code: 'PLUGINKIT_ERR_PLUGIN_VERSION', mentions: ['v-app-version', 'appVersion', '>=99.0.0'] },
  { id: 'v-app-version-invalid', files: manifestRow('v-app-version-invalid', { appVersion: "'latest!!'" }), code: 'PLUGINKIT_ERR_PLUGIN_VERSION', mentions: ['v-app-version-invalid', 'appVersion'] },
  { id: 'v-fastify', files: manifestRow('v-fastify', { fastify: "'^4.0.0'" }), code: 'PLUGINKIT_ERR_PLUGIN_VERSION', mentions: ['v-fastify', 'fastify', '^4.0.0'] },

  // register
  { id: 'r-throws', files: manifestRow('r-throws', {}, "throw new Error('register exploded')"), code: 'PLUGINKIT_ERR_REGISTER', mentions: ['r-throws', 'register', 'register exploded'] },
  { id: 'r-throws-string', files: manifestRow('r-throws-string', {}, "throw 'a string'"), code: 'PLUGINKIT_ERR_REGISTER', mentions: ['r-throws-string', 'register'] },
  { id: 'r-undefined', files: manifestRow('r-undefined', {}, ''), code: 'PLUGINKIT_ERR_REGISTER', mentions: ['r-undefined', 'register'] },
  { id: 'r-string', files: manifestRow('r-string', {}, "return 'bep'"), code: 'PLUGINKIT_ERR_REGISTER', mentions: ['r-string', 'register'] },
  { id: 'r-array', files: manifestRow('r-array', {}, 'return [{}]'), code: 'PLUGINKIT_ERR_REGISTER', mentions: ['r-array', 'register'] },
  { id: 'r-number', files: manifestRow('r-number', {}, 'return 0'), code: 'PLUGINKIT_ERR_REGISTER', mentions: ['r-number', 'register'] },
  { id: 'r-function', files: manifestRow('r-function', {}, 'return () => ({})'), code: 'PLUGINKIT_ERR_REGISTER', mentions: ['r-function', 'register'] },
  {
    id: 'r-async-rejects',
    files: manifestRow('r-async-rejects', {}, "await null; throw new RangeError('async failure')"),
    code: 'PLUGINKIT_ERR_REGISTER',
    mentions: ['r-async-rejects', 'register', 'async failure']
  },
  { id: 'r-async-null', files: manifestRow('r-async-null', {}, 'return Promise.resolve(null)'), code: 'PLUGINKIT_ERR_REGISTER', mentions: ['r-async-null', 'register'] },
  { id: 'r-hangs', files: manifestRow('r-hangs', {}, 'return new Promise(() => {})'), code: 'PLUGINKIT_ERR_PLUGIN_IMPORT', mentions: ['r-hangs', 'register', 'loadTimeout'], hangs: true },

  // extension points: unknown keys and malformed values
  { id: 'e-unknown-key', files: pointsRow('e-unknown-key', '{ routes: [] }'), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-unknown-key', 'routes'] },
  { id: 'e-hep-misspelt', files: pointsRow('e-hep-misspelt', '{ hep: { before_reqest () {} } }'), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-hep-misspelt', 'hep.before_reqest'] },
  { id: 'e-hep-not-function', files: pointsRow('e-hep-not-function', "{ hep: { after_request: 'yes' } }"), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-hep-not-function', 'hep.after_request'] },
  { id: 'e-bep-relative', files: pointsRow('e-bep-relative', `{ bep: { ${blueprint}, prefix: 'relative' } }`), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-bep-relative', 'bep.prefix'] },
  { id: 'e-bep-trailing', files: pointsRow('e-bep-trailing', `{ bep: { ${blueprint}, prefix: '/x/' } }`), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-bep-trailing', 'bep.prefix'] },
  { id: 'e-bep-space', files: pointsRow('e-bep-space', `{ bep: [{ ${blueprint}, prefix: '/ok' }, { ${blueprint}, prefix: '/a b' }] }`), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-bep-space', 'bep[1].prefix'] },
  { id: 'e-bep-no-blueprint', files: pointsRow('e-bep-no-blueprint', "{ bep: { prefix: '/x' } }"), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-bep-no-blueprint', 'bep.blueprint'] },
  { id: 'e-bep-null', files: pointsRow('e-bep-null', '{ bep: null }'), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-bep-null', 'bep'] },
  { id: 'e-bep-parent', files: pointsRow('e-bep-parent', `{ bep: { ${blueprint}, prefix: '/child', parent: 'ghost-parent' } }`), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-bep-parent', 'bep.parent', 'ghost-parent'] },
  { id: 'e-vep-no-handler', files: pointsRow('e-vep-no-handler', "{ vep: { method: 'GET', url: '/e-vep-no-handler' } }"), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-vep-no-handler', 'vep.handler'] },
  { id: 'e-vep-blueprint', files: pointsRow('e-vep-blueprint', "{ vep: { method: 'GET', url: '/v', handler: () => 'v', blueprint: 'ghost-bp' } }"), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-vep-blueprint', 'vep.blueprint', 'ghost-bp'] },
  { id: 'e-cvep-prefix', files: pointsRow('e-cvep-prefix', "{ cvep: { controller: class { index () { return 'i' } }, prefix: 'c/' } }"), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-cvep-prefix', 'cvep.prefix'] },
  {
    id: 'e-cvep-constructor',
    files: pointsRow('e-cvep-constructor', "{ cvep: { controller: class { constructor () { throw new Error('no instance') } }, prefix: '/c' } }"),
    code: 'PLUGINKIT_ERR_EXTENSION_POINT',
    mentions: ['e-cvep-constructor', 'cvep.controller', 'no instance']
  },
  { id: 'e-tep-number', files: pointsRow('e-tep-number', '{ tep: 5 }'), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-tep-number', 'tep'] },
  { id: 'e-tep-both', files: pointsRow('e-tep-both', "{ tep: { header: { code: 'x', template: 'x.html' } } }"), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-tep-both', 'tep.header'] },
  { id: 'e-tep-missing-file', files: pointsRow('e-tep-missing-file', "{ tep: { header: 'e-tep-missing-file/missing.html' } }"), code: 'PLUGINKIT_ERR_TEMPLATE_NOT_FOUND', mentions: ['e-tep-missing-file', 'tep.header', 'missing.html'] },
  { id: 'e-filter', files: pointsRow('e-filter', '{ filter: [42] }'), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-filter', 'filter[0]'] },
  { id: 'e-errhandler-status', files: pointsRow('e-errhandler-status', "{ errhandler: { 999: () => 'x' } }"), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-errhandler-status', 'errhandler.999'] },
  { id: 'e-tcp-string', files: pointsRow('e-tcp-string', "{ tcp: 'context' }"), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-tcp-string', 'tcp'] },
  { id: 'e-p3-malformed', files: pointsRow('e-p3-malformed', "{ p3: { 'good-a': 'not transforms' } }"), code: 'PLUGINKIT_ERR_EXTENSION_POINT', mentions: ['e-p3-malformed', 'p3'] },
  {
    id: 'e-p3-throws',
    files: pointsRow('e-p3-throws', "{ p3: { 'good-a': { tcp () { throw new Error('p3 exploded') } } } }"),
    code: 'PLUGINKIT_ERR_EXTENSION_POINT',
    mentions: ['e-p3-throws', 'p3.good-a', 'p3 exploded']
  },

  // dependencies
  { id: 'd-missing', files: manifestRow('d-missing', { dependencies: "['ghost']" }), code: 'PLUGINKIT_ERR_DEPENDENCY', mentions: ['d-missing', 'dependencies.ghost'] },
  { id: 'd-out-of-range', files: manifestRow('d-out-of-range', { dependencies: "{ 'good-a': '^2.0.0' }" }), code: 'PLUGINKIT_ERR_DEPENDENCY', mentions: ['d-out-of-range', 'dependencies.good-a', '^2.0.0'] },
  { id: 'd-self', files: manifestRow('d-self', { dependencies: "['d-self']" }), code: 'PLUGINKIT_ERR_DEPENDENCY', mentions: ['d-self -> d-self', 'dependencies'] },
  {
    id: 'd-cycle-a',
    files: { ...manifestRow('d-cycle-a', { dependencies: "['d-cycle-b']" }), ...manifestRow('d-cycle-b', { dependencies: "{ 'd-cycle-a': '*' }" }) },
    code: 'PLUGINKIT_ERR_DEPENDENCY',
    mentions: [/d-cycle-a -> d-cycle-b -> d-cycle-a|d-cycle-b -> d-cycle-a -> d-cycle-b/, 'dependencies'],
    failing: [{ dir: 'plugins/d-cycle-a' }, { dir: 'plugins/d-cycle-b' }]
  },
  {
    id: 'd-ring-1',
    files: {
      ...manifestRow('d-ring-1', { dependencies: "['d-ring-2']" }),
      ...manifestRow('d-ring-2', { dependencies: "['d-ring-3']" }),
      ...manifestRow('d-ring-3', { dependencies: "['d-ring-1']" })
    },
    code: 'PLUGINKIT_ERR_DEPENDENCY',
    mentions: [/(d-ring-\d) -> d-ring-\d -> d-ring-\d -> \1/, 'dependencies'],
    failing: [{ dir: 'plugins/d-ring-1' }, { dir: 'plugins/d-ring-2' }, { dir: 'plugins/d-ring-3' }]
  },

  // duplicate names: the second folder (in load order) is the duplicate
  {
    id: 'dup-1',
    files: { 'plugins/dup-1/index.mjs': pluginSource({ name: 'dup-twin' }, routeBody('dup-twin')), 'plugins/dup-2/index.mjs': pluginSource({ name: 'dup-twin' }, routeBody('dup-twin')) },
    code: 'PLUGINKIT_ERR_DUPLICATE_PLUGIN',
    mentions: ['dup-twin', 'name', 'dup-1', 'dup-2'],
    failing: [{ dir: 'plugins/dup-2' }],
    survivors: ['dup-twin']
  },

  // pluginConfig against configSchema
  {
    id: 'c-config-type',
    files: manifestRow('c-config-type', { configSchema: "{ type: 'object', properties: { port: { type: 'integer' } } }" }),
    code: 'PLUGINKIT_ERR_PLUGIN_CONFIG',
    mentions: ['c-config-type', 'pluginConfig.c-config-type.port'],
    pluginConfig: { 'c-config-type': { port: 'eighty' } }
  },
  {
    id: 'c-config-required',
    files: manifestRow('c-config-required', { configSchema: "{ type: 'object', required: ['token'], properties: { token: { type: 'string' } } }" }),
    code: 'PLUGINKIT_ERR_PLUGIN_CONFIG',
    mentions: ['c-config-required', 'token']
  },

  // imports: syntax errors, throwing or hanging modules, unresolvable modules and packages
  { id: 'i-syntax', files: local('i-syntax', 'export default {\n'), code: 'PLUGINKIT_ERR_PLUGIN_IMPORT', mentions: ['i-syntax', 'entry'] },
  { id: 'i-cjs-syntax', files: local('i-cjs-syntax', 'module.exports = { name: \n', 'index.cjs'), code: 'PLUGINKIT_ERR_PLUGIN_IMPORT', mentions: ['i-cjs-syntax', 'entry'] },
  { id: 'i-throws', files: local('i-throws', "throw new Error('import exploded')\n"), code: 'PLUGINKIT_ERR_PLUGIN_IMPORT', mentions: ['i-throws', 'entry', 'import exploded'] },
  { id: 'i-hangs', files: local('i-hangs', pluginSource({ name: 'i-hangs' }, null, { header: 'await new Promise(() => {})' })), code: 'PLUGINKIT_ERR_PLUGIN_IMPORT', mentions: ['i-hangs', 'loadTimeout'], hangs: true },
  { id: 'i-missing-module', files: local('i-missing-module', "import 'pluginkit-no-such-module-xyz'\nexport default {}\n"), code: 'PLUGINKIT_ERR_PLUGIN_IMPORT', mentions: ['i-missing-module', 'entry', 'pluginkit-no-such-module-xyz'] },
  {
    id: 'i-main-missing',
    files: { 'plugins/i-main-missing/package.json': JSON.stringify({ main: 'nope.js' }), 'plugins/i-main-missing/index.js': pluginSource({ name: 'i-main-missing' }, routeBody('i-main-missing')) },
    code: 'PLUGINKIT_ERR_PLUGIN_IMPORT',
    mentions: ['i-main-missing', 'entry']
  },
  {
    id: 'i-package-json',
    files: { 'plugins/i-package-json/package.json': '{ "main": ', 'plugins/i-package-json/index.mjs': pluginSource({ name: 'i-package-json' }, routeBody('i-package-json')) },
    code: 'PLUGINKIT_ERR_PLUGIN_IMPORT',
    mentions: ['i-package-json', 'entry']
  },
  {
    id: 'i-exports-no-dot',
    files: { 'plugins/i-exports-no-dot/package.json': JSON.stringify({ exports: { './other': './other.mjs' } }), 'plugins/i-exports-no-dot/index.mjs': pluginSource({ name: 'i-exports-no-dot' }, routeBody('i-exports-no-dot')) },
    code: 'PLUGINKIT_ERR_PLUGIN_IMPORT',
    mentions: ['i-exports-no-dot', 'entry']
  },
  {
    id: 'pk-unresolvable',
    files: {},
    code: 'PLUGINKIT_ERR_PLUGIN_IMPORT',
    mentions: ['pk-not-installed-xyz'],
    pluginPackages: ['pk-not-installed-xyz'],
    failing: [{ plugin: 'pk-not-installed-xyz' }]
  },
  {
    id: 'pk-invalid-name',
    files: {},
    code: 'PLUGINKIT_ERR_PLUGIN_IMPORT',
    mentions: ['Not A Package!'],
    pluginPackages: ['Not A Package!'],
    failing: [{ plugin: 'Not A Package!' }]
  },
  {
    id: 'pk-throws',
    files: {
      'node_modules/pk-throws/package.json': JSON.stringify({ name: 'pk-throws', version: '1.0.0', type: 'module' }),
      'node_modules/pk-throws/index.js': "throw new Error('package exploded')\n"
    },
    code: 'PLUGINKIT_ERR_PLUGIN_IMPORT',
    mentions: ['pk-throws', 'package exploded'],
    pluginPackages: ['pk-throws'],
    failing: [{ plugin: 'pk-throws' }]
  },
  {
    id: 'pk-no-entry',
    files: { 'node_modules/pk-no-entry/package.json': JSON.stringify({ name: 'pk-no-entry', version: '1.0.0' }), 'node_modules/pk-no-entry/README.md': 'empty' },
    code: 'PLUGINKIT_ERR_PLUGIN_IMPORT',
    mentions: ['pk-no-entry', 'entry'],
    pluginPackages: ['pk-no-entry'],
    failing: [{ plugin: 'pk-no-entry' }]
  },
  {
    id: 'pk-bad-manifest',
    files: {
      'node_modules/pk-bad-manifest/package.json': JSON.stringify({ name: 'pk-bad-manifest', version: '1.0.0', type: 'module' }),
      'node_modules/pk-bad-manifest/index.js': pluginSource({ name: 'pk-bad-manifest', author: undefined })
    },
    code: 'PLUGINKIT_ERR_PLUGIN_METADATA',
    mentions: ['pk-bad-manifest', 'author'],
    pluginPackages: ['pk-bad-manifest'],
    failing: [{ plugin: 'pk-bad-manifest' }]
  }
]

/** A hanging plugin is bounded by this loadTimeout (ms); generous enough for every other plugin under load. */
const HANG_TIMEOUT = 1000
const COMBINED_TIMEOUT = 1500

function failingOf (row: Row): Where[] {
  return row.failing ?? [{ dir: `plugins/${row.id}` }]
}

test('the corpus: at least 30 broken plugins, unique folders, every SPEC plugin error code', () => {
  assert.ok(rows.length >= 30, `${rows.length} rows`)
  assert.equal(new Set(rows.map((row) => row.id)).size, rows.length)
  const codes = new Set(rows.map((row) => row.code))
  for (const code of ['PLUGINKIT_ERR_PLUGIN_IMPORT', 'PLUGINKIT_ERR_PLUGIN_METADATA', 'PLUGINKIT_ERR_PLUGIN_VERSION', 'PLUGINKIT_ERR_DUPLICATE_PLUGIN',
    'PLUGINKIT_ERR_DEPENDENCY', 'PLUGINKIT_ERR_PLUGIN_CONFIG', 'PLUGINKIT_ERR_REGISTER', 'PLUGINKIT_ERR_EXTENSION_POINT', 'PLUGINKIT_ERR_TEMPLATE_NOT_FOUND'] as const) {
    assert.ok(codes.has(code), `the corpus covers ${code}`)
  }
})

test('strict: true: each broken plugin, next to the good ones, rejects ready() with its code, naming plugin and field', async (t) => {
  for (const row of rows) {
    await t.test(row.id, async () => {
      const base = await makeTree({ ...goodTree, ...row.files })
      const app = buildApp(base, {
        pluginPackages: ['good-pkg', ...(row.pluginPackages ?? [])],
        pluginConfig: row.pluginConfig,
        loadTimeout: row.hangs === true ? HANG_TIMEOUT : undefined
      }, { until: 'none' })
      const error = await readyError(app)
      assertKitError(error, row.code, ...row.mentions)
    })
  }
})

test('strict: false: all broken plugins together are skipped and listed in failures; every good plugin still works', async () => {
  const tree: Tree = { ...goodTree }
  const pluginPackages = ['good-pkg']
  const pluginConfig: Record<string, unknown> = {}
  for (const row of rows) {
    Object.assign(tree, row.files)
    pluginPackages.push(...(row.pluginPackages ?? []))
    Object.assign(pluginConfig, row.pluginConfig)
  }
  const base = await makeTree(tree)
  const app = buildApp(base, { strict: false, pluginPackages, pluginConfig, loadTimeout: COMBINED_TIMEOUT }, { until: 'none' })
  await app.ready()

  const survivors = rows.flatMap((row) => row.survivors ?? [])
  assert.deepEqual(app.pluginKit.plugins.map((plugin) => plugin.name).toSorted(), [...GOOD, ...survivors].toSorted(),
    'exactly the good plugins (and the first of the duplicates) are loaded')
  await assertGoodPluginsWork(app, survivors)
  // The first of the duplicates serves, from its own folder.
  assert.deepEqual((await app.inject('/dup-twin')).json(), { plugin: 'dup-twin' })
  assert.equal(app.pluginKit.get('dup-twin').dir, join(base, 'plugins/dup-1'))

  const failures = app.pluginKit.failures
  const expected = rows.flatMap((row) => failingOf(row).map((where) => ({ row, where })))
  const matched = new Set<unknown>()
  for (const { row, where } of expected) {
    const failure = 'dir' in where
      ? failures.find((entry) => entry.dir === join(base, where.dir))
      : failures.find((entry) => entry.plugin === where.plugin)
    assert.ok(failure !== undefined, `${row.id}: ${JSON.stringify(where)} is listed in failures (${failures.map((entry) => entry.plugin).join(', ')})`)
    assert.ok(!matched.has(failure), `${row.id}: one failure per broken plugin`)
    matched.add(failure)
    assert.equal(typeof failure.plugin, 'string')
    assert.ok(failure.plugin.length > 0)
    // The same code as under strict; the message names the plugin and field (a cycle
    // member's shows the cycle, the duplicate's both folders).
    assertKitError(failure.error, row.code, ...row.mentions)
  }
  assert.equal(failures.length, expected.length, `one failure per broken plugin, nothing else: ${failures.map((entry) => `${entry.plugin}: ${entry.error.code}`).join('; ')}`)

  // The skipped plugins' well-formed routes were not mounted: the app's not-found handling answers.
  for (const url of ['/ok', '/v', '/dup-twin/x']) assert.equal((await app.inject(url)).statusCode, 404, url)
  // A broken p3 changed nothing in its target.
  assert.deepEqual(app.pluginKit.get('good-a').extensionPoints, ['bep'])
})

/** The error's code when it is one of `codes`, else the first of them (so that assertKitError reports the mismatch). */
function oneOf (error: unknown, codes: PluginKitErrorCode[]): PluginKitErrorCode {
  const code = (error as { code?: PluginKitErrorCode } | null)?.code
  return code !== undefined && codes.includes(code) ? code : codes[0] as PluginKitErrorCode
}

// Plugins that only fail while Fastify mounts their routes (after every manifest and
// extension point passed the boot checks): malformed route options in `vep`, a route that
// clashes with another, a blueprint that throws. They are plugin errors like the others:
// a PluginKitError naming the plugin and the key under strict, skipped under strict: false.
const mountRows: Array<{ id: string, points: string, codes: PluginKitErrorCode[], mentions: string[] }> = [
  { id: 'x-vep-method', points: "{ vep: { method: 'FETCH', url: '/x-vep-method', handler: () => 'x' } }", codes: ['PLUGINKIT_ERR_EXTENSION_POINT'], mentions: ['x-vep-method', 'vep'] },
  { id: 'x-vep-url', points: "{ vep: { method: 'GET', url: 'no-leading-slash', handler: () => 'x' } }", codes: ['PLUGINKIT_ERR_EXTENSION_POINT'], mentions: ['x-vep-url', 'vep'] },
  { id: 'x-vep-clash', points: "{ vep: { method: 'GET', url: '/good-a', handler: () => 'x' } }", codes: ['PLUGINKIT_ERR_EXTENSION_POINT', 'PLUGINKIT_ERR_REGISTER'], mentions: ['x-vep-clash', 'vep'] },
  { id: 'x-bep-throws', points: "{ bep: { prefix: '/x-bep-throws', blueprint: (app, options, done) => { throw new Error('blueprint exploded') } } }", codes: ['PLUGINKIT_ERR_REGISTER'], mentions: ['x-bep-throws', 'bep', 'blueprint exploded'] },
  { id: 'x-bep-rejects', points: "{ bep: { prefix: '/x-bep-rejects', blueprint: async (app) => { app.get('/', () => 'half'); throw new Error('blueprint rejected') } } }", codes: ['PLUGINKIT_ERR_REGISTER'], mentions: ['x-bep-rejects', 'bep', 'blueprint rejected'] }
]

for (const row of mountRows) {
  test(`mount-time failure ${row.id}: strict rejects with a PluginKitError naming plugin and key; strict: false skips it`, async () => {
    const base = await makeTree({ ...goodTree, ...pointsRow(row.id, row.points) })
    const strictError = await readyError(buildApp(base, { pluginPackages: ['good-pkg'] }, { until: 'none' }))
    assertKitError(strictError, oneOf(strictError, row.codes), ...row.mentions)

    const app = buildApp(base, { strict: false, pluginPackages: ['good-pkg'] }, { until: 'none' })
    await app.ready()
    await assertGoodPluginsWork(app)
    assert.ok(!app.pluginKit.plugins.some((plugin) => plugin.name === row.id), `${row.id} is skipped`)
    const failure = app.pluginKit.failures.find((entry) => entry.plugin === row.id)
    assert.ok(failure !== undefined, `${row.id} is listed in failures`)
    assertKitError(failure.error, oneOf(failure.error, row.codes), ...row.mentions)
    assert.equal((await app.inject(`/${row.id}`)).statusCode, 404)
  })
}

// Documented limitation: Fastify compiles route schemas when the app gets ready, after the
// kit has finished, so a schema it cannot compile fails boot with Fastify's own error, which
// names the route (strict or not).
test('mount-time failure x-vep-schema: an uncompilable route schema fails boot with Fastify\'s error naming the route', async () => {
  const base = await makeTree({ ...goodTree, ...pointsRow('x-vep-schema', "{ vep: { method: 'GET', url: '/x-vep-schema', schema: { querystring: { type: 'nonsense' } }, handler: () => 'x' } }") })
  for (const strict of [true, false]) {
    const error = await readyError(buildApp(base, { strict, pluginPackages: ['good-pkg'] }, { until: 'none' })) as { code?: string, message?: string }
    assert.equal(error.code, 'FST_ERR_SCH_VALIDATION_BUILD')
    assert.match(String(error.message), /\/x-vep-schema/)
  }
})

// Manifests that throw when the kit reads them (a getter, a Proxy), and thrown values that
// cannot be turned into a string (a null-prototype object, a throwing toString): still a
// plugin error with a code, naming the plugin or its folder. (A Proxy may already fail
// while the module is imported, when a loader inspects its default export.)
const hostileManifests: Array<{ id: string, source: string, codes: PluginKitErrorCode[] }> = [
  {
    id: 'h-getter',
    source: "export default { name: 'h-getter', version: '1.0.0', author: 'x', get dependencies () { throw new Error('getter exploded') }, register () { return {} } }\n",
    codes: ['PLUGINKIT_ERR_PLUGIN_METADATA']
  },
  {
    id: 'h-name-getter',
    source: "export default { get name () { throw new Error('name getter exploded') }, version: '1.0.0', author: 'x', register () { return {} } }\n",
    codes: ['PLUGINKIT_ERR_PLUGIN_METADATA']
  },
  {
    id: 'h-proxy',
    source: "export default new Proxy({}, { get () { throw new Error('trap') }, has () { throw new Error('trap') } })\n",
    codes: ['PLUGINKIT_ERR_PLUGIN_METADATA', 'PLUGINKIT_ERR_PLUGIN_IMPORT']
  },
  {
    id: 'h-register-null-proto',
    source: pluginSource({ name: 'h-register-null-proto' }, 'throw Object.create(null)'),
    codes: ['PLUGINKIT_ERR_REGISTER']
  },
  {
    id: 'h-register-to-string',
    source: pluginSource({ name: 'h-register-to-string' }, "throw { toString () { throw new Error('no string') } }", { async: true }),
    codes: ['PLUGINKIT_ERR_REGISTER']
  },
  { id: 'h-import-null-proto', source: 'throw Object.create(null)\n', codes: ['PLUGINKIT_ERR_PLUGIN_IMPORT'] },
  {
    id: 'h-p3-null-proto',
    source: pluginSource({ name: 'h-p3-null-proto' }, "return { p3: { 'good-a': { tcp () { throw Object.create(null) } } } }"),
    codes: ['PLUGINKIT_ERR_EXTENSION_POINT']
  }
]

for (const { id, source, codes } of hostileManifests) {
  test(`a manifest or thrown value that resists reading (${id}) is ${codes.join(' or ')} under strict, and skipped under strict: false`, async () => {
    const base = await makeTree({ ...goodTree, ...local(id, source) })
    const strictError = await readyError(buildApp(base, { pluginPackages: ['good-pkg'] }, { until: 'none' }))
    assertKitError(strictError, oneOf(strictError, codes), id)

    const app = buildApp(base, { strict: false, pluginPackages: ['good-pkg'] }, { until: 'none' })
    await app.ready()
    await assertGoodPluginsWork(app)
    const failure = app.pluginKit.failures.find((entry) => entry.dir === join(base, 'plugins', id))
    assert.ok(failure !== undefined, `${id} is listed in failures`)
    assertKitError(failure.error, oneOf(failure.error, codes), id)
  })
}

test('a p3 transform that returns a malformed value is the p3 plugin\'s failure, not its target\'s', async () => {
  const id = 'p3-vandal'
  const base = await makeTree({ ...goodTree, ...pointsRow(id, "{ p3: { 'good-a': { bep: () => 'not a blueprint' } } }") })
  assertKitError(await readyError(buildApp(base, { pluginPackages: ['good-pkg'] }, { until: 'none' })), 'PLUGINKIT_ERR_EXTENSION_POINT', id, 'p3.good-a')

  const app = buildApp(base, { strict: false, pluginPackages: ['good-pkg'] }, { until: 'none' })
  await app.ready()
  await assertGoodPluginsWork(app)
  assert.deepEqual(app.pluginKit.failures.map((failure) => failure.plugin), [id])
})
