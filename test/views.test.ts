import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type {} from '@fastify/view'
import type { FastifyInstance } from 'fastify'
import { PluginKitError, type PluginKitOptions } from 'fastify-pluginkit'
import { buildApp, pluginSource, makeTree, type Tree } from './helpers.ts'
import { captureLogs, ERROR, WARN } from './helpers-views.ts'

const VIEW: PluginKitOptions = { view: { templates: 'templates' } }

/** A host route `GET /page` rendering `page` with `data` (query parameters are merged in). */
function hostPage (app: FastifyInstance, url: string, page: string, data: Record<string, unknown> = {}): void {
  app.get(url, (request, reply) => reply.view(page, { ...data, ...(request.query as Record<string, unknown>) }))
}

function between (html: string, open: string, close: string): string {
  const start = html.indexOf(open)
  const end = html.indexOf(close, start + open.length)
  assert.ok(start !== -1 && end !== -1, `expected ${open}...${close} in ${html}`)
  return html.slice(start + open.length, end)
}

// Load order: zeta before alpha (alpha depends on zeta), so load order differs from folder order.
const slotsTree: Tree = {
  'templates/page.html': '<title>{{ title }}</title><head>{{ emit_tep("base_head", { title: title }) }}</head><none>{{ emit_tep("no_such_slot") }}</none>',
  'templates/ctx.html': '[{{ site }}|{{ shared }}|{{ who }}|{{ mine }}]',
  'plugins/zeta/index.mjs': pluginSource({ name: 'zeta', version: '1.0.0', author: 'z' }, `return {
    tep: { base_head: ['zeta/head.html', { code: '<z-late/>', order: 10 }] },
    tcp: { site: 'zeta-site', shared: 'zeta', who: (request) => request.headers['x-who'] ?? 'anon' }
  }`),
  'plugins/zeta/templates/zeta/head.html': '<z-file>{{ title }}</z-file>',
  'plugins/zeta/static/z.css': 'body { color: red }',
  'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', version: '1.0.0', author: 'a', dependencies: ['zeta'] }, `return {
    tep: { base_head: [{ code: '<a-early>{{ title }}</a-early>', order: -1 }, '<a-inline>{{ title | upper }}</a-inline>'] },
    tcp: { shared: 'alpha', mine: 'alpha-mine' }
  }`),
  'plugins/alpha/static/a.js': 'console.log("alpha")'
}

const ALL = '<a-early>Hi</a-early><z-file>Hi</z-file><a-inline>HI</a-inline><z-late/>'
const ZETA_ONLY = '<z-file>Hi</z-file><z-late/>'

test('emit_tep renders every enabled contribution by order, then load order, with the given context, unescaped', async () => {
  const base = await makeTree(slotsTree)
  const app = await buildApp(base, VIEW)
  hostPage(app, '/page', 'page.html', { title: 'Hi' })
  await app.ready()
  assert.deepEqual(app.pluginKit.plugins.map((plugin) => plugin.name), ['zeta', 'alpha'])

  const response = await app.inject('/page')
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /^text\/html/)
  assert.equal(between(response.body, '<head>', '</head>'), ALL)
  assert.equal(between(response.body, '<none>', '</none>'), '', 'an unknown slot renders as an empty string')

  // The same from the API, under both names.
  assert.equal(app.pluginKit.emitTep('base_head', { title: 'Hi' }), ALL)
  assert.equal(app.pluginKit.emit_tep('base_head', { title: 'Hi' }), ALL)
  assert.equal(app.pluginKit.emitTep('no_such_slot'), '')
  assert.equal(app.pluginKit.emitTep('base_head', { title: 'Yo' }), ALL.replaceAll('Hi', 'Yo').replace('HI', 'YO'))
})

