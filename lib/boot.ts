import { basename } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { kitError, wrapError, type PluginKitError } from './errors.js'
import { discover, type Candidate } from './discovery.js'
import { importManifests } from './loader.js'
import { checkManifest, unknownConfigWarnings } from './manifest.js'
import { own } from './objects.js'
import { orderByDependencies } from './order.js'
import { normalizeContributions, referenceError } from './points/index.js'
import { applyP3 } from './points/p3.js'
import { registerPlugin, type Loaded, type RegisterInput, type SavedState } from './register.js'
import type { ServiceRegistry } from './services.js'
import type { KitState } from './state.js'
import type { ResolvedOptions } from './options.js'
import type { PluginFailure, PluginKit } from './types.js'

export type { SavedState }

export interface BootInput {
  app: FastifyInstance
  options: ResolvedOptions
  state: KitState
  /** The API handed to one plugin's `register`. */
  kitFor: (name: string) => PluginKit
  /** Who provides which service: each plugin's are recorded as soon as it registered. */
  services: ServiceRegistry
  kitVersion: string
  loadTimeout: number
  saved: SavedState
  /** Installed packages (SPEC 11), already checked against their recorded digests. */
  installed: Candidate[]
}

interface Imported {
  candidate: Candidate
  raw?: unknown
  error?: PluginKitError
  importMs: number
}

/** A failure with what is known of the plugin: its source and package, and its folder once resolved. */
function failureOf (candidate: Candidate, plugin: string, error: PluginKitError): PluginFailure {
  const resolved = candidate.entry !== undefined || candidate.source === 'local'
  return {
    plugin,
    ...(resolved ? { dir: candidate.dir } : {}),
    source: candidate.source,
    ...(candidate.packageName === undefined ? {} : { packageName: candidate.packageName }),
    error
  }
}

/** Import: every candidate's module, kept in discovery order so errors are deterministic. */
async function importAll (candidates: Candidate[], loadTimeout: number): Promise<Imported[]> {
  const outcomes = await importManifests(candidates, loadTimeout)
  return outcomes.map((outcome, index) => ({ candidate: candidates[index] as Candidate, ...outcome }))
}

/** Check: each manifest (TypeBox, semver ranges), and that no two plugins share a name. */
function checkAll (imported: Imported[], { app, state, options, kitVersion }: BootInput): Loaded[] {
  const loaded: Loaded[] = []
  const firstDir = new Map<string, string>()
  for (const { candidate, raw, error, importMs } of imported) {
    const fail = (plugin: string, failure: PluginKitError) => state.fail(failureOf(candidate, plugin, failure), options.strict)
    if (error !== undefined) {
      fail(candidate.packageName ?? basename(candidate.dir), error)
      continue
    }
    let manifest
    try {
      manifest = checkManifest(raw, candidate.subject, { kit: kitVersion, fastify: app.version })
    } catch (failure) {
      // A getter or Proxy in the manifest may throw anything.
      fail(candidate.packageName ?? basename(candidate.dir),
        wrapError(failure, 'PLUGINKIT_ERR_PLUGIN_METADATA', candidate.subject, 'manifest', 'cannot be read: ', 'any'))
      continue
    }
    const other = firstDir.get(manifest.name)
    if (other !== undefined) {
      const detail = `is used by both ${other} and ${candidate.dir}`
      fail(manifest.name, kitError('PLUGINKIT_ERR_DUPLICATE_PLUGIN', { plugin: manifest.name }, 'name', detail))
      continue
    }
    firstDir.set(manifest.name, candidate.dir)
    loaded.push({ candidate, manifest, importMs, name: manifest.name, version: manifest.version, dependencies: manifest.dependencies })
  }
  return loaded
}

/** Register: each plugin in load order; one whose dependency failed fails too. Returns what each `register` returned. */
async function registerAll (
  ordered: Loaded[], failed: Set<string>, { app, state, options, kitFor, services, loadTimeout, saved }: BootInput
) {
  const servicesFor = services.forPlugin.bind(services)
  const input: RegisterInput = { app, pluginConfig: options.pluginConfig, kitFor, servicesFor, loadTimeout, saved }
  const raws = new Map<string, Record<string, unknown>>()
  for (const item of ordered) {
    const broken = Object.keys(item.dependencies).find((name) => failed.has(name))
    try {
      if (broken !== undefined) {
        const detail = `requires plugin "${broken}", which failed to load`
        throw kitError('PLUGINKIT_ERR_DEPENDENCY', { plugin: item.name }, `dependencies.${broken}`, detail)
      }
      const { record, raw } = await registerPlugin(item, input)
      // Before its dependents register: they read its services in theirs.
      services.add(record)
      state.add(record)
      raws.set(item.name, raw)
    } catch (error) {
      failed.add(item.name)
      state.fail(failureOf(item.candidate, item.name, error as PluginKitError), options.strict)
    }
  }
  return raws
}

/** References: `bep.parent` and `vep.blueprint` name loaded plugins with blueprints. */
function checkReferences (state: KitState, strict: boolean): void {
  for (const record of [...state.records]) {
    const error = referenceError(record.name, record.contributions, (name) => state.byName.get(name)?.contributions.bep[0])
    if (error !== undefined) state.drop(record, error, strict)
  }
}

/** discover → import → check → order → register each → p3 → check references: fills `state.records` in load order. */
export async function bootPlugins (input: BootInput): Promise<void> {
  const { app, options, state } = input
  const candidates = await discover({ ...options, installed: input.installed })
  const loaded = checkAll(await importAll(candidates, input.loadTimeout), input)
  const { ordered, failed } = orderByDependencies(loaded)
  // A plugin the owner switched off whose dependency is gone (uninstalled with cascade) is listed, not fatal:
  // nothing it served is lost; it stays in `failures` until the dependency is back.
  for (const { plugin, error } of failed) {
    const switchedOff = own(input.saved.states, plugin.name) === 'disabled' && error.code === 'PLUGINKIT_ERR_DEPENDENCY'
    state.fail(failureOf(plugin.candidate, plugin.name, error), options.strict && !switchedOff)
  }
  const raws = await registerAll(ordered, new Set(failed.map(({ plugin }) => plugin.name)), input)
  applyP3(state, raws, normalizeContributions, (target, contributions) => { state.get(target).contributions = contributions },
    (source, error) => state.drop(state.get(source), error, options.strict))
  checkReferences(state, options.strict)
  // Config for a plugin that does not exist would be ignored without a word: a typo, most likely.
  const names = [...state.records.map((record) => record.name), ...state.failures.map((failure) => failure.plugin)]
  for (const warning of unknownConfigWarnings(options.pluginConfig, names)) app.log.warn(warning)
}
