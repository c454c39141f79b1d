import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { CliError } from './cli-error.js'
import { findPackageDir } from './discovery.js'
import { NAME_PATTERN } from './constants.js'

export interface NewPluginOptions {
  name: string
  /** The plugins folder the plugin's folder is created in (relative to `cwd`). */
  dir: string
  /** Default: see {@link defaultLanguage}. */
  language?: Language
  /** Default: `git config user.name`, else the OS user name. */
  author?: string
  /** The host slot the panel template is contributed to. */
  slot: string
  cwd: string
}

export type Language = 'ts' | 'js'

export interface NewPluginResult {
  /** The plugin's folder. */
  folder: string
  language: Language
  /** One line on why this language, or what the project still needs for it; undefined when there is nothing to say. */
  hint?: string
  /** Created files, relative to the plugin's folder. */
  files: string[]
  author: string
}

/** An object key: bare when it is an identifier, else quoted. */
function key (value: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(value) ? value : quote(value)
}

/** Whether `.js`/`.ts` files in `dir` are ES modules: the nearest package.json says `"type": "module"`. */
function isModuleScope (dir: string): boolean {
  for (let current = dir; ; current = dirname(current)) {
    const path = join(current, 'package.json')
    if (existsSync(path)) {
      try {
        return (JSON.parse(readFileSync(path, 'utf8')) as { type?: unknown }).type === 'module'
      } catch {
        return false
      }
    }
    if (dirname(current) === current) return false
  }
}

/** A JavaScript single-quoted string literal. */
function quote (value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('\n', '\\n').replaceAll('\r', '\\r')}'`
}

export function defaultAuthor (cwd: string): string {
  try {
    const name = execFileSync('git', ['config', 'user.name'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000
    }).trim()
    if (name !== '') return name
  } catch {}
  try {
    const name = userInfo().username
    if (name !== '') return name
  } catch {}
  return 'unknown'
}

function entrySource (name: string, author: string, slot: string, ts: boolean): string {
  const blueprintSignature = ts ? 'async blueprint (app: FastifyInstance)' : 'async blueprint (app)'
  return `${ts ? "import type { FastifyInstance } from 'fastify'\n" : ''}import { definePlugin } from 'fastify-pluginkit'
import { Type } from 'typebox'

export default definePlugin({
  name: ${quote(name)},
  version: '0.1.0',
  author: ${quote(author)},
  description: ${quote(`The ${name} plugin`)},
  // pluginConfig.${name} of the host, validated; ctx.config is typed from this schema.
  configSchema: Type.Object({
    greeting: Type.String({ default: ${quote(`Hello from ${name}`)} })
  }),
  register (ctx) {
    const { greeting } = ctx.config
    return {
      // Routes, in their own encapsulated Fastify context: GET /${name}
      bep: {
        prefix: ${quote(`/${name}`)},
        ${blueprintSignature} {
          app.get('/', async () => ({ plugin: ctx.name, greeting }))
        }
      },
      // HTML for the host's ${quote(slot)} slot ({{ emit_tep(${quote(slot)}) }} in its pages),
      // from this plugin's templates/ folder.
      tep: { ${key(slot)}: ${quote(`${name}/panel.html`)} }
    }
  }
})
`
}

function testSource (name: string, slot: string): string {
  const css = `/assets/${name}/${name}/style.css`
  return `import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { buildHost } from 'fastify-pluginkit/testing'

// This plugin's folder (the one holding this file).
const pluginDir = fileURLToPath(new URL('.', import.meta.url))

test(${quote(`${name}: GET /${name} answers with the configured greeting`)}, async (t) => {
  const app = await buildHost({ plugins: [pluginDir], pluginConfig: { ${key(name)}: { greeting: 'Hi' } } })
  t.after(() => app.close())

  const response = await app.inject(${quote(`/${name}`)})
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), { plugin: ${quote(name)}, greeting: 'Hi' })
})

test(${quote(`${name}: contributes its panel to the ${slot} slot and serves its stylesheet`)}, async (t) => {
  const app = await buildHost({ plugins: [pluginDir] })
  t.after(() => app.close())

  const html = app.pluginKit.emitTep(${quote(slot)})
  assert.ok(html.includes('class="${name}-panel"'), html)
  assert.ok(html.includes('href="${css}"'), html)

  const css = await app.inject(${quote(css)})
  assert.equal(css.statusCode, 200)
  assert.match(String(css.headers['content-type']), /^text\\/css/)

  await app.pluginKit.disable(${quote(name)})
  assert.equal(app.pluginKit.emitTep(${quote(slot)}), '')
  assert.equal((await app.inject(${quote(`/${name}`)})).statusCode, 404)
})
`
}

