import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import ssri from 'ssri'
import { installDependencies } from './dependencies.js'
import { verifyDigest, writeDigest } from './digest.js'
import { checkAllowed, downloadTarball, parseSpec, resolveSpec } from './fetch.js'
import { installError } from './install-errors.js'
import { packageFolder, type LockEntry } from './lockfile.js'
import type { NpmOptions } from './npm-config.js'
import { extractTarball, inspectTarball } from './tarball.js'

export interface StageInput {
  dir: string
  allow: string[]
  npm: NpmOptions
  maxTarballBytes: number
  /** Told when the package's dependencies are being installed (the operation's progress). */
  installingDependencies?: () => void
}

/** A package version in its folder, complete (digest written), not yet in the lockfile. */
export interface Staged {
  entry: LockEntry
  folder: string
  /** false: the folder was already there, complete (a reinstall, or a rollback target): leave it on failure. */
  created: boolean
}

/** Where uploaded tarballs are kept, so that other instances and `install --frozen` can fetch them. */
export function uploadPath (dir: string, entry: Pick<LockEntry, 'package' | 'version'>): string {
  return join(dir, 'tarballs', `${entry.package}@${entry.version}.tgz`)
}

async function scratchFile (dir: string): Promise<{ file: string, done: () => Promise<void> }> {
  await mkdir(join(dir, 'tmp'), { recursive: true })
  const folder = await mkdtemp(join(dir, 'tmp', 'fetch-'))
  return { file: join(folder, 'package.tgz'), done: () => rm(folder, { recursive: true, force: true }) }
}

/**
 * Puts a checked tarball's package into its versioned folder: extract, install its
 * dependencies, then write the file digest last. A folder without the digest is a crash's
 * leftover and is replaced; a complete one is reused as it is. A complete folder of the same
 * version from other bytes is replaced for a pinned entry (the lockfile is the truth), and
 * refused for a new install or upgrade: the lockfile may still pin it, so new bytes need a
 * new version.
 */
async function place (file: string, entry: LockEntry, input: StageInput, pinned: boolean): Promise<Staged> {
  const folder = packageFolder(input.dir, entry)
  const subject = { package: entry.package }
  const problem = await verifyDigest(folder, subject, entry.integrity)
  if (problem === undefined) return { entry, folder, created: false }
  if (!pinned && problem.field === 'integrity') {
    throw installError(409, subject, `${entry.version} is already installed from other bytes; publish the changed package as a new version`)
  }
  await rm(folder, { recursive: true, force: true })
  await mkdir(dirname(folder), { recursive: true })
  try {
    await extractTarball(file, folder, entry.integrity, input.npm, subject)
    input.installingDependencies?.()
    await installDependencies(folder, input.npm, subject)
    await writeDigest(folder, entry.integrity)
  } catch (error) {
    await rm(folder, { recursive: true, force: true })
    throw error
  }
  return { entry, folder, created: true }
}

/** A registry spec: allow-list, resolve, download with integrity and size checks, place. */
export async function stageFromRegistry (spec: string, input: StageInput, expectedPackage?: string): Promise<Staged> {
  // SPEC 11: the allow-list first, so a package outside it is 403 without asking the registry.
  checkAllowed(parseSpec(spec).name, input.allow)
  const resolved = await resolveSpec(spec, input.npm)
  if (expectedPackage !== undefined && resolved.package !== expectedPackage) {
    throw installError(400, { package: resolved.package }, `is not the installed package "${expectedPackage}"`)
  }
  // And the name the registry answered with: a registry is not trusted to answer for the name asked.
  checkAllowed(resolved.package, input.allow)
  return await stagePinned({ ...resolved, source: 'registry', installedAt: new Date().toISOString() }, input, false)
}

/**
 * A version pinned by a lockfile entry (another instance's install, `install --frozen`, a
 * rollback), fetched by its integrity; `pinned` false for a version a registry spec resolved to.
 */
export async function stagePinned (entry: LockEntry, input: StageInput, pinned = true): Promise<Staged> {
  const { file, done } = await scratchFile(input.dir)
  try {
    if (entry.source === 'upload') {
      await copyFile(uploadPath(input.dir, entry), file).catch((error: unknown) => {
        throw installError(404, { package: entry.package }, `the uploaded tarball of ${entry.version} is not available here`, error)
      })
      if (!ssri.checkData(await readFile(file), entry.integrity)) {
        throw installError(422, { package: entry.package }, 'the uploaded tarball does not match its pinned integrity')
      }
    } else {
      await downloadTarball(entry, file, input.npm, input.maxTarballBytes)
    }
    const found = await inspectTarball(file, { package: entry.package }, input.maxTarballBytes)
    if (found.name !== entry.package || found.version !== entry.version) {
      throw installError(422, { package: entry.package }, `the tarball holds ${found.name}@${found.version}, not ${entry.version}`)
    }
    return await place(file, entry, input, pinned)
  } finally {
    await done()
  }
}

/** An uploaded `npm pack` tarball: size, gzip and entries checked, allow-list, integrity computed, kept for sharing. */
export async function stageUpload (tarball: Buffer, input: StageInput, expectedPackage?: string): Promise<Staged> {
  if (tarball.length > input.maxTarballBytes) {
    throw installError(413, { package: '(upload)' }, `tarball is larger than install.maxTarballBytes (${input.maxTarballBytes})`)
  }
  const { file, done } = await scratchFile(input.dir)
  try {
    await writeFile(file, tarball)
    const found = await inspectTarball(file, { package: '(upload)' }, input.maxTarballBytes)
    if (expectedPackage !== undefined && found.name !== expectedPackage) {
      throw installError(400, { package: found.name }, `is not the installed package "${expectedPackage}"`)
    }
    checkAllowed(found.name, input.allow)
    const integrity = ssri.fromData(tarball, { algorithms: ['sha512'] }).toString()
    const entry: LockEntry = {
      package: found.name,
      version: found.version,
      integrity,
      resolved: `file:tarballs/${found.name}@${found.version}.tgz`,
      source: 'upload',
      installedAt: new Date().toISOString()
    }
    const staged = await place(file, entry, input, false)
    // Kept (for rollback, other instances, install --frozen) once placed: a refused upload must
    // not replace the tarball an entry of the same version pins.
    const kept = uploadPath(input.dir, entry)
    await mkdir(dirname(kept), { recursive: true })
    await rename(file, kept).catch(async (error: unknown) => {
      if (staged.created) await rm(staged.folder, { recursive: true, force: true })
      throw error
    })
    return staged
  } finally {
    await done()
  }
}
