import { existsSync } from 'node:fs'
import { join } from 'node:path'
import nunjucks from 'nunjucks'
import fastifyView from '@fastify/view'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { kitError } from './errors.js'
import type { KitState } from './state.js'
import type { ResolvedOptions } from './options.js'
import type { PluginRecord } from './record.js'
import type { TemplateContribution } from './points/index.js'
import type { PluginKit } from './types.js'

interface SlotEntry {
  record: PluginRecord
  contribution: TemplateContribution
  /** Compiled once, on first use (template files: unless nunjucks caching is off). */
  compiled?: nunjucks.Template
}

interface Processor {
  record: PluginRecord
  key: string
  value: unknown
}

const kLocals = Symbol('pluginKit.locals')

/** Own properties only: a key like `constructor` or `toString` must not read Object.prototype. */
export function own<T> (map: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined
}

/**
 * nunjucks keeps filters and template variables in plain objects, where assigning
 * `__proto__` replaces the prototype instead of adding a name; such names are refused.
 */
function storable (name: string): boolean {
  return name !== '__proto__'
}

const FAILED = Symbol('pluginKit.failed')

/** The part of a logger that reports a failed contribution (a Fastify logger is one). */
export interface ErrorLog {
  error (fields: object, message: string, ...args: unknown[]): void
}

const SITES = {
  tep: { what: 'tep contribution', field: 'slot' },
  tcp: { what: 'tcp context processor', field: 'key' },
  dcp: { what: 'dcp callback', field: 'event' }
} as const

/**
 * A `tcp` function's or `dcp` callback's result. Templates render synchronously: a promise
 * would show as "[object Promise]" and its rejection, unhandled, would end the process;
 * so it is silenced and counted as a failure.
 */
export function synchronous (result: unknown): unknown {
  const then = result !== null && (typeof result === 'object' || typeof result === 'function') ? (result as Partial<PromiseLike<unknown>>).then : undefined
  if (typeof then === 'function') {
    then.call(result, undefined, () => {})
    throw new TypeError('returned a promise; template contributions must be synchronous')
  }
  return result
}

/**
 * Runs one plugin's template contribution (a `tep` entry, a `tcp` function, a `dcp`
 * callback). What it throws must not fail the page: it is logged with the plugin's name
 * (when known), counted in the plugin's `hookErrors`, and `failed` is returned instead.
 */
export function contribute<T, F> (log: ErrorLog, record: PluginRecord | undefined, kind: keyof typeof SITES, name: string, failed: F, run: () => T): T | F {
  try {
    return run()
  } catch (error) {
    const { what, field } = SITES[kind]
    if (record === undefined) {
      log.error({ err: error, [field]: name }, 'fastify-pluginkit: a %s for %s "%s" failed; it contributes nothing', what, field, name)
    } else {
      record.stats.hookErrors++
      log.error({ err: error, plugin: record.name, [field]: name }, 'fastify-pluginkit: %s of plugin %s for %s "%s" failed; it contributes nothing', what, record.name, field, name)
    }
    return failed
  }
}

