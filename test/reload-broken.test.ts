// A broken edit while watching (SPEC 12, issue #15): the previous app keeps serving, the error
// is logged with its code and plugin and kept in pluginKit.reloadError, and fixing the file
// recovers with no other action. Real edits, real fs.watch, a listening restartable app.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import type { PluginKitErrorCode } from 'fastify-pluginkit'
import { makeTree } from './helpers.ts'
import { ERROR } from './helpers-views.ts'
import { countEval, evals, reloadHost, simplePlugin, type ReloadHost } from './fixtures/reload/host.ts'

/** Plugin `br` (index.mjs importing helper.mjs) answering GET /br with `answer`. */
function brPlugin (answer: string, fields = "name: 'br', version: '1.0.0', author: 'tester'", points?: string): string {
  return `import { helper } from './helper.mjs'
${countEval('br:entry')}
export default {
  ${fields},
  register () {
    return ${points ?? `{ vep: { method: 'GET', url: '/br', handler: async () => ${JSON.stringify(answer)} + helper } }`}
  }
}
`
}
const helperSource = (value: string) => `${countEval('br:helper')}\nexport const helper = ${JSON.stringify(value)}\n`

interface Broken {
  label: string
  /** File of plugins/br written broken, and its content. */
  file: 'index.mjs' | 'helper.mjs'
  content: string
  code: PluginKitErrorCode
  /** What the error and its log line name: the plugin's name, or (when it cannot be imported) its folder. */
  subject: 'name' | 'folder'
  mentions: Array<string | RegExp>
}

const cases: Broken[] = [
  { label: 'a syntax error in the entry', file: 'index.mjs', content: 'export default {{{ broken', code: 'PLUGINKIT_ERR_PLUGIN_IMPORT', subject: 'folder', mentions: ['index.mjs'] },
  { label: 'a syntax error in an imported module', file: 'helper.mjs', content: 'export const helper = (', code: 'PLUGINKIT_ERR_PLUGIN_IMPORT', subject: 'folder', mentions: ['index.mjs'] },
  { label: 'an import of a missing module', file: 'helper.mjs', content: "export { helper } from './gone.mjs'", code: 'PLUGINKIT_ERR_PLUGIN_IMPORT', subject: 'folder', mentions: ['gone.mjs'] },
  { label: 'an invalid version', file: 'index.mjs', content: brPlugin('x', "name: 'br', version: 'v2', author: 'tester'"), code: 'PLUGINKIT_ERR_PLUGIN_VERSION', subject: 'name', mentions: ['version'] },
  { label: 'a missing author', file: 'index.mjs', content: brPlugin('x', "name: 'br', version: '1.0.0'"), code: 'PLUGINKIT_ERR_PLUGIN_METADATA', subject: 'name', mentions: ['author'] },
  { label: 'an unknown extension point', file: 'index.mjs', content: brPlugin('x', undefined, '{ routes: [] }'), code: 'PLUGINKIT_ERR_EXTENSION_POINT', subject: 'name', mentions: ['routes'] },
  {
    label: 'register throws',
    file: 'index.mjs',
    content: brPlugin('x', undefined, "(() => { throw new Error('register exploded') })()"),
    code: 'PLUGINKIT_ERR_REGISTER',
    subject: 'name',
    mentions: ['register exploded']
  },
  {
    label: 'a route Fastify refuses: the host already has GET /port',
    file: 'index.mjs',
    content: brPlugin('x', undefined, "{ vep: { method: 'GET', url: '/port', handler: async () => 'mine' } }"),
    code: 'PLUGINKIT_ERR_EXTENSION_POINT',
    subject: 'name',
    mentions: ['/port', 'already declared']
  },
  {
    label: 'a duplicate route inside the plugin',
    file: 'index.mjs',
    content: brPlugin('x', undefined,
      "{ bep: { prefix: '/br', blueprint: async (app) => { app.get('/twice', async () => 1); app.get('/twice', async () => 2) } } }"),
    code: 'PLUGINKIT_ERR_EXTENSION_POINT',
    subject: 'name',
    mentions: ['/br/twice']
  }
]

