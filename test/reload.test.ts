// Reloading edited plugins in development (SPEC 12, issue #15): real edits of files in a
// temporary plugins folder, watched by the kit's real fs.watch, swapped in by
// @fastify/restartable while a real server listens. Every wait polls for the answer the edit
// should produce, with a deadline; nothing asserts how long a reload took.
import assert from 'node:assert/strict'
import { renameSync, writeFileSync } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp, makeTree } from './helpers.ts'
import { assertKitError, readyError } from './helpers-loading.ts'
import { WARN } from './helpers-views.ts'
import { countEval, evals, formatPlugin, keepAliveClient, reloadHost, simplePlugin, type Format } from './fixtures/reload/host.ts'

const pluginsOf = (app: FastifyInstance) => app.pluginKit.plugins.map((plugin) => `${plugin.name}:${plugin.state}`)

test('watch needs @fastify/restartable: without it boot fails with PLUGINKIT_ERR_INVALID_OPTION saying how to start the app with it', async () => {
  const base = await makeTree({ 'plugins/a/index.mjs': simplePlugin('no-restartable') })
  for (const watch of [true, { debounceMs: 10 }, {}]) {
    const error = assertKitError(await readyError(buildApp(base, { watch }, { until: 'none' })),
      'PLUGINKIT_ERR_INVALID_OPTION', 'watch', '@fastify/restartable', 'restartable(', 'listen(')
    assert.equal(error.option, 'watch')
  }
  // The host's store is closed all the same (an open Redis connection would keep the process alive).
  let closed = 0
  const store = { load: async () => ({}), save: async () => {}, close: async () => { closed++ } }
  assertKitError(await readyError(buildApp(base, { watch: true, store }, { until: 'none' })), 'PLUGINKIT_ERR_INVALID_OPTION', 'watch')
  assert.equal(closed, 1, 'the store was closed once')
  // watch: false needs nothing; a bad watch value is an invalid option like any other.
  const plain = await buildApp(base, { watch: false }, { until: 'ready' })
  assert.equal(plain.pluginKit.reloads, 0)
  assert.equal(plain.pluginKit.reloadError, undefined)
  for (const watch of ['yes', { debounceMs: -1 }, { debounceMs: 1.5 }, { debounce: 10 }]) {
    assertKitError(await readyError(buildApp(base, { watch }, { until: 'none' })), 'PLUGINKIT_ERR_INVALID_OPTION', 'watch')
  }
})

test('watch: true (default debounce) under restartable: an edit of a plugin is served after one swap; reloads counts it', async () => {
  const base = await makeTree({ 'plugins/t1/index.mjs': simplePlugin('t1', "'v1'") })
  const host = await reloadHost(base, { watch: true })
  assert.equal((await host.get('/t1')).body, 'v1')
  assert.equal(host.app.pluginKit.reloads, 0)
  const before = host.app.pluginKit

  writeFileSync(join(base, 'plugins/t1/index.mjs'), simplePlugin('t1', "'v2'"))
  await host.waitFor('/t1', (status, body) => body === 'v2', 'the edit is served')
  await host.waitUntil(() => host.app.pluginKit.reloads === 1, 'reloads counts the swap')
  assert.notEqual(host.app.pluginKit, before, 'a new app serves')
  assert.equal(host.app.pluginKit.reloadError, undefined)
  assert.equal(evals()['t1:entry'], 2)
  assert.ok(host.logs.some((line) => line.level === 30 && /reloaded after an edit/.test(line.msg)), 'the reload is logged')
})

