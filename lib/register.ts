import type { FastifyInstance } from 'fastify'
import { isPluginKitError, kitError, wrapError, type ErrorSubject } from './errors.js'
import type { Candidate } from './discovery.js'
import { withTimeout } from './loader.js'
import { checkConfig, type CheckedManifest } from './manifest.js'
import { own } from './objects.js'
import { normalizeContributions } from './points/index.js'
import type { PluginRecord } from './record.js'
import { newStats } from './stats.js'
import type { PluginKit, PluginServices, StateDetail, StateMap } from './types.js'

/** A plugin whose manifest passed its checks, in load order. */
export interface Loaded {
  candidate: Candidate
  manifest: CheckedManifest
  /** Milliseconds spent importing; register time is added later. */
  importMs: number
  name: string
  version: string
  dependencies: Record<string, string>
}

/** What the store held at boot: states, and the quarantine records of quarantined plugins. */
export interface SavedState {
  states: StateMap
  details: Record<string, StateDetail>
}

export interface RegisterInput {
  app: FastifyInstance
  pluginConfig: Record<string, unknown>
  /** The API handed to one plugin's `register`. */
  kitFor: (name: string) => PluginKit
  /** `ctx.services` of one plugin: the services of its dependencies. */
  servicesFor: (name: string, dependencies: Record<string, string>) => Readonly<PluginServices>
  loadTimeout: number
  saved: SavedState
}

function typeOf (value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
}

/** Calls `register` with its config, within what is left of loadTimeout; its result must be an object. */
async function callRegister (
  { manifest, candidate, importMs }: Loaded, { app, pluginConfig, kitFor, servicesFor, loadTimeout }: RegisterInput
) {
  const subject: ErrorSubject = { plugin: manifest.name }
  const config = checkConfig(manifest, own(pluginConfig, manifest.name))
  const context = {
    name: manifest.name,
    config,
    kit: kitFor(manifest.name),
    log: app.log.child({ plugin: manifest.name }),
    dir: candidate.dir,
    services: servicesFor(manifest.name, manifest.dependencies)
  }
  const late = () => kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', subject, 'register',
    `import + register did not finish within loadTimeout (${loadTimeout} ms)`)
  let points: unknown
  try {
    points = await withTimeout(Promise.resolve().then(() => manifest.register(context)), Math.max(1, loadTimeout - importMs), late)
  } catch (error) {
    // Reading a service it may not read (ctx.services) is that error itself: it names this plugin, the service and its provider.
    if (isPluginKitError(error, 'PLUGINKIT_ERR_SERVICE') && error.plugin === manifest.name) throw error
    throw wrapError(error, 'PLUGINKIT_ERR_REGISTER', subject, 'register', 'threw: ', ['PLUGINKIT_ERR_PLUGIN_IMPORT'])
  }
  if (points === null || typeof points !== 'object' || Array.isArray(points)) {
    throw kitError('PLUGINKIT_ERR_REGISTER', subject, 'register',
      `must return an object of extension points (may be empty), got ${typeOf(points)}`)
  }
  return points as Record<string, unknown>
}

/** Registers one plugin: its config, its `register` call, its extension points, its record. */
export async function registerPlugin (item: Loaded, input: RegisterInput): Promise<{ record: PluginRecord, raw: Record<string, unknown> }> {
  const { manifest, candidate } = item
  const started = performance.now()
  const raw = await callRegister(item, input)
  const contributions = normalizeContributions(raw, { plugin: manifest.name, dir: candidate.dir })
  const enabled = (own(input.saved.states, manifest.name) ?? manifest.initialState) === 'enabled'
  const quarantined = enabled ? undefined : own(input.saved.details, manifest.name)?.quarantined
  const record: PluginRecord = {
    manifest,
    name: manifest.name,
    source: candidate.source,
    packageName: candidate.packageName,
    integrity: candidate.integrity,
    dir: candidate.dir,
    extensionPoints: Object.keys(raw).filter((key) => raw[key] !== undefined),
    loadTimeMs: item.importMs + performance.now() - started,
    contributions,
    enabled,
    quarantined: quarantined === undefined ? undefined : { ...quarantined },
    stats: newStats(),
    recentErrors: []
  }
  return { record, raw }
}