test('a throwing contribution is logged with its plugin name and contributes nothing; the page still renders', async () => {
  const base = await makeTree({
    'templates/page.html': '<head>{{ emit_tep("base_head", { fail: fail }) }}</head>',
    'plugins/bad/index.mjs': pluginSource({ name: 'bad', version: '1.0.0', author: 'b' }, `return {
      tep: { base_head: ['{{ explode() }}', 'bad/err.html', '{{ fail() }}', { code: '<bad-ok/>', order: 1 }] }
    }`),
    'plugins/bad/templates/bad/err.html': '{{ "x" | no_such_filter }}',
    'plugins/good/index.mjs': pluginSource({ name: 'good', version: '1.0.0', author: 'g' }, `return {
      tep: { base_head: '<good/>' }
    }`)
  })
  const logs = captureLogs()
  const app = await buildApp(base, VIEW, { fastify: logs.fastifyOptions })
  hostPage(app, '/page', 'page.html', { fail: () => { throw new Error('kaboom') } })
  await app.ready()

  for (let round = 0; round < 2; round++) {
    const before = logs.lines.length
    const response = await app.inject('/page')
    assert.equal(response.statusCode, 200)
    assert.equal(between(response.body, '<head>', '</head>'), '<good/><bad-ok/>')
    const errors = logs.lines.slice(before).filter((line) => line.level >= ERROR)
    assert.equal(errors.length, 3, `three failed contributions logged, got ${JSON.stringify(errors)}`)
    for (const line of errors) {
      assert.equal(line.plugin, 'bad')
      assert.match(line.msg, /\bbad\b/)
    }
    assert.ok(errors.some((line) => JSON.stringify(line).includes('kaboom')), 'the thrown error is logged')
  }
})

test('disabling a plugin removes its contributions, tcp values and static files on the next request; enabling restores them', async () => {
  const base = await makeTree(slotsTree)
  const app = await buildApp(base, VIEW)
  hostPage(app, '/page', 'page.html', { title: 'Hi' })
  hostPage(app, '/ctx', 'ctx.html')
  await app.ready()

  const check = async (expectedHead: string, expectedCtx: string, alphaStatic: number) => {
    assert.equal(between((await app.inject('/page')).body, '<head>', '</head>'), expectedHead)
    assert.equal((await app.inject('/ctx')).body, expectedCtx)
    assert.equal((await app.inject('/assets/alpha/a.js')).statusCode, alphaStatic)
    assert.equal((await app.inject('/assets/zeta/z.css')).statusCode, 200)
  }
  await check(ALL, '[zeta-site|alpha|anon|alpha-mine]', 200)
  await app.pluginKit.disable('alpha')
  await check(ZETA_ONLY, '[zeta-site|zeta|anon|]', 404)
  assert.equal(app.pluginKit.emitTep('base_head', { title: 'Hi' }), ZETA_ONLY)
  await app.pluginKit.enable('alpha')
  await check(ALL, '[zeta-site|alpha|anon|alpha-mine]', 200)

  await app.pluginKit.disable('zeta', { cascade: true })
  assert.equal(between((await app.inject('/page')).body, '<head>', '</head>'), '')
  assert.equal((await app.inject('/ctx')).body, '[|||]')
  assert.equal((await app.inject('/assets/zeta/z.css')).statusCode, 404)
  await app.pluginKit.enable('alpha', { cascade: true })
  await check(ALL, '[zeta-site|alpha|anon|alpha-mine]', 200)
})