test('an edit of any module of a plugin (.mjs, .js, .cjs, .ts with and without type: module) is live; other plugins are not re-evaluated', async () => {
  const formats: Format[] = ['mjs', 'js-esm', 'cjs', 'js-cjs', 'ts-esm', 'ts-cjs']
  const name = (format: Format) => `f-${format}`
  const tree: Record<string, string> = {}
  for (const format of formats) {
    const { files } = formatPlugin(name(format), format)
    for (const [file, content] of Object.entries(files)) tree[`plugins/${name(format)}/${file}`] = content
  }
  // A chain: entry → lib/a.mjs → lib/deep/b.cjs (an ES module importing CommonJS, two folders down).
  tree['plugins/chain/index.mjs'] = simplePlugin('chain', 'value', "import { value } from './lib/a.mjs'")
  tree['plugins/chain/lib/a.mjs'] = `import b from './deep/b.cjs'\n${countEval('chain:a')}\nexport const value = 'a+' + b.value\n`
  tree['plugins/chain/lib/deep/b.cjs'] = `${countEval('chain:b')}\nmodule.exports = { value: 'b1' }\n`
  const base = await makeTree(tree)
  const host = await reloadHost(base)
  for (const format of formats) await host.waitForJson(`/${name(format)}`, { entry: 'E1', helper: 'H1' })
  assert.equal((await host.get('/chain')).body, 'a+b1')

  const keys = Object.keys(evals()).filter((key) => key.startsWith('f-') || key.startsWith('chain:'))
  const expected: Record<string, number> = Object.fromEntries(keys.map((key) => [key, 1]))
  assert.deepEqual(Object.fromEntries(keys.map((key) => [key, evals()[key]])), expected, 'each module evaluated once at boot')
  let reloads = 0
  const edited = async (plugin: string, modules: string[]) => {
    reloads++
    await host.waitUntil(() => host.app.pluginKit.reloads >= reloads, 'the swap is counted')
    // Every module of the edited plugin is evaluated afresh, once; every other plugin's module is reused.
    for (const module of modules) expected[`${plugin}:${module}`] = (expected[`${plugin}:${module}`] ?? 0) + 1
    assert.deepEqual(Object.fromEntries(keys.map((key) => [key, evals()[key]])), expected, `after the edit of ${plugin}`)
    assert.equal(host.app.pluginKit.reloads, reloads, 'one swap per edit')
    assert.equal(host.app.pluginKit.reloadError, undefined)
  }

  for (const format of formats) {
    const plugin = name(format)
    const { files, entry } = formatPlugin(plugin, format, 'E2', 'H1')
    writeFileSync(join(base, 'plugins', plugin, entry), files[entry] as string)
    await host.waitForJson(`/${plugin}`, { entry: 'E2', helper: 'H1' })
    await edited(plugin, ['entry', 'helper'])
  }
  for (const format of formats) {
    const plugin = name(format)
    const { files, helper } = formatPlugin(plugin, format, 'E2', 'H2')
    writeFileSync(join(base, 'plugins', plugin, helper), files[helper] as string)
    await host.waitForJson(`/${plugin}`, { entry: 'E2', helper: 'H2' })
    await edited(plugin, ['entry', 'helper'])
  }
  writeFileSync(join(base, 'plugins/chain/lib/deep/b.cjs'), `${countEval('chain:b')}\nmodule.exports = { value: 'b2' }\n`)
  await host.waitFor('/chain', (status, body) => body === 'a+b2', 'the edit two imports down is live')
  await edited('chain', ['entry', 'a', 'b'])
  for (const format of formats) assert.deepEqual(JSON.parse((await host.get(`/${name(format)}`)).body), { entry: 'E2', helper: 'H2' })
})

