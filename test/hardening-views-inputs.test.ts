import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type {} from '@fastify/view'
import { PluginKitError, type PluginState, type StateMap, type StateStore } from 'fastify-pluginkit'
import { buildApp, pluginSource, makeTree } from './helpers.ts'

// Issue #11, item 12: inputs of the template API and the admin are checked strictly, and
// dcp events do not accumulate.

function kitError (code: string, ...patterns: RegExp[]) {
  return (error: unknown) => {
    assert.ok(error instanceof PluginKitError, `got ${String(error)}`)
    assert.equal(error.code, code)
    for (const pattern of patterns) assert.match(error.message, pattern)
    return true
  }
}

test('removeDcp deletes an emptied event: 200k distinct push/remove pairs leave the heap as it was', async () => {
  const app = await buildApp(await makeTree({}))
  await app.ready()
  const kit = app.pluginKit
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const heap = () => {
    gc()
    gc()
    return process.memoryUsage().heapUsed
  }
  const callback = () => 'x'
  const round = (from: number) => {
    for (let index = from; index < from + 200_000; index++) {
      const event = `event-${index}`
      kit.pushDcp(event, callback)
      assert.equal(kit.removeDcp(event, callback), true)
    }
  }
  round(0) // warm up (JIT, string tables)
  const before = heap()
  round(1_000_000)
  const grown = heap() - before
  // With emptied events kept, the same loop grows the heap by about 20 MB.
  assert.ok(grown < 4 * 1024 * 1024, `heap grew by ${(grown / 1024 / 1024).toFixed(1)} MB`)

  // Order is kept across removals that empty and refill an event.
  const [a, b, c] = [() => 'a', () => 'b', () => 'c']
  kit.pushDcp('ev', a)
  assert.equal(kit.removeDcp('ev', a), true)
  assert.equal(kit.removeDcp('ev', a), false)
  assert.equal(kit.emitDcp('ev'), '')
  kit.pushDcp('ev', b)
  kit.pushDcp('ev', a, 'left')
  kit.pushDcp('ev', c)
  kit.pushDcp('ev', b)
  assert.equal(kit.emitDcp('ev'), 'abcb')
  assert.equal(kit.removeDcp('ev', b), true)
  assert.equal(kit.emitDcp('ev'), 'acb', 'the first registration is removed')
  for (const callback of [a, c, b]) assert.equal(kit.removeDcp('ev', callback), true)
  assert.equal(kit.emitDcp('ev'), '')
  kit.pushDcp('ev', c, 'before')
  assert.equal(kit.emitDcp('ev'), 'c')

  // A callback may remove itself (or push) while its event is emitted: this emit is unaffected.
  const once = () => {
    kit.removeDcp('self', once)
    kit.pushDcp('self', () => 'later')
    return 'once'
  }
  kit.pushDcp('self', once)
  assert.equal(kit.emitDcp('self'), 'once')
  assert.equal(kit.emitDcp('self'), 'later')
})

/** A store that records saves. */
class RecordingStore implements StateStore {
  readonly saves: Array<[string, PluginState]> = []
  async load (): Promise<StateMap> {
    return {}
  }

  async save (name: string, state: PluginState): Promise<void> {
    this.saves.push([name, state])
  }
}

