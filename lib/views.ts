import { existsSync } from 'node:fs'
import { join } from 'node:path'
import nunjucks from 'nunjucks'
import fastifyView from '@fastify/view'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { kitError } from './errors.js'
import type { KitState } from './kit.js'
import type { ResolvedOptions } from './options.js'
import type { PluginRecord } from './record.js'
import type { TemplateContribution } from './extension-points.js'
import type { PluginKit } from './types.js'

interface SlotEntry {
  record: PluginRecord
  contribution: TemplateContribution
  /** Compiled once, on first use (template files: unless nunjucks caching is off). */
  compiled?: nunjucks.Template
}

const kLocals = Symbol('pluginKit.locals')

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
  #processors: Array<[string, unknown]> = []

  /** With nunjucks' `noCache` or `watch`, templates are looked up on every render, so edits show. */
  readonly #cacheTemplates: boolean

  constructor (private readonly state: KitState, private readonly options: ResolvedOptions) {
    state.onChange.push((records) => this.#rebuild(records))
    this.#cacheTemplates = options.view?.options.noCache !== true && options.view?.options.watch !== true
  }

  /** Without the `view` option the kit still renders slots, with its own Environment. */
  ownEnvironment (): nunjucks.Environment {
    const { onConfigure: _onConfigure, ...nunjucksOptions } = this.options.view?.options ?? {}
    const loader = new nunjucks.FileSystemLoader(templateSearchPath(this.options.view?.templates ?? [], this.state.records), { noCache: nunjucksOptions.noCache ?? false })
    return new nunjucks.Environment(loader, nunjucksOptions)
  }

  #rebuild (records: PluginRecord[]): void {
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
    this.#processors = records.filter((record) => record.enabled).flatMap((record) => record.contributions.tcp)
  }

  /** Filters are not gated; the first definition of a name wins. */
  addFilters (): void {
    const defined = (this.env as unknown as { filters: Record<string, unknown> }).filters
    for (const record of this.state.records) {
      for (const [name, filter] of record.contributions.filter) {
        if (defined[name] !== undefined) {
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
      try {
        const { file, code } = entry.contribution
        if (file !== undefined) {
          // The contributing plugin's own file (by absolute path), even when another folder has the same name.
          const template = this.#cacheTemplates ? (entry.compiled ??= this.env.getTemplate(file)) : this.env.getTemplate(file)
          html += template.render(context)
        } else {
          entry.compiled ??= new nunjucks.Template(code as string, this.env, `${entry.record.name}:tep:${slot}`, true)
          html += entry.compiled.render(context)
        }
      } catch (error) {
        this.state.log.error({ err: error, plugin: entry.record.name, slot }, 'fastify-pluginkit: tep contribution of plugin %s to slot %s failed', entry.record.name, slot)
      }
    }
    return html
  }

  emitAssets (plugin: string, file: string, { raw = false }: { raw?: boolean } = {}): string {
    if (!this.state.byName.has(plugin)) throw kitError('PLUGINKIT_ERR_NOT_FOUND', `plugin "${plugin}"`, 'emit_assets', 'is not loaded')
    const url = `${this.options.staticUrlPath}/${plugin}/${file.replace(/^\/+/, '')}`
    if (raw) return url
    if (file.endsWith('.css')) return `<link rel="stylesheet" href="${escapeAttribute(url)}">`
    if (file.endsWith('.js')) return `<script src="${escapeAttribute(url)}"></script>`
    return url
  }

  emitConfig (key: string): unknown {
    return this.options.config[key]
  }

  /** The enabled plugins' context processors for one request, later plugins winning. */
  contextFor (request: FastifyRequest): Record<string, unknown> {
    const context: Record<string, unknown> = {}
    for (const [key, value] of this.#processors) context[key] = typeof value === 'function' ? (value as (request: FastifyRequest) => unknown)(request) : value
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