test('saves the way editors make them: atomic (a temporary file renamed over the module), then in place, then atomic again', async () => {
  const base = await makeTree({
    'plugins/saved/index.mjs': simplePlugin('saved', 'word', "import { word } from './lib/words.mjs'"),
    'plugins/saved/lib/words.mjs': "export const word = 'w0'\n"
  })
  const host = await reloadHost(base)
  assert.equal((await host.get('/saved')).body, 'w0')
  const words = join(base, 'plugins/saved/lib/words.mjs')
  const atomic = (content: string) => {
    // As vim, sed -i or a "safe write" editor do: write a sibling, rename it over the file.
    writeFileSync(`${words}.tmp~`, content)
    renameSync(`${words}.tmp~`, words)
  }
  const saves: Array<[string, (content: string) => void]> = [
    ['atomic', atomic],
    ['in place', (content) => writeFileSync(words, content)],
    ['in place again', (content) => writeFileSync(words, content)],
    ['atomic again', atomic],
    ['in place after', (content) => writeFileSync(words, content)]
  ]
  for (const [index, [how, save]] of saves.entries()) {
    save(`export const word = 'w${index + 1}'\n`)
    await host.waitFor('/saved', (status, body) => body === `w${index + 1}`, `save ${index + 1} (${how}) is live`)
  }
  assert.equal(host.app.pluginKit.reloadError, undefined)
})

test('templates and static files of a plugin: served changed on the next request, with no swap', async () => {
  const page = (plugin: string) => simplePlugin(plugin, "reply.view('tpl/page.html', { who: 'you' })", '')
    .replace('async () =>', 'async (request, reply) =>')
    .replace('return {', "return { tep: { slot: 'tpl/slot.html' },")
  const base = await makeTree({
    'templates/host.html': '<main>{{ emit_tep("slot") }}</main>',
    'plugins/tpl/index.mjs': page('tpl'),
    'plugins/tpl/templates/tpl/page.html': 'page v1 for {{ who }}',
    'plugins/tpl/templates/tpl/slot.html': '<i>slot v1</i>',
    'plugins/tpl/static/site.css': 'body { color: red }',
    'plugins/sentinel/index.mjs': simplePlugin('sentinel', "'s1'")
  })
  const host = await reloadHost(base, { view: { templates: 'templates' } }, {
    setup: (app) => app.get('/host', (request, reply) => reply.view('host.html'))
  })
  assert.equal((await host.get('/tpl')).body, 'page v1 for you')
  assert.equal((await host.get('/host')).body, '<main><i>slot v1</i></main>')
  assert.equal((await host.get('/assets/tpl/site.css')).body, 'body { color: red }')
  const app = host.app.pluginKit

  writeFileSync(join(base, 'plugins/tpl/templates/tpl/page.html'), 'page v2 (edited) for {{ who }}')
  await host.waitFor('/tpl', (status, body) => body === 'page v2 (edited) for you', 'the edited template renders')
  writeFileSync(join(base, 'plugins/tpl/templates/tpl/slot.html'), '<b>slot v2, edited</b>')
  await host.waitFor('/host', (status, body) => body === '<main><b>slot v2, edited</b></main>', 'the edited slot template renders')
  writeFileSync(join(base, 'plugins/tpl/static/site.css'), 'body { color: blue; margin: 0 }')
  await host.waitFor('/assets/tpl/site.css', (status, body) => body === 'body { color: blue; margin: 0 }', 'the edited static file is served')
  // A new template and a new static file show as well.
  await mkdir(join(base, 'plugins/tpl/static/img'), { recursive: true })
  writeFileSync(join(base, 'plugins/tpl/static/img/new.txt'), 'new file')
  await host.waitFor('/assets/tpl/img/new.txt', (status, body) => status === 200 && body === 'new file', 'a new static file is served')
  assert.equal(host.app.pluginKit, app, 'the same app serves: no swap')

  // A later code edit of another plugin proves nothing was pending: one swap, and the
  // template plugin's module was not evaluated again (a swap for it would have renewed it).
  writeFileSync(join(base, 'plugins/sentinel/index.mjs'), simplePlugin('sentinel', "'s2'"))
  await host.waitFor('/sentinel', (status, body) => body === 's2', 'the sentinel edit is live')
  await host.waitUntil(() => host.app.pluginKit.reloads === 1, 'one swap, for the sentinel')
  assert.equal(evals()['tpl:entry'], 1, 'the template plugin was not re-evaluated')
  assert.equal(evals()['sentinel:entry'], 2)
  assert.equal((await host.get('/tpl')).body, 'page v2 (edited) for you')
})

