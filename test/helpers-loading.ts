// Helpers for the loading tests (options, discovery, manifest, load order, boot failures).
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import pluginKit, { PluginKitError, type PluginKitErrorCode, type PluginKitOptions } from 'fastify-pluginkit'

/** The repository root (where node_modules lives). */
export const repoRoot = join(import.meta.dirname, '..')

/** Symlinks that let plugins in a temporary tree import `typebox` and `fastify-pluginkit`. */
export const nodeModuleLinks = {
  'node_modules/typebox': { symlink: join(repoRoot, 'node_modules', 'typebox') },
  'node_modules/fastify-pluginkit': { symlink: repoRoot }
}

/** The minimal valid manifest fields for `name`, plus `extra`. */
export function fields (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, version: '1.0.0', author: 'tester', ...extra }
}

/** A `register` body returning a blueprint at `/<route>` that answers `{ plugin: <name> }`. */
export function routeBody (name: string, route = name): string {
  return `return { bep: { prefix: '/${route}', blueprint: async (app) => { app.get('/', async () => ({ plugin: ${JSON.stringify(name)} })) } } }`
}

/** An ESM plugin whose blueprint at `/<name>` answers `{ plugin: <name> }`. */
export function routePlugin (name: string, extra: Record<string, unknown> = {}): string {
  return `export default {\n  ...${JSON.stringify(fields(name, extra))},\n  register () { ${routeBody(name)} }\n}\n`
}

/** An ESM plugin whose before_request hook appends its name to the `x-order` response header. */
export function hookPlugin (name: string, extra: Record<string, unknown> = {}): string {
  return `export default {
  ...${JSON.stringify(fields(name, extra))},
  register () {
    return {
      hep: {
        before_request (request, reply) {
          const previous = reply.getHeader('x-order')
          reply.header('x-order', previous === undefined ? ${JSON.stringify(name)} : previous + ',' + ${JSON.stringify(name)})
        }
      }
    }
  }
}
`
}

function mentionCheck (message: string, mention: string | RegExp): void {
  if (typeof mention === 'string') assert.ok(message.includes(mention), `message ${JSON.stringify(message)} should mention ${JSON.stringify(mention)}`)
  else assert.match(message, mention)
}

/** Asserts `error` is a PluginKitError with `code` whose message mentions every entry of `mentions`. */
export function assertKitError (error: unknown, code: PluginKitErrorCode, ...mentions: Array<string | RegExp>): PluginKitError {
  assert.ok(error instanceof PluginKitError, `expected a PluginKitError, got ${String(error)}`)
  assert.equal(error.code, code, `unexpected code for: ${error.message}`)
  for (const mention of mentions) mentionCheck(error.message, mention)
  return error
}

/** A validator for `assert.rejects` / `assert.throws`: the error is a PluginKitError with `code` that mentions each of `mentions`. */
export function kitErrorWith (code: PluginKitErrorCode, ...mentions: Array<string | RegExp>): (error: unknown) => true {
  return (error) => {
    assertKitError(error, code, ...mentions)
    return true
  }
}

/**
 * A Fastify app with the kit registered over `base`, not awaited. The memory store is used
 * unless `options` says otherwise; keys set to `undefined` are left out, so
 * `{ store: undefined }` gives the kit's default store.
 */
export function startApp (base: string, options: Record<string, unknown> = {}): FastifyInstance {
  const app = Fastify({ logger: false })
  after(() => app.close().catch(() => {}))
  app.get('/', async () => 'hello world')
  const given = Object.entries({ pluginsBase: base, store: 'memory', ...options }).filter(([, value]) => value !== undefined)
  app.register(pluginKit, Object.fromEntries(given) as PluginKitOptions)
  return app
}

/** Boots the kit over `base` and returns the app once ready. */
export async function bootApp (base: string, options: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app = startApp(base, options)
  await app.ready()
  return app
}

/** Boots the kit over `base`, expects ready() to reject, and checks the error like {@link assertKitError}. */
export async function bootError (base: string, options: Record<string, unknown>, code: PluginKitErrorCode, ...mentions: Array<string | RegExp>): Promise<PluginKitError> {
  return assertKitError(await readyError(startApp(base, options)), code, ...mentions)
}

/** Waits for `app` to boot, expecting failure, and returns what ready() rejected with. */
export async function readyError (app: FastifyInstance): Promise<unknown> {
  try {
    await app.ready()
  } catch (error) {
    return error
  }
  assert.fail('ready() should have rejected')
}

/** Names of the loaded plugins, in load order. */
export function names (app: FastifyInstance): string[] {
  return app.pluginKit.plugins.map((plugin) => plugin.name)
}
