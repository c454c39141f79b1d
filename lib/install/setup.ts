import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { InstallApi } from '../api.js'
import type { Candidate } from '../discovery.js'
import type { ResolvedOptions } from '../options.js'
import type { KitState } from '../state.js'
import { MemoryStore } from '../stores/memory.js'
import type { PluginKitOptions } from '../types.js'
import { disabledInstaller } from './disabled.js'
import { installedCandidates } from './installed.js'
import { createInstaller, type Probe } from './installer.js'
import { restartOf } from '../restartable.js'
import { lockfilePath, parseLockfile, readLockfileText, type Lockfile } from './lockfile.js'
import { lastBooted, OperationQueue } from './queue.js'
import { npmOptions } from './npm-config.js'
import type { StageInput } from './stage.js'
import { followShared, pullShared, sharingStore, sharingStores, syncErrors } from './sync.js'
import { wrapError } from '../errors.js'

/** Set on the options of a probe: the kit boots with this lockfile instead of the one on disk, and installs nothing. */
const PROBE_LOCKFILE = Symbol('fastify-pluginkit probe lockfile')

type ProbeOptions = PluginKitOptions & { [PROBE_LOCKFILE]?: Lockfile }

export interface InstallSetup {
  installed: Candidate[]
  api: InstallApi
}

/**
 * The installed packages this app boots with, and its install API. A probe (the validation
 * boot of an operation) reads the lockfile it is given; a real app reads the one on disk and
 * records it, so that `pending` and a swap can tell what it serves.
 */
export async function setupInstall (app: FastifyInstance, rawOptions: PluginKitOptions, options: ResolvedOptions, state: KitState,
  kit: FastifyPluginAsync<PluginKitOptions>): Promise<InstallSetup> {
  const install = options.install
  if (install === undefined) return { installed: [], api: disabledInstaller() }
  const probeLockfile = (rawOptions as ProbeOptions)[PROBE_LOCKFILE]
  if (probeLockfile !== undefined) return { installed: await installedCandidates(install.dir, probeLockfile), api: disabledInstaller() }

  const sharing = sharingStore(options.store)
  const stage = (): StageInput => ({
    dir: install.dir, allow: install.allow, npm: npmOptions(options.pluginsBase, install.registry), maxTarballBytes: install.maxTarballBytes
  })
  // Not while this instance's own operation swaps it: that one shares its lockfile once the new app serves.
  if (sharing !== undefined && OperationQueue.for(install.dir).current === undefined) {
    // A new instance joins the set the others serve; if it cannot, it serves its own and says why.
    await pullShared(sharing, stage()).catch((error: unknown) => {
      const failure = wrapError(error, 'PLUGINKIT_ERR_INSTALL', { option: 'install' }, undefined,
        'cannot apply the shared lockfile: ', 'any')
      syncErrors.set(install.dir, failure)
      app.log.error({ err: failure }, 'fastify-pluginkit: %s', failure.message)
    })
  }
  const text = readLockfileText(install.dir)
  const booted = parseLockfile(text, lockfilePath(install.dir))
  lastBooted.set(install.dir, text === undefined ? undefined : text)
  const probe: Probe = async (lockfile, states) => {
    // Validation is a boot of the same kit with the same options, in a Fastify instance that never listens.
    const { default: Fastify } = await import('fastify')
    const trial = Fastify({ logger: false, pluginTimeout: app.initialConfig.pluginTimeout ?? 10000 })
    // What serves or reports (admin, metrics, tracing, the watcher) has no place in a probe.
    const { admin: _admin, store: _store, watch: _watch, metrics: _metrics, trace: _trace, ...kept } = rawOptions
    const probeOptions: ProbeOptions = { ...kept, store: new MemoryStore(states), strict: options.strict, [PROBE_LOCKFILE]: lockfile }
    try {
      // Run in a wrapper of its own, so the kit decorates the probe's root whether or not `kit` was wrapped.
      await trial.register(fp(async (instance) => { await kit(instance, probeOptions) }))
      await trial.ready()
      return { plugins: trial.pluginKit.plugins, failures: trial.pluginKit.failures }
    } finally {
      await trial.close()
    }
  }
  sharingStores.set(install.dir, sharing)
  const stop = followShared({ stage, store: sharing, restart: restartOf(app), log: app.log })
  app.addHook('onClose', async () => stop())
  return {
    installed: await installedCandidates(install.dir, booted),
    api: createInstaller({ app, install, pluginsBase: options.pluginsBase, state, booted, probe })
  }
}
