import { join, resolve } from 'node:path'
import { Type } from 'typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { PREFIX_DESCRIPTION, PREFIX_PATTERN } from './constants.js'
import { invalidOption } from './errors.js'
import { FileStore } from './stores/file.js'
import { MemoryStore } from './stores/memory.js'
import type { MetricsRegistry, PluginKitOptions, QuarantineOptions, StateStore, ViewOptions } from './types.js'
import { checker } from './validation.js'

const Fn = Type.Function([], Type.Unknown())

const OptionsSchema = Type.Object({
  pluginsBase: Type.Optional(Type.String({ minLength: 1, description: 'a non-empty path' })),
  pluginsFolder: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Literal(false)],
    { description: 'a non-empty path, or false for none' })),
  pluginDirs: Type.Optional(Type.Array(Type.String({ minLength: 1, description: 'a non-empty path' }),
    { description: 'an array of plugin folders' })),
  pluginPackages: Type.Optional(Type.Array(Type.String({ minLength: 1, description: 'a non-empty package name' }),
    { description: 'an array of package names' })),
  staticUrlPath: Type.Optional(Type.String({ pattern: PREFIX_PATTERN, description: PREFIX_DESCRIPTION })),
  view: Type.Optional(Type.Object({
    templates: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }))],
      { description: 'a folder or an array of folders' })),
    options: Type.Optional(Type.Object({}))
  }, { additionalProperties: false })),
  config: Type.Optional(Type.Object({})),
  pluginConfig: Type.Optional(Type.Object({})),
  store: Type.Optional(Type.Union([
    Type.Literal('memory'),
    Type.Object({ file: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    Type.Object({ load: Fn, save: Fn })
  ], { description: '"memory", { file: path } or an object with load() and save() functions' })),
  strict: Type.Optional(Type.Boolean()),
  loadTimeout: Type.Optional(Type.Integer({ minimum: 1, description: 'a positive integer (milliseconds)' })),
  quarantine: Type.Optional(Type.Object({
    maxErrors: Type.Integer({ minimum: 1, description: 'a positive integer' }),
    windowMs: Type.Integer({ minimum: 1, description: 'a positive integer (milliseconds)' }),
    countBeforeRequest: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'an array of plugin names' }))
  }, { additionalProperties: false })),
  admin: Type.Optional(Type.Object({
    prefix: Type.Optional(Type.String({ pattern: PREFIX_PATTERN, description: PREFIX_DESCRIPTION })),
    authorize: Type.Function([], Type.Unknown(), { description: 'a function (request, reply) => boolean' })
  }, { additionalProperties: false })),
  install: Type.Optional(Type.Object({
    allow: Type.Array(Type.String({ minLength: 1 }), { description: 'an array of package-name patterns such as "@acme/*"' }),
    dir: Type.Optional(Type.String({ minLength: 1, description: 'a non-empty path' })),
    registry: Type.Optional(Type.String({ pattern: '^https?://', description: 'an http(s) URL' })),
    maxTarballBytes: Type.Optional(Type.Integer({ minimum: 1, description: 'a positive integer (bytes)' }))
  }, { additionalProperties: false })),
  metrics: Type.Optional(Type.Union([
    Type.Boolean(),
    Type.Object({
      registry: Type.Object({ registerMetric: Fn, getSingleMetric: Fn, removeSingleMetric: Fn, metrics: Fn },
        { description: 'a prom-client Registry' })
    }, { additionalProperties: false })
  ], { description: 'true, false or { registry } with a prom-client Registry' })),
  trace: Type.Optional(Type.Boolean()),
  watch: Type.Optional(Type.Union([
    Type.Boolean(),
    Type.Object({ debounceMs: Type.Optional(Type.Integer({ minimum: 0, description: 'a non-negative integer (milliseconds)' })) },
      { additionalProperties: false })
  ], { description: 'true, false or { debounceMs }' })),
  // Fastify passes its own register options through to the plugin.
  prefix: Type.Optional(Type.Unknown()),
  logLevel: Type.Optional(Type.Unknown()),
  logSerializers: Type.Optional(Type.Unknown())
}, { additionalProperties: false })

const optionsChecker = checker(OptionsSchema)

