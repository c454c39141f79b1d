import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { describe } from './errors.js'
import { CliError } from './cli-error.js'
import type { InstallResult, PluginKitOptions, UninstallResult } from './types.js'

/** What the install commands share with `check`: where the host's plugins are, and where installs go. */
export interface InstallCliOptions {
  base: string
  folder?: string
  packages: string[]
  pluginConfigFile?: string
  dir: string
  registry?: string
  allow: string[]
}

/**
 * The kit as the host would boot it, without a server: install and uninstall run the same
 * operation code as `app.pluginKit` (validation is the same boot), recorded for the next
 * start (`activated: false`). Broken plugins already there do not stop the command.
 */
async function withKit<T> (options: InstallCliOptions, work: (app: FastifyInstance) => Promise<T>): Promise<T> {
  const [{ default: Fastify }, { default: pluginKit }] = await Promise.all([import('fastify'), import('./index.js')])
  const base = resolve(options.base)
  const app = Fastify({ logger: false })
  const kitOptions: PluginKitOptions = {
    pluginsBase: base,
    ...(options.folder === undefined ? {} : { pluginsFolder: options.folder }),
    pluginPackages: options.packages,
    pluginConfig: options.pluginConfigFile === undefined
      ? {}
      : JSON.parse(readFileSync(resolve(options.pluginConfigFile), 'utf8')) as Record<string, unknown>,
    store: 'memory',
    strict: false,
    install: { allow: options.allow, dir: options.dir, ...(options.registry === undefined ? {} : { registry: options.registry }) }
  }
  try {
    await app.register(pluginKit, kitOptions)
    await app.ready()
    return await work(app)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    throw new CliError(`${typeof code === 'string' ? `${code} ` : ''}${describe(error)}`)
  } finally {
    await app.close()
  }
}

/** `install <spec>`: an npm spec, or the path of an `npm pack` tarball. */
export async function cliInstall (spec: string, options: InstallCliOptions): Promise<InstallResult> {
  const path = resolve(spec)
  const tarball = /\.(tgz|tar\.gz)$/.test(spec) && existsSync(path) ? readFileSync(path) : undefined
  return await withKit(options, (app) => app.pluginKit.install(tarball === undefined ? spec : { tarball }))
}

export async function cliUninstall (name: string, cascade: boolean, options: InstallCliOptions): Promise<UninstallResult> {
  return await withKit(options, (app) => app.pluginKit.uninstall(name, { cascade }))
}
