import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, makeTree, pluginSource, type Tree } from './helpers.ts'

/** `target` has a tcp, a hep and a blueprint; `source` adds one entry to each through p3. */
type Fields = Record<string, unknown>

function tree (sourceName: string, sourceFields: Fields = {}, targetFields: Fields = {}, extra: Tree = {}): Tree {
  return {
    'templates/page.njk': 'own={{ own }} extra={{ extra }}',
    [`plugins/${sourceName}/index.mjs`]: pluginSource({ name: sourceName, ...sourceFields }, `
      return { p3: { target: {
        tcp: (value) => ({ ...value, extra: 'added-by-p3' }),
        hep: (value) => ({ ...value, after_request: (request, reply) => { reply.header('x-p3', 'after') } }),
        bep: (value) => [...(Array.isArray(value) ? value : [value]), {
          prefix: '/extra',
          blueprint: async (app) => { app.get('/', async () => 'extra blueprint') }
        }]
      } } }`),
    'plugins/target/index.mjs': pluginSource({ name: 'target', ...targetFields }, `
      return {
        tcp: { own: 'target-own' },
        bep: { prefix: '/target', blueprint: async (app) => {
          app.get('/', async () => 'target index')
          app.get('/page', async (request, reply) => reply.view('page.njk'))
        } }
      }`),
    ...extra
  }
}

for (const sourceName of ['a-source', 'z-source']) {
  test(`p3: ${sourceName} adds tcp, hep and bep entries to another plugin (${sourceName === 'a-source' ? 'before' : 'after'} it in load order)`, async () => {
    const base = await makeTree(tree(sourceName))
    const app = await buildApp(base, { view: { templates: 'templates' } })
    await app.ready()

    const page = await app.inject('/target/page')
    assert.equal(page.statusCode, 200)
    assert.equal(page.body, 'own=target-own extra=added-by-p3')
    assert.equal(page.headers['x-p3'], 'after', 'the added after_request hook runs')
    assert.equal((await app.inject('/')).headers['x-p3'], 'after', 'app-wide')
    assert.equal((await app.inject('/target/')).body, 'target index')
    const extra = await app.inject('/extra/')
    assert.equal(extra.statusCode, 200)
    assert.equal(extra.body, 'extra blueprint')

    const info = app.pluginKit.get('target')
    assert.deepEqual([...info.extensionPoints].sort(), ['bep', 'hep', 'tcp'])

    // What p3 added belongs to the target: gated with it.
    await app.pluginKit.disable('target')
    assert.equal((await app.inject('/extra/')).statusCode, 404)
    assert.equal((await app.inject('/')).headers['x-p3'], undefined)
    await app.pluginKit.enable('target')
    assert.equal((await app.inject('/extra/')).body, 'extra blueprint')
  })
}

test('p3: unknown targets are ignored', async () => {
  const base = await makeTree({
    'plugins/dreamer/index.mjs': pluginSource({ name: 'dreamer' }, `
      return {
        p3: { ghost: { tcp: () => { throw new Error('must not run') } }, other: { bep: () => { throw new Error('must not run') } } },
        vep: { method: 'GET', url: '/dreamer', handler: async () => 'dreaming' }
      }`)
  })
  const app = await buildApp(base)
  await app.ready()
  assert.equal((await app.inject('/dreamer')).body, 'dreaming')
  assert.deepEqual(app.pluginKit.plugins.map((plugin) => plugin.name), ['dreamer'])
})

for (const [which, sourceFields, targetFields] of [
  ['the source', { state: 'disabled' }, {}],
  ['the target', {}, { state: 'disabled' }]
] as const) {
  test(`p3: not applied when ${which} is disabled at boot`, async () => {
    const base = await makeTree(tree('source', sourceFields, targetFields))
    const app = await buildApp(base, { view: { templates: 'templates' } })
    await app.ready()
    if (which === 'the target') await app.pluginKit.enable('target')

    const page = await app.inject('/target/page')
    assert.equal(page.statusCode, 200)
    assert.equal(page.body, 'own=target-own extra=')
    assert.equal(page.headers['x-p3'], undefined)
    assert.equal((await app.inject('/extra/')).statusCode, 404)
    assert.deepEqual([...app.pluginKit.get('target').extensionPoints].sort(), ['bep', 'tcp'])
  })
}
