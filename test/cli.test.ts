import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { pluginSource, makeTree, type Tree } from './helpers.ts'
import { cli, node, pluginkit, repoRoot, type Result } from './helpers-cli.ts'

const root = repoRoot
// A CSI escape sequence (colours, bold).
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`)

/**
 * A temporary project where `fastify-pluginkit` (this repository, built), `typebox`, `tsx`
 * and `fastify` resolve, like an app that installed them.
 */
async function project (tree: Tree = {}, { tsx = true } = {}): Promise<string> {
  return makeTree({
    'node_modules/fastify-pluginkit': { symlink: root },
    'node_modules/typebox': { symlink: join(root, 'node_modules', 'typebox') },
    ...(tsx ? { 'node_modules/tsx': { symlink: join(root, 'node_modules', 'tsx') } } : {}),
    'node_modules/fastify': { symlink: join(root, 'node_modules', 'fastify') },
    ...tree
  })
}

/** A project.json of a project that has TypeScript set up. */
const typescriptProject = JSON.stringify({ name: 'host', private: true, devDependencies: { typescript: '^5.9.0', tsx: '^4.0.0' } })

interface JsonReport {
  ok: boolean
  base: string
  folder: string
  plugins: Array<{
    name: string
    version?: string
    state: string
    source: string
    packageName?: string
    extensionPoints: string[]
    dependencies: Record<string, string>
    problems: Array<{ code: string, message: string }>
  }>
  error?: { code: string, message: string }
}

function parseReport (result: Result): JsonReport {
  return JSON.parse(result.stdout) as JsonReport
}

function byName (report: JsonReport, name: string) {
  const plugin = report.plugins.find((candidate) => candidate.name === name)
  assert.ok(plugin !== undefined, `${name} is in the report: ${JSON.stringify(report.plugins.map((p) => p.name))}`)
  return plugin
}

describe('fastify-pluginkit new', { concurrency: 2 }, () => {
  test('new in a project with TypeScript and tsx → TypeScript; check passes → the generated test passes unchanged', async () => {
    const base = await project({ 'package.json': typescriptProject })
    const created = await pluginkit(['new', 'hello', '--author', 'Ada'], base)
    assert.equal(created.code, 0, created.stderr)
    assert.match(created.stdout, /plugins\/hello\//)
    assert.match(created.stdout, /^TypeScript, as this project has typescript and tsx; --js for plain JavaScript$/m)
    assert.match(created.stdout, /node --import tsx --test plugins\/hello\/hello\.test\.ts/)

    const dir = join(base, 'plugins', 'hello')
    for (const file of ['index.ts', 'hello.test.ts', 'templates/hello/panel.html', 'static/hello/style.css']) {
      assert.ok(existsSync(join(dir, file)), `${file} was created`)
    }
    const entry = await readFile(join(dir, 'index.ts'), 'utf8')
    assert.match(entry, /import \{ definePlugin \} from 'fastify-pluginkit'/)
    assert.match(entry, /import \{ Type \} from 'typebox'/)
    assert.match(entry, /name: 'hello',\n {2}version: '0\.1\.0',\n {2}author: 'Ada'/)
    assert.match(entry, /prefix: '\/hello'/)
    assert.match(entry, /tep: \{ footer: 'hello\/panel\.html' \}/)
    // The project's package.json does not say "type": "module": the plugin says its .ts files are ES modules.
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')).type, 'module')

    const checked = await pluginkit(['check', '--json'], base)
    assert.equal(checked.code, 0, checked.stdout + checked.stderr)
    const report = parseReport(checked)
    assert.equal(report.ok, true)
    assert.deepEqual(report.plugins.map(({ name, version, state, source, extensionPoints, problems }) =>
      ({ name, version, state, source, extensionPoints, problems })),
    [{ name: 'hello', version: '0.1.0', state: 'enabled', source: 'local', extensionPoints: ['bep', 'tep'], problems: [] }])

    const tested = await node(['--import', 'tsx', '--test', join('plugins', 'hello', 'hello.test.ts')], base)
    assert.equal(tested.code, 0, tested.stdout + tested.stderr)
    // TAP up to Node 22, the spec reporter from Node 23 on.
    assert.match(tested.stdout, /[#ℹ] pass 2\n[#ℹ] fail 0/)
  })

  test('new in a project without TypeScript → JavaScript, with a one-line hint; check and the generated test pass', async () => {
    // No package.json, no tsconfig.json, no tsx: what `npm i fastify-pluginkit fastify typebox` leaves.
    const base = await project({}, { tsx: false })
    const created = await pluginkit(['new', 'hello-demo', '--author', 'Ada'], base)
    assert.equal(created.code, 0, created.stderr)
    assert.deepEqual((await readdir(join(base, 'plugins', 'hello-demo'))).sort(), ['hello-demo.test.mjs', 'index.mjs', 'static', 'templates'])
    assert.match(created.stdout, /^JavaScript, as this project has no TypeScript set up \(no typescript dependency, no tsconfig\.json\); --ts for TypeScript$/m)
    assert.match(created.stdout, /^ {2}node --test plugins\/hello-demo\/hello-demo\.test\.mjs$/m)
    const checked = await pluginkit(['check'], base)
    assert.equal(checked.code, 0, checked.stdout + checked.stderr)
    assert.match(checked.stdout, /^hello-demo +0\.1\.0 +enabled +local +bep, tep +-$/m)
    const tested = await node(['--test', join('plugins', 'hello-demo', 'hello-demo.test.mjs')], base)
    assert.equal(tested.code, 0, tested.stdout + tested.stderr)
  })

  test('new: a tsconfig.json counts as TypeScript set up; without tsx the scaffold stays JavaScript and says what to install', async () => {
    const [withTsx, withoutTsx] = await Promise.all([project({ 'tsconfig.json': '{}' }), project({ 'tsconfig.json': '{}' }, { tsx: false })])
    const [ts, js, forced] = await Promise.all([
      pluginkit(['new', 'a', '--author', 'me'], withTsx),
      pluginkit(['new', 'b', '--author', 'me'], withoutTsx),
      pluginkit(['new', 'c', '--ts', '--author', 'me'], withoutTsx)
    ])
    assert.ok(existsSync(join(withTsx, 'plugins', 'a', 'index.ts')), ts.stdout + ts.stderr)
    assert.ok(existsSync(join(withoutTsx, 'plugins', 'b', 'index.mjs')), js.stdout + js.stderr)
    assert.match(js.stdout, /has TypeScript but not tsx, which loads \.ts plugins \(npm install -D tsx\)/)
    assert.ok(existsSync(join(withoutTsx, 'plugins', 'c', 'index.ts')), forced.stdout + forced.stderr)
    assert.match(forced.stdout, /^note: \.ts plugins load under tsx, which this project does not have: npm install -D tsx$/m)
  })

  test('new --js → check --json parses → the generated test passes with node --test', async () => {
    const base = await project({ 'package.json': '{ "type": "module" }\n' })
    const created = await pluginkit(['new', 'my-widget', '--js', '--dir', 'extensions', '--slot', 'sidebar', '--author', "O'Brien"], base)
    assert.equal(created.code, 0, created.stderr)
    const dir = join(base, 'extensions', 'my-widget')
    assert.deepEqual((await readdir(dir)).sort(), ['index.mjs', 'my-widget.test.mjs', 'static', 'templates'])
    const entry = await readFile(join(dir, 'index.mjs'), 'utf8')
    assert.match(entry, /author: 'O\\'Brien'/)
    assert.match(entry, /tep: \{ sidebar: 'my-widget\/panel\.html' \}/)

    const checked = await pluginkit(['check', '--folder', 'extensions', '--json'], base)
    assert.equal(checked.code, 0, checked.stdout + checked.stderr)
    const plugin = byName(parseReport(checked), 'my-widget')
    assert.equal(plugin.version, '0.1.0')
    assert.deepEqual(plugin.extensionPoints, ['bep', 'tep'])

    const tested = await node(['--test', join('extensions', 'my-widget', 'my-widget.test.mjs')], base)
    assert.equal(tested.code, 0, tested.stdout + tested.stderr)
    assert.match(tested.stdout, /[#ℹ] pass 2\n[#ℹ] fail 0/)
  })

  test('the author defaults to git config user.name', async () => {
    const base = await project({ '.gitconfig': '[user]\n\tname = Grace Hopper\n' })
    const env = { GIT_CONFIG_GLOBAL: join(base, '.gitconfig'), GIT_CONFIG_NOSYSTEM: '1', HOME: base }
    const created = await pluginkit(['new', 'gitty', '--js'], base, env)
    assert.equal(created.code, 0, created.stderr)
    assert.match(await readFile(join(base, 'plugins', 'gitty', 'index.mjs'), 'utf8'), /author: 'Grace Hopper'/)
  })

  test('refuses an invalid name or an existing folder with exit code 1, and writes nothing', async () => {
    const base = await project({ 'plugins/taken/keep.txt': 'mine' })
    for (const name of ['bad name', '-dash', 'sl/ash', '.hidden', 'dot.ted']) {
      const result = await pluginkit(['new', '--', name], base)
      assert.equal(result.code, 1, name)
      assert.match(result.stderr, /invalid plugin name/, name)
    }
    const taken = await pluginkit(['new', 'taken'], base)
    assert.equal(taken.code, 1)
    assert.match(taken.stderr, /plugins\/taken already exists/)
    assert.deepEqual(await readdir(join(base, 'plugins')), ['taken'])
    assert.deepEqual(await readdir(join(base, 'plugins', 'taken')), ['keep.txt'])
  })
})

describe('fastify-pluginkit check', { concurrency: 2 }, () => {
  test('a broken plugin makes check exit 1 and names its code; valid ones are listed', async () => {
    const base = await project({
      'plugins/good/index.mjs': pluginSource({ name: 'good', version: '1.2.3', author: 'me', state: 'disabled' },
        "return { bep: { prefix: '/good', blueprint: async (app) => { app.get('/', async () => 'ok') } } }"),
      'plugins/noauthor/index.mjs': pluginSource({ name: 'noauthor', author: undefined }),
      'plugins/badversion/index.mjs': pluginSource({ name: 'badversion', version: 'v2.19.10', author: 'me' }),
      'plugins/needy/index.mjs': pluginSource({ name: 'needy', version: '1.0.0', author: 'me', dependencies: { ghost: '^1.0.0' } }),
      'plugins/notemplate/index.mjs': pluginSource({ name: 'notemplate', version: '1.0.0', author: 'me' }, "return { tep: { footer: 'notemplate/missing.html' } }"),
      'plugins/badkey/index.mjs': pluginSource({ name: 'badkey', version: '1.0.0', author: 'me' }, 'return { nope: 1 }'),
      'plugins/badprefix/index.mjs': pluginSource({ name: 'badprefix', version: '1.0.0', author: 'me' }, "return { bep: { prefix: 'x/', blueprint: async () => {} } }")
    })
    const [table, json] = await Promise.all([pluginkit(['check'], base), pluginkit(['check', '--json'], base)])

    assert.equal(table.code, 1)
    assert.doesNotMatch(table.stdout, ANSI, 'no colours when stdout is not a TTY')
    const header = table.stdout.split('\n')[0] ?? ''
    assert.match(header, /^NAME +VERSION +STATE +SOURCE +EXTENSION POINTS +PROBLEMS$/)
    assert.match(table.stdout, /^good +1\.2\.3 +disabled +local +bep +-$/m)
    // A failed plugin's VERSION is what its manifest says, when the manifest was read.
    for (const [name, version, code] of [
      ['noauthor', '1.0.0', 'PLUGINKIT_ERR_PLUGIN_METADATA'],
      ['badversion', 'v2.19.10', 'PLUGINKIT_ERR_PLUGIN_VERSION'],
      ['needy', '1.0.0', 'PLUGINKIT_ERR_DEPENDENCY'],
      ['notemplate', '1.0.0', 'PLUGINKIT_ERR_TEMPLATE_NOT_FOUND'],
      ['badkey', '1.0.0', 'PLUGINKIT_ERR_EXTENSION_POINT'],
      ['badprefix', '1.0.0', 'PLUGINKIT_ERR_EXTENSION_POINT']
    ] as const) {
      assert.match(table.stdout, new RegExp(`^${name} +${version.replaceAll('.', '\\.')} +failed +local +- +${code}$`, 'm'), `${name} row`)
    }
    assert.match(table.stdout, /PLUGINKIT_ERR_PLUGIN_METADATA plugin "noauthor": author: is required/)
    assert.match(table.stdout, /PLUGINKIT_ERR_DEPENDENCY plugin "needy": dependencies\.ghost/)
    assert.match(table.stdout, /PLUGINKIT_ERR_EXTENSION_POINT plugin "badkey": nope/)
    assert.match(table.stdout, /7 plugins: 1 valid, 6 failed/)

    assert.equal(json.code, 1)
    const report = parseReport(json)
    assert.equal(report.ok, false)
    assert.equal(report.plugins.length, 7)
    assert.deepEqual(byName(report, 'good').problems, [])
    assert.equal(byName(report, 'good').state, 'disabled')
    const notemplate = byName(report, 'notemplate')
    assert.equal(notemplate.state, 'failed')
    assert.equal(notemplate.version, '1.0.0')
    assert.equal(notemplate.problems[0]?.code, 'PLUGINKIT_ERR_TEMPLATE_NOT_FOUND')
    assert.match(notemplate.problems[0]?.message ?? '', /tep\.footer/)
  })

  test('all valid: exit 0; dependencies are reported in load order', async () => {
    const base = await project({
      'plugins/a-app/index.mjs': pluginSource({ name: 'app', version: '1.0.0', author: 'me', dependencies: { auth: '^2.0.0' } }),
      'plugins/z-auth/index.mjs': pluginSource({ name: 'auth', version: '2.1.0', author: 'me' })
    })
    const result = await pluginkit(['check', '--json'], base)
    assert.equal(result.code, 0, result.stdout)
    const report = parseReport(result)
    assert.deepEqual(report.plugins.map((plugin) => plugin.name), ['auth', 'app'])
    assert.deepEqual(byName(report, 'app').dependencies, { auth: '^2.0.0' })
  })

  test('a dependency cycle and a duplicate name are reported with their codes', async () => {
    const base = await project({
      'plugins/a/index.mjs': pluginSource({ name: 'a', version: '1.0.0', author: 'me', dependencies: ['b'] }),
      'plugins/b/index.mjs': pluginSource({ name: 'b', version: '1.0.0', author: 'me', dependencies: ['a'] }),
      'plugins/c1/index.mjs': pluginSource({ name: 'c', version: '1.0.0', author: 'me' }),
      'plugins/c2/index.mjs': pluginSource({ name: 'c', version: '1.0.0', author: 'me' })
    })
    const result = await pluginkit(['check', '--json'], base)
    assert.equal(result.code, 1)
    const report = parseReport(result)
    assert.equal(byName(report, 'a').problems[0]?.code, 'PLUGINKIT_ERR_DEPENDENCY')
    assert.match(byName(report, 'a').problems[0]?.message ?? '', /a -> b -> a|b -> a -> b/)
    const duplicates = report.plugins.filter((plugin) => plugin.name === 'c')
    assert.deepEqual(duplicates.map((plugin) => plugin.problems.map((problem) => problem.code)), [[], ['PLUGINKIT_ERR_DUPLICATE_PLUGIN']])
  })

  test('boot-level errors: a missing explicit folder exits 1 with its code, in both formats', async () => {
    const base = await project()
    const [table, json] = await Promise.all([
      pluginkit(['check', '--folder', 'nowhere'], base),
      pluginkit(['check', '--folder', 'nowhere', '--json'], base)
    ])
    assert.equal(table.code, 1)
    assert.match(table.stderr, /PLUGINKIT_ERR_PLUGINS_FOLDER/)
    assert.match(table.stderr, /nowhere/)
    assert.equal(json.code, 1)
    const report = parseReport(json)
    assert.equal(report.ok, false)
    assert.equal(report.error?.code, 'PLUGINKIT_ERR_PLUGINS_FOLDER')
    assert.deepEqual(report.plugins, [])
  })

  test('a blueprint that throws while Fastify loads it is reported like any broken plugin: exit 1, code and plugin named', async () => {
    const base = await project({
      'plugins/ok/index.mjs': pluginSource({ name: 'ok', version: '1.0.0', author: 'me' }),
      'plugins/throwy/index.mjs': pluginSource({ name: 'throwy', version: '1.0.0', author: 'me' },
        "return { bep: { prefix: '/t', blueprint: async () => { throw new Error('boom in blueprint') } } }")
    })
    const result = await pluginkit(['check', '--json'], base)
    assert.equal(result.code, 1)
    const report = parseReport(result)
    assert.equal(report.ok, false)
    const throwy = report.plugins.find((plugin) => plugin.name === 'throwy')
    assert.ok(throwy !== undefined, 'throwy is listed')
    assert.equal(throwy.problems[0]?.code, 'PLUGINKIT_ERR_REGISTER')
    assert.match(throwy.problems[0]?.message ?? '', /boom in blueprint/)
    assert.deepEqual(report.plugins.find((plugin) => plugin.name === 'ok')?.problems, [])
  })

  test('no plugins folder at all: nothing to check, exit 0', async () => {
    const base = await project()
    const result = await pluginkit(['check'], base)
    assert.equal(result.code, 0)
    assert.match(result.stdout, /no plugins found/)
  })

  test('the state file is neither read nor written: the state shown is the manifest\'s', async () => {
    const saved = JSON.stringify({ one: 'disabled', two: 'enabled' })
    const base = await project({
      '.pluginkit-state.json': saved,
      'plugins/one/index.mjs': pluginSource({ name: 'one', version: '1.0.0', author: 'me' }),
      'plugins/two/index.mjs': pluginSource({ name: 'two', version: '1.0.0', author: 'me', state: 'disabled' })
    })
    const result = await pluginkit(['check', '--json'], base)
    assert.equal(result.code, 0, result.stdout)
    const report = parseReport(result)
    assert.equal(byName(report, 'one').state, 'enabled')
    assert.equal(byName(report, 'two').state, 'disabled')
    assert.equal(await readFile(join(base, '.pluginkit-state.json'), 'utf8'), saved)

    const fresh = await project({ 'plugins/one/index.mjs': pluginSource({ name: 'one', version: '1.0.0', author: 'me' }) })
    assert.equal((await pluginkit(['check'], fresh)).code, 0)
    assert.equal(existsSync(join(fresh, '.pluginkit-state.json')), false)
  })

  test('--base, --package and --plugin-config are passed to the kit', async () => {
    const base = await project({
      'app/node_modules/demo-plugin/package.json': JSON.stringify({ name: 'demo-plugin', version: '3.0.0', type: 'module', exports: './main.js' }),
      'app/node_modules/demo-plugin/main.js': pluginSource({ name: 'demo', version: '3.0.0', author: 'npm' }),
      'app/plugins/strict/index.mjs': pluginSource({
        name: 'strict',
        author: 'me',
        configSchema: { type: 'object', required: ['token'], properties: { token: { type: 'string' } } }
      }),
      'config.json': JSON.stringify({ strict: { token: 'abc' } })
    })
    const [without, withConfig] = await Promise.all([
      pluginkit(['check', '--base', 'app', '--package', 'demo-plugin', '--package', 'not-installed', '--json'], base),
      pluginkit(['check', '--base', 'app', '--package', 'demo-plugin', '--plugin-config', 'config.json', '--json'], base)
    ])
    assert.equal(without.code, 1)
    const report = parseReport(without)
    assert.equal(report.base, join(base, 'app'))
    const demo = byName(report, 'demo')
    assert.deepEqual([demo.source, demo.packageName, demo.version, demo.problems], ['package', 'demo-plugin', '3.0.0', []])
    const missing = byName(report, 'not-installed')
    assert.deepEqual([missing.source, missing.problems[0]?.code], ['package', 'PLUGINKIT_ERR_PLUGIN_IMPORT'])
    assert.equal(byName(report, 'strict').problems[0]?.code, 'PLUGINKIT_ERR_PLUGIN_CONFIG')
    assert.match(byName(report, 'strict').problems[0]?.message ?? '', /pluginConfig\.strict/)

    assert.equal(withConfig.code, 0, withConfig.stdout)
    assert.deepEqual(byName(parseReport(withConfig), 'strict').problems, [])
  })

  test('--json stays parseable when a plugin prints while it loads', async () => {
    const base = await project({
      'plugins/chatty/index.mjs': `console.log('hello from chatty')\n${pluginSource({ name: 'chatty', version: '1.0.0', author: 'me' }, "console.info('registering'); return {}")}`
    })
    const result = await pluginkit(['check', '--json'], base)
    assert.equal(result.code, 0)
    assert.equal(byName(parseReport(result), 'chatty').state, 'enabled')
    assert.match(result.stderr, /hello from chatty/)
  })

  test('colours only on a TTY, and never with NO_COLOR', async () => {
    const base = await project({ 'plugins/broken/index.mjs': pluginSource({ name: 'broken', author: undefined }) })
    // Pretend stdout is a terminal before the command starts.
    const tty = ['--import', 'data:text/javascript,process.stdout.isTTY=true', cli, 'check']
    const [colored, noColor] = await Promise.all([node(tty, base), node(tty, base, { NO_COLOR: '1' })])
    assert.equal(colored.code, 1)
    assert.match(colored.stdout, ANSI)
    assert.match(colored.stdout, /PLUGINKIT_ERR_PLUGIN_METADATA/)
    assert.equal(noColor.code, 1)
    assert.doesNotMatch(noColor.stdout, ANSI)
    assert.match(noColor.stdout, /^broken +1\.0\.0 +failed +local +- +PLUGINKIT_ERR_PLUGIN_METADATA$/m)
  })
})

describe('usage', { concurrency: 2 }, () => {
  test('--help for the command and each subcommand exits 0', async () => {
    const base = await project()
    const [main, help, newHelp, checkHelp] = await Promise.all([
      pluginkit(['--help'], base),
      pluginkit(['help'], base),
      pluginkit(['new', '--help'], base),
      pluginkit(['check', '-h'], base)
    ])
    for (const result of [main, help, newHelp, checkHelp]) assert.equal(result.code, 0)
    assert.match(main.stdout, /Usage: fastify-pluginkit <command>/)
    assert.match(main.stdout, /new <name>/)
    assert.match(main.stdout, /check/)
    assert.equal(help.stdout, main.stdout)
    assert.match(newHelp.stdout, /Usage: fastify-pluginkit new <name> \[--dir plugins\] \[--ts\|--js\]/)
    assert.match(checkHelp.stdout, /Usage: fastify-pluginkit check \[--base DIR\] \[--folder plugins\] \[--package NAME \.\.\.\] \[--plugin-config FILE\] \[--json\]/)
    // Each usage line names every option its Options list explains (--help aside).
    for (const help of [newHelp.stdout, checkHelp.stdout]) {
      const usage = help.split('\n')[0] ?? ''
      const options = [...(help.split('Options:')[1] ?? '').matchAll(/^ {2}(--[a-z-]+)/gm)].map((match) => match[1] as string)
      assert.ok(options.length >= 4, help)
      for (const option of options.filter((option) => option !== '--help')) assert.ok(usage.includes(option), `${option} is in ${usage}`)
    }
    assert.match(checkHelp.stdout, /memory store/)
    assert.match(checkHelp.stdout, /never read or written/)
    assert.equal(existsSync(join(base, 'plugins')), false)
  })

  test('unknown commands and flags, and bad arguments, print usage and exit 2', async () => {
    const base = await project()
    const cases: Array<[string[], RegExp]> = [
      [[], /Usage: fastify-pluginkit <command>/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['--frobnicate'], /unknown option --frobnicate/],
      [['check', '--frobnicate'], /Unknown option '--frobnicate'[\s\S]*Usage: fastify-pluginkit check/],
      [['check', 'extra'], /Usage: fastify-pluginkit check/],
      [['check', '--folder'], /Usage: fastify-pluginkit check/],
      [['new'], /new needs a plugin name[\s\S]*Usage: fastify-pluginkit new/],
      [['new', 'a', 'b'], /new takes one name/],
      [['new', 'a', '--js', '--ts'], /--ts and --js cannot be used together/],
      [['new', 'a', '--python'], /Unknown option '--python'/]
    ]
    const results = await Promise.all(cases.map(([args]) => pluginkit(args, base)))
    results.forEach((result, index) => {
      const [args, message] = cases[index] as [string[], RegExp]
      assert.equal(result.code, 2, args.join(' '))
      assert.match(result.stderr, message, args.join(' '))
      assert.equal(result.stdout, '', args.join(' '))
    })
    assert.equal(existsSync(join(base, 'plugins')), false, 'a usage error writes nothing')
  })

  test('--version prints the kit version', async () => {
    const base = await project()
    const result = await pluginkit(['--version'], base)
    assert.equal(result.code, 0)
    const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string }
    assert.equal(result.stdout.trim(), version)
  })
})

// The generated files must be writable where the user asked, even when parents are missing.
test('new creates missing parent folders of --dir', async () => {
  const base = await project()
  const result = await pluginkit(['new', 'deep', '--js', '--dir', 'a/b/c', '--author', 'me'], base)
  assert.equal(result.code, 0, result.stderr)
  assert.ok(existsSync(join(base, 'a', 'b', 'c', 'deep', 'index.mjs')))
  const again = await pluginkit(['new', 'deep', '--dir', 'a/b/c'], base)
  assert.equal(again.code, 1)
})
