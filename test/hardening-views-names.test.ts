import { test } from 'node:test'
import assert from 'node:assert/strict'
import type {} from '@fastify/view'
import { PluginKitError } from 'fastify-pluginkit'
import { buildApp, pluginSource, makeTree, type Tree } from './helpers.ts'
import { captureLogs, WARN } from './helpers-views.ts'

// Issue #11, item 9: names and keys that are also Object.prototype members must be looked
// up as own properties (or in Maps) everywhere: plugin names, config keys, slots, tcp keys,
// filters, dcp events and the admin API.

const PROTO_NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty'] as const
/** Not a valid plugin name (it starts with `_`), but a valid key everywhere else. */
const ALL_NAMES = [...PROTO_NAMES, '__proto__'] as const

/** A plugin per name, each contributing to a slot, a tcp key and a filter of that same name, and a static file. */
function namesTree (): Tree {
  const tree: Tree = {
    'templates/slots.html': ALL_NAMES.map((name) => `[{{ emit_tep("${name}") }}]`).join(''),
    'templates/config.html': ALL_NAMES.map((name) => `[{{ emit_config("${name}") }}]`).join(''),
    'templates/tcp.html': PROTO_NAMES.map((name) => `[{{ ${name} }}]`).join('') + '[{{ plain }}]',
    'templates/filters.html': PROTO_NAMES.map((name) => `[{{ "x" | ${name} }}]`).join('') + '[{{ "x" | plainFilter }}]',
    'templates/assets.html': PROTO_NAMES.map((name) => `{{ emit_assets("${name}", "${name}.css") }}`).join('\n')
  }
  for (const name of PROTO_NAMES) {
    tree[`plugins/${name}/index.mjs`] = pluginSource({ name, version: '1.0.0', author: 'a' }, `return {
      tep: { ${JSON.stringify(name)}: '<${name}-tep/>', ['__proto__']: '<${name}-proto-slot/>' },
      tcp: { ${JSON.stringify(name)}: 'tcp-${name}', ['__proto__']: { polluted: true }, plain: 'plain-${name}' },
      filter: [[${JSON.stringify(name)}, (s) => s + '-${name}'], ['__proto__', (s) => s], ['plainFilter', (s) => s + '-plain']]
    }`)
    tree[`plugins/${name}/static/${name}.css`] = `/* ${name} */`
  }
  return tree
}

test('plugins named constructor, toString, valueOf, hasOwnProperty: slots, tcp, filters, static files and emit_assets', async () => {
  const logs = captureLogs()
  // config holds `__proto__` as an own key (as JSON.parse makes it), and none of the others.
  const config = JSON.parse('{"__proto__": "own-proto", "plain": 1}') as Record<string, unknown>
  const app = await buildApp(await makeTree(namesTree()), { view: { templates: 'templates' }, config }, { fastify: logs.fastifyOptions })
  for (const page of ['slots', 'config', 'tcp', 'filters', 'assets']) app.get(`/${page}`, (_request, reply) => reply.view(`${page}.html`))
  await app.ready()
  const loadOrder = app.pluginKit.plugins.map((plugin) => plugin.name)
  assert.deepEqual([...loadOrder].sort(), [...PROTO_NAMES].sort())

  // Slots keyed by those names hold exactly their plugin's contribution; `__proto__` is a slot like any other.
  const slots = await app.inject('/slots')
  assert.equal(slots.statusCode, 200, slots.body)
  assert.equal(slots.body, PROTO_NAMES.map((name) => `[<${name}-tep/>]`).join('') + `[${loadOrder.map((name) => `<${name}-proto-slot/>`).join('')}]`)
  for (const name of ALL_NAMES) assert.equal(app.pluginKit.emitTep(`${name}-missing`), '')

  // emit_config reads own keys only: Object.prototype members are not config.
  assert.equal((await app.inject('/config')).body, '[][][][][own-proto]')
  for (const name of PROTO_NAMES) {
    assert.equal(app.pluginKit.emitConfig(name), undefined, name)
    assert.equal(app.pluginKit.emit_config(name), undefined, name)
  }
  assert.equal(app.pluginKit.emitConfig('__proto__'), 'own-proto')
  assert.equal(app.pluginKit.emitConfig('plain'), 1)

  // tcp keys named like Object.prototype members reach templates; `__proto__` is refused
  // with a warning (nunjucks cannot hold it) and pollutes nothing.
  assert.equal((await app.inject('/tcp')).body, PROTO_NAMES.map((name) => `[tcp-${name}]`).join('') + `[plain-${loadOrder.at(-1) as string}]`)
  const tcpWarnings = logs.lines.filter((line) => line.level === WARN && /tcp key __proto__/.test(line.msg))
  assert.deepEqual(tcpWarnings.map((line) => line.plugin).sort(), [...PROTO_NAMES].sort(), 'one warning per plugin, not per rebuild')

  // Filters: a name like `toString` is not "already defined"; the first plugin's wins; `__proto__` is refused.
  assert.equal((await app.inject('/filters')).body, PROTO_NAMES.map((name) => `[x-${name}]`).join('') + '[x-plain]')
  const filterWarnings = logs.lines.filter((line) => line.level === WARN && line.filter !== undefined)
  for (const name of PROTO_NAMES) {
    assert.ok(!filterWarnings.some((line) => line.filter === name), `filter ${name} was defined, not reported as already defined`)
  }
  assert.equal(filterWarnings.filter((line) => line.filter === '__proto__').length, PROTO_NAMES.length)
  assert.equal(filterWarnings.filter((line) => line.filter === 'plainFilter').length, PROTO_NAMES.length - 1)

  // Static files and emit_assets of those plugins.
  const assets = await app.inject('/assets')
  assert.deepEqual(assets.body.split('\n'), PROTO_NAMES.map((name) => `<link rel="stylesheet" href="/assets/${name}/${name}.css">`))
  for (const name of PROTO_NAMES) {
    const file = await app.inject(`/assets/${name}/${name}.css`)
    assert.equal(file.statusCode, 200, name)
    assert.equal(file.body, `/* ${name} */`)
  }
  const unknown = await app.inject('/no-such-url')
  for (const url of ['/assets/__proto__/x.css', '/assets/__proto__/constructor.css', '/assets/isPrototypeOf/x.css', '/assets/constructor/toString.css']) {
    for (const method of ['GET', 'HEAD'] as const) {
      const response = await app.inject({ method, url })
      assert.equal(response.statusCode, 404, `${method} ${url}`)
      assert.equal(response.headers['content-type'], unknown.headers['content-type'])
    }
  }
  for (const name of ['__proto__', 'isPrototypeOf', 'propertyIsEnumerable']) {
    assert.throws(() => app.pluginKit.emitAssets(name, 'x.css'), (error: unknown) => error instanceof PluginKitError && error.code === 'PLUGINKIT_ERR_NOT_FOUND', name)
  }

  // Gating by name: disabling `constructor` removes its contributions and files only.
  await app.pluginKit.disable('constructor')
  assert.equal(app.pluginKit.emitTep('constructor'), '')
  assert.equal(app.pluginKit.emitTep('toString'), '<toString-tep/>')
  assert.equal((await app.inject('/assets/constructor/constructor.css')).statusCode, 404)
  assert.equal((await app.inject('/assets/toString/toString.css')).statusCode, 200)
})

