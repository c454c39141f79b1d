import { verifyDigest } from './digest.js'
import { packageFolder, readLockfile, type LockEntry } from './lockfile.js'
import { stagePinned, type StageInput } from './stage.js'

export interface FrozenEntry {
  name: string
  package: string
  version: string
  /** `present`: the folder was complete already; `installed`: fetched by its pinned integrity now. */
  outcome: 'present' | 'installed'
}

/**
 * `install --frozen`: makes `install.dir` hold exactly what the lockfile pins, like `npm ci`:
 * every version (and the one kept for rollback) is fetched by its pinned integrity, or
 * found complete and intact. Any mismatch fails; the lockfile itself is never written.
 */
export async function installFrozen (input: StageInput): Promise<FrozenEntry[]> {
  const lockfile = readLockfile(input.dir)
  const done: FrozenEntry[] = []
  for (const name of Object.keys(lockfile.plugins).sort()) {
    const { previous, ...entry } = lockfile.plugins[name] as LockEntry & { previous?: LockEntry }
    for (const pinned of previous === undefined ? [entry] : [entry, previous]) {
      const intact = await verifyDigest(packageFolder(input.dir, pinned), { package: pinned.package }, pinned.integrity) === undefined
      if (!intact) await stagePinned(pinned, input)
      done.push({ name, package: pinned.package, version: pinned.version, outcome: intact ? 'present' : 'installed' })
    }
  }
  return done
}

export interface ListedPlugin {
  name: string
  package: string
  version: string
  source: 'registry' | 'upload'
  installedAt: string
  /** The version `rollback` goes back to. */
  previous?: string
  /** undefined: every file as installed; else what is wrong (PLUGINKIT_ERR_INTEGRITY's detail). */
  problem?: string
}

/** `list`: what the lockfile pins, each folder checked against its recorded digest. */
export async function listInstalled (dir: string): Promise<ListedPlugin[]> {
  const lockfile = readLockfile(dir)
  return await Promise.all(Object.keys(lockfile.plugins).sort().map(async (name) => {
    const entry = lockfile.plugins[name] as LockEntry & { previous?: LockEntry }
    const problem = await verifyDigest(packageFolder(dir, entry), { package: entry.package }, entry.integrity)
    return {
      name,
      package: entry.package,
      version: entry.version,
      source: entry.source,
      installedAt: entry.installedAt,
      ...(entry.previous === undefined ? {} : { previous: entry.previous.version }),
      ...(problem === undefined ? {} : { problem: problem.detail ?? problem.message })
    }
  }))
}
