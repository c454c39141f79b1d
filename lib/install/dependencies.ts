import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import Arborist from '@npmcli/arborist'
import type { ErrorSubject } from '../errors.js'
import { registryError } from './install-errors.js'
import type { NpmOptions } from './npm-config.js'

/**
 * Installs an extracted package's production dependencies into its own node_modules with
 * npm's tree builder. No install script of any package ever runs; peer dependencies
 * (fastify-pluginkit, fastify, typebox...) are left to the host's copies, which Node finds
 * by walking up from the package folder.
 */
export async function installDependencies (folder: string, npm: NpmOptions, subject: ErrorSubject): Promise<void> {
  const manifest = JSON.parse(await readFile(join(folder, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }
  if (Object.keys(manifest.dependencies ?? {}).length === 0) return
  try {
    await new Arborist({
      ...npm,
      path: folder,
      ignoreScripts: true,
      omit: ['dev', 'peer', 'optional'],
      legacyPeerDeps: true,
      audit: false,
      fund: false
    }).reify({ save: false })
  } catch (error) {
    throw registryError(error, subject, 'cannot install its dependencies')
  }
}
