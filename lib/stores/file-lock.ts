import fs from 'node:fs'
import { mkdir, rm, rmdir, stat } from 'node:fs/promises'

/** A lock whose directory has not been touched for this long belongs to a dead process. */
const STALE_MS = 10_000

/** Waits for the lock: past STALE_MS (a dead holder's lock) plus the saves queued before ours. */
const LOCK_RETRIES = { retries: 400, minTimeout: 5, maxTimeout: 60, factor: 1.3, randomize: true }

/**
 * The file system proper-lockfile works with, made safe for taking over a stale lock.
 * proper-lockfile removes a lock it found stale and then creates its own; two processes
 * finding the same stale lock could each remove it, the second removing the first's fresh
 * lock, and both would write (issue #11: saves lost). Here a takeover happens inside a
 * second, short-lived lock (`.takeover`) and only when the lock is still stale there.
 * `owner.held` switches the removal back to plain once the lock is ours (to release it).
 */
function lockFs (owner: { held: boolean }) {
  const takeOver = async (lock: string): Promise<void> => {
    const guard = `${lock}.takeover`
    try {
      await mkdir(guard)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      // Held only for a few system calls: an old one was left by a process that died in them.
      const age = await stat(guard).then((info) => Date.now() - info.mtimeMs, () => 0)
      if (age > STALE_MS) await rm(guard, { recursive: true, force: true })
      throw Object.assign(new Error(`${lock} is being taken over`), { code: 'ELOCKED' })
    }
    try {
      const info = await stat(lock).catch(() => undefined)
      // Gone already (another process took it over and released it): nothing to remove. Removing
      // "nothing" would race with a process creating its fresh lock right now, and delete that.
      if (info === undefined) return
      if (info.mtimeMs >= Date.now() - STALE_MS) {
        throw Object.assign(new Error(`${lock} is held`), { code: 'ELOCKED' })
      }
      // recursive: also a lock file (not directory) left by an older version of this store.
      await rm(lock, { recursive: true, force: true })
    } finally {
      await rmdir(guard).catch(() => {})
    }
  }
  return {
    ...fs,
    rmdir: (path: string, callback: (error: Error | null) => void) => {
      if (owner.held) fs.rmdir(path, callback)
      else takeOver(path).then(() => callback(null), (error: Error) => callback(error))
    }
  }
}

/**
 * Runs `work` holding `<target>.lock` (proper-lockfile: a directory, kept fresh while held,
 * taken over once untouched for STALE_MS), so that processes sharing the file change it one
 * at a time. `assertHeld` throws if another process took the lock over meanwhile (this one
 * stalled for longer than STALE_MS). Exported for the tests.
 */
export async function withLock<T> (target: string, work: (assertHeld: () => void) => Promise<T>): Promise<T> {
  const owner = { held: false }
  let compromised: Error | undefined
  // Imported on first use: hosts that never lock a file (store 'memory', Redis) skip it and graceful-fs.
  const { default: lockfile } = await import('proper-lockfile')
  const release = await lockfile.lock(target, {
    realpath: false,
    lockfilePath: `${target}.lock`,
    stale: STALE_MS,
    retries: LOCK_RETRIES,
    fs: lockFs(owner),
    onCompromised: (error) => { compromised = error }
  })
  owner.held = true
  try {
    return await work(() => { if (compromised !== undefined) throw compromised })
  } finally {
    await release().catch(() => {})
  }
}
