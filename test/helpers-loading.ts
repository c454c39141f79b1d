// Assertions for the loading tests (options, discovery, manifest, load order, boot failures).
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { PluginKitError, type PluginKitErrorCode } from 'fastify-pluginkit'
import { buildApp } from './helpers.ts'

/** The repository root (where node_modules lives). */
export const repoRoot = join(import.meta.dirname, '..')

/** Symlinks that let plugins in a temporary tree import `typebox` and `fastify-pluginkit`. */
export const nodeModuleLinks = {
  'node_modules/typebox': { symlink: join(repoRoot, 'node_modules', 'typebox') },
  'node_modules/fastify-pluginkit': { symlink: repoRoot }
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

/** Boots the kit over `base`, expects ready() to reject, and checks the error like {@link assertKitError}. */
export async function bootError (
  base: string, options: Record<string, unknown>, code: PluginKitErrorCode, ...mentions: Array<string | RegExp>
): Promise<PluginKitError> {
  return assertKitError(await readyError(buildApp(base, options, { until: 'none' })), code, ...mentions)
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
