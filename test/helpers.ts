// The suite's one plugin-source builder (pluginSource) and one app builder (buildApp), and the
// temporary folders they go in (makeTree). A test should read as the SPEC's example:
//
//     const base = await makeTree({
//       'plugins/helloworld/index.mjs': pluginSource({ name: 'helloworld' }, `return { bep: ... }`)
//     })
//     const app = await buildApp(base, { pluginConfig: { helloworld: { limitIp: '127.0.0.1' } } })
import { mkdtemp, mkdir, writeFile, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after } from 'node:test'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import pluginKit, { type PluginKitOptions } from 'fastify-pluginkit'

/** A tree of files: path -> content (a string), or { symlink: target }. */
export type Tree = Record<string, string | { symlink: string }>

/** Writes `tree` under a fresh temporary folder (removed after the test file) and returns its path. */
export async function makeTree (tree: Tree): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'pluginkit-test-'))
  after(() => rm(root, { recursive: true, force: true }))
  for (const [path, content] of Object.entries(tree)) {
    const full = join(root, path)
    await mkdir(dirname(full), { recursive: true })
    if (typeof content === 'string') await writeFile(full, content)
    else await symlink(content.symlink, full)
  }
  return root
}

// ---------------------------------------------------------------- plugin sources

const CODE = Symbol('code')

/** A manifest value written as JavaScript source rather than JSON (see {@link code}). */
export interface Code { readonly [CODE]: string }

/**
 * A manifest value given as JavaScript source, for what JSON cannot say: a TypeBox schema
 * (`configSchema: code('Type.Object({ ... })')` with `header: "import { Type } from 'typebox'"`),
 * a function, an expression.
 */
export function code (source: string): Code {
  return { [CODE]: source }
}

function isCode (value: unknown): value is Code {
  return typeof value === 'object' && value !== null && CODE in value
}

/** The manifest fields of a generated plugin; `name` is the only one without a default. */
export type Fields = Record<string, unknown>

export interface SourceOptions {
  /**
   * - `esm` (default): `export default { ...fields, register (ctx) { ... } }`
   * - `cjs`: the same object as `module.exports`
   * - `named`: one `export const` per field and `export function register (ctx)` (the
   *   module-level form of SPEC section 3)
   * - `ts`: `esm` with TypeScript annotations, for `.ts`/`.mts` files
   */
  format?: 'esm' | 'cjs' | 'named' | 'ts'
  /** Source put first: imports, helper classes, module-level state. */
  header?: string
  /** `async register`; by default register is async when its body contains `await`. */
  async?: boolean
}

/**
 * Code put at the top of every generated plugin module that uses it: `__log(entry)` appends to
 * the probe's log, `__count(name)` increments a counter (see probe() in helpers-runtime.ts).
 */
const probePrelude = `
const __log = (entry) => { const p = globalThis.__pk; p.calls.push(entry); for (const w of p.waiters) w(entry) }
const __count = (name) => { const p = globalThis.__pk; p.counts[name] = (p.counts[name] ?? 0) + 1 }
`

/**
 * The source of a plugin module: the manifest `fields` (version '1.0.0' and author 'tester'
 * unless given; a field set to `undefined` is left out; {@link code} values are written as
 * source) and the body of `register (ctx)`. `register: null` leaves register out.
 *
 *     pluginSource({ name: 'auth', dependencies: ['db'] }, 'return { hep: { before_request () {} } }')
 */
