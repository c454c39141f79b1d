import { describe, kitError } from '../errors.js'
import { entryOf, type Candidate } from '../discovery.js'
import { verifyDigest } from './digest.js'
import { packageFolder, type Lockfile } from './lockfile.js'

/**
 * The installed packages as boot candidates, in name order. Each folder is checked against
 * the digest recorded at install: a file changed or removed since fails that plugin with
 * PLUGINKIT_ERR_INTEGRITY, before any of its code runs.
 */
export async function installedCandidates (dir: string, lockfile: Lockfile): Promise<Candidate[]> {
  const names = Object.keys(lockfile.plugins).sort()
  return await Promise.all(names.map(async (name): Promise<Candidate> => {
    const locked = lockfile.plugins[name] as Lockfile['plugins'][string]
    const folder = packageFolder(dir, locked)
    const subject = { package: locked.package }
    const base = { source: 'installed' as const, dir: folder, packageName: locked.package, integrity: locked.integrity, subject }
    const tampered = await verifyDigest(folder, subject, locked.integrity)
    if (tampered !== undefined) return { ...base, error: tampered }
    try {
      const entry = entryOf(folder)
      if (entry === undefined) throw new Error('package has no entry module (exports, main or index.js)')
      return { ...base, entry }
    } catch (error) {
      return { ...base, error: kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', subject, 'entry', describe(error), error) }
    }
  }))
}
