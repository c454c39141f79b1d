// SPEC section 3 (load order): packages in the order given, then local folders by name,
// then a stable topological sort by dependencies; dependency errors (section 10).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { buildApp, makeTree, orderHookBody, pluginSource } from './helpers.ts'
import { bootError, names } from './helpers-loading.ts'

/** The order the plugins' before_request hooks ran in for one request to the host route. */
async function hookOrder (app: FastifyInstance): Promise<string[]> {
  const response = await app.inject('/')
  assert.equal(response.statusCode, 200)
  assert.equal(response.body, 'hello world')
  const header = response.headers['x-order']
  assert.equal(typeof header, 'string', 'every plugin hook should have run')
  return String(header).split(',')
}

/** A package folder (under node_modules) holding a plugin whose before_request hook appends its name to `x-order`. */
function hookPackage (packageName: string, name: string, extra: Record<string, unknown> = {}): Record<string, string> {
  return {
    [`node_modules/${packageName}/package.json`]: JSON.stringify({ name: packageName, version: '1.0.0', type: 'module' }),
    [`node_modules/${packageName}/index.js`]: pluginSource({ name, ...extra }, orderHookBody(name))
  }
}

/** Asserts that every plugin comes after all of its dependencies in `order`. */
function assertDependenciesFirst (app: FastifyInstance, order: string[]): void {
  for (const plugin of app.pluginKit.plugins) {
    for (const dependency of Object.keys(plugin.dependencies)) {
      assert.ok(order.indexOf(dependency) < order.indexOf(plugin.name), `${dependency} should load before ${plugin.name} in ${order.join(',')}`)
    }
  }
}

test('without dependencies: packages in the order given, then local folders alphabetically', async () => {
  const base = await makeTree({
    // Written out of order on purpose; the folder name decides, not the plugin name.
    'plugins/gamma/index.mjs': pluginSource({ name: 'gamma' }, orderHookBody('gamma')),
    'plugins/alpha/index.mjs': pluginSource({ name: 'alpha' }, orderHookBody('alpha')),
    'plugins/delta-dir/index.mjs': pluginSource({ name: 'aaa-first-by-name' }, orderHookBody('aaa-first-by-name')),
    'plugins/beta/index.mjs': pluginSource({ name: 'beta' }, orderHookBody('beta')),
    'plugins/alpha-2/index.mjs': pluginSource({ name: 'alpha-2' }, orderHookBody('alpha-2')),
    ...hookPackage('pk-zulu', 'pk-zulu'),
    ...hookPackage('pk-alpha', 'pk-alpha'),
    ...hookPackage('@scope/pk-mid', 'pk-mid')
  })
  const app = await buildApp(base, { pluginPackages: ['pk-zulu', '@scope/pk-mid', 'pk-alpha'] }, { until: 'ready' })
  const expected = ['pk-zulu', 'pk-mid', 'pk-alpha', 'alpha', 'alpha-2', 'beta', 'aaa-first-by-name', 'gamma']
  assert.deepEqual(names(app), expected)
  assert.deepEqual(app.pluginKit.enabledPlugins.map((plugin) => plugin.name), expected)
  assert.deepEqual(await hookOrder(app), expected)
})

test('dependencies (array form) move a dependency before its dependent', async () => {
  const base = await makeTree({
    'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', dependencies: ['beta'] }, orderHookBody('alpha')),
    'plugins/beta/index.mjs': pluginSource({ name: 'beta' }, orderHookBody('beta')),
    'plugins/gamma/index.mjs': pluginSource({ name: 'gamma' }, orderHookBody('gamma'))
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['beta', 'alpha', 'gamma'])
  assert.deepEqual(await hookOrder(app), ['beta', 'alpha', 'gamma'])
})

test('dependencies (name -> range form) and chains', async () => {
  const base = await makeTree({
    'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', dependencies: { beta: '^1.0.0' } }, orderHookBody('alpha')),
    'plugins/beta/index.mjs': pluginSource({ name: 'beta', dependencies: { gamma: '>=1.0.0 <2.0.0' } }, orderHookBody('beta')),
    'plugins/gamma/index.mjs': pluginSource({ name: 'gamma' }, orderHookBody('gamma')),
    'plugins/omega/index.mjs': pluginSource({ name: 'omega', dependencies: { alpha: '*', gamma: '1.x' } }, orderHookBody('omega'))
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['gamma', 'beta', 'alpha', 'omega'])
  assert.deepEqual(await hookOrder(app), ['gamma', 'beta', 'alpha', 'omega'])
  assert.deepEqual(app.pluginKit.get('alpha').dependencies, { beta: '^1.0.0' })
})