test('tep template files are checked at boot: PLUGINKIT_ERR_TEMPLATE_NOT_FOUND', async (t) => {
  const cases: Array<[string, Tree, string]> = [
    ['a missing file', {
      'plugins/p/index.mjs': pluginSource({ name: 'p', version: '1.0.0', author: 'x' }, "return { tep: { base_head: 'p/missing.html' } }"),
      'plugins/p/templates/p/other.html': 'other'
    }, 'p/missing.html'],
    ['a file outside the templates folder', {
      'plugins/p/index.mjs': pluginSource({ name: 'p', version: '1.0.0', author: 'x' }, "return { tep: { base_head: ['<ok/>', '../outside.html'] } }"),
      'plugins/p/outside.html': 'outside',
      'plugins/p/templates/p/x.html': 'x'
    }, '../outside.html'],
    ['a file of another plugin', {
      'plugins/p/index.mjs': pluginSource({ name: 'p', version: '1.0.0', author: 'x' }, "return { tep: { base_head: { template: 'q/head.html' } } }"),
      'plugins/q/index.mjs': pluginSource({ name: 'q', version: '1.0.0', author: 'x' }, "return { tep: { base_head: 'q/head.html' } }"),
      'plugins/q/templates/q/head.html': 'q'
    }, 'q/head.html'],
    ['a plugin without a templates folder', {
      'plugins/p/index.mjs': pluginSource({ name: 'p', version: '1.0.0', author: 'x' }, "return { tep: { base_head: 'p/head.njk' } }")
    }, 'p/head.njk'],
    ['a host template of the same name', {
      'templates/p/head.html': 'host',
      'plugins/p/index.mjs': pluginSource({ name: 'p', version: '1.0.0', author: 'x' }, "return { tep: { base_head: 'p/head.html' } }")
    }, 'p/head.html']
  ]
  for (const [label, tree, file] of cases) {
    await t.test(label, async () => {
      const base = await makeTree(tree)
      // Awaiting register already boots the plugins, so the error may surface there or at ready().
      await assert.rejects(async () => { await (await buildApp(base, VIEW)).ready() }, (error: unknown) => {
        assert.ok(error instanceof PluginKitError, `got ${String(error)}`)
        assert.equal(error.code, 'PLUGINKIT_ERR_TEMPLATE_NOT_FOUND')
        assert.match(error.message, /\bp\b/, 'names the plugin')
        assert.ok(error.message.includes('tep.base_head'), `names the field: ${error.message}`)
        assert.ok(error.message.includes(file), `names the file: ${error.message}`)
        return true
      })
    })
  }

  await t.test('with strict: false the plugin is skipped and listed in failures', async () => {
    const base = await makeTree({
      'templates/page.html': '{{ emit_tep("base_head") }}',
      'plugins/p/index.mjs': pluginSource({ name: 'p', version: '1.0.0', author: 'x' }, "return { tep: { base_head: 'p/missing.html' } }"),
      'plugins/q/index.mjs': pluginSource({ name: 'q', version: '1.0.0', author: 'x' }, "return { tep: { base_head: '<q/>' } }")
    })
    const app = await buildApp(base, { ...VIEW, strict: false })
    hostPage(app, '/page', 'page.html')
    await app.ready()
    assert.deepEqual(app.pluginKit.plugins.map((plugin) => plugin.name), ['q'])
    assert.equal(app.pluginKit.failures.length, 1)
    assert.equal(app.pluginKit.failures[0]?.plugin, 'p')
    assert.equal((app.pluginKit.failures[0]?.error as PluginKitError).code, 'PLUGINKIT_ERR_TEMPLATE_NOT_FOUND')
    assert.equal((await app.inject('/page')).body, '<q/>')
  })
})

test('host templates win over plugin templates; plugin templates are found in <plugin>/templates/', async () => {
  const base = await makeTree({
    'templates/shared/clash.html': 'HOST clash',
    'templates/page.html': 'host page: {% include "shop/widget.html" %}',
    'more/extra.html': 'extra from the second host folder',
    'more/shared/clash.html': 'SECOND HOST FOLDER clash',
    'plugins/shop/index.mjs': pluginSource({ name: 'shop', version: '1.0.0', author: 's' }, `return {
      bep: { prefix: '/shop', blueprint: async (app) => {
        app.get('/', (request, reply) => reply.view('shop/index.html', { item: 'hat' }))
      } }
    }`),
    'plugins/shop/templates/shop/index.html': 'shop index: {{ item }} {% include "shop/widget.html" %}',
    'plugins/shop/templates/shop/widget.html': '[widget]',
    'plugins/shop/templates/shared/clash.html': 'PLUGIN clash',
    'plugins/shop/templates/page.html': 'PLUGIN page'
  })
  const app = await buildApp(base, { view: { templates: ['templates', 'more'] } })
  hostPage(app, '/page', 'page.html')
  hostPage(app, '/clash', 'shared/clash.html')
  hostPage(app, '/plugin-template', 'shop/widget.html')
  hostPage(app, '/extra', 'extra.html')
  await app.ready()

  assert.equal((await app.inject('/page')).body, 'host page: [widget]')
  assert.equal((await app.inject('/clash')).body, 'HOST clash')
  assert.equal((await app.inject('/plugin-template')).body, '[widget]')
  assert.equal((await app.inject('/extra')).body, 'extra from the second host folder')
  const shop = await app.inject('/shop')
  assert.equal(shop.statusCode, 200)
  assert.equal(shop.body, 'shop index: hat [widget]')
})

