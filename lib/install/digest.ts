import { createHash } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import writeFileAtomic from 'write-file-atomic'
import { kitError, type ErrorSubject, type PluginKitError } from '../errors.js'

/**
 * The digest of every file of an installed package folder, written last: a folder with it is
 * complete. It lives inside the folder, so it says "this is what was installed", not "nobody
 * could have changed it" — the tarball's integrity in the lockfile covers the download.
 */
export const DIGEST_FILE = '.pluginkit-files.json'

async function listFiles (folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true })
  return entries
    .filter((entry) => entry.isFile() || entry.isSymbolicLink())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .filter((path) => path !== DIGEST_FILE)
    .sort()
}

async function digestOf (folder: string, path: string): Promise<string> {
  return `sha256-${createHash('sha256').update(await readFile(join(folder, path))).digest('base64')}`
}

export async function digestFolder (folder: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {}
  for (const path of await listFiles(folder)) files[path] = await digestOf(folder, path)
  return files
}

/** `integrity`: the tarball's, which the folder was extracted from. */
export async function writeDigest (folder: string, integrity: string): Promise<void> {
  await writeFileAtomic(join(folder, DIGEST_FILE), `${JSON.stringify({ integrity, files: await digestFolder(folder) })}\n`)
}

/**
 * undefined when every file is as installed from the tarball with `integrity`; else
 * PLUGINKIT_ERR_INTEGRITY naming the first differences (field `integrity` when the folder
 * is complete but from other bytes of the same version).
 */
export async function verifyDigest (folder: string, subject: ErrorSubject, integrity: string): Promise<PluginKitError | undefined> {
  let recorded: Record<string, string>
  let from: unknown
  try {
    const digest = JSON.parse(await readFile(join(folder, DIGEST_FILE), 'utf8')) as { files: Record<string, string>, integrity?: unknown }
    recorded = digest.files
    from = digest.integrity
  } catch {
    return kitError('PLUGINKIT_ERR_INTEGRITY', subject, 'files', `${folder} is missing or incomplete (no ${DIGEST_FILE})`)
  }
  // Folders written before the digest recorded it are checked by their files alone.
  if (from !== undefined && from !== integrity) {
    return kitError('PLUGINKIT_ERR_INTEGRITY', subject, 'integrity',
      `${folder} was extracted from another tarball (${String(from)}), not ${integrity}`)
  }
  let present: string[]
  try {
    present = await listFiles(folder)
  } catch {
    return kitError('PLUGINKIT_ERR_INTEGRITY', subject, 'files', `${folder} cannot be read`)
  }
  // Files a plugin adds at run time (a cache) are its business; what was installed must be intact.
  const files = new Set(present)
  const problems: string[] = []
  for (const path of Object.keys(recorded)) {
    if (!files.has(path)) problems.push(`${path} was removed`)
    else if (await digestOf(folder, path) !== recorded[path]) problems.push(`${path} was changed`)
  }
  if (problems.length === 0) return undefined
  return kitError('PLUGINKIT_ERR_INTEGRITY', subject, 'files',
    `files changed after install: ${problems.slice(0, 5).join(', ')}${problems.length > 5 ? ` and ${problems.length - 5} more` : ''}`)
}