test('plugins that two plugins depend on come first; order is otherwise kept', async () => {
  const base = await makeTree({
    'plugins/a1/index.mjs': pluginSource({ name: 'a1', dependencies: ['c1'] }, orderHookBody('a1')),
    'plugins/b1/index.mjs': pluginSource({ name: 'b1', dependencies: ['c1'] }, orderHookBody('b1')),
    'plugins/c1/index.mjs': pluginSource({ name: 'c1' }, orderHookBody('c1'))
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['c1', 'a1', 'b1'])
  assert.deepEqual(await hookOrder(app), ['c1', 'a1', 'b1'])
})

test('the sort is stable: independent plugins keep their relative order, across packages and folders', async () => {
  const base = await makeTree({
    ...hookPackage('pk-needs-local', 'pk-needs-local', { dependencies: { zeta: '^1.0.0' } }),
    ...hookPackage('pk-free', 'pk-free'),
    'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', dependencies: ['pk-free'] }, orderHookBody('alpha')),
    'plugins/beta/index.mjs': pluginSource({ name: 'beta' }, orderHookBody('beta')),
    'plugins/eta/index.mjs': pluginSource({ name: 'eta' }, orderHookBody('eta')),
    'plugins/zeta/index.mjs': pluginSource({ name: 'zeta' }, orderHookBody('zeta'))
  })
  const app = await buildApp(base, { pluginPackages: ['pk-needs-local', 'pk-free'] }, { until: 'ready' })
  const order = names(app)
  assert.equal(order.length, 6)
  assertDependenciesFirst(app, order)
  // Plugins with no dependency relation between them keep the discovery order.
  const independent = order.filter((name) => ['pk-free', 'beta', 'eta'].includes(name))
  assert.deepEqual(independent, ['pk-free', 'beta', 'eta'])
  assert.deepEqual(await hookOrder(app), order)
})

test('the load order is the same on every boot', async () => {
  const base = await makeTree({
    'plugins/p1/index.mjs': pluginSource({ name: 'p1', dependencies: ['p4'] }, orderHookBody('p1')),
    'plugins/p2/index.mjs': pluginSource({ name: 'p2' }, orderHookBody('p2')),
    'plugins/p3/index.mjs': pluginSource({ name: 'p3', dependencies: ['p1', 'p2'] }, orderHookBody('p3')),
    'plugins/p4/index.mjs': pluginSource({ name: 'p4' }, orderHookBody('p4')),
    'plugins/p5/index.mjs': pluginSource({ name: 'p5', dependencies: ['p2'] }, orderHookBody('p5'))
  })
  const first = await buildApp(base, {}, { until: 'ready' })
  const order = names(first)
  assertDependenciesFirst(first, order)
  assert.deepEqual(await hookOrder(first), order)
  for (let run = 0; run < 2; run++) {
    const again = await buildApp(base, {}, { until: 'ready' })
    assert.deepEqual(names(again), order)
    await again.close()
  }
})

test('hooks of a disabled plugin are skipped; the others keep their order', async () => {
  const base = await makeTree({
    'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', dependencies: ['gamma'] }, orderHookBody('alpha')),
    'plugins/beta/index.mjs': pluginSource({ name: 'beta', state: 'disabled' }, orderHookBody('beta')),
    'plugins/gamma/index.mjs': pluginSource({ name: 'gamma' }, orderHookBody('gamma'))
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['gamma', 'alpha', 'beta'])
  assert.deepEqual(await hookOrder(app), ['gamma', 'alpha'])
  await app.pluginKit.enable('beta')
  assert.deepEqual(await hookOrder(app), ['gamma', 'alpha', 'beta'])
})