test('a new plugin folder is loaded, a deleted one is unloaded', async () => {
  const base = await makeTree({
    'plugins/stay/index.mjs': simplePlugin('stay'),
    'plugins/gone/index.mjs': simplePlugin('gone')
  })
  const host = await reloadHost(base)
  assert.deepEqual(pluginsOf(host.app), ['gone:enabled', 'stay:enabled'])
  assert.equal((await host.get('/gone')).status, 200)

  // A new folder, created and written file by file as a generator or an editor would.
  await mkdir(join(base, 'plugins/fresh/lib'), { recursive: true })
  writeFileSync(join(base, 'plugins/fresh/lib/helper.mjs'), "export const answer = 'fresh v1'\n")
  writeFileSync(join(base, 'plugins/fresh/index.mjs'), simplePlugin('fresh', 'answer', "import { answer } from './lib/helper.mjs'"))
  await host.waitFor('/fresh', (status, body) => status === 200 && body === 'fresh v1', 'the new plugin serves')
  await host.waitUntil(() => pluginsOf(host.app).includes('fresh:enabled') && host.app.pluginKit.reloadError === undefined,
    'the new plugin is listed')

  await rm(join(base, 'plugins/gone'), { recursive: true })
  await host.waitFor('/gone', (status) => status === 404, 'the deleted plugin no longer serves')
  await host.waitUntil(() => !pluginsOf(host.app).some((entry) => entry.startsWith('gone:')), 'the deleted plugin is unlisted')
  assert.deepEqual(pluginsOf(host.app), ['fresh:enabled', 'stay:enabled'])
  assert.equal((await host.get('/fresh')).body, 'fresh v1')
  assert.equal(host.app.pluginKit.reloadError, undefined)
  assert.equal(evals()['stay:entry'], 1, 'the untouched plugin was never re-evaluated')

  // A folder renamed (the plugin keeps its name), then edited under its new name.
  await rename(join(base, 'plugins/fresh'), join(base, 'plugins/renamed'))
  await host.waitUntil(() => host.app.pluginKit.plugins.find((plugin) => plugin.name === 'fresh')?.dir === join(base, 'plugins/renamed'),
    'the plugin is loaded from its new folder')
  writeFileSync(join(base, 'plugins/renamed/lib/helper.mjs'), "export const answer = 'fresh v2, renamed'\n")
  await host.waitFor('/fresh', (status, body) => body === 'fresh v2, renamed', 'an edit in the renamed folder is live')

  // The deleted folder restored (a checkout), with other content.
  await mkdir(join(base, 'plugins/gone'))
  writeFileSync(join(base, 'plugins/gone/index.mjs'), simplePlugin('gone', "'gone, back'"))
  await host.waitFor('/gone', (status, body) => body === 'gone, back', 'the restored plugin serves')
  writeFileSync(join(base, 'plugins/gone/index.mjs'), simplePlugin('gone', "'gone, back and edited'"))
  await host.waitFor('/gone', (status, body) => body === 'gone, back and edited', 'an edit of the restored plugin is live')
  assert.deepEqual(pluginsOf(host.app), ['gone:enabled', 'fresh:enabled', 'stay:enabled'], 'load order by folder name: gone, renamed, stay')
  assert.equal(host.app.pluginKit.reloadError, undefined)
})

