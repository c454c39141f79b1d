import type { FastifyInstance } from 'fastify'

/** What @fastify/restartable decorates the root instance with (the kit uses only these). */
interface Restartable {
  /** The same object for every app one restartable() call swaps in. */
  persistentRef?: object
  restart?: () => Promise<void>
  /** True while the restartable app itself is closing, false while an old app is closed after a swap. */
  closingRestartable?: boolean
}

/**
 * `app.restart()` under @fastify/restartable: it builds a new app with the host's factory,
 * swaps it in once it is ready, and closes the old one; resolves true once the new app serves.
 * undefined without restartable.
 *
 * Restartable swaps even after the app was closed for good, and the app it builds then is
 * one nothing closes (its store connections keep the process alive). So once the app closes
 * for good this resolves false without swapping, and an app swapped in while it was
 * closing is closed here, after `beforeClosing` (which may still use its store).
 */
export function restartOf (app: FastifyInstance): ((beforeClosing?: () => Promise<void>) => Promise<boolean>) | undefined {
  const restart = (app as FastifyInstance & Restartable).restart
  if (typeof restart !== 'function') return undefined
  return async (beforeClosing) => {
    if (closingForGood(app)) return false
    // A boot that fails rejects even during a close: an operation must put its lockfile back.
    await restart.call(app)
    if (!closingForGood(app)) return true
    try {
      await beforeClosing?.()
    } finally {
      await (swapIdentity(app) as FastifyInstance).close().catch((error: unknown) =>
        app.log.error({ err: error }, 'fastify-pluginkit: closing the app swapped in during close failed'))
    }
    return false
  }
}

/** Whether `app` closes for good (not because a swap replaced it). */
export function closingForGood (app: FastifyInstance): boolean {
  return (app as FastifyInstance & Restartable).closingRestartable !== false
}

/** The object that stays the same across the swaps of one restartable app; undefined without restartable. */
export function swapIdentity (app: FastifyInstance): object | undefined {
  const ref = (app as FastifyInstance & Restartable).persistentRef
  return typeof ref === 'object' && ref !== null ? ref : undefined
}
