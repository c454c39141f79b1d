import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Arborist from '@npmcli/arborist'
import type { ErrorSubject } from '../errors.js'
import { fetchDeadline, type NpmOptions } from './npm-config.js'

/**
 * Installs an extracted package's production dependencies into its own node_modules with
 * npm's tree builder. No install script of any package ever runs; peer dependencies
 * (fastify-pluginkit, fastify, typebox...) are left to the host's copies, which Node finds
 * by walking up from the package folder.
 */
export async function installDependencies (folder: string, npm: NpmOptions, subject: ErrorSubject): Promise<void> {
  const manifestPath = join(folder, 'package.json')
  const original = await readFile(manifestPath, 'utf8')
  const manifest = JSON.parse(original) as { dependencies?: Record<string, string>, devDependencies?: unknown }
  if (Object.keys(manifest.dependencies ?? {}).length === 0) return
  // arborist resolves the root's devDependencies even when told to omit them: hide them while it
  // works (a package's dev tools need not even exist in the registry), then put the file back as it was.
  const { devDependencies: _dev, ...production } = manifest
  await writeFile(manifestPath, JSON.stringify(production))
  // arborist hands its options to every fetch: all of them end at npm's fetch-timeout.
  const deadline = fetchDeadline(npm)
  try {
    const omit = ['dev', 'peer', 'optional']
    const { signal } = deadline
    await new Arborist({ ...npm, path: folder, ignoreScripts: true, omit, legacyPeerDeps: true, audit: false, fund: false, signal })
      .reify({ save: false, omit })
  } catch (error) {
    throw deadline.failure(error, subject, 'cannot install its dependencies')
  } finally {
    await writeFile(manifestPath, original)
  }
}