test('a burst of saves to several files of a plugin (an editor saving all) is one swap', async () => {
  const helper = (value: string) => `${countEval('burst:helper')}\nexport const answer = ${JSON.stringify(value)}\n`
  const base = await makeTree({
    'plugins/burst/index.mjs': simplePlugin('burst', 'answer', "import { answer } from './lib/helper.mjs'"),
    'plugins/burst/lib/helper.mjs': helper('v1'),
    'plugins/burst/notes.md': 'notes',
    'plugins/later/index.mjs': simplePlugin('later', "'later v1'")
  })
  const host = await reloadHost(base, { watch: true })
  assert.equal((await host.get('/burst')).body, 'v1')

  // Written back to back, as an editor's "save all" does (synchronously here, so that no
  // event of the burst can reach the watcher before the last file is written).
  writeFileSync(join(base, 'plugins/burst/index.mjs'), simplePlugin('burst', "answer + ' (entry v2)'", "import { answer } from './lib/helper.mjs'"))
  writeFileSync(join(base, 'plugins/burst/lib/helper.mjs'), helper('v2'))
  writeFileSync(join(base, 'plugins/burst/lib/more.mjs'), 'export const more = 1\n')
  writeFileSync(join(base, 'plugins/burst/notes.md'), 'notes, edited')
  writeFileSync(join(base, 'plugins/burst/package.json'), '{ "name": "burst-plugin", "private": true }')
  await host.waitFor('/burst', (status, body) => body === 'v2 (entry v2)', 'the burst is live')
  await host.waitUntil(() => host.app.pluginKit.reloads >= 1, 'the swap is counted')
  // Then another edit: had the burst caused more than one swap, it would show here.
  writeFileSync(join(base, 'plugins/later/index.mjs'), simplePlugin('later', "'later v2'"))
  await host.waitFor('/later', (status, body) => body === 'later v2', 'the later edit is live')
  await host.waitUntil(() => host.app.pluginKit.reloads >= 2, 'the later swap is counted')
  assert.equal(host.app.pluginKit.reloads, 2, 'the burst was one swap')
  assert.equal(evals()['burst:entry'], 2, 'the burst evaluated the plugin once more, not once per file')
  assert.equal(evals()['burst:helper'], 2)
  assert.equal(evals()['later:entry'], 2)
})

test('states, the admin session and an open keep-alive connection survive a reload', async () => {
  const token = 'reload-secret'
  const basic = `Basic ${Buffer.from(`admin:${token}`).toString('base64')}`
  const base = await makeTree({
    'plugins/edited/index.mjs': simplePlugin('edited', "'e1'"),
    'plugins/off/index.mjs': simplePlugin('off'),
    'plugins/on/index.mjs': simplePlugin('on', "'on'", '').replace("author: 'tester',", "author: 'tester',\n  state: 'disabled',")
  })
  const host = await reloadHost(base, {
    // Stateless HTTP Basic: every request carries the credentials, nothing is kept by the app.
    admin: { authorize: (request) => request.headers.authorization === basic }
  })
  const connections: number[] = []
  host.app.server.on('connection', (socket) => connections.push(socket.remotePort ?? 0))
  const client = keepAliveClient(host.url)

  // Through the admin, over the one connection: disable `off`, enable `on` (its manifest says disabled).
  const admin = async (path: string) => (await client.post(`/pluginkit/api/plugins/${path}`, {}, { authorization: basic })).status
  assert.equal(await admin('off/disable'), 200)
  assert.equal(await admin('on/enable'), 200)
  const first = await client.get('/port')
  assert.equal((await client.get('/off')).status, 404)
  assert.equal((await client.get('/on')).body, 'on')
  assert.equal((await client.get('/pluginkit/api/plugins', { authorization: basic })).status, 200)
  assert.equal((await client.get('/pluginkit/api/plugins')).status, 401)
  const serverSide = JSON.parse(first.body).port as number
  assert.equal(serverSide, first.localPort, 'the server sees the client socket')

  writeFileSync(join(base, 'plugins/edited/index.mjs'), simplePlugin('edited', "'e2'"))
  // Poll over the same keep-alive connection until the new code answers.
  let answer = await client.get('/edited')
  for (let tries = 0; answer.body !== 'e2' && tries < 1500; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    answer = await client.get('/edited')
  }
  assert.equal(answer.body, 'e2', `the edit is served (${host.app.pluginKit.reloadError?.message ?? 'no reload error'})`)
  await host.waitUntil(() => host.app.pluginKit.reloads === 1, 'one swap')

  // The same socket, both sides: the client sent everything from one local port, and the
  // server saw that port on every request and no new connection (one 'connection' event at most: the first).
  const after = await client.get('/port')
  assert.equal(JSON.parse(after.body).port, serverSide, 'the server answers on the same socket after the swap')
  assert.deepEqual([...client.ports], [first.localPort], 'the client used one connection throughout')
  assert.deepEqual(connections, [first.localPort], 'the server accepted that one connection only')

  // States survive (the swapped-in app read them from the store), and so does the admin session.
  assert.equal((await client.get('/off')).status, 404)
  assert.equal((await client.get('/on')).body, 'on')
  assert.deepEqual(pluginsOf(host.app), ['edited:enabled', 'off:disabled', 'on:enabled'])
  const listed = await client.get('/pluginkit/api/plugins', { authorization: basic })
  assert.equal(listed.status, 200)
  assert.deepEqual((JSON.parse(listed.body) as { plugins: Array<{ name: string, state: string }> }).plugins
    .map((plugin) => `${plugin.name}:${plugin.state}`), ['edited:enabled', 'off:disabled', 'on:enabled'])
  const page = await client.get('/pluginkit/', { authorization: basic })
  assert.equal(page.status, 200)
  assert.match(page.body, /edited/)
  assert.equal((await client.get('/pluginkit/api/plugins')).status, 401, 'still no access without credentials')
  assert.deepEqual([...client.ports], [first.localPort])
})

