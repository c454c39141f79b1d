import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { ConfigureOptions } from 'nunjucks'
import type { Static } from 'typebox'
import type { PluginKitError } from './errors.js'
import type { MetadataSchema } from './metadata.js'

export type PluginState = 'enabled' | 'disabled'
export type StateMap = Record<string, PluginState>

/** Why and when quarantine disabled a plugin. */
export interface QuarantineRecord {
  reason: string
  at: string
}

/** What a store keeps beside a plugin's state: the quarantine record of a plugin quarantine disabled. */
export interface StateDetail {
  quarantined?: QuarantineRecord
}

/** Where enabled/disabled states live; shared by every app instance that uses the same store. */
export interface StateStore {
  load (): Promise<StateMap>
  /**
   * `detail` is given when quarantine disables a plugin; a store that keeps it returns it from
   * `loadDetails` until the next save of that plugin (any save without detail clears it).
   */
  save (name: string, state: PluginState, detail?: StateDetail): Promise<void>
  /** The details saved with the current states; a store without it forgets quarantine reasons on restart. */
  loadDetails? (): Promise<Record<string, StateDetail>>
  /**
   * Changes made by other processes; returns an unsubscribe function. `current` returns the
   * states this instance runs with that differ from the plugins' defaults: a store that lost
   * its data (a Redis flushed or restarted without persistence) may write them back.
   */
  subscribe? (listener: (name: string, state: PluginState, detail?: StateDetail) => void, current?: () => StateMap): () => void
  /** Called once, when the app closes. */
  close? (): Promise<void>
  /**
   * Shares the install lockfile between instances that do not share `install.dir` (SPEC 11):
   * the lockfile text, and the uploaded tarballs it pins (by `<package>@<version>`).
   * Without it, instances share the lockfile by sharing `install.dir` on one disk.
   */
  loadLockfile? (): Promise<string | undefined>
  saveLockfile? (text: string, uploads: Record<string, Buffer>): Promise<void>
  loadUpload? (key: string): Promise<Buffer | undefined>
}

export interface AdminOptions {
  /** Default `/pluginkit`. */
  prefix?: string
  /** Called first by every admin route; a falsy result answers 401. */
  authorize: (request: FastifyRequest, reply: FastifyReply) => unknown
}

export interface ViewOptions {
  /** Host template folders, searched before every plugin's `templates/` (relative to `pluginsBase`). */
  templates?: string | string[]
  /** nunjucks Environment options, plus `onConfigure(env)` as @fastify/view accepts. */
  options?: ConfigureOptions & { onConfigure?: (env: import('nunjucks').Environment) => void }
}

export interface QuarantineOptions {
  maxErrors: number
  windowMs: number
  /**
   * Plugins whose failing `before_request` counts towards quarantine. Default none: a guard
   * that throws on a bad request fails closed (500) and must not be switchable off by clients.
   */
  countBeforeRequest?: string[]
}

/** Run-time installation of plugin packages (SPEC section 11). */
export interface InstallOptions {
  /** Package-name patterns that may be installed (`*` matches any characters), e.g. `['@acme/*']`. Required. */
  allow: string[]
  /** Where the lockfile and package folders live; default `.pluginkit`, relative to `pluginsBase`. */
  dir?: string
  /** Default: the host's npm configuration (.npmrc, npm_config_registry). */
  registry?: string
  /** Default 10 MiB. */
  maxTarballBytes?: number
}

/** An npm spec (`name`, `name@1.2.3`, `name@^1.2.0`, `name@tag`) or an `npm pack` tarball. */
export type InstallSpec = string | { tarball: Buffer }

/** The plugin an operation installed, upgraded or rolled back to. */
export interface InstalledPluginInfo {
  name: string
  version: string
  package: string
  integrity: string
}

export interface InstallResult {
  plugin: InstalledPluginInfo
  /** true: the new app serves it now (under @fastify/restartable); false: it waits for the next start (`pending`). */
  activated: boolean
}

export interface UninstallResult {
  activated: boolean
}

