import type { FastifyBaseLogger } from 'fastify'
import { kitError, describe, type PluginKitError } from './errors.js'
import { toInfo, type PluginRecord } from './record.js'
import type { PluginFailure, PluginInfo, PluginState, StateDetail, StateStore, ToggleOptions } from './types.js'

/** Rebuilds one consumer's table (hooks, error handlers, slots, static roots) from the plugins in load order. */
export type TableBuilder = (records: readonly PluginRecord[]) => void

/**
 * The run-time state of the kit: plugins in load order, their states, enable/disable with
 * dependency checks and persistence. It knows no consumer: each one (hooks, error handlers,
 * views, static files) keeps its own table and rebuilds it in `watch` when states change.
 */
export class KitState {
  readonly records: PluginRecord[] = []
  readonly byName = new Map<string, PluginRecord>()
  readonly failures: PluginFailure[] = []
  readonly #builders: TableBuilder[] = []
  #queue: Promise<unknown> = Promise.resolve()

  constructor (readonly store: StateStore, readonly log: FastifyBaseLogger) {}

  add (record: PluginRecord): void {
    this.records.push(record)
    this.byName.set(record.name, record)
  }

  /** Builds a consumer's table now, and again on every change. */
  watch (build: TableBuilder): void {
    this.#builders.push(build)
    build(this.records)
  }

  /** Plugins were added, dropped, enabled or disabled: every consumer rebuilds. */
  changed (): void {
    for (const build of this.#builders) build(this.records)
  }

  get (name: string): PluginRecord {
    const record = this.byName.get(name)
    if (record === undefined) throw kitError('PLUGINKIT_ERR_NOT_FOUND', { plugin: name }, undefined, 'is not loaded')
    return record
  }

  info (name: string): PluginInfo {
    return toInfo(this.get(name))
  }

  /** Plugins that `record` needs (transitively), dependencies first. */
  #requirements (record: PluginRecord, seen = new Set<PluginRecord>()): PluginRecord[] {
    for (const name of Object.keys(record.manifest.dependencies)) {
      const dependency = this.byName.get(name)
      if (dependency !== undefined && !seen.has(dependency)) {
        seen.add(dependency)
        this.#requirements(dependency, seen)
      }
    }
    return this.records.filter((candidate) => seen.has(candidate))
  }

