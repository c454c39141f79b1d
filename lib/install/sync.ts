import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { describe, isPluginKitError, type PluginKitError } from '../errors.js'
import type { StateStore } from '../types.js'
import { installError } from './install-errors.js'
import { verifyDigest } from './digest.js'
import {
  lockfilePath, packageFolder, parseLockfile, readLockfileText, writeLockfileText, type LockEntry, type Lockfile
} from './lockfile.js'
import { lastBooted, OperationQueue } from './queue.js'
import { stagePinned, uploadPath, type StageInput } from './stage.js'

/** How often an instance looks for another instance's change: well within SPEC 11's 10 s. */
const FOLLOW_MS = { file: 1000, store: 2000 }

export type SharingStore = Required<Pick<StateStore, 'loadLockfile' | 'saveLockfile' | 'loadUpload'>>

/** The store when it shares the lockfile (RedisStore); otherwise instances share `install.dir` itself. */
export function sharingStore (store: StateStore): SharingStore | undefined {
  if (typeof store.loadLockfile !== 'function' || typeof store.saveLockfile !== 'function' || typeof store.loadUpload !== 'function') {
    return undefined
  }
  return store as SharingStore
}

/**
 * The sharing store of the newest app on each install folder. An operation started on an app
 * ends after the swap closed that app and its store: it shares through the new app's.
 */
export const sharingStores = new Map<string, SharingStore | undefined>()

/** The last error of following another instance's change, per install folder (it outlives a swap). */
export const syncErrors = new Map<string, PluginKitError>()

function entriesOf (lockfile: Lockfile): LockEntry[] {
  return Object.values(lockfile.plugins).flatMap(({ previous, ...entry }) => previous === undefined ? [entry] : [entry, previous])
}

const keyOf = (entry: LockEntry) => `${entry.package}@${entry.version}`

/** After an operation: the lockfile and the uploads it pins, for the other instances. */
export async function pushShared (store: SharingStore, dir: string, text: string): Promise<void> {
  const uploads: Record<string, Buffer> = {}
  for (const entry of entriesOf(parseLockfile(text, lockfilePath(dir)))) {
    if (entry.source === 'upload') uploads[keyOf(entry)] = await readFile(uploadPath(dir, entry))
  }
  await store.saveLockfile(text, uploads)
}

/**
 * Brings `install.dir` to the store's lockfile: every version it pins that is not here
 * complete is fetched by its pinned integrity (uploads from the store), then the local
 * lockfile is replaced. Returns whether anything changed.
 */
export async function pullShared (store: SharingStore, input: StageInput): Promise<boolean> {
  const shared = await store.loadLockfile()
  if (shared === undefined || shared === readLockfileText(input.dir)) return false
  const lockfile = parseLockfile(shared, 'the shared lockfile')
  for (const entry of entriesOf(lockfile)) {
    if (await verifyDigest(packageFolder(input.dir, entry), { package: entry.package }, entry.integrity) === undefined) continue
    if (entry.source === 'upload') {
      const tarball = await store.loadUpload(keyOf(entry))
      if (tarball === undefined) {
        throw installError(404, { package: entry.package }, `the uploaded tarball of ${entry.version} is not in the store`)
      }
      await mkdir(dirname(uploadPath(input.dir, entry)), { recursive: true })
      await writeFile(uploadPath(input.dir, entry), tarball)
    }
    await stagePinned(entry, input)
  }
  await mkdir(input.dir, { recursive: true })
  await writeLockfileText(input.dir, shared)
  return true
}

export interface FollowInput {
  stage: () => StageInput
  store: SharingStore | undefined
  restart: (() => Promise<boolean>) | undefined
  log: FastifyBaseLogger
}

/**
 * Watches for another instance's operation (the shared lockfile in the store, or the
 * lockfile in the shared folder) and swaps this instance onto it. A change it cannot apply
 * leaves this instance serving its current set, reported in `syncError` and the log.
 */
export function followShared ({ stage, store, restart, log }: FollowInput): () => void {
  const dir = stage().dir
  const queue = OperationQueue.for(dir)
  let seen = lastBooted.get(dir)
  let busy = false
  let stopped = false
  const check = async () => {
    if (stopped || busy || queue.current !== undefined) return
    busy = true
    try {
      const text = store === undefined ? readLockfileText(dir) : await store.loadLockfile()
      if (stopped || text === undefined || text === seen || text === lastBooted.get(dir)) return
      seen = text
      await queue.run(undefined, async () => {
        if (stopped) return
        // Inside the queue: an operation of this instance may have changed both since the check.
        if (store !== undefined) await pullShared(store, stage())
        if (restart !== undefined && readLockfileText(dir) !== lastBooted.get(dir)) await restart()
      })
      syncErrors.delete(dir)
    } catch (error) {
      const failure = isPluginKitError(error)
        ? error
        : installError(502, { option: 'install' }, `cannot follow the shared lockfile: ${describe(error)}`, error)
      syncErrors.set(dir, failure)
      log.error({ err: failure }, 'fastify-pluginkit: cannot apply another instance\'s install: %s', failure.message)
    } finally {
      busy = false
    }
  }
  const timer = setInterval(check, store === undefined ? FOLLOW_MS.file : FOLLOW_MS.store)
  timer.unref()
  return () => {
    stopped = true
    clearInterval(timer)
  }
}