/** An operation recorded in the lockfile that this process does not serve yet. */
export interface PendingOperation {
  action: 'install' | 'upgrade' | 'uninstall'
  name: string
  package: string
  /** The version it will serve; absent for `uninstall`. */
  version?: string
  /** The version it serves now; absent for `install`. */
  from?: string
}

/** The operation running now, for progress displays. */
export interface RunningOperation {
  action: 'install' | 'upgrade' | 'rollback' | 'uninstall'
  /** The spec, the tarball's name, or the plugin's name. */
  target: string
  step: 'queued' | 'fetching' | 'installing dependencies' | 'validating' | 'activating' | 'cleaning up'
  startedAt: string
}

export interface PluginKitOptions {
  pluginsBase?: string
  /** Default `plugins`; `false`: no plugins folder, only `pluginPackages` and `pluginDirs`. */
  pluginsFolder?: string | false
  /**
   * Plugin folders given one by one (each is one plugin), relative to `pluginsBase` or
   * absolute; they load after `pluginPackages` and before the plugins folder's subfolders.
   */
  pluginDirs?: string[]
  pluginPackages?: string[]
  staticUrlPath?: string
  view?: ViewOptions
  config?: Record<string, unknown>
  pluginConfig?: Record<string, unknown>
  store?: 'memory' | { file: string } | StateStore
  strict?: boolean
  loadTimeout?: number
  quarantine?: QuarantineOptions
  admin?: AdminOptions
  /** Install, upgrade, roll back and remove plugin packages while the app runs (SPEC section 11). */
  install?: InstallOptions
  /**
   * Development: reload a local plugin after an edit, without restarting the process (SPEC 12).
   * Requires @fastify/restartable. `debounceMs` default 100.
   */
  watch?: boolean | { debounceMs?: number }
  /**
   * Per-plugin Prometheus metrics (SPEC section 13; needs the `prom-client` package): `true`
   * puts them in prom-client's global registry, `{ registry }` in that one.
   */
  metrics?: boolean | MetricsOptions
  /**
   * Per-plugin OpenTelemetry spans (SPEC section 13; needs `@opentelemetry/api`): one span per
   * hook and error handler call, a child of the request's span. Off: nothing is added.
   */
  trace?: boolean
}

/** The part of a prom-client `Registry` the kit uses; a prom-client Registry is one. */
export interface MetricsRegistry {
  registerMetric (metric: object): void
  getSingleMetric (name: string): unknown
  removeSingleMetric (name: string): void
  metrics (): Promise<string>
  readonly contentType: string
}

export interface MetricsOptions {
  /** A prom-client `Registry`. */
  registry: MetricsRegistry
}

/**
 * What a manifest's `health(ctx)` returns (or resolves to): `false` or `{ ok: false, detail }`
 * is unhealthy, as is a throw or taking longer than 2 s; anything else (`true`, nothing) healthy.
 */
export type HealthCheckResult = boolean | undefined | void | { ok: boolean, detail?: string }

/** One plugin's check in a health report. */
export interface PluginHealth {
  ok: boolean
  /** Why (the result's `detail`, the error's message, or the timeout). */
  detail?: string
  /** How long the check took, in milliseconds. */
  ms: number
}

/** `app.pluginKit.health()`: the checks of the enabled plugins that define `health`. */
export interface HealthReport {
  /** false if any check is unhealthy, threw or timed out. */
  ok: boolean
  plugins: Record<string, PluginHealth>
}

/** The optional descriptive fields of a manifest, shown as they are in `PluginInfo`. */
export type PluginMetadata = Static<typeof MetadataSchema>

/**
 * The services plugins provide (the `provide` extension point), by name. Empty here: a
 * provider declares its own, and every consumer and the host get them typed.
 *
 *     declare module 'fastify-pluginkit' {
 *       interface PluginServices { auth: { userFor (token: string): Promise<User | null> } }
 *     }
 */
export interface PluginServices {}

/** The context handed to a plugin's `register`. */
export interface PluginContext<Config = Record<string, unknown>> {
  name: string
  /** `pluginConfig[name]`, validated against `configSchema` with its defaults applied. */
  config: Config
  kit: PluginKit
  log: FastifyBaseLogger
  dir: string
  /**
   * The services of the plugins listed in `dependencies` (they register first); reading
   * any other service throws PLUGINKIT_ERR_SERVICE.
   */
  services: Readonly<PluginServices>
}

