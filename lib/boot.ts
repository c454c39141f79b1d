import { basename } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { kitError, describe, isPluginKitError, type PluginKitError } from './errors.js'
import { discover, type Candidate } from './discovery.js'
import { importManifest, mapLimit, withTimeout } from './loader.js'
import { checkConfig, checkManifest, unknownConfigWarnings, type CheckedManifest } from './manifest.js'
import { orderByDependencies } from './order.js'
import { checkKeys, ExtensionPointError, normalizeContributions, referenceError } from './points/index.js'
import { newStats, type PluginRecord } from './record.js'
import type { KitState } from './state.js'
import type { ResolvedOptions } from './options.js'
import type { PluginKit, StateDetail, StateMap } from './types.js'

interface Loaded {
  candidate: Candidate
  manifest: CheckedManifest
  /** Milliseconds spent importing; register time is added later. */
  importMs: number
  name: string
  version: string
  dependencies: Record<string, string>
}

export interface BootInput {
  app: FastifyInstance
  options: ResolvedOptions
  state: KitState
  /** The API handed to one plugin's `register`. */
  kitFor: (name: string) => PluginKit
  kitVersion: string
  loadTimeout: number
  saved: SavedState
}

/** What the store held at boot: states, and the quarantine records of quarantined plugins. */
export interface SavedState {
  states: StateMap
  details: Record<string, StateDetail>
}

/** Own properties only: a plugin named `constructor` must not read Object.prototype. */
function own<T> (map: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined
}

const IMPORT_CONCURRENCY = 16

function failureName (candidate: Candidate): string {
  return candidate.packageName ?? basename(candidate.dir)
}

function contributionError (name: string, error: unknown): PluginKitError {
  if (error instanceof ExtensionPointError) return kitError(error.code, `plugin "${name}"`, error.field, error.message, error.reason)
  return kitError('PLUGINKIT_ERR_EXTENSION_POINT', `plugin "${name}"`, undefined, describe(error), error)
}