test('a tep template file is the contributing plugin\'s own file, even when another plugin has one of the same name', async () => {
  const base = await makeTree({
    'plugins/a/index.mjs': pluginSource({ name: 'a', version: '1.0.0', author: 'a' }, "return { tep: { side: 'head.html' } }"),
    'plugins/a/templates/head.html': '[a:{{ n }}]',
    'plugins/b/index.mjs': pluginSource({ name: 'b', version: '1.0.0', author: 'b' }, "return { tep: { side: 'head.html' } }"),
    'plugins/b/templates/head.html': '[b:{{ n }}]'
  })
  const app = await buildApp(base, VIEW)
  await app.ready()
  assert.equal(app.pluginKit.emitTep('side', { n: 1 }), '[a:1][b:1]')
  await app.pluginKit.disable('a')
  assert.equal(app.pluginKit.emitTep('side', { n: 2 }), '[b:2]', 'a disabled plugin contributes nothing, not even through another plugin')
})

test('filters in both shapes; the first definition of a name wins and a warning names the plugin', async () => {
  const base = await makeTree({
    'templates/page.html': '{{ "ab" | shout }}|{{ "ab" | rev }}|{{ "ab" | twice }}|{{ "ab" | upper }}|{{ "ab" | wrap("*") }}',
    'plugins/first/index.mjs': pluginSource({ name: 'first', version: '1.0.0', author: 'f' }, `return {
      filter: { shout: (s) => s.toUpperCase() + '!', upper: () => 'HIJACKED', wrap: (s, w) => w + s + w }
    }`),
    'plugins/second/index.mjs': pluginSource({ name: 'second', version: '1.0.0', author: 's' }, `return {
      filter: [function rev (s) { return [...s].reverse().join('') }, ['twice', (s) => s + s], ['shout', () => 'SECOND']]
    }`)
  })
  const logs = captureLogs()
  const app = await buildApp(base, VIEW, { fastify: logs.fastifyOptions })
  hostPage(app, '/page', 'page.html')
  await app.ready()

  const response = await app.inject('/page')
  assert.equal(response.statusCode, 200)
  assert.equal(response.body, 'AB!|ba|abab|AB|*ab*')

  const warnings = logs.lines.filter((line) => line.level === WARN)
  const upper = warnings.find((line) => line.msg.includes('upper'))
  assert.ok(upper !== undefined, `a warning for the built-in upper: ${JSON.stringify(warnings)}`)
  assert.equal(upper.plugin, 'first')
  assert.match(upper.msg, /\bfirst\b/)
  const shout = warnings.find((line) => line.msg.includes('shout'))
  assert.ok(shout !== undefined, `a warning for shout: ${JSON.stringify(warnings)}`)
  assert.equal(shout.plugin, 'second')
  assert.match(shout.msg, /\bsecond\b/)
  assert.equal(warnings.filter((line) => /rev|twice|wrap/.test(line.msg)).length, 0)
})

