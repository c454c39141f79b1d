import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import ssri from 'ssri'
import { installDependencies } from './dependencies.js'
import { verifyDigest, writeDigest } from './digest.js'
import { checkAllowed, downloadTarball, resolveSpec } from './fetch.js'
import { installError } from './install-errors.js'
import { packageFolder, type LockEntry } from './lockfile.js'
import type { NpmOptions } from './npm-config.js'
import { extractTarball, inspectTarball } from './tarball.js'

export interface StageInput {
  dir: string
  allow: string[]
  npm: NpmOptions
  maxTarballBytes: number
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
 * leftover and is replaced; a complete one is reused as it is.
 */
async function place (file: string, entry: LockEntry, input: StageInput): Promise<Staged> {
  const folder = packageFolder(input.dir, entry)
  const subject = { package: entry.package }
  if (await verifyDigest(folder, subject) === undefined) return { entry, folder, created: false }
  await rm(folder, { recursive: true, force: true })
  await mkdir(dirname(folder), { recursive: true })
  try {
    await extractTarball(file, folder, entry.integrity, input.npm, subject)
    await installDependencies(folder, input.npm, subject)
    await writeDigest(folder)
  } catch (error) {
    await rm(folder, { recursive: true, force: true })
    throw error
  }
  return { entry, folder, created: true }
}

/** A registry spec: allow-list, resolve, download with integrity and size checks, place. */
export async function stageFromRegistry (spec: string, input: StageInput, expectedPackage?: string): Promise<Staged> {
  const resolved = await resolveSpec(spec, input.npm)
  if (expectedPackage !== undefined && resolved.package !== expectedPackage) {
    throw installError(400, { package: resolved.package }, `is not the installed package "${expectedPackage}"`)
  }
  checkAllowed(resolved.package, input.allow)
  return await stagePinned({ ...resolved, source: 'registry', installedAt: new Date().toISOString() }, input)
}

/** A version pinned by a lockfile entry (another instance's install, `install --frozen`): fetched by its integrity. */
export async function stagePinned (entry: LockEntry, input: StageInput): Promise<Staged> {
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
    const found = await inspectTarball(file, { package: entry.package })
    if (found.name !== entry.package || found.version !== entry.version) {
      throw installError(422, { package: entry.package }, `the tarball holds ${found.name}@${found.version}, not ${entry.version}`)
    }
    return await place(file, entry, input)
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
    const found = await inspectTarball(file, { package: '(upload)' })
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
    const kept = uploadPath(input.dir, entry)
    await mkdir(dirname(kept), { recursive: true })
    await rename(file, kept)
    await writeFile(file, tarball)
    return await place(file, entry, input)
  } finally {
    await done()
  }
}