// `\\`, `?`, `#` and `%` would change what the URL means; control characters belong in no file name.
const NOT_IN_ASSET_PATH = /[\\?#%\p{Cc}]/u

/**
 * `file` is a path the static route serves: inside `static/` (no `.`/`..` segments, no
 * leading `/`), no dotfiles (never served), and a URL path that means the same.
 */
function isAssetPath (file: unknown): file is string {
  return typeof file === 'string' && !NOT_IN_ASSET_PATH.test(file) &&
    file.split('/').every((segment) => segment !== '' && !segment.startsWith('.'))
}

function escapeAttribute (value: string): string {
  return value.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

/** Template folders in search order: the host's first, then each plugin's `templates/` in load order. */
function templateSearchPath (hostTemplates: string[], records: PluginRecord[]): string[] {
  return [...hostTemplates, ...records.map((record) => join(record.dir, 'templates')).filter((dir) => existsSync(dir))]
}

/**
 * Slots (`tep`), template globals, filters and context processors (`tcp`) over one
 * nunjucks Environment, shared with @fastify/view when the `view` option is given.
 */
export class Views {
  /** Set once plugins are loaded (their folders are part of the search path). */
  env!: nunjucks.Environment
  #slots = new Map<string, SlotEntry[]>()
  #processors: Processor[] = []
  /** Plugins already warned about a tcp key nunjucks cannot hold: once each, though #rebuild runs on every state change. */
  #warned = new WeakSet<PluginRecord>()

  /** With nunjucks' `noCache` or `watch`, templates are looked up on every render, so edits show. */
  readonly #cacheTemplates: boolean

  constructor (private readonly state: KitState, private readonly options: ResolvedOptions) {
    state.watch((records) => this.#rebuild(records))
    this.#cacheTemplates = options.view?.options.noCache !== true && options.view?.options.watch !== true
  }

  /** Without the `view` option the kit still renders slots, with its own Environment. */
  ownEnvironment (): nunjucks.Environment {
    const { onConfigure: _onConfigure, ...nunjucksOptions } = this.options.view?.options ?? {}
    const loader = new nunjucks.FileSystemLoader(templateSearchPath(this.options.view?.templates ?? [], this.state.records), { noCache: nunjucksOptions.noCache ?? false })
    return new nunjucks.Environment(loader, nunjucksOptions)
  }

  #rebuild (records: readonly PluginRecord[]): void {
    const slots = new Map<string, SlotEntry[]>()
    const previous = new Map([...this.#slots.values()].flat().map((entry) => [entry.contribution, entry.compiled]))
    for (const record of records) {
      if (!record.enabled) continue
      for (const [slot, contributions] of record.contributions.tep) {
        const entries = slots.get(slot) ?? []
        for (const contribution of contributions) {
          const compiled = previous.get(contribution)
          entries.push(compiled === undefined ? { record, contribution } : { record, contribution, compiled })
        }
        slots.set(slot, entries)
      }
    }
    // Array.prototype.sort is stable: equal orders keep load order.
    for (const entries of slots.values()) entries.sort((a, b) => a.contribution.order - b.contribution.order)
    this.#slots = slots
    const processors: Processor[] = []
    for (const record of records) {
      if (!record.enabled) continue
      for (const [key, value] of record.contributions.tcp) {
        if (storable(key)) processors.push({ record, key, value })
        else this.#refuseKey(record, key)
      }
    }
    this.#processors = processors
  }

  #refuseKey (record: PluginRecord, key: string): void {
    if (this.#warned.has(record)) return
    this.#warned.add(record)
    this.state.log.warn({ plugin: record.name, key }, 'fastify-pluginkit: tcp key %s of plugin %s cannot be a template variable and was ignored', key, record.name)
  }

  /** Filters are not gated; the first definition of a name wins. */
  addFilters (): void {
    const defined = (this.env as unknown as { filters: Record<string, unknown> }).filters
    for (const record of this.state.records) {
      for (const [name, filter] of record.contributions.filter) {
        if (!storable(name)) {
          this.state.log.warn({ plugin: record.name, filter: name }, 'fastify-pluginkit: filter %s of plugin %s cannot be a filter name and was ignored', name, record.name)
          continue
        }
        if (own(defined, name) !== undefined) {
          this.state.log.warn({ plugin: record.name, filter: name }, 'fastify-pluginkit: filter %s of plugin %s is already defined and was not replaced', name, record.name)
          continue
        }
        this.env.addFilter(name, filter as (...args: unknown[]) => unknown)
      }
    }
  }

  emitTep (slot: string, context: Record<string, unknown> = {}): string {
    let html = ''
    for (const entry of this.#slots.get(slot) ?? []) {
      html += contribute(this.state.log, entry.record, 'tep', slot, '', () => this.#render(entry, slot, context))
    }
    return html
  }

  #render (entry: SlotEntry, slot: string, context: Record<string, unknown>): string {
    const { file, code } = entry.contribution
    if (file !== undefined) {
      // The contributing plugin's own file (by absolute path), even when another folder has the same name.
      const template = this.#cacheTemplates ? (entry.compiled ??= this.env.getTemplate(file)) : this.env.getTemplate(file)
      return template.render(context)
    }
    entry.compiled ??= new nunjucks.Template(code as string, this.env, `${entry.record.name}:tep:${slot}`, true)
    return entry.compiled.render(context)
  }

  /** Unknown plugin: PLUGINKIT_ERR_NOT_FOUND; a disabled plugin's assets are not linked (its files answer 404). */
  emitAssets (plugin: string, file: string, { raw = false }: { raw?: boolean } = {}): string {
    const record = this.state.byName.get(plugin)
    if (record === undefined) throw kitError('PLUGINKIT_ERR_NOT_FOUND', `plugin "${plugin}"`, 'emit_assets', 'is not loaded')
    if (!isAssetPath(file)) {
      throw kitError('PLUGINKIT_ERR_INVALID_OPTION', `plugin "${plugin}"`, 'emit_assets', `file ${JSON.stringify(file)} must be a relative path inside the plugin's static folder: segments separated by "/", none empty or starting with ".", and no "\\", "?", "#", "%" or control characters`)
    }
    if (!record.enabled) return ''
    const url = `${this.options.staticUrlPath}/${plugin}/${file}`
    if (raw) return url
    if (file.endsWith('.css')) return `<link rel="stylesheet" href="${escapeAttribute(url)}">`
    if (file.endsWith('.js')) return `<script src="${escapeAttribute(url)}"></script>`
    return url
  }

  emitConfig (key: string): unknown {
    return own(this.options.config, key)
  }

  /** The enabled plugins' context processors for one request, later plugins winning; a throwing one gives nothing. */
  contextFor (request: FastifyRequest): Record<string, unknown> {
    const context: Record<string, unknown> = {}
    for (const { record, key, value } of this.#processors) {
      if (typeof value !== 'function') {
        context[key] = value
        continue
      }
      // A failed processor leaves the key to earlier plugins (or unset).
      const result = contribute(this.state.log, record, 'tcp', key, FAILED, () => synchronous((value as (request: FastifyRequest) => unknown)(request)))
      if (result !== FAILED) context[key] = result
    }
    return context
  }

  /** The `emit_*` globals; HTML results are marked safe so autoescaping leaves them alone. */
  addGlobals (kit: Pick<PluginKit, 'emitTep' | 'emitAssets' | 'emitConfig' | 'emitDcp'>): void {
    const safe = (html: string) => new nunjucks.runtime.SafeString(html)
    const emitTep = function (this: { ctx?: Record<string, unknown> } | undefined, slot: string, context?: Record<string, unknown>) {
      // Called from a template without a context, a slot sees the page's own variables.
      return safe(kit.emitTep(slot, context ?? this?.ctx ?? {}))
    }
    const emitAssets = (plugin: string, file: string, options?: { raw?: boolean }) => {
      const out = kit.emitAssets(plugin, file, options)
      return out.startsWith('<') ? safe(out) : out
    }
    const emitDcp = (event: string, ...args: unknown[]) => safe(kit.emitDcp(event, ...args))
    for (const [name, value] of Object.entries({ emit_tep: emitTep, emit_assets: emitAssets, emit_config: kit.emitConfig, emit_dcp: emitDcp })) {
      this.env.addGlobal(name, value)
      this.env.addGlobal(name.replace(/_(\w)/, (_match, letter: string) => letter.toUpperCase()), value)
    }
  }
}

/**
 * Registers @fastify/view with nunjucks over the kit's template search path, and makes
 * `reply.locals` start from the enabled plugins' context processors (computed only when
 * read), so `reply.view` data > `reply.locals` > `tcp`.
 */
export async function registerViews (app: FastifyInstance, views: Views, view: NonNullable<ResolvedOptions['view']>, records: PluginRecord[]): Promise<void> {
  const { onConfigure, ...nunjucksOptions } = view.options
  app.decorateReply('locals', {
    getter (this: FastifyReply & { [kLocals]?: Record<string, unknown> }) {
      this[kLocals] ??= views.contextFor(this.request)
      return this[kLocals]
    },
    setter (this: FastifyReply & { [kLocals]?: Record<string, unknown> }, value: Record<string, unknown>) {
      this[kLocals] = value
    }
  })
  await app.register(fastifyView, {
    engine: { nunjucks },
    templates: templateSearchPath(view.templates, records),
    options: {
      ...nunjucksOptions,
      onConfigure (env: nunjucks.Environment) {
        views.env = env
        onConfigure?.(env)
      }
    }
  })
}