function assertNames (host: ReloadHost, base: string, broken: Broken): void {
  const error = host.app.pluginKit.reloadError
  assert.ok(error !== undefined)
  assert.equal(error.code, broken.code, `${broken.label}: ${error.message}`)
  const folder = join(base, 'plugins', 'br')
  if (broken.subject === 'name') assert.equal(error.plugin, 'br', `${broken.label}: names the plugin`)
  else assert.equal(error.dir, folder, `${broken.label}: names the plugin's folder`)
  for (const mention of broken.mentions) {
    if (typeof mention === 'string') assert.ok(error.message.includes(mention), `${broken.label}: ${JSON.stringify(error.message)} mentions ${mention}`)
    else assert.match(error.message, mention)
  }
  // Logged at error level with the code and the plugin.
  const line = host.logs.findLast((entry) => entry.level === ERROR && entry.code === broken.code)
  assert.ok(line !== undefined, `${broken.label}: an error line with code ${broken.code} was logged`)
  assert.equal(line.plugin, broken.subject === 'name' ? 'br' : folder, `${broken.label}: the log line names the plugin`)
  assert.match(line.msg, /reload failed/)
}

test('a broken edit (syntax, import, manifest, register throws, refused or duplicate route) leaves the previous app serving; fixing the file recovers', async () => {
  const base = await makeTree({
    'plugins/br/index.mjs': brPlugin('v0:'),
    'plugins/br/helper.mjs': helperSource('h0'),
    'plugins/other/index.mjs': simplePlugin('other', "'other'")
  })
  const host = await reloadHost(base)
  assert.equal((await host.get('/br')).body, 'v0:h0')
  let serving = 'v0:h0'
  let reloads = 0
  let fixes = 0

  for (const broken of cases) {
    const before = host.app.pluginKit
    const logged = host.logs.length
    writeFileSync(join(base, 'plugins/br', broken.file), broken.content)
    await host.waitUntil(() => host.app.pluginKit.reloadError?.code === broken.code &&
      host.logs.slice(logged).some((line) => line.level === ERROR), `${broken.label}: the reload fails with ${broken.code}`)
    assertNames(host, base, broken)
    // The previous app still serves, all of it, and no swap was counted.
    assert.equal(host.app.pluginKit, before, `${broken.label}: the previous app serves`)
    assert.equal((await host.get('/br')).body, serving, `${broken.label}: the previous code serves`)
    assert.equal((await host.get('/other')).body, 'other')
    assert.equal((await host.get('/port')).status, 200)
    assert.equal(host.app.pluginKit.reloads, reloads)

    // Fix it: write both files good again; nothing else is needed.
    fixes++
    serving = `v${fixes}:h${fixes}`
    writeFileSync(join(base, 'plugins/br/helper.mjs'), helperSource(`h${fixes}`))
    writeFileSync(join(base, 'plugins/br/index.mjs'), brPlugin(`v${fixes}:`))
    await host.waitFor('/br', (status, body) => body === serving, `${broken.label}: the fix is served`)
    await host.waitUntil(() => host.app.pluginKit.reloadError === undefined && host.app.pluginKit.reloads > reloads,
      `${broken.label}: the good reload clears reloadError`)
    reloads = host.app.pluginKit.reloads
    assert.equal((await host.get('/other')).body, 'other')
  }
  assert.equal(evals()['other:entry'], 1, 'the other plugin was never re-evaluated, through all the failed and good reloads')
  assert.deepEqual(host.app.pluginKit.plugins.map((plugin) => plugin.name), ['br', 'other'])
})