  /** Plugins that need `record` (transitively), in load order. */
  #dependents (record: PluginRecord): PluginRecord[] {
    const found = new Set<string>([record.name])
    for (const candidate of this.records) {
      if (Object.keys(candidate.manifest.dependencies).some((name) => found.has(name))) found.add(candidate.name)
    }
    found.delete(record.name)
    return this.records.filter((candidate) => found.has(candidate.name))
  }

  /** Enable or disable; persists every change through the store before it takes effect. */
  setState (name: string, state: PluginState, options: ToggleOptions = {}, reason?: string): Promise<PluginInfo> {
    const run = this.#queue.then(() => this.#setState(name, state, options, reason))
    this.#queue = run.catch(() => {})
    return run
  }

  async #setState (name: string, state: PluginState, { cascade = false }: ToggleOptions, reason: string | undefined): Promise<PluginInfo> {
    const record = this.get(name)
    const enabling = state === 'enabled'
    const blockers = enabling
      ? this.#requirements(record).filter((dependency) => !dependency.enabled)
      : this.#dependents(record).filter((dependent) => dependent.enabled)
    if (blockers.length > 0 && !cascade) {
      const names = blockers.map((blocker) => `"${blocker.name}"`).join(', ')
      throw kitError('PLUGINKIT_ERR_DEPENDENCY', { plugin: name }, 'dependencies', enabling
        ? `cannot be enabled while its dependencies ${names} are disabled; pass { cascade: true } to enable them too`
        : `cannot be disabled while ${names} depend on it and are enabled; pass { cascade: true } to disable them too`)
    }
    // Dependencies are enabled before their dependents; dependents are disabled first.
    const changes = enabling ? [...blockers, record] : [record, ...blockers].reverse()
    const toSave = changes.filter((change) => change.enabled !== enabling || change === record)
    const quarantined = reason === undefined ? undefined : { reason, at: new Date().toISOString() }
    const saved: PluginRecord[] = []
    try {
      for (const change of toSave) {
        // The quarantine record is saved with the state, so the reason survives a restart.
        if (change === record && quarantined !== undefined) await this.store.save(change.name, state, { quarantined })
        else await this.store.save(change.name, state)
        saved.push(change)
      }
    } catch (error) {
      await this.#rollback(saved)
      // Not "nothing was changed": a store may not know whether a write it sent was applied
      // (its message says so). This instance has not changed; the store's reports decide.
      throw kitError('PLUGINKIT_ERR_STATE_STORE', { plugin: name }, 'state',
        `not changed on this instance, the state store failed: ${describe(error)}`, error)
    }
    for (const change of changes) {
      change.enabled = enabling
      change.quarantined = undefined
      change.recentErrors = []
    }
    if (quarantined !== undefined) record.quarantined = quarantined
    this.changed()
    const names = changes.map((change) => change.name)
    this.log.info({ plugins: names, state }, 'fastify-pluginkit: %s %s', names.join(', '), state)
    return toInfo(record)
  }

  async #rollback (saved: PluginRecord[]): Promise<void> {
    for (const record of saved.reverse()) {
      try {
        // With its quarantine record, which a save without one would clear.
        const detail = record.quarantined === undefined ? undefined : { quarantined: record.quarantined }
        await this.store.save(record.name, record.enabled ? 'enabled' : 'disabled', detail)
      } catch (error) {
        this.log.error({ err: error, plugin: record.name }, 'fastify-pluginkit: could not roll back the saved state of %s', record.name)
      }
    }
  }

  /** A change made by another app instance sharing the store. */
  applyRemote (name: string, state: PluginState, detail?: StateDetail): void {
    const record = this.byName.get(name)
    const enabled = state === 'enabled'
    if (record === undefined) return
    // A store that keeps quarantine records reports them with every state: none means none.
    if (!enabled && (detail?.quarantined !== undefined || this.store.loadDetails !== undefined)) {
      record.quarantined = detail?.quarantined === undefined ? undefined : { ...detail.quarantined }
    }
    if (record.enabled === enabled) return
    record.enabled = enabled
    if (enabled) record.quarantined = undefined
    this.changed()
    this.log.info({ plugin: name, state }, 'fastify-pluginkit: %s %s by another instance', name, state)
  }

  /**
   * Drops a plugin that failed after it was registered (for good: its gated routes stay
   * off), and every plugin that depends on it.
   */
  drop (record: PluginRecord, error: PluginKitError, strict: boolean): void {
    if (!this.byName.has(record.name)) return
    this.fail({
      plugin: record.name,
      dir: record.dir,
      source: record.source,
      ...(record.packageName === undefined ? {} : { packageName: record.packageName }),
      error
    }, strict)
    record.enabled = false
    this.records.splice(this.records.indexOf(record), 1)
    this.byName.delete(record.name)
    for (const dependent of [...this.records]) {
      if (Object.hasOwn(dependent.manifest.dependencies, record.name)) {
        const detail = `requires plugin "${record.name}", which failed to load`
        const dependencyFailed = kitError('PLUGINKIT_ERR_DEPENDENCY', { plugin: dependent.name }, `dependencies.${record.name}`, detail)
        this.drop(dependent, dependencyFailed, strict)
      }
    }
  }

  fail (failure: PluginFailure, strict: boolean): void {
    if (strict) throw failure.error
    this.log.error({ err: failure.error, plugin: failure.plugin },
      'fastify-pluginkit: skipped %s: %s', failure.plugin, failure.error.message)
    this.failures.push(failure)
  }
}