export interface ResolvedOptions {
  pluginsBase: string
  /** undefined: `pluginsFolder: false`, no local plugins folder. */
  pluginsFolder: string | undefined
  /** The folder was given explicitly, so it must exist. */
  pluginsFolderRequired: boolean
  /** Absolute. */
  pluginDirs: string[]
  pluginPackages: string[]
  staticUrlPath: string
  view: { templates: string[], options: NonNullable<ViewOptions['options']> } | undefined
  config: Record<string, unknown>
  pluginConfig: Record<string, unknown>
  store: StateStore
  strict: boolean
  /** undefined: derive from Fastify's pluginTimeout. */
  loadTimeout: number | undefined
  quarantine: QuarantineOptions | undefined
  admin: { prefix: string, authorize: (request: FastifyRequest, reply: FastifyReply) => unknown } | undefined
  install: ResolvedInstallOptions | undefined
  /** `registry` undefined: prom-client's global registry. */
  metrics: { registry: MetricsRegistry | undefined } | undefined
  trace: boolean
  /** undefined: no watching. */
  watch: { debounceMs: number } | undefined
}

export interface ResolvedInstallOptions {
  allow: string[]
  /** Absolute. */
  dir: string
  registry: string | undefined
  maxTarballBytes: number
}

export const DEFAULT_MAX_TARBALL_BYTES = 10 * 1024 * 1024

function resolveStore (store: PluginKitOptions['store'], base: string): StateStore {
  if (store === undefined) return new FileStore(join(base, '.pluginkit-state.json'))
  if (store === 'memory') return new MemoryStore()
  if ('file' in store && typeof store.file === 'string') return new FileStore(resolve(base, store.file))
  return store as StateStore
}

/** Validates the kit's options and fills in defaults; throws PLUGINKIT_ERR_INVALID_OPTION. */
export function resolveOptions (input: unknown): ResolvedOptions {
  const options = (input ?? {}) as PluginKitOptions
  if (typeof options !== 'object' || Array.isArray(options)) throw invalidOption('(options)', 'must be an object')
  if (options.admin !== undefined && options.admin !== null && typeof options.admin === 'object' && !('authorize' in options.admin)) {
    throw invalidOption('admin.authorize', 'is required when admin is given: a function (request, reply) => boolean')
  }
  const problem = optionsChecker.problem(options)
  if (problem !== undefined) throw invalidOption(problem.path || '(options)', problem.message)

  const pluginsBase = resolve(options.pluginsBase ?? process.cwd())
  const folder = options.pluginsFolder ?? 'plugins'
  const templates = options.view?.templates
  return {
    pluginsBase,
    pluginsFolder: folder === false ? undefined : resolve(pluginsBase, folder),
    pluginsFolderRequired: options.pluginsFolder !== undefined,
    pluginDirs: (options.pluginDirs ?? []).map((dir) => resolve(pluginsBase, dir)),
    pluginPackages: options.pluginPackages ?? [],
    staticUrlPath: options.staticUrlPath ?? '/assets',
    view: options.view === undefined
      ? undefined
      : {
          templates: (templates === undefined ? [] : [templates].flat()).map((path) => resolve(pluginsBase, path)),
          // While watching, edited templates show on the next request.
          options: options.watch === undefined || options.watch === false
            ? options.view.options ?? {}
            : { noCache: true, ...options.view.options }
        },
    config: options.config ?? {},
    pluginConfig: options.pluginConfig ?? {},
    store: resolveStore(options.store, pluginsBase),
    strict: options.strict ?? true,
    loadTimeout: options.loadTimeout,
    quarantine: options.quarantine,
    admin: options.admin === undefined ? undefined : { prefix: options.admin.prefix ?? '/pluginkit', authorize: options.admin.authorize },
    install: options.install === undefined
      ? undefined
      : {
          allow: options.install.allow,
          dir: resolve(pluginsBase, options.install.dir ?? '.pluginkit'),
          registry: options.install.registry,
          maxTarballBytes: options.install.maxTarballBytes ?? DEFAULT_MAX_TARBALL_BYTES
        },
    metrics: options.metrics === undefined || options.metrics === false
      ? undefined
      : { registry: options.metrics === true ? undefined : options.metrics.registry },
    trace: options.trace ?? false,
    watch: options.watch === undefined || options.watch === false
      ? undefined
      : { debounceMs: options.watch === true ? 100 : options.watch.debounceMs ?? 100 }
  }
}