test('watch with NODE_ENV=production: a warning in the log (it is a development feature)', async (t) => {
  const previous = process.env.NODE_ENV
  t.after(() => {
    if (previous === undefined) delete process.env.NODE_ENV
    else process.env.NODE_ENV = previous
  })
  const base = await makeTree({ 'plugins/prod/index.mjs': simplePlugin('prod') })
  process.env.NODE_ENV = 'production'
  const production = await reloadHost(base)
  const warnings = production.logs.filter((line) => line.level === WARN && /NODE_ENV=production/.test(line.msg))
  assert.equal(warnings.length, 1, 'one warning at boot')
  assert.match(warnings[0]?.msg ?? '', /watch/)
  assert.match(warnings[0]?.msg ?? '', /development/)

  process.env.NODE_ENV = 'development'
  const other = await makeTree({ 'plugins/dev/index.mjs': simplePlugin('dev') })
  const development = await reloadHost(other)
  assert.deepEqual(development.logs.filter((line) => line.level === WARN), [], 'no warning otherwise')
})

test('closing the app while a reload builds the next one: no app outlives the close, and no reload starts after it', async () => {
  const slow = (answer: string) => `export default {
  name: 'slow', version: '1.0.0', author: 'tester',
  async register () {
    await new Promise((resolve) => setTimeout(resolve, 400))
    return { vep: { method: 'GET', url: '/slow', handler: async () => ${JSON.stringify(answer)} } }
  }
}
`
  const base = await makeTree({ 'plugins/slow/index.mjs': slow('v1') })
  let built = 0
  let closed = 0
  const host = await reloadHost(base, {}, {
    setup (app) {
      built++
      app.addHook('onClose', async () => { closed++ })
    }
  })
  assert.equal((await host.get('/slow')).body, 'v1')
  writeFileSync(join(base, 'plugins/slow/index.mjs'), slow('v2'))
  await host.waitUntil(() => built === 2, 'the reload starts building the next app')
  await host.app.close()
  // The next app's slow plugin finishes registering; an edit after the close starts nothing.
  writeFileSync(join(base, 'plugins/slow/index.mjs'), slow('v3'))
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.deepEqual({ built, closed }, { built: 2, closed: 2 }, 'every app built was closed')
})
