import semver from 'semver'
import { Type, type Static, type TSchema } from 'typebox'
import { NAME_PATTERN } from './constants.js'
import { cloneData } from './objects.js'
import { kitError, describe, type ErrorSubject } from './errors.js'
import { MetadataSchema } from './metadata.js'
import type { PluginContext, PluginMetadata, PluginState } from './types.js'
import { checker, closest, configValidator, type ConfigValidator } from './validation.js'

// The regular expression semver.org gives for a strict version (no "v", no "=", build metadata allowed).
const SEMVER_PATTERN = '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)' +
  '(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?' +
  '(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$'

const Name = Type.String({ pattern: NAME_PATTERN, description: 'a name matching /^[A-Za-z0-9][A-Za-z0-9_-]*$/' })
const Range = Type.String({ minLength: 1, description: 'a semver range' })

const METADATA_KEYS = Object.keys(MetadataSchema.properties) as Array<keyof PluginMetadata>

/** The metadata fields `source` has, and nothing else. */
export function metadataOf (source: PluginMetadata): PluginMetadata {
  const metadata: PluginMetadata = {}
  for (const key of METADATA_KEYS) if (source[key] !== undefined) metadata[key] = source[key]
  return metadata
}

export const ManifestSchema = Type.Object({
  name: Name,
  version: Type.String({ pattern: SEMVER_PATTERN, description: 'a strict semver version such as 1.2.3 or 1.0.0-beta+build.1' }),
  author: Type.String({ minLength: 1, description: 'a non-empty string' }),
  ...MetadataSchema.properties,
  state: Type.Optional(Type.Union([Type.Literal('enabled'), Type.Literal('disabled')], { description: '"enabled" or "disabled"' })),
  appVersion: Type.Optional(Range),
  fastify: Type.Optional(Range),
  dependencies: Type.Optional(Type.Union([Type.Array(Name), Type.Record(Type.String(), Range)],
    { description: 'an array of plugin names or an object mapping plugin names to semver ranges' })),
  configSchema: Type.Optional(Type.Object({}, { description: 'a JSON Schema object (TypeBox or plain)' })),
  health: Type.Optional(Type.Function([], Type.Unknown(), { description: 'a function (ctx) => health result' })),
  register: Type.Function([], Type.Unknown(), { description: 'a function (ctx) => extension points' })
})

const manifestChecker = checker(ManifestSchema)

/** A manifest that passed validation, with dependencies normalised to name -> range. */
export interface CheckedManifest extends PluginMetadata {
  name: string
  version: string
  author: string
  initialState: PluginState
  dependencies: Record<string, string>
  configSchema?: TSchema
  /** `configSchema`, compiled once. */
  configValidator?: ConfigValidator
  register (ctx: PluginContext): unknown
  /** SPEC 13: called with the context `register` got (see {@link registerContextOf}). */
  health?: (ctx: PluginContext) => unknown
}

// The context each checked manifest's `register` was called with, for its `health(ctx)`.
const registerContexts = new WeakMap<CheckedManifest, PluginContext>()

/** The context `manifest.register` was called with; undefined before it was called. */
export function registerContextOf (manifest: CheckedManifest): PluginContext | undefined {
  return registerContexts.get(manifest)
}

export interface Versions {
  kit: string
  fastify: string
}

/** The plugin by name when the name is usable, else by its folder or package. */
function subjectOf (manifest: unknown, fallback: ErrorSubject): ErrorSubject {
  const name = (manifest as { name?: unknown } | null)?.name
  return typeof name === 'string' && new RegExp(NAME_PATTERN).test(name) ? { plugin: name } : fallback
}

function checkRange (
  subject: ErrorSubject, field: 'appVersion' | 'fastify', range: string | undefined, actual: string, what: string
): void {
  if (range === undefined) return
  if (semver.validRange(range) === null) {
    throw kitError('PLUGINKIT_ERR_PLUGIN_VERSION', subject, field, `"${range}" is not a valid semver range`)
  }
  if (!semver.satisfies(actual, range, { includePrerelease: true })) {
    throw kitError('PLUGINKIT_ERR_PLUGIN_VERSION', subject, field, `requires ${what} ${range}, but it is ${actual}`)
  }
}

