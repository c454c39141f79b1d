import { mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { InstallApi } from '../api.js'
import { describe, isPluginKitError, kitError, withStatus, type PluginKitError } from '../errors.js'
import type { ResolvedInstallOptions } from '../options.js'
import { restartOf } from '../restartable.js'
import type { KitState } from '../state.js'
import { withLock } from '../stores/file-lock.js'
import type {
  InstallResult, InstallSpec, PluginFailure, PluginInfo, RunningOperation, StateMap, ToggleOptions, UninstallResult
} from '../types.js'
import { installError } from './install-errors.js'
import {
  lockfilePath, packageFolder, parseLockfile, readLockfileText, serializeLockfile, writeLockfileText,
  type LockEntry, type LockedPlugin, type Lockfile
} from './lockfile.js'
import { npmOptions } from './npm-config.js'
import { pendingOperations } from './pending.js'
import { stageFromRegistry, stagePinned, stageUpload, type StageInput, type Staged } from './stage.js'
import { OperationQueue, lastBooted } from './queue.js'
import { pullShared, pushShared, sharingStores, syncErrors } from './sync.js'

/**
 * Boots the kit in a throwaway Fastify instance with `lockfile`, as the host boots (its `strict`
 * included): what loaded and what failed; rejects with the boot error.
 */
export type Probe = (lockfile: Lockfile, states: StateMap) => Promise<{ plugins: PluginInfo[], failures: PluginFailure[] }>

export interface InstallerInput {
  app: FastifyInstance
  install: ResolvedInstallOptions
  pluginsBase: string
  state: KitState
  /** The lockfile this app booted with. */
  booted: Lockfile
  probe: Probe
}

type Action = RunningOperation['action']
/** Reports the step an operation is at (the admin's progress line). */
type Step = (step: RunningOperation['step']) => void

/** The install API of SPEC 11 for one app; operations of every app on the same `dir` share one queue. */
export function createInstaller (input: InstallerInput): InstallApi {
  const { install, state } = input
  const dir = install.dir
  const queue = OperationQueue.for(dir)
  const stageInput = (step: Step): StageInput => ({
    dir,
    allow: install.allow,
    npm: npmOptions(input.pluginsBase, install.registry),
    maxTarballBytes: install.maxTarballBytes,
    installingDependencies: () => step('installing dependencies')
  })
  const states = (): StateMap => Object.fromEntries(state.records.map((record) => [record.name, record.enabled ? 'enabled' : 'disabled']))

  /** Validates the new set, writes the lockfile, activates; on any failure puts everything back as it was. */
  async function commit (before: string | undefined, next: Lockfile, created: Staged | undefined,
    step: Step): Promise<boolean> {
    const text = serializeLockfile(next)
    await writeLockfileText(dir, text)
    step('activating')
    const restart = restartOf(input.app)
    let activated = false
    let shared = false
    // When the app closes for good meanwhile, the app swapped in is closed: share through its store first.
    const shareFirst = async () => {
      shared = true
      await share(text)
    }
    if (restart !== undefined) {
      try {
        activated = await restart(shareFirst)
        // A restart already under way (restartable merges concurrent calls) may have read the old lockfile.
        if (activated && lastBooted.get(dir) !== text) activated = await restart(shareFirst)
      } catch (error) {
        await writeLockfileText(dir, before)
        if (created !== undefined && created.created) await rm(created.folder, { recursive: true, force: true })
        throw bootFailure(error)
      }
    }
    if (!shared) await share(text)
    // Not activated when the app closed meanwhile: recorded, as without restartable, for the next start.
    return activated
  }

  /** Tells the other instances; a failure here does not undo what this instance now serves, it is reported. */
  async function share (text: string): Promise<void> {
    const sharing = sharingStores.get(dir)
    if (sharing === undefined) return
    try {
      await pushShared(sharing, dir, text)
      syncErrors.delete(dir)
    } catch (error) {
      const detail = `installed here, but not shared with the other instances: ${describe(error)}`
      const failure = installError(503, { option: 'install' }, detail, error)
      syncErrors.set(dir, failure)
      input.app.log.error({ err: failure }, 'fastify-pluginkit: %s', failure.message)
    }
  }

  async function run<T> (action: Action, target: string, work: (step: Step) => Promise<T>): Promise<T> {
    return await queue.run({ action, target, step: 'queued', startedAt: new Date().toISOString() }, async (operation) => {
      try {
        await mkdir(dir, { recursive: true })
        return await withLock(lockfilePath(dir), async () => {
          // Scratch files of an operation a crash interrupted: nobody else works here while we hold the lock.
          const scratch = join(dir, 'tmp')
          for (const entry of await readdir(scratch).catch(() => [])) await rm(join(scratch, entry), { recursive: true, force: true })
          // Start from what the other instances installed (last writer wins if two operate at once: see README).
          const step: Step = (next) => { operation.step = next }
          const sharing = sharingStores.get(dir)
          if (sharing !== undefined) await pullShared(sharing, stageInput(step))
          return await work(step)
        })
      } catch (error) {
        if ((error as { code?: string }).code === 'ELOCKED') {
          throw installError(409, { option: 'install.dir' }, `another process holds ${lockfilePath(dir)}.lock; try again`, error)
        }
        throw error
      }
    })
  }

  /**
   * Boots `lockfile` as the host would. Under `strict: false` that boot skips what fails, so the
   * operation is refused when an enabled plugin fails that does not fail in the running app:
   * plugins already broken do not stop it, a plugin it breaks does. (A switched-off plugin
   * whose dependency is gone, after an uninstall with cascade, is listed and not fatal.)
   */
  async function probe (lockfile: Lockfile): Promise<PluginInfo[]> {
    const current = states()
    let result
    try {
      result = await input.probe(lockfile, current)
    } catch (error) {
      throw bootFailure(error)
    }
    const known = new Set(state.failures.map((failure) => failure.plugin))
    const broken = result.failures.find((failure) => !known.has(failure.plugin) && current[failure.plugin] !== 'disabled')
    if (broken !== undefined) throw bootFailure(broken.error)
    return result.plugins
  }

  /** The plugin a staged package holds, found by booting the new set in a probe; the new set's lockfile. */
  async function validate (lockfile: Lockfile, staged: Staged, key: string, previous: LockEntry | undefined) {
    const trial: Lockfile = { ...lockfile, plugins: { ...lockfile.plugins, [key]: { ...staged.entry } } }
    const plugins = await probe(trial)
    const info = plugins.find((plugin) => plugin.source === 'installed' && plugin.packageName === staged.entry.package)
    if (info === undefined) throw installError(422, { package: staged.entry.package }, 'did not load as a plugin')
    const next: Lockfile = { ...lockfile, plugins: { ...lockfile.plugins } }
    delete next.plugins[key]
    next.plugins[info.name] = { ...staged.entry, ...(previous === undefined ? {} : { previous }) }
    return { info, next }
  }

  async function installOrUpgrade (action: 'install' | 'upgrade', spec: InstallSpec, name?: string): Promise<InstallResult> {
    const target = typeof spec === 'string' ? spec : '(uploaded tarball)'
    return await run(action, name ?? target, async (step) => {
      const before = readLockfileText(dir)
      const lockfile = parseLockfile(before, lockfilePath(dir))
      const current = name === undefined ? undefined : installedEntry(lockfile, name)
      step('fetching')
      const staged = typeof spec === 'string'
        ? await stageFromRegistry(spec, stageInput(step), current?.package)
        : await stageUpload(spec.tarball, stageInput(step), current?.package)
      try {
        if (current !== undefined && current.version === staged.entry.version && current.integrity === staged.entry.integrity) {
          throw installError(409, { plugin: name as string }, `is already at ${current.package}@${current.version}`)
        }
        step('validating')
        const key = name ?? staged.entry.package
        const { info, next } = await validate(lockfile, staged, key, current === undefined ? undefined : stripPrevious(current))
        if (name !== undefined && info.name !== name) {
          const detail = `version ${staged.entry.version} is plugin "${info.name}", not "${name}"`
          throw installError(422, { package: staged.entry.package }, detail)
        }
        if (name === undefined) {
          const existing = lockfile.plugins[info.name]
          if (existing !== undefined) {
            throw installError(409, { plugin: info.name }, `is already installed (${existing.package}@${existing.version}); use upgrade`)
          }
          // A new plugin starts in its manifest's state, whatever a removed one of that name left in the store.
          await state.store.save(info.name, info.state)
        }
        const activated = await commit(before, next, staged, step)
        // The version an upgrade pushed out of `previous` is no longer needed by anything once the new app serves.
        if (activated && current !== undefined) await collectGarbage(dir, next, current)
        const plugin = { name: info.name, version: staged.entry.version, package: staged.entry.package, integrity: staged.entry.integrity }
        return { plugin, activated }
      } catch (error) {
        if (staged.created && !referenced(readLockfileText(dir), staged.folder)) await rm(staged.folder, { recursive: true, force: true })
        throw error
      }
    })
  }

  function installedEntry (lockfile: Lockfile, name: string) {
    const entry = lockfile.plugins[name]
    if (entry !== undefined) return entry
    if (state.byName.has(name)) {
      throw installError(409, { plugin: name }, 'is not an installed plugin (it is a local plugin or a pluginPackages package)')
    }
    throw kitError('PLUGINKIT_ERR_NOT_FOUND', { plugin: name }, undefined, 'is not installed')
  }

  function referenced (text: string | undefined, folder: string): boolean {
    const lockfile = parseLockfile(text, lockfilePath(dir))
    return Object.values(lockfile.plugins).some((entry) =>
      packageFolder(dir, entry) === folder || (entry.previous !== undefined && packageFolder(dir, entry.previous) === folder))
  }

  return {
    install: async (spec) => await installOrUpgrade('install', checkSpec(spec)),
    upgrade: async (name, spec) => {
      const entry = installedEntry(parseLockfile(readLockfileText(dir), lockfilePath(dir)), name)
      return await installOrUpgrade('upgrade', checkSpec(spec ?? `${entry.package}@latest`), name)
    },
    rollback: async (name) => await run('rollback', name, async (step) => {
      const before = readLockfileText(dir)
      const lockfile = parseLockfile(before, lockfilePath(dir))
      const entry = installedEntry(lockfile, name)
      if (entry.previous === undefined) throw installError(409, { plugin: name }, 'has no previous version to roll back to')
      const { previous } = entry
      step('fetching')
      const staged = await stagePinned(previous, stageInput(step))
      step('validating')
      await validate(lockfile, staged, name, undefined)
      // Rolling back swaps the two versions, so that a second rollback undoes the first.
      const next: Lockfile = { ...lockfile, plugins: { ...lockfile.plugins, [name]: { ...previous, previous: stripPrevious(entry) } } }
      const activated = await commit(before, next, staged, step)
      return { plugin: { name, version: previous.version, package: previous.package, integrity: previous.integrity }, activated }
    }),
    uninstall: async (name, options) => await run('uninstall', name, async (step) => await uninstall(name, options ?? {}, step)),
    get pending () {
      return pendingOperations(input.booted, parseLockfile(readLockfileText(dir), lockfilePath(dir)))
    },
    get operation () { return queue.current === undefined ? undefined : { ...queue.current } },
    get syncError () { return syncErrors.get(dir) }
  }

  async function uninstall (name: string, { cascade = false }: ToggleOptions, step: Step): Promise<UninstallResult> {
    const before = readLockfileText(dir)
    const lockfile = parseLockfile(before, lockfilePath(dir))
    const entry = installedEntry(lockfile, name)
    const dependents = state.records.filter((record) => record.enabled && Object.hasOwn(record.manifest.dependencies, name))
    if (dependents.length > 0) {
      if (!cascade) {
        const names = dependents.map((record) => `"${record.name}"`).join(', ')
        throw kitError('PLUGINKIT_ERR_DEPENDENCY', { plugin: name }, 'dependencies',
          `cannot be uninstalled while ${names} depend on it and are enabled; pass { cascade: true } to disable them first`)
      }
      for (const dependent of dependents.reverse()) await state.setState(dependent.name, 'disabled', { cascade: true })
    }
    const next: Lockfile = { ...lockfile, plugins: { ...lockfile.plugins } }
    delete next.plugins[name]
    step('validating')
    await probe(next)
    const activated = await commit(before, next, undefined, step)
    step('cleaning up')
    // Its folders go once the app without it serves; without restartable this app still runs its code.
    if (activated) await collectGarbage(dir, next, entry)
    return { activated }
  }
}

function checkSpec (spec: unknown): InstallSpec {
  if (typeof spec === 'string' && spec.trim() !== '') return spec.trim()
  if (spec !== null && typeof spec === 'object' && Buffer.isBuffer((spec as { tarball?: unknown }).tarball)) return spec as InstallSpec
  throw installError(400, { option: 'spec' }, 'must be an npm spec string or { tarball: Buffer }')
}

function stripPrevious ({ previous: _previous, ...entry }: Lockfile['plugins'][string]): LockEntry {
  return entry
}

/** The error a failed probe or restart rejects with: its own code (the boot error's), answering 422. */
function bootFailure (error: unknown): PluginKitError {
  // A name another plugin already has is a conflict, as in the admin's other 409s.
  if (isPluginKitError(error, 'PLUGINKIT_ERR_DUPLICATE_PLUGIN')) return withStatus(error, 409)
  if (isPluginKitError(error)) return withStatus(error, error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 422)
  return installError(422, { option: 'install' }, `the new app failed to boot: ${describe(error)}`, error)
}

/** Removes version folders that neither the lockfile nor its `previous` entries point at (`removed`: only that package's). */
async function collectGarbage (dir: string, lockfile: Lockfile, removed?: LockedPlugin): Promise<void> {
  const keep = new Set<string>()
  for (const entry of Object.values(lockfile.plugins)) {
    keep.add(packageFolder(dir, entry))
    if (entry.previous !== undefined) keep.add(packageFolder(dir, entry.previous))
  }
  const candidates = removed === undefined ? [] : [removed, ...(removed.previous === undefined ? [] : [removed.previous])]
  for (const entry of candidates) {
    const folder = packageFolder(dir, entry)
    if (!keep.has(folder)) await rm(folder, { recursive: true, force: true })
  }
}