test('tcp values and (request) => value functions reach every reply.view; later plugins and view data override; gated', async () => {
  const base = await makeTree({
    'templates/ctx.html': '[{{ site }}|{{ shared }}|{{ who }}|{{ url }}|{{ mine }}]',
    'plugins/one/index.mjs': pluginSource({ name: 'one', version: '1.0.0', author: 'o' }, `return {
      tcp: { site: 'one-site', shared: 'one', who: (request) => request.headers['x-who'] ?? 'anon', url: (request) => request.url }
    }`),
    'plugins/two/index.mjs': pluginSource({ name: 'two', version: '1.0.0', author: 't' }, `return {
      tcp: { shared: 'two', mine: 'two-mine' },
      bep: { prefix: '/two', blueprint: async (app) => {
        app.get('/', (request, reply) => reply.view('ctx.html'))
      } }
    }`)
  })
  const app = await buildApp(base, VIEW)
  hostPage(app, '/ctx', 'ctx.html')
  app.get('/override', (request, reply) => reply.view('ctx.html', { shared: 'route', site: 'route-site' }))
  app.get('/locals', (request, reply) => {
    // reply.locals is decorated by the kit (not typed by @fastify/view).
    const withLocals = reply as typeof reply & { locals: Record<string, unknown> }
    withLocals.locals = { ...withLocals.locals, mine: 'from-locals' }
    return reply.view('ctx.html')
  })
  await app.ready()

  assert.equal((await app.inject('/ctx')).body, '[one-site|two|anon|/ctx|two-mine]')
  assert.equal((await app.inject({ url: '/ctx?q=1', headers: { 'x-who': 'ann' } })).body, '[one-site|two|ann|/ctx?q=1|two-mine]')
  assert.equal((await app.inject({ url: '/ctx', headers: { 'x-who': 'bob' } })).body, '[one-site|two|bob|/ctx|two-mine]')
  assert.equal((await app.inject('/override')).body, '[route-site|route|anon|/override|two-mine]')
  assert.equal((await app.inject('/locals')).body, '[one-site|two|anon|/locals|from-locals]')
  assert.equal((await app.inject('/two')).body, '[one-site|two|anon|/two|two-mine]', 'a plugin route gets the context too')

  await app.pluginKit.disable('two')
  assert.equal((await app.inject('/ctx')).body, '[one-site|one|anon|/ctx|]')
  await app.pluginKit.disable('one')
  assert.equal((await app.inject('/ctx')).body, '[||||]')
  await app.pluginKit.enable('two')
  assert.equal((await app.inject('/ctx')).body, '[|two|||two-mine]')
  await app.pluginKit.enable('one')
  assert.equal((await app.inject('/ctx')).body, '[one-site|two|anon|/ctx|two-mine]')
})

test('emit_assets builds link/script tags or URLs; honours staticUrlPath; unknown plugin throws PLUGINKIT_ERR_NOT_FOUND', async (t) => {
  const tree: Tree = {
    'templates/assets.html': [
      '{{ emit_assets("shop", "css/site.css") }}',
      '{{ emit_assets("shop", "js/app.js") }}',
      '{{ emit_assets("shop", "img/logo.png") }}',
      '{{ emit_assets("shop", "css/site.css", { raw: true }) }}',
      '{{ emitAssets("shop", "js/app.js", { raw: true }) }}'
    ].join('\n'),
    'templates/unknown.html': '{{ emit_assets("nope", "x.css") }}',
    'plugins/shop/index.mjs': pluginSource({ name: 'shop', version: '1.0.0', author: 's' }),
    'plugins/shop/static/css/site.css': 'body {}',
    'plugins/shop/static/js/app.js': '1'
  }

  for (const [staticUrlPath, prefix] of [[undefined, '/assets'], ['/static/files', '/static/files']] as const) {
    await t.test(`staticUrlPath ${prefix}`, async () => {
      const base = await makeTree(tree)
      const app = await buildApp(base, { ...VIEW, ...(staticUrlPath === undefined ? {} : { staticUrlPath }) })
      hostPage(app, '/assets-page', 'assets.html')
      hostPage(app, '/unknown', 'unknown.html')
      await app.ready()

      const response = await app.inject('/assets-page')
      assert.equal(response.statusCode, 200)
      assert.deepEqual(response.body.split('\n'), [
        `<link rel="stylesheet" href="${prefix}/shop/css/site.css">`,
        `<script src="${prefix}/shop/js/app.js"></script>`,
        `${prefix}/shop/img/logo.png`,
        `${prefix}/shop/css/site.css`,
        `${prefix}/shop/js/app.js`
      ])
      // The URLs it makes are served.
      assert.equal((await app.inject(`${prefix}/shop/css/site.css`)).body, 'body {}')
      assert.equal((await app.inject(`${prefix}/shop/js/app.js`)).body, '1')

      for (const emit of [app.pluginKit.emitAssets, app.pluginKit.emit_assets]) {
        assert.equal(emit('shop', 'css/site.css'), `<link rel="stylesheet" href="${prefix}/shop/css/site.css">`)
        assert.equal(emit('shop', 'js/app.js'), `<script src="${prefix}/shop/js/app.js"></script>`)
        assert.equal(emit('shop', 'font.woff2'), `${prefix}/shop/font.woff2`)
        assert.equal(emit('shop', 'js/app.js', { raw: true }), `${prefix}/shop/js/app.js`)
        assert.throws(() => emit('nope', 'x.css'), (error: unknown) => {
          assert.ok(error instanceof PluginKitError)
          assert.equal(error.code, 'PLUGINKIT_ERR_NOT_FOUND')
          assert.match(error.message, /nope/)
          return true
        })
      }
      assert.equal((await app.inject('/unknown')).statusCode, 500, 'a template asking for an unknown plugin fails to render')
    })
  }
})