/** Validates a manifest (TypeBox + semver); throws PLUGINKIT_ERR_PLUGIN_METADATA / _VERSION. */
export function checkManifest (raw: unknown, fallback: ErrorSubject, versions: Versions): CheckedManifest {
  const subject = subjectOf(raw, fallback)
  if (raw === null || typeof raw !== 'object') {
    throw kitError('PLUGINKIT_ERR_PLUGIN_METADATA', subject, undefined, 'the module exports no manifest object')
  }
  const problem = manifestChecker.problem(raw)
  if (problem !== undefined) {
    const field = problem.path === '' ? 'manifest' : problem.path
    // A missing field is a metadata problem; a version that is present but not semver is a version problem.
    const code = field === 'version' && problem.message !== 'is required' ? 'PLUGINKIT_ERR_PLUGIN_VERSION' : 'PLUGINKIT_ERR_PLUGIN_METADATA'
    throw kitError(code, subject, field, problem.message)
  }
  // What the schema just checked (register is a function; dependencies names or ranges).
  const manifest = raw as Static<typeof ManifestSchema> & {
    register: (ctx: PluginContext) => unknown, health?: (ctx: PluginContext) => unknown, configSchema?: TSchema
  }
  checkRange(subject, 'appVersion', manifest.appVersion, versions.kit, 'fastify-pluginkit')
  checkRange(subject, 'fastify', manifest.fastify, versions.fastify, 'Fastify')

  const dependencies: Record<string, string> = Array.isArray(manifest.dependencies)
    ? Object.fromEntries(manifest.dependencies.map((name) => [name, '*']))
    : { ...manifest.dependencies }
  for (const [name, range] of Object.entries(dependencies)) {
    if (semver.validRange(range) === null) {
      throw kitError('PLUGINKIT_ERR_PLUGIN_METADATA', subject, `dependencies.${name}`, `"${range}" is not a valid semver range`)
    }
  }
  let validator: ConfigValidator | undefined
  if (manifest.configSchema !== undefined) {
    try {
      validator = configValidator(manifest.configSchema)
    } catch (error) {
      throw kitError('PLUGINKIT_ERR_PLUGIN_METADATA', subject, 'configSchema', `cannot be compiled: ${describe(error)}`, error)
    }
  }
  const register = manifest.register
  const checked: CheckedManifest = {
    name: manifest.name,
    version: manifest.version,
    author: manifest.author,
    ...metadataOf(manifest),
    initialState: manifest.state ?? 'enabled',
    dependencies,
    ...(manifest.configSchema === undefined ? {} : { configSchema: manifest.configSchema, configValidator: validator }),
    ...(manifest.health === undefined ? {} : { health: manifest.health }),
    // Called as before (same `this`, argument and result); the context is kept for health(ctx).
    register (ctx) {
      registerContexts.set(checked, ctx)
      return register.call(this, ctx)
    }
  }
  return checked
}

/**
 * `pluginConfig[name]` validated against `configSchema`, defaults applied (the caller's
 * object is not changed); PLUGINKIT_ERR_PLUGIN_CONFIG names every failing path.
 */
export function checkConfig (manifest: CheckedManifest, input: unknown): Record<string, unknown> {
  const config = input === undefined ? {} : cloneData(input)
  if (manifest.configSchema === undefined) return config as Record<string, unknown>
  const problems = (manifest.configValidator ?? configValidator(manifest.configSchema)).check(config)
  if (problems.length > 0) {
    const prefix = `pluginConfig.${manifest.name}`
    const detail = problems.map((problem) => `${problem.path === '' ? prefix : `${prefix}.${problem.path}`}: ${problem.message}`).join('; ')
    throw kitError('PLUGINKIT_ERR_PLUGIN_CONFIG', { plugin: manifest.name }, undefined, detail)
  }
  return config as Record<string, unknown>
}

/**
 * A warning for each `pluginConfig` key that names no plugin (`names`: the loaded and the
 * failed ones): its config is never used, so it is most likely a misspelt plugin name.
 */
export function unknownConfigWarnings (pluginConfig: Record<string, unknown>, names: string[]): string[] {
  const known = new Set(names)
  return Object.keys(pluginConfig).filter((key) => !known.has(key)).map((key) => {
    const guess = closest(key, known)
    const hint = guess === undefined ? '' : ` (did you mean "${guess}"?)`
    return `pluginConfig.${key}: there is no plugin named "${key}"${hint}; this config is not used`
  })
}
