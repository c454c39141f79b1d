import { readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Type, type Static } from 'typebox'
import writeFileAtomic from 'write-file-atomic'
import { kitError, describe } from '../errors.js'
import { checker } from '../validation.js'

const Entry = Type.Object({
  package: Type.String({ minLength: 1 }),
  version: Type.String({ minLength: 1 }),
  integrity: Type.String({ minLength: 1 }),
  resolved: Type.String(),
  source: Type.Union([Type.Literal('registry'), Type.Literal('upload')]),
  installedAt: Type.String()
})

const LockedPluginSchema = Type.Intersect([Entry, Type.Object({
  /** The version before the last upgrade, for `rollback`. */
  previous: Type.Optional(Entry)
})])

const LockfileSchema = Type.Object({
  lockfileVersion: Type.Literal(1),
  plugins: Type.Record(Type.String(), LockedPluginSchema)
})

export type LockEntry = Static<typeof Entry>
export type LockedPlugin = Static<typeof LockedPluginSchema>
export type Lockfile = Static<typeof LockfileSchema>

const lockfileChecker = checker(LockfileSchema)

export const LOCKFILE = 'plugins.lock.json'

export function emptyLockfile (): Lockfile {
  return { lockfileVersion: 1, plugins: {} }
}

export function lockfilePath (dir: string): string {
  return join(dir, LOCKFILE)
}

/** The folder of an installed package version: `<dir>/packages/<package>@<version>`. */
export function packageFolder (dir: string, entry: Pick<LockEntry, 'package' | 'version'>): string {
  return join(dir, 'packages', `${entry.package}@${entry.version}`)
}

/** The lockfile's text as stored (`undefined` when there is none), for byte comparisons and sharing. */
export function readLockfileText (dir: string): string | undefined {
  try {
    return readFileSync(lockfilePath(dir), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    const detail = `cannot read ${lockfilePath(dir)}: ${describe(error)}`
    throw kitError('PLUGINKIT_ERR_INSTALL', { option: 'install.dir' }, undefined, detail, error)
  }
}

/** Parses and checks lockfile text; none is an empty lockfile. */
export function parseLockfile (text: string | undefined, where: string): Lockfile {
  if (text === undefined) return emptyLockfile()
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw kitError('PLUGINKIT_ERR_INSTALL', { option: 'install.dir' }, undefined, `${where} is not JSON: ${describe(error)}`, error)
  }
  const problem = lockfileChecker.problem(value)
  if (problem !== undefined) {
    throw kitError('PLUGINKIT_ERR_INSTALL', { option: 'install.dir' }, problem.path, `${where}: ${problem.message}`)
  }
  return value as Lockfile
}

export function readLockfile (dir: string): Lockfile {
  return parseLockfile(readLockfileText(dir), lockfilePath(dir))
}

/** Plugins sorted by name, so that equal lockfiles are equal text. */
export function serializeLockfile (lockfile: Lockfile): string {
  const plugins = Object.fromEntries(Object.keys(lockfile.plugins).sort().map((name) => [name, lockfile.plugins[name]]))
  return `${JSON.stringify({ lockfileVersion: 1, plugins }, null, 2)}\n`
}

/** Written atomically (temporary file, fsync, rename): a crash leaves the old or the new lockfile, never a mix. */
export async function writeLockfileText (dir: string, text: string | undefined): Promise<void> {
  if (text === undefined) {
    await rm(lockfilePath(dir), { force: true })
    return
  }
  await writeFileAtomic(lockfilePath(dir), text)
}