test('dcp events named like Object.prototype members', async () => {
  const app = await buildApp(await makeTree({}))
  await app.ready()
  const kit = app.pluginKit
  for (const event of ALL_NAMES) {
    assert.equal(kit.emitDcp(event), '', `${event}: nothing pushed yet`)
    assert.equal(kit.removeDcp(event, () => 'x'), false, `${event}: nothing to remove`)
  }
  const callbacks = new Map(ALL_NAMES.map((event) => [event, () => `<${event}>`]))
  for (const [event, callback] of callbacks) kit.pushDcp(event, callback)
  for (const event of ALL_NAMES) assert.equal(kit.emitDcp(event), `<${event}>`, event)
  for (const [event, callback] of callbacks) assert.equal(kit.removeDcp(event, callback), true, event)
  for (const event of ALL_NAMES) assert.equal(kit.emitDcp(event), '', event)
})

test('admin API: plugins named like Object.prototype members, unknown names like __proto__', async () => {
  const tree: Tree = {}
  for (const name of PROTO_NAMES) tree[`plugins/${name}/index.mjs`] = pluginSource({ name, version: '1.0.0', author: 'a' })
  const app = await buildApp(await makeTree(tree), { admin: { authorize: () => true } })
  await app.ready()
  const post = (name: string, action: string, payload = '{}') =>
    app.inject({ method: 'POST', url: `/pluginkit/api/plugins/${name}/${action}`, headers: { 'content-type': 'application/json' }, payload })

  const listed = (await app.inject('/pluginkit/api/plugins')).json() as { plugins: Array<{ name: string }> }
  assert.deepEqual(listed.plugins.map((plugin) => plugin.name).sort(), [...PROTO_NAMES].sort())
  for (const name of PROTO_NAMES) {
    const disabled = await post(name, 'disable')
    assert.equal(disabled.statusCode, 200, `${name}: ${disabled.body}`)
    assert.equal(app.pluginKit.get(name).state, 'disabled')
    assert.equal((await post(name, 'enable')).statusCode, 200)
    assert.equal(app.pluginKit.get(name).state, 'enabled')
  }
  for (const name of ['__proto__', 'isPrototypeOf', '__defineGetter__']) {
    const response = await post(name, 'disable')
    assert.equal(response.statusCode, 404, `${name}: ${response.body}`)
    assert.equal((response.json() as { code: string }).code, 'PLUGINKIT_ERR_NOT_FOUND')
  }
  // Body keys named like Object.prototype members are unknown keys, not options.
  for (const name of ALL_NAMES) {
    const response = await post('constructor', 'disable', `{"${name}":true}`)
    assert.equal(response.statusCode, 400, `${name}: ${response.body}`)
  }
  assert.equal(app.pluginKit.get('constructor').state, 'enabled')
})
