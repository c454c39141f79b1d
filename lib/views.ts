import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type nunjucks from 'nunjucks'
import type { FastifyRequest } from 'fastify'
import { assetMarkup, checkAssetPath } from './assets.js'
import { contribute, synchronous } from './contribute.js'
import { kitError } from './errors.js'
import { own } from './objects.js'
import type { KitState } from './state.js'
import type { ResolvedOptions } from './options.js'
import type { PluginRecord } from './record.js'
import type { TemplateContribution } from './points/index.js'

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

/**
 * nunjucks keeps filters and template variables in plain objects, where assigning
 * `__proto__` replaces the prototype instead of adding a name; such names are refused.
 */
function storable (name: string): boolean {
  return name !== '__proto__'
}

const FAILED = Symbol('pluginKit.failed')

/**
 * nunjucks' public way to ask: getFilter throws for a name it does not know. It reads a plain
 * object, so for `constructor` or `toString` it would find Object.prototype's: those names
 * count as free (only a host's onConfigure could have defined one).
 */
function hasFilter (env: nunjucks.Environment, name: string): boolean {
  if (name in Object.prototype) return false
  try {
    env.getFilter(name)
    return true
  } catch {
    return false
  }
}

/** nunjucks' module, imported by the hosts that render templates (~10 ms of loading otherwise spared). */
export type Nunjucks = typeof nunjucks

/** The Environment templates render with, and the nunjucks module it comes from. */
export interface Rendering { env: nunjucks.Environment, nunjucks: Nunjucks }

export async function importNunjucks (): Promise<Nunjucks> {
  return (await import('nunjucks')).default
}

/** Template folders in search order: the host's first, then each plugin's `templates/` in load order. */
export function templateSearchPath (hostTemplates: string[], records: PluginRecord[]): string[] {
  return [...hostTemplates, ...records.map((record) => join(record.dir, 'templates')).filter((dir) => existsSync(dir))]
}

/**
 * Slots (`tep`), template globals, filters and context processors (`tcp`) over one
 * nunjucks Environment, shared with @fastify/view when the `view` option is given.
 */
export class Views {
  /** Adopted once plugins are loaded (their folders are part of the search path). */
  #rendering: Rendering | undefined
  #slots = new Map<string, SlotEntry[]>()
  #processors: Processor[] = []
  /** Plugins already warned about a tcp key nunjucks cannot hold: once each, though #rebuild runs on every state change. */
  #warned = new WeakSet<PluginRecord>()

  /** With nunjucks' `noCache` or `watch`, or the kit's `watch`, templates are looked up on every render, so edits show. */
  readonly #cacheTemplates: boolean

  constructor (private readonly state: KitState, private readonly options: ResolvedOptions) {
    state.watch((records) => this.#rebuild(records))
    this.#cacheTemplates = options.watch === undefined && options.view?.options.noCache !== true && options.view?.options.watch !== true
  }

  /**
   * Without the `view` option the kit still renders slots, with its own Environment: built
   * when a plugin contributes to a slot (contributions are fixed at boot), else never needed.
   */
  async ownEnvironment (): Promise<Rendering | undefined> {
    if (!this.state.records.some((record) => record.contributions.tep.size > 0)) return undefined
    const nunjucks = await importNunjucks()
    const loader = new nunjucks.FileSystemLoader(templateSearchPath([], this.state.records), { noCache: this.options.watch !== undefined })
    return { env: new nunjucks.Environment(loader), nunjucks }
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
    this.state.log.warn({ plugin: record.name, key },
      'fastify-pluginkit: tcp key %s of plugin %s cannot be a template variable and was ignored', key, record.name)
  }

  /**
   * Takes the Environment templates render with (@fastify/view's, or `ownEnvironment()`'s;
   * none when nothing renders) and puts the plugins' filters and the `emit_*` globals into it.
   */
  adopt (rendering: Rendering | undefined, emitDcp: (event: string, ...args: unknown[]) => string): void {
    if (rendering === undefined) return
    this.#rendering = rendering
    this.#addFilters(rendering.env)
    this.#addGlobals(rendering.env, rendering.nunjucks, emitDcp)
  }

  get #environment (): Rendering {
    if (this.#rendering === undefined) throw new Error('templates render once the kit has booted')
    return this.#rendering
  }

  /** Filters are not gated; the first definition of a name wins. */
  #addFilters (env: nunjucks.Environment): void {
    for (const record of this.state.records) {
      for (const [name, filter] of record.contributions.filter) {
        if (!storable(name)) {
          this.state.log.warn({ plugin: record.name, filter: name },
            'fastify-pluginkit: filter %s of plugin %s cannot be a filter name and was ignored', name, record.name)
          continue
        }
        if (hasFilter(env, name)) {
          this.state.log.warn({ plugin: record.name, filter: name },
            'fastify-pluginkit: filter %s of plugin %s is already defined and was not replaced', name, record.name)
          continue
        }
        env.addFilter(name, filter as (...args: unknown[]) => unknown)
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
      const { env } = this.#environment
      const template = this.#cacheTemplates ? (entry.compiled ??= env.getTemplate(file)) : env.getTemplate(file)
      return template.render(context)
    }
    const { env, nunjucks } = this.#environment
    entry.compiled ??= new nunjucks.Template(code as string, env, `${entry.record.name}:tep:${slot}`, true)
    return entry.compiled.render(context)
  }

  /** Unknown plugin: PLUGINKIT_ERR_NOT_FOUND; a disabled plugin's assets are not linked (its files answer 404). */
  emitAssets (plugin: string, file: string, { raw = false }: { raw?: boolean } = {}): string {
    const record = this.state.byName.get(plugin)
    if (record === undefined) throw kitError('PLUGINKIT_ERR_NOT_FOUND', { plugin }, 'emit_assets', 'is not loaded')
    checkAssetPath(plugin, file)
    if (!record.enabled) return ''
    return assetMarkup(`${this.options.staticUrlPath}/${plugin}/${file}`, file, raw)
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
      const processor = value as (request: FastifyRequest) => unknown
      const result = contribute(this.state.log, record, 'tcp', key, FAILED, () => synchronous(processor(request)))
      if (result !== FAILED) context[key] = result
    }
    return context
  }

  /** The `emit_*` globals; HTML results are marked safe so autoescaping leaves them alone. */
  #addGlobals (env: nunjucks.Environment, nunjucks: Nunjucks, emitDcp: (event: string, ...args: unknown[]) => string): void {
    const safe = (html: string) => new nunjucks.runtime.SafeString(html)
    const views = this
    const globals = {
      emit_tep (this: { ctx?: Record<string, unknown> } | undefined, slot: string, context?: Record<string, unknown>) {
        // Called from a template without a context, a slot sees the page's own variables.
        return safe(views.emitTep(slot, context ?? this?.ctx ?? {}))
      },
      emit_assets: (plugin: string, file: string, options?: { raw?: boolean }) => {
        const out = this.emitAssets(plugin, file, options)
        return out.startsWith('<') ? safe(out) : out
      },
      emit_config: (key: string) => this.emitConfig(key),
      emit_dcp: (event: string, ...args: unknown[]) => safe(emitDcp(event, ...args))
    }
    for (const [name, value] of Object.entries(globals)) {
      env.addGlobal(name, value)
      env.addGlobal(name.replace(/_(\w)/, (_match, letter: string) => letter.toUpperCase()), value)
    }
  }
}
