// Reloading (SPEC 12, issue #15): many rapid saves, plugins given one by one (pluginDirs), a
// missing plugins folder, and the watcher's lifetime. Real edits, real fs.watch.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { makeTree } from './helpers.ts'
import { evals, reloadHost, simplePlugin } from './fixtures/reload/host.ts'

test('200 rapid saves of one file: at most a few swaps, ending on the last content', async () => {
  const base = await makeTree({
    'plugins/rapid/index.mjs': simplePlugin('rapid', "'save start'"),
    'plugins/calm/index.mjs': simplePlugin('calm')
  })
  let builds = 0
  // The default debounce (100 ms), as a developer gets it.
  const host = await reloadHost(base, { watch: true }, { setup: () => { builds++ } })
  assert.equal(builds, 1)
  const file = join(base, 'plugins/rapid/index.mjs')
  // Synchronous writes: the burst an editor makes, with no pause longer than the debounce between saves.
  for (let save = 0; save < 200; save++) writeFileSync(file, simplePlugin('rapid', `'save ${save}'`))

  await host.waitFor('/rapid', (status, body) => body === 'save 199', 'the last save is served')
  await host.waitUntil(() => host.app.pluginKit.reloadError === undefined, 'no reload error at the end')
  // Every app built (a swap, or an attempt that read a half-written file) is counted by the factory.
  const attempts = builds - 1
  assert.ok(attempts >= 1 && attempts <= 5, `200 saves led to ${attempts} app builds`)
  assert.ok(host.app.pluginKit.reloads >= 1 && host.app.pluginKit.reloads <= attempts)
  assert.ok((evals()['rapid:entry'] ?? 0) <= 1 + attempts, 'the plugin was imported once per build at most')
  assert.equal(evals()['calm:entry'], 1, 'the other plugin was never re-evaluated')
})

test('plugins given by pluginDirs are watched too: code edits swap, template edits do not', async () => {
  const base = await makeTree({
    'elsewhere/solo/index.mjs': simplePlugin('solo', "reply.view('solo/t.html')").replace('async () =>', 'async (request, reply) =>'),
    'elsewhere/solo/templates/solo/t.html': 'template v1',
    'elsewhere/solo/lib/words.mjs': "export const word = 'w1'\n",
    'elsewhere/pair/index.mjs': simplePlugin('pair', 'word', "import { word } from './lib/words.mjs'"),
    'elsewhere/pair/lib/words.mjs': "export const word = 'p1'\n"
  })
  const host = await reloadHost(base, { pluginsFolder: false, pluginDirs: ['elsewhere/solo', 'elsewhere/pair'], view: {} })
  assert.equal((await host.get('/solo')).body, 'template v1')
  assert.equal((await host.get('/pair')).body, 'p1')
  const first = host.app.pluginKit

  writeFileSync(join(base, 'elsewhere/solo/templates/solo/t.html'), 'template v2 (edited)')
  await host.waitFor('/solo', (status, body) => body === 'template v2 (edited)', 'the template edit is served')
  assert.equal(host.app.pluginKit, first, 'no swap for a template')

  writeFileSync(join(base, 'elsewhere/pair/lib/words.mjs'), "export const word = 'p2'\n")
  await host.waitFor('/pair', (status, body) => body === 'p2', 'the edit of an imported module is live')
  await host.waitUntil(() => host.app.pluginKit.reloads === 1, 'one swap')
  assert.equal(evals()['solo:entry'], 1, 'solo was not re-evaluated')
  assert.equal(evals()['pair:entry'], 2)
  assert.equal((await host.get('/solo')).body, 'template v2 (edited)')
})

test('watch with no plugins folder (the default may be absent) boots and serves', async () => {
  const base = await makeTree({ 'README.md': 'no plugins here' })
  const host = await reloadHost(base, { watch: true }, { setup: (app) => app.get('/', async () => 'host') })
  assert.equal((await host.get('/')).body, 'host')
  assert.deepEqual(host.app.pluginKit.plugins, [])
  assert.equal(host.app.pluginKit.reloadError, undefined)
})

test('closing the app stops watching, also after a failed reload: a later edit builds no app', async () => {
  const closed = await makeTree({ 'plugins/shut/index.mjs': simplePlugin('shut', "'s1'") })
  const witness = await makeTree({ 'plugins/witness/index.mjs': simplePlugin('witness', "'w1'") })
  let builds = 0
  const host = await reloadHost(closed, {}, { setup: () => { builds++ } })
  const other = await reloadHost(witness)

  writeFileSync(join(closed, 'plugins/shut/index.mjs'), simplePlugin('shut', "'s2'").replace("author: 'tester',", ''))
  await host.waitUntil(() => host.app.pluginKit.reloadError?.code === 'PLUGINKIT_ERR_PLUGIN_METADATA', 'the reload fails')
  assert.equal(builds, 2)
  const imported = evals()['shut:entry']
  await host.app.close()

  // Edit both folders at once; once the witness (same debounce) has swapped, the closed app's
  // watcher, had it survived, would have built an app too.
  writeFileSync(join(closed, 'plugins/shut/index.mjs'), simplePlugin('shut', "'s3'"))
  writeFileSync(join(witness, 'plugins/witness/index.mjs'), simplePlugin('witness', "'w2'"))
  await other.waitFor('/witness', (status, body) => body === 'w2', 'the witness swapped')
  await other.waitUntil(() => other.app.pluginKit.reloads === 1, 'the witness counted its swap')
  assert.equal(builds, 2, 'no app was built for the closed one')
  assert.equal(evals()['shut:entry'], imported, 'its plugin was not imported again')
})

test('a request in flight during the swap completes, answered by the code it started with', async () => {
  interface Gate { __reloadGate?: Array<() => void> }
  const gate: Array<() => void> = []
  ;(globalThis as Gate).__reloadGate = gate
  const source = (tag: string) => `export default {
  name: 'inflight',
  version: '1.0.0',
  author: 'tester',
  register () {
    return {
      hep: { after_request: async (request, reply, payload) => payload },
      vep: [
        { method: 'GET', url: '/inflight', handler: async () => '${tag}' },
        { method: 'GET', url: '/inflight/slow', handler: async () => {
          await new Promise((resolve) => globalThis.__reloadGate.push(resolve))
          return '${tag} (slow)'
        } }
      ]
    }
  }
}
`
  const base = await makeTree({ 'plugins/inflight/index.mjs': source('old') })
  const host = await reloadHost(base)
  assert.equal((await host.get('/inflight')).body, 'old')

  const slow = host.get('/inflight/slow')
  await host.waitUntil(() => gate.length === 1, 'the slow request is being handled')
  writeFileSync(join(base, 'plugins/inflight/index.mjs'), source('new'))
  await host.waitFor('/inflight', (status, body) => body === 'new', 'the new code serves')
  await host.waitUntil(() => host.app.pluginKit.reloads === 1, 'the swap is done (the old app closed)')
  gate.shift()?.()
  assert.deepEqual(await slow, { status: 200, body: 'old (slow)' })
  // The new app's slow route answers with the new code.
  const again = host.get('/inflight/slow')
  await host.waitUntil(() => gate.length === 1, 'the second slow request is being handled')
  gate.shift()?.()
  assert.deepEqual(await again, { status: 200, body: 'new (slow)' })
})
