import type { RunningOperation } from '../types.js'

/**
 * The lockfile text each install folder's app last booted with. Under @fastify/restartable
 * the old and new apps live in one process; an operation checks here that the app its
 * restart produced runs the lockfile it wrote.
 */
export const lastBooted = new Map<string, string | undefined>()

/** One operation at a time per install folder, shared by the old and new apps of a swap; later calls queue. */
export class OperationQueue {
  static readonly #queues = new Map<string, OperationQueue>()

  static for (dir: string): OperationQueue {
    let queue = OperationQueue.#queues.get(dir)
    if (queue === undefined) {
      queue = new OperationQueue()
      OperationQueue.#queues.set(dir, queue)
    }
    return queue
  }

  #tail: Promise<unknown> = Promise.resolve()
  current: RunningOperation | undefined

  /** `operation` undefined: following another instance's change, not an operation of this one. */
  run<T> (operation: RunningOperation | undefined, work: (operation: RunningOperation) => Promise<T>): Promise<T> {
    const result = this.#tail.then(async () => {
      const startedAt = new Date().toISOString()
      const running = operation ?? { action: 'install', target: '(another instance)', step: 'activating', startedAt }
      this.current = operation
      try {
        return await work(running)
      } finally {
        this.current = undefined
      }
    })
    this.#tail = result.catch(() => {})
    return result
  }
}