// `name` matches NAME_PATTERN (letters, digits, _ and -): nothing in it needs escaping here.
function panelSource (name: string): string {
  return `{{ emit_assets('${name}', '${name}/style.css') }}
<section class="${name}-panel">
  <a href="/${name}">${name}</a> is here.
</section>
`
}

function styleSource (name: string): string {
  return `.${name}-panel {
  border: 1px solid #d0d7de;
  border-radius: 6px;
  padding: 0.5rem 1rem;
}
`
}

/** The folder of the nearest package.json from `dir` up (the project), else `dir`. */
function projectRoot (dir: string): string {
  for (let current = dir; ; current = dirname(current)) {
    if (existsSync(join(current, 'package.json'))) return current
    if (dirname(current) === current) return dir
  }
}

/** The project declares a `typescript` dependency or has a tsconfig.json. */
function hasTypeScript (root: string): boolean {
  if (existsSync(join(root, 'tsconfig.json'))) return true
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>
    return ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']
      .some((field) => Object.hasOwn((pkg[field] ?? {}) as object, 'typescript'))
  } catch {
    return false
  }
}

/**
 * A `.ts` plugin only loads where a TypeScript loader is at hand, so the scaffold must not
 * assume one: TypeScript when the project has TypeScript set up and tsx installed (what
 * `check` and the generated test load `.ts` files with), else JavaScript — which then
 * passes `check` in any project.
 */
export function defaultLanguage (cwd: string): { language: Language, hint: string } {
  const root = projectRoot(cwd)
  if (!hasTypeScript(root)) {
    const hint = 'JavaScript, as this project has no TypeScript set up (no typescript dependency, no tsconfig.json); --ts for TypeScript'
    return { language: 'js', hint }
  }
  if (findPackageDir('tsx', cwd) === undefined) {
    const hint = 'JavaScript: this project has TypeScript but not tsx, which loads .ts plugins (npm install -D tsx); ' +
      'then --ts for TypeScript'
    return { language: 'js', hint }
  }
  return { language: 'ts', hint: 'TypeScript, as this project has typescript and tsx; --js for plain JavaScript' }
}

/** Creates `<dir>/<name>/` with a working plugin, its template, stylesheet and test. */
export async function createPlugin (options: NewPluginOptions): Promise<NewPluginResult> {
  const { name, slot, cwd } = options
  if (!new RegExp(NAME_PATTERN).test(name)) {
    throw new CliError(`invalid plugin name "${name}": use letters, digits, "-" and "_", starting with a letter or digit`)
  }
  if (slot === '' || /[\s'"{}\\]/.test(slot)) {
    throw new CliError(`invalid slot name "${slot}": no spaces, quotes, braces or backslashes`)
  }
  const folder = resolve(cwd, options.dir, name)
  if (existsSync(folder)) {
    throw new CliError(`${relative(cwd, folder) || folder} already exists; choose another name or remove it`)
  }
  const author = options.author ?? defaultAuthor(cwd)
  let language: Language
  let hint: string | undefined
  if (options.language === undefined) {
    ({ language, hint } = defaultLanguage(cwd))
  } else {
    language = options.language
    if (language === 'ts' && findPackageDir('tsx', cwd) === undefined) {
      hint = 'note: .ts plugins load under tsx, which this project does not have: npm install -D tsx'
    }
  }
  const ts = language === 'ts'
  const files: Record<string, string> = {
    [ts ? 'index.ts' : 'index.mjs']: entrySource(name, author, slot, ts),
    [`templates/${name}/panel.html`]: panelSource(name),
    [`static/${name}/style.css`]: styleSource(name),
    [ts ? `${name}.test.ts` : `${name}.test.mjs`]: testSource(name, slot)
  }
  // index.ts and the test are ES modules: outside a "type": "module" package, say so next to them.
  if (ts && !isModuleScope(folder)) {
    files['package.json'] = `${JSON.stringify({ private: true, type: 'module' }, null, 2)}\n`
  }
  await mkdir(folder, { recursive: true })
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(folder, path, '..'), { recursive: true })
    await writeFile(join(folder, path), content, { flag: 'wx' })
  }
  return { folder, language, ...(hint === undefined ? {} : { hint }), files: Object.keys(files), author }
}