test('admin toggle body: strict JSON { "cascade"?: boolean }; anything else is a 400 naming the problem and changes nothing', async () => {
  const store = new RecordingStore()
  const base = await makeTree({
    'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', version: '1.0.0', author: 'a' }),
    'plugins/beta/index.mjs': pluginSource({ name: 'beta', version: '1.0.0', author: 'b', dependencies: ['alpha'] })
  })
  const app = await buildApp(base, { store, admin: { authorize: () => true } })
  await app.ready()
  const post = (action: string, payload: string) =>
    app.inject({ method: 'POST', url: `/pluginkit/api/plugins/alpha/${action}`, headers: { 'content-type': 'application/json' }, payload })

  const invalid: Array<[string, RegExp]> = [
    ['{"cascade":"true"}', /body\.cascade must be true or false/],
    ['{"cascade":"false"}', /body\.cascade must be true or false/],
    ['{"cascade":1}', /body\.cascade must be true or false/],
    ['{"cascade":0}', /body\.cascade must be true or false/],
    ['{"cascade":null}', /body\.cascade must be true or false/],
    ['{"cascade":[true]}', /body\.cascade must be true or false/],
    ['{"cascade":{}}', /body\.cascade must be true or false/],
    ['{"force":true}', /body\.force is not a known key/],
    ['{"cascade":true,"extra":1}', /body\.extra is not a known key/],
    ['{"constructor":{}}', /body\.constructor is not a known key/],
    ['{"toString":true}', /body\.toString is not a known key/],
    ['null', /body must be a JSON object/],
    ['[]', /body must be a JSON object/],
    ['[{"cascade":true}]', /body must be a JSON object/],
    ['"cascade"', /body must be a JSON object/],
    ['true', /body must be a JSON object/],
    ['1', /body must be a JSON object/],
    // Prototype poisoning is refused by the JSON parser itself.
    ['{"__proto__":{"cascade":true}}', /not valid JSON/],
    ['{"constructor":{"prototype":{"cascade":true}}}', /not valid JSON/]
  ]
  for (const action of ['disable', 'enable']) {
    for (const [payload, message] of invalid) {
      const response = await post(action, payload)
      assert.equal(response.statusCode, 400, `${action} ${payload}: ${response.body}`)
      const body = response.json() as { statusCode: number, message: string }
      assert.equal(body.statusCode, 400)
      assert.match(body.message, message, `${action} ${payload}`)
    }
  }
  assert.deepEqual(store.saves, [], 'nothing was saved')
  assert.equal(app.pluginKit.get('alpha').state, 'enabled')
  assert.equal(app.pluginKit.get('beta').state, 'enabled')

  // Valid bodies: empty, {}, and a boolean cascade.
  assert.equal((await post('disable', '{"cascade":false}')).statusCode, 409, 'beta depends on alpha')
  assert.equal((await post('disable', '{"cascade":true}')).statusCode, 200)
  assert.equal(app.pluginKit.get('beta').state, 'disabled')
  assert.equal((await post('enable', '')).statusCode, 200)
  assert.equal((await post('enable', '{}')).statusCode, 200)
  assert.equal(app.pluginKit.get('alpha').state, 'enabled')
})