test('a missing dependency -> PLUGINKIT_ERR_DEPENDENCY naming plugin and dependency', async () => {
  const base = await makeTree({
    'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', dependencies: ['ghost'] }, orderHookBody('alpha')),
    'plugins/beta/index.mjs': pluginSource({ name: 'beta' }, orderHookBody('beta'))
  })
  await bootError(base, {}, 'PLUGINKIT_ERR_DEPENDENCY', 'alpha', 'ghost')
  const ranged = await makeTree({ 'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', dependencies: { ghost: '^1.0.0' } }, orderHookBody('alpha')) })
  await bootError(ranged, {}, 'PLUGINKIT_ERR_DEPENDENCY', 'alpha', 'ghost')
})

test('a dependency outside its range -> PLUGINKIT_ERR_DEPENDENCY naming plugin, dependency and range', async () => {
  const base = await makeTree({
    'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', dependencies: { beta: '^2.0.0' } }, orderHookBody('alpha')),
    'plugins/beta/index.mjs': pluginSource({ name: 'beta', version: '1.4.0' }, orderHookBody('beta'))
  })
  await bootError(base, {}, 'PLUGINKIT_ERR_DEPENDENCY', 'alpha', 'beta', '^2.0.0')
})

test('a dependency inside its range is accepted', async () => {
  const base = await makeTree({
    'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', dependencies: { beta: '>=1.0.0 <3.0.0' } }, orderHookBody('alpha')),
    'plugins/beta/index.mjs': pluginSource({ name: 'beta', version: '2.5.1' }, orderHookBody('beta'))
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['beta', 'alpha'])
})

test('a two-plugin cycle -> PLUGINKIT_ERR_DEPENDENCY showing the cycle path', async () => {
  const base = await makeTree({
    'plugins/a/index.mjs': pluginSource({ name: 'a', dependencies: ['b'] }, orderHookBody('a')),
    'plugins/b/index.mjs': pluginSource({ name: 'b', dependencies: { a: '*' } }, orderHookBody('b'))
  })
  await bootError(base, {}, 'PLUGINKIT_ERR_DEPENDENCY', /\ba -> b -> a\b|\bb -> a -> b\b/)
})

test('a three-plugin cycle -> PLUGINKIT_ERR_DEPENDENCY showing the whole path', async () => {
  const base = await makeTree({
    'plugins/free/index.mjs': pluginSource({ name: 'free' }, orderHookBody('free')),
    'plugins/x/index.mjs': pluginSource({ name: 'x', dependencies: ['y'] }, orderHookBody('x')),
    'plugins/y/index.mjs': pluginSource({ name: 'y', dependencies: ['z'] }, orderHookBody('y')),
    'plugins/z/index.mjs': pluginSource({ name: 'z', dependencies: ['x', 'free'] }, orderHookBody('z'))
  })
  await bootError(base, {}, 'PLUGINKIT_ERR_DEPENDENCY', /\bx -> y -> z -> x\b|\by -> z -> x -> y\b|\bz -> x -> y -> z\b/)
})

test('a plugin depending on itself -> PLUGINKIT_ERR_DEPENDENCY', async () => {
  const base = await makeTree({ 'plugins/selfish/index.mjs': pluginSource({ name: 'selfish', dependencies: ['selfish'] }, orderHookBody('selfish')) })
  await bootError(base, {}, 'PLUGINKIT_ERR_DEPENDENCY', 'selfish -> selfish')
})

test('a plugin depending on a plugin in a cycle -> PLUGINKIT_ERR_DEPENDENCY', async () => {
  const base = await makeTree({
    'plugins/a/index.mjs': pluginSource({ name: 'a', dependencies: ['b'] }, orderHookBody('a')),
    'plugins/b/index.mjs': pluginSource({ name: 'b', dependencies: ['a'] }, orderHookBody('b')),
    'plugins/c/index.mjs': pluginSource({ name: 'c', dependencies: ['a'] }, orderHookBody('c'))
  })
  await bootError(base, {}, 'PLUGINKIT_ERR_DEPENDENCY')
  const app = await buildApp(base, { strict: false }, { until: 'ready' })
  assert.deepEqual(names(app), [])
  const failed = app.pluginKit.failures.map((failure) => [failure.plugin, failure.error.code])
  assert.deepEqual(failed.toSorted(), [['a', 'PLUGINKIT_ERR_DEPENDENCY'], ['b', 'PLUGINKIT_ERR_DEPENDENCY'], ['c', 'PLUGINKIT_ERR_DEPENDENCY']])
})