test('a broken CommonJS and TypeScript edit recovers too (the require cache does not keep the broken module)', async () => {
  const cjs = (answer: string) => `'use strict'\nconst { helper } = require('./helper.cjs')
module.exports = { name: 'cj', version: '1.0.0', author: 'tester', register () {
  return { vep: { method: 'GET', url: '/cj', handler: async () => ${JSON.stringify(answer)} + helper } } } }\n`
  const ts = (answer: string) => `import { helper } from './helper.ts'\nconst answer: string = ${JSON.stringify(answer)}
export default { name: 'ts', version: '1.0.0', author: 'tester', register () {
  return { vep: { method: 'GET', url: '/ts', handler: async () => answer + helper } } } }\n`
  const base = await makeTree({
    'plugins/cj/index.cjs': cjs('c0:'),
    'plugins/cj/helper.cjs': "exports.helper = 'h0'\n",
    'plugins/ts/index.ts': ts('t0:'),
    'plugins/ts/helper.ts': "export const helper: string = 'h0'\n"
  })
  const host = await reloadHost(base)
  assert.equal((await host.get('/cj')).body, 'c0:h0')
  assert.equal((await host.get('/ts')).body, 't0:h0')

  // CommonJS: a syntax error in the required helper.
  writeFileSync(join(base, 'plugins/cj/helper.cjs'), 'exports.helper = (')
  await host.waitUntil(() => host.app.pluginKit.reloadError?.code === 'PLUGINKIT_ERR_PLUGIN_IMPORT', 'the CommonJS reload fails')
  assert.equal(host.app.pluginKit.reloadError?.dir, join(base, 'plugins/cj'))
  assert.equal((await host.get('/cj')).body, 'c0:h0')
  writeFileSync(join(base, 'plugins/cj/helper.cjs'), "exports.helper = 'h1'\n")
  await host.waitFor('/cj', (status, body) => body === 'c0:h1', 'the fixed helper is served')
  await host.waitUntil(() => host.app.pluginKit.reloadError === undefined, 'reloadError is cleared')

  // TypeScript (tsx): a type annotation that does not parse.
  writeFileSync(join(base, 'plugins/ts/index.ts'), 'const answer: = 1\nexport default {}\n')
  await host.waitUntil(() => host.app.pluginKit.reloadError?.code === 'PLUGINKIT_ERR_PLUGIN_IMPORT', 'the TypeScript reload fails')
  assert.equal(host.app.pluginKit.reloadError?.dir, join(base, 'plugins/ts'))
  assert.equal((await host.get('/ts')).body, 't0:h0')
  writeFileSync(join(base, 'plugins/ts/index.ts'), ts('t1:'))
  await host.waitFor('/ts', (status, body) => body === 't1:h0', 'the fixed TypeScript plugin is served')
  await host.waitUntil(() => host.app.pluginKit.reloadError === undefined, 'reloadError is cleared')
  assert.equal((await host.get('/cj')).body, 'c0:h1')
})

test('the admin page shows the failed reload (pluginKit.reloadError) while the previous code serves, and no longer once fixed', async () => {
  const basic = `Basic ${Buffer.from('admin:s3cret').toString('base64')}`
  const base = await makeTree({ 'plugins/adm/index.mjs': simplePlugin('adm', "'ok'") })
  const host = await reloadHost(base, { admin: { authorize: (request) => request.headers.authorization === basic } })
  writeFileSync(join(base, 'plugins/adm/index.mjs'), simplePlugin('adm', "'ok'").replace("version: '1.0.0'", "version: 'one'"))
  await host.waitUntil(() => host.app.pluginKit.reloadError?.code === 'PLUGINKIT_ERR_PLUGIN_VERSION', 'the reload fails')
  assert.equal((await host.get('/adm')).body, 'ok', 'the previous code serves')
  const page = await host.get('/pluginkit/', { authorization: basic })
  assert.equal(page.status, 200)
  const shown = /<p id="reload-error"[^>]*>([\s\S]*?)<\/p>/.exec(page.body)?.[1] ?? ''
  assert.match(shown, /PLUGINKIT_ERR_PLUGIN_VERSION/, 'the page shows the code of the failed reload')
  assert.match(shown, /plugin &quot;adm&quot;|plugin "adm"/, 'and names the plugin')
  assert.match(shown, /version/)
  // And once fixed, it is gone.
  writeFileSync(join(base, 'plugins/adm/index.mjs'), simplePlugin('adm', "'fixed'"))
  await host.waitFor('/adm', (status, body) => body === 'fixed', 'the fix is served')
  await host.waitUntil(() => host.app.pluginKit.reloadError === undefined, 'the good reload clears reloadError')
  const fixed = await host.get('/pluginkit/', { authorization: basic })
  assert.equal(fixed.status, 200)
  assert.doesNotMatch(fixed.body, /reload-error|PLUGINKIT_ERR_PLUGIN_VERSION/)
})