test('emit_assets: files must be plain relative paths inside static/; a disabled plugin emits nothing; an unknown plugin is NOT_FOUND', async () => {
  const base = await makeTree({
    'templates/bad.html': '{{ emit_assets("shop", "../index.mjs") }}',
    'templates/assets.html': '[{{ emit_assets("shop", "css/site.css") }}|{{ emit_assets("shop", "js/app.js") }}|{{ emit_assets("shop", "img/logo.png") }}|{{ emit_assets("shop", "css/site.css", { raw: true }) }}]',
    'plugins/shop/index.mjs': pluginSource({ name: 'shop', version: '1.0.0', author: 's' }),
    'plugins/shop/static/css/site.css': 'body {}',
    'plugins/shop/static/js/app.js': '1',
    'plugins/shop/static/img/logo.png': 'png',
    'plugins/off/index.mjs': pluginSource({ name: 'off', version: '1.0.0', author: 'o', state: 'disabled' }),
    'plugins/off/static/x.css': 'off'
  })
  const app = await buildApp(base, { view: { templates: 'templates' } })
  app.get('/bad', (_request, reply) => reply.view('bad.html'))
  app.get('/assets-page', (_request, reply) => reply.view('assets.html'))
  await app.ready()
  const kit = app.pluginKit

  const invalid: unknown[] = [
    '../index.mjs', '../../secret.css', 'css/../../index.mjs', 'css/../site.css', './site.css', '.', '..', '',
    '/css/site.css', '//evil.example/x.js', 'css//site.css', 'css/', 'css/site.css/',
    '.env', 'css/.hidden.css', '.well-known/x.js',
    'css\\site.css', '..\\index.mjs', 'C:\\x.css',
    'site.css?v=1', 'site.css#x', '%2e%2e/index.mjs', 'css%2fsite.css', 'a%20b.png',
    'site.css\u0000.png', 'line\nbreak.css', 'tab\t.css', 'del\u007f.css',
    undefined, null, 42, {}, ['site.css']
  ]
  for (const file of invalid) {
    for (const emit of [kit.emitAssets, kit.emit_assets]) {
      for (const options of [undefined, { raw: true }]) {
        assert.throws(() => emit('shop', file as string, options), kitError('PLUGINKIT_ERR_INVALID_OPTION', /plugin "shop"/, /emit_assets/, /static folder/), `${JSON.stringify(file)} ${JSON.stringify(options)}`)
      }
    }
    // Checked for a disabled plugin too: the template is wrong whatever the plugin's state.
    assert.throws(() => kit.emitAssets('off', file as string), kitError('PLUGINKIT_ERR_INVALID_OPTION', /plugin "off"/), JSON.stringify(file))
  }
  assert.throws(() => kit.emitAssets('shop', '../index.mjs'), kitError('PLUGINKIT_ERR_INVALID_OPTION', /"\.\.\/index\.mjs"/))
  assert.equal((await app.inject('/bad')).statusCode, 500, 'a template asking for an invalid file fails to render')

  // Valid paths, including names with dots, dashes, spaces and non-ASCII letters.
  assert.equal(kit.emitAssets('shop', 'css/site.min.css'), '<link rel="stylesheet" href="/assets/shop/css/site.min.css">')
  assert.equal(kit.emitAssets('shop', 'js/app-1.2.3.js'), '<script src="/assets/shop/js/app-1.2.3.js"></script>')
  assert.equal(kit.emitAssets('shop', 'img/été 1.png'), '/assets/shop/img/été 1.png')
  assert.equal(kit.emitAssets('shop', 'a..b.css', { raw: true }), '/assets/shop/a..b.css')

  // Unknown plugins are NOT_FOUND, whatever the file.
  for (const name of ['nope', '__proto__', 'constructor']) {
    for (const file of ['x.css', '../x.css']) {
      assert.throws(() => kit.emitAssets(name, file), kitError('PLUGINKIT_ERR_NOT_FOUND', new RegExp(`"${name}"`)), `${name} ${file}`)
    }
  }

  // A disabled plugin emits nothing: no tag, no URL to a file that answers 404.
  for (const options of [undefined, { raw: true }, { raw: false }]) {
    for (const file of ['x.css', 'x.js', 'x.png']) assert.equal(kit.emitAssets('off', file, options), '', `${file} ${JSON.stringify(options)}`)
  }
  assert.equal((await app.inject('/assets-page')).body, '[<link rel="stylesheet" href="/assets/shop/css/site.css">|<script src="/assets/shop/js/app.js"></script>|/assets/shop/img/logo.png|/assets/shop/css/site.css]')
  await kit.disable('shop')
  assert.equal((await app.inject('/assets-page')).body, '[|||]')
  assert.equal((await app.inject('/assets/shop/css/site.css')).statusCode, 404)
  await kit.enable('off')
  assert.equal(kit.emitAssets('off', 'x.css'), '<link rel="stylesheet" href="/assets/off/x.css">')
  assert.equal((await app.inject('/assets/off/x.css')).body, 'off')
  await kit.enable('shop')
  assert.equal((await app.inject('/assets-page')).body, '[<link rel="stylesheet" href="/assets/shop/css/site.css">|<script src="/assets/shop/js/app.js"></script>|/assets/shop/img/logo.png|/assets/shop/css/site.css]')
})