export type Awaitable<T> = T | Promise<T>

export interface PluginStats {
  requests: number
  hookCalls: number
  hookErrors: number
  meanHookMs: number
}

export interface PluginInfo extends PluginMetadata {
  name: string
  version: string
  author: string
  state: PluginState
  source: 'local' | 'package' | 'installed'
  packageName?: string
  /** For `source: 'installed'`: the SRI integrity of its tarball, as pinned in the lockfile. */
  integrity?: string
  dir: string
  dependencies: Record<string, string>
  extensionPoints: string[]
  loadTimeMs: number
  quarantined?: { reason: string, at: string }
  stats: PluginStats
}

export interface PluginFailure {
  /** Its manifest name, or its folder's or package's name when the manifest was not read. */
  plugin: string
  /** Its folder; absent for a package that could not be resolved. */
  dir?: string
  source: 'local' | 'package' | 'installed'
  packageName?: string
  error: PluginKitError
}

export interface ToggleOptions {
  /** Also disable the dependents (on disable) or enable the dependencies (on enable). */
  cascade?: boolean
}

export type DcpCallback = (...args: never[]) => unknown
export type DcpPosition = 'left' | 'right' | 'before' | 'after'

/** `app.pluginKit`. */
export interface PluginKit {
  /** Every plugin, in load order. */
  readonly plugins: PluginInfo[]
  readonly enabledPlugins: PluginInfo[]
  /** Plugins skipped under `strict: false`. */
  readonly failures: PluginFailure[]
  get (name: string): PluginInfo
  enable (name: string, options?: ToggleOptions): Promise<PluginInfo>
  disable (name: string, options?: ToggleOptions): Promise<PluginInfo>
  emitTep (slot: string, context?: Record<string, unknown>): string
  emit_tep (slot: string, context?: Record<string, unknown>): string
  emitAssets (plugin: string, file: string, options?: { raw?: boolean }): string
  emit_assets (plugin: string, file: string, options?: { raw?: boolean }): string
  emitConfig (key: string): unknown
  emit_config (key: string): unknown
  emitDcp (event: string, ...args: unknown[]): string
  emit_dcp (event: string, ...args: unknown[]): string
  pushDcp (event: string, callback: DcpCallback, position?: DcpPosition): void
  removeDcp (event: string, callback: DcpCallback): boolean
  /**
   * The enabled plugins' services (`provide`). Reading one whose provider is disabled or
   * absent throws PLUGINKIT_ERR_SERVICE.
   */
  readonly services: Readonly<PluginServices>
  /** One service, as `services[name]`. */
  service<K extends keyof PluginServices> (name: K): PluginServices[K]
  /**
   * Run-time installation (with the `install` option; otherwise each rejects with
   * PLUGINKIT_ERR_INSTALL). One operation at a time: later calls queue.
   */
  install (spec: InstallSpec): Promise<InstallResult>
  /** `spec` defaults to `<package>@latest`; an uploaded tarball must hold the same package. */
  upgrade (name: string, spec?: InstallSpec): Promise<InstallResult>
  rollback (name: string): Promise<InstallResult>
  uninstall (name: string, options?: ToggleOptions): Promise<UninstallResult>
  /** Operations recorded in the lockfile but not serving in this process yet. */
  readonly pending: PendingOperation[]
  /** The operation running now in this process, if any. */
  readonly operation: RunningOperation | undefined
  /** The last error of applying another instance's lockfile change, until one succeeds. */
  readonly syncError: PluginKitError | undefined
  /** With `watch`: how many times an edit reloaded the plugins into a new app in this process. */
  readonly reloads: number
  /** With `watch`: why the last reload failed (the previous app kept serving); cleared by the next good one. */
  readonly reloadError: PluginKitError | undefined
  /** Runs the enabled plugins' `health` checks (each within 2 s), all at once. */
  health (): Promise<HealthReport>
}
