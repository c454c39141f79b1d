// Direct tests of the dependency sort (lib/order.ts), without discovery or Fastify.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { orderByDependencies, type Orderable } from '../lib/order.ts'

const plugin = (name: string, dependencies: Record<string, string> = {}, version = '1.0.0'): Orderable =>
  ({ name, version, dependencies })

function order (...plugins: Orderable[]): { ordered: string[], failed: Record<string, { code: string, message: string }> } {
  const { ordered, failed } = orderByDependencies(plugins)
  return {
    ordered: ordered.map((entry) => entry.name),
    failed: Object.fromEntries(failed.map(({ plugin, error }) => [plugin.name, { code: error.code, message: error.message }]))
  }
}

test('without dependencies the input order is kept', () => {
  assert.deepEqual(order(plugin('c'), plugin('a'), plugin('b')), { ordered: ['c', 'a', 'b'], failed: {} })
  assert.deepEqual(order(), { ordered: [], failed: {} })
})

test('a dependency is placed right before its first dependent; the rest keeps its place (stable)', () => {
  const result = order(plugin('a', { c: '*' }), plugin('b'), plugin('c'), plugin('d'))
  assert.deepEqual(result, { ordered: ['c', 'a', 'b', 'd'], failed: {} })
})

test('several dependencies are placed in input order, depth first', () => {
  const result = order(
    plugin('app', { db: '^1.0.0', auth: '^1.0.0' }),
    plugin('auth', { db: '*' }),
    plugin('db'),
    plugin('log')
  )
  // app's dependencies are visited in input order (auth, then db), and auth's own dependency db goes before auth.
  assert.deepEqual(result.ordered, ['db', 'auth', 'app', 'log'])
  assert.deepEqual(result.failed, {})
})

test('the returned objects are the ones given', () => {
  const a = plugin('a', { b: '*' })
  const b = plugin('b')
  const { ordered } = orderByDependencies([a, b])
  assert.equal(ordered[0], b)
  assert.equal(ordered[1], a)
})

test('a missing dependency fails the plugin with PLUGINKIT_ERR_DEPENDENCY naming it', () => {
  const result = order(plugin('a', { ghost: '*' }), plugin('b'))
  assert.deepEqual(result.ordered, ['b'])
  assert.equal(result.failed.a?.code, 'PLUGINKIT_ERR_DEPENDENCY')
  assert.match(result.failed.a?.message ?? '', /plugin "a".*dependencies\.ghost.*requires plugin "ghost", which is not installed/)
})

test('a dependency whose version is out of range fails the plugin, naming range and version', () => {
  const result = order(plugin('a', { b: '^2.0.0' }), plugin('b', {}, '1.4.0'))
  assert.deepEqual(result.ordered, ['b'])
  assert.match(result.failed.a?.message ?? '', /dependencies\.b.*requires "b" \^2\.0\.0, but version 1\.4\.0 is installed/)
})

test('prerelease versions satisfy a range (includePrerelease)', () => {
  const result = order(plugin('a', { b: '^1.0.0' }), plugin('b', {}, '1.2.0-beta.1'))
  assert.deepEqual(result, { ordered: ['b', 'a'], failed: {} })
})

test('every member of a cycle fails with the cycle spelled out; plugins outside it load', () => {
  const result = order(plugin('a', { b: '*' }), plugin('b', { c: '*' }), plugin('c', { a: '*' }), plugin('free'))
  assert.deepEqual(result.ordered, ['free'])
  assert.deepEqual(Object.keys(result.failed).sort(), ['a', 'b', 'c'])
  for (const name of ['a', 'b', 'c']) {
    assert.equal(result.failed[name]?.code, 'PLUGINKIT_ERR_DEPENDENCY')
    assert.match(result.failed[name]?.message ?? '', /dependencies: dependency cycle: a -> b -> c -> a/)
  }
})

test('a plugin depending on itself is a cycle of one', () => {
  const result = order(plugin('self', { self: '*' }))
  assert.deepEqual(result.ordered, [])
  assert.match(result.failed.self?.message ?? '', /dependency cycle: self -> self/)
})

test('a cycle found below the first plugin names only its members', () => {
  const result = order(plugin('top', { x: '*' }), plugin('x', { y: '*' }), plugin('y', { x: '*' }))
  assert.match(result.failed.x?.message ?? '', /dependency cycle: x -> y -> x/)
  assert.match(result.failed.y?.message ?? '', /dependency cycle: x -> y -> x/)
  // top is not in the cycle: it fails because its dependency failed.
  assert.match(result.failed.top?.message ?? '', /dependencies\.x.*requires plugin "x", which failed to load/)
})

test('failure propagates through a chain of dependents, whatever their input order', () => {
  const result = order(plugin('c', { b: '*' }), plugin('b', { a: '*' }), plugin('a', { gone: '*' }), plugin('ok'))
  assert.deepEqual(result.ordered, ['ok'])
  assert.match(result.failed.a?.message ?? '', /which is not installed/)
  assert.match(result.failed.b?.message ?? '', /dependencies\.a.*requires plugin "a", which failed to load/)
  assert.match(result.failed.c?.message ?? '', /dependencies\.b.*requires plugin "b", which failed to load/)
})

test('failed plugins are reported in input order, each with its first problem only', () => {
  const { failed } = orderByDependencies([plugin('z', { x: '*', y: '*' }), plugin('m', { q: '*' })])
  assert.deepEqual(failed.map((entry) => entry.plugin.name), ['z', 'm'])
  assert.match(failed[0]?.error.message ?? '', /dependencies\.x/)
  assert.doesNotMatch(failed[0]?.error.message ?? '', /dependencies\.y/)
})