export function pluginSource (fields: Fields, register: string | null = 'return {}', options: SourceOptions = {}): string {
  const { format = 'esm', header = '' } = options
  const manifest: Fields = { version: '1.0.0', author: 'tester', ...fields }
  const plain: Fields = {}
  const coded: Array<[string, string]> = []
  for (const [key, value] of Object.entries(manifest)) {
    if (isCode(value)) coded.push([key, value[CODE]])
    else if (value !== undefined) plain[key] = value
  }
  const typed = format === 'ts'
  const isAsync = options.async ?? /\bawait\b/.test(register ?? '')
  const signature = `${isAsync ? 'async ' : ''}register (ctx${typed ? ': any' : ''})${typed ? ': any' : ''}`
  const prelude = /__log|__count/.test(header + (register ?? '')) ? probePrelude : ''
  // The prelude first: a header may call __log while the module is evaluated.
  const top = `${prelude}\n${header}`

  if (format === 'named') {
    const lines = [
      ...Object.entries(plain).map(([key, value]) => `export const ${key} = ${JSON.stringify(value)}`),
      ...coded.map(([key, source]) => `export const ${key} = ${source}`)
    ]
    if (register !== null) lines.push(`export ${isAsync ? 'async ' : ''}function register (ctx) {\n${register}\n}`)
    return `${top}\n${lines.join('\n')}\n`
  }
  // The JSON fields are spread, not written as properties: a key such as "__proto__" stays data.
  const members = [`...${JSON.stringify(plain)}`, ...coded.map(([key, source]) => `${key}: ${source}`)]
  if (register !== null) members.push(`${signature} {\n${register}\n  }`)
  const object = `{\n  ${members.join(',\n  ')}\n}`
  return format === 'cjs' ? `'use strict'\n${top}\nmodule.exports = ${object}\n` : `${top}\nexport default ${object}\n`
}

/** A `register` body returning a blueprint at `/<route>` that answers `{ plugin: <name> }`. */
export function routeBody (name: string, route = name): string {
  return `return { bep: { prefix: '/${route}', blueprint: async (app) => { app.get('/', async () => ({ plugin: ${JSON.stringify(name)} })) } } }`
}

/** A `register` body whose before_request hook appends `name` to the `x-order` response header. */
export function orderHookBody (name: string): string {
  return `return {
      hep: {
        before_request (request, reply) {
          const previous = reply.getHeader('x-order')
          reply.header('x-order', previous === undefined ? ${JSON.stringify(name)} : previous + ',' + ${JSON.stringify(name)})
        }
      }
    }`
}

// ---------------------------------------------------------------- apps

export interface AppOptions {
  /** Fastify's own options (default `{ logger: false }`). */
  fastify?: FastifyServerOptions
  /**
   * What buildApp waits for: `register` (default) awaits `app.register(pluginKit)`, `ready`
   * waits until the app is ready, `none` returns the app at once, not in a promise (to look at
   * what ready() rejects with): do not await it, a Fastify instance is thenable.
   */
  until?: 'register' | 'ready' | 'none'
  /** Host setup done before the kit is registered: its own error or not-found handler. */
  setup?: (app: FastifyInstance) => void
}

type KitOptions = PluginKitOptions | Record<string, unknown>

/**
 * A Fastify app with a host route `GET /` and the kit registered over `base` (a folder from
 * makeTree), closed after the test file. The memory store is used unless `options` says
 * otherwise; keys set to `undefined` are left out, so `{ store: undefined }` gives the kit's
 * default store. `options` may be invalid on purpose (option tests).
 *
 *     const app = await buildApp(base, { strict: false }, { until: 'ready' })
 *     const error = await readyError(buildApp(base, { loadTimeout: 0 }, { until: 'none' }))
 */
export function buildApp (base: string, options: KitOptions, app: AppOptions & { until: 'none' }): FastifyInstance
export function buildApp (base: string, options?: KitOptions, app?: AppOptions & { until?: 'register' | 'ready' }): Promise<FastifyInstance>
export function buildApp (base: string, options: KitOptions = {}, app: AppOptions = {}): FastifyInstance | Promise<FastifyInstance> {
  const { fastify = {}, until = 'register', setup } = app
  const instance = Fastify({ logger: false, ...fastify })
  // An app whose boot is expected to fail may fail to close too.
  after(() => until === 'register' ? instance.close() : instance.close().catch(() => {}))
  instance.get('/', async () => 'hello world')
  setup?.(instance)
  const given = Object.entries({ pluginsBase: base, store: 'memory', ...options }).filter(([, value]) => value !== undefined)
  const registered = instance.register(pluginKit, Object.fromEntries(given) as PluginKitOptions)
  if (until === 'none') return instance
  return (async () => {
    if (until === 'register') await registered
    else await instance.ready()
    return instance
  })()
}