test('emit_config reads the config option, in templates and on app.pluginKit', async () => {
  const base = await makeTree({
    'templates/config.html': '[{{ emit_config("whoami") }}|{{ emitConfig("count") }}|{{ emit_config("missing") }}|{{ emit_config("nested").deep }}]'
  })
  const app = await buildApp(base, { ...VIEW, config: { whoami: 'demo', count: 3, nested: { deep: 'yes' } } })
  hostPage(app, '/config', 'config.html')
  await app.ready()
  assert.equal((await app.inject('/config')).body, '[demo|3||yes]')
  assert.equal(app.pluginKit.emitConfig('whoami'), 'demo')
  assert.equal(app.pluginKit.emit_config('count'), 3)
  assert.deepEqual(app.pluginKit.emitConfig('nested'), { deep: 'yes' })
  assert.equal(app.pluginKit.emitConfig('missing'), undefined)
})

test('without the view option the emit_* methods still work on app.pluginKit', async () => {
  const base = await makeTree({
    'plugins/p/index.mjs': pluginSource({ name: 'p', version: '1.0.0', author: 'x' }, `
      ctx.kit.pushDcp('footer', (n) => '<p-dcp>' + n + '</p-dcp>')
      return { tep: { head: ['p/head.html', '<p-inline>{{ n }}</p-inline>'] } }`),
    'plugins/p/templates/p/head.html': '<p-file>{{ n }}</p-file>'
  })
  const app = await buildApp(base, { config: { a: 1 } })
  await app.ready()
  assert.equal(app.pluginKit.emitTep('head', { n: 1 }), '<p-file>1</p-file><p-inline>1</p-inline>')
  assert.equal(app.pluginKit.emitAssets('p', 'x.css'), '<link rel="stylesheet" href="/assets/p/x.css">')
  assert.equal(app.pluginKit.emitConfig('a'), 1)
  assert.equal(app.pluginKit.emitDcp('footer', 2), '<p-dcp>2</p-dcp>')
  await app.pluginKit.disable('p')
  assert.equal(app.pluginKit.emitTep('head', { n: 1 }), '')
})

test('templates are compiled once: changing or deleting a file after the first render does not change the output', async () => {
  const base = await makeTree({
    'templates/page.html': '<main>{{ emit_tep("base_head", { n: n }) }}</main>',
    'plugins/p/index.mjs': pluginSource({ name: 'p', version: '1.0.0', author: 'x' }, "return { tep: { base_head: ['p/head.html', '<i>{{ n }}</i>'] } }"),
    'plugins/p/templates/p/head.html': '<b>{{ n }}</b>'
  })
  const app = await buildApp(base, VIEW)
  hostPage(app, '/page', 'page.html')
  await app.ready()

  const first = await app.inject('/page?n=1')
  assert.equal(first.body, '<main><b>1</b><i>1</i></main>')
  await writeFile(join(base, 'templates/page.html'), 'CHANGED {{ n }}')
  await writeFile(join(base, 'plugins/p/templates/p/head.html'), 'CHANGED')
  assert.equal((await app.inject('/page?n=2')).body, '<main><b>2</b><i>2</i></main>')
  await rm(join(base, 'templates/page.html'))
  await rm(join(base, 'plugins/p/templates/p/head.html'))
  const third = await app.inject('/page?n=3')
  assert.equal(third.statusCode, 200)
  assert.equal(third.body, '<main><b>3</b><i>3</i></main>')
})