/** Discovery → import → manifest → order → register → p3: fills `state.records` in load order. */
export async function bootPlugins ({ app, options, state, kitFor, kitVersion, loadTimeout, saved }: BootInput): Promise<void> {
  const { strict } = options
  const candidates = await discover(options)

  // Import in parallel, then judge in discovery order so errors are deterministic.
  const imported = await mapLimit(candidates, IMPORT_CONCURRENCY, async (candidate) => {
    const started = performance.now()
    try {
      return { candidate, raw: await importManifest(candidate, loadTimeout), importMs: performance.now() - started }
    } catch (error) {
      return { candidate, error: error as PluginKitError, importMs: 0 }
    }
  })

  const loaded: Loaded[] = []
  const firstDir = new Map<string, string>()
  for (const { candidate, raw, error, importMs } of imported) {
    const failWith = (failure: PluginKitError) => state.fail({ plugin: failureName(candidate), dir: candidate.dir, error: failure }, strict)
    if (error !== undefined) {
      failWith(error)
      continue
    }
    let manifest: CheckedManifest
    try {
      manifest = checkManifest(raw, candidate.label, { kit: kitVersion, fastify: app.version })
    } catch (failure) {
      // A getter or Proxy in the manifest may throw anything.
      failWith(isPluginKitError(failure) ? failure : kitError('PLUGINKIT_ERR_PLUGIN_METADATA', candidate.label, 'manifest', `cannot be read: ${describe(failure)}`, failure))
      continue
    }
    const other = firstDir.get(manifest.name)
    if (other !== undefined) {
      state.fail({
        plugin: manifest.name,
        dir: candidate.dir,
        error: kitError('PLUGINKIT_ERR_DUPLICATE_PLUGIN', `plugin "${manifest.name}"`, 'name', `is used by both ${other} and ${candidate.dir}`)
      }, strict)
      continue
    }
    firstDir.set(manifest.name, candidate.dir)
    loaded.push({ candidate, manifest, importMs, name: manifest.name, version: manifest.version, dependencies: manifest.dependencies })
  }

  const { ordered, failed } = orderByDependencies(loaded)
  for (const { plugin, error } of failed) state.fail({ plugin: plugin.name, dir: plugin.candidate.dir, error }, strict)

  const raws = new Map<string, Record<string, unknown>>()
  const dropped = new Set(failed.map(({ plugin }) => plugin.name))
  for (const item of ordered) {
    const { manifest, candidate } = item
    const subject = `plugin "${manifest.name}"`
    const broken = Object.keys(manifest.dependencies).find((name) => dropped.has(name))
    try {
      if (broken !== undefined) throw kitError('PLUGINKIT_ERR_DEPENDENCY', subject, `dependencies.${broken}`, `requires plugin "${broken}", which failed to load`)
      const config = checkConfig(manifest, own(options.pluginConfig, manifest.name))
      const started = performance.now()
      const remaining = Math.max(1, loadTimeout - item.importMs)
      let points: unknown
      try {
        points = await withTimeout(Promise.resolve().then(() => manifest.register({ name: manifest.name, config, kit: kitFor(manifest.name), log: app.log.child({ plugin: manifest.name }), dir: candidate.dir })),
          remaining, () => kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', subject, 'register', `import + register did not finish within loadTimeout (${loadTimeout} ms)`))
      } catch (error) {
        if (isPluginKitError(error) && error.code === 'PLUGINKIT_ERR_PLUGIN_IMPORT') throw error
        throw kitError('PLUGINKIT_ERR_REGISTER', subject, 'register', `threw: ${describe(error)}`, error)
      }
      if (points === null || typeof points !== 'object' || Array.isArray(points)) {
        throw kitError('PLUGINKIT_ERR_REGISTER', subject, 'register', `must return an object of extension points (may be empty), got ${points === null ? 'null' : Array.isArray(points) ? 'an array' : typeof points}`)
      }
      const raw = points as Record<string, unknown>
      let contributions
      try {
        checkKeys(raw)
        contributions = normalizeContributions(raw, { dir: candidate.dir })
      } catch (error) {
        throw contributionError(manifest.name, error)
      }
      raws.set(manifest.name, raw)
      const record: PluginRecord = {
        manifest,
        name: manifest.name,
        source: candidate.source,
        packageName: candidate.packageName,
        dir: candidate.dir,
        extensionPoints: Object.keys(raw).filter((key) => raw[key] !== undefined),
        loadTimeMs: item.importMs + performance.now() - started,
        contributions,
        enabled: (own(saved.states, manifest.name) ?? manifest.initialState) === 'enabled',
        quarantined: undefined,
        stats: newStats(),
        recentErrors: []
      }
      const quarantined = own(saved.details, manifest.name)?.quarantined
      if (!record.enabled && quarantined !== undefined) record.quarantined = { ...quarantined }
      state.add(record)
    } catch (error) {
      dropped.add(manifest.name)
      state.fail({ plugin: manifest.name, dir: candidate.dir, error: error as PluginKitError }, strict)
    }
  }

  applyP3(state, raws, strict)
  for (const record of [...state.records]) {
    const error = referenceError(record.name, record.contributions, (name) => state.byName.get(name)?.contributions.bep[0])
    if (error !== undefined) state.drop(record, contributionError(record.name, error), strict)
  }
  // Config for a plugin that does not exist would be ignored without a word: a typo, most likely.
  const names = [...state.records.map((record) => record.name), ...state.failures.map((failure) => failure.plugin)]
  for (const warning of unknownConfigWarnings(options.pluginConfig, names)) app.log.warn(warning)
}

/** p3: after every plugin registered, a plugin transforms another's extension point values. */
function applyP3 (state: KitState, raws: Map<string, Record<string, unknown>>, strict: boolean): void {
  for (const source of [...state.records]) {
    for (const [target, transforms] of Object.entries(source.contributions.p3)) {
      const record = state.byName.get(target)
      const raw = raws.get(target)
      if (record === undefined || raw === undefined || !source.enabled || !record.enabled) continue
      const next = { ...raw }
      // A transform that throws or produces a malformed value is the source's fault; the target stays as it was.
      try {
        for (const [key, transform] of Object.entries(transforms)) next[key] = transform(next[key])
        record.contributions = normalizeContributions(next, { dir: record.dir })
      } catch (error) {
        const detail = error instanceof ExtensionPointError ? `made ${error.field} invalid: ${error.message}` : `threw: ${describe(error)}`
        state.drop(source, kitError('PLUGINKIT_ERR_EXTENSION_POINT', `plugin "${source.name}"`, `p3.${target}`, detail, error), strict)
        continue
      }
      record.extensionPoints = Object.keys(next).filter((key) => next[key] !== undefined)
      raws.set(target, next)
    }
  }
}
