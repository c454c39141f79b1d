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
 * swaps it in once it is ready, and closes the old one. undefined without restartable.
 */
export function restartOf (app: FastifyInstance): (() => Promise<void>) | undefined {
  const restart = (app as FastifyInstance & Restartable).restart
  return typeof restart === 'function' ? () => restart.call(app) : undefined
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
