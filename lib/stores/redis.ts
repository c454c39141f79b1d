import { randomUUID } from 'node:crypto'
import type { Redis, RedisOptions } from 'ioredis'
import { kitError, describe } from '../errors.js'
import type { PluginState, StateMap, StateStore } from '../types.js'

export interface RedisStoreOptions {
  /** An ioredis client to use; it is duplicated for pub/sub and left open on close. */
  client?: Redis
  /** A Redis URL; the store creates (and closes) its own clients. */
  url?: string
  /** The hash holding the states. Default `pluginkit:state`; changes are published on `<key>:changes`. */
  key?: string
  /** Extra ioredis options for clients created from `url`. */
  redisOptions?: RedisOptions
}

type Listener = (name: string, state: PluginState) => void

function isState (value: unknown): value is PluginState {
  return value === 'enabled' || value === 'disabled'
}

/**
 * States in a Redis hash; every change is also published, so all app instances sharing
 * the Redis apply it at once. While Redis is unreachable, commands fail fast (no offline
 * queue): enable/disable reject and change nothing, and instances keep the last known
 * state. When the subscriber connection is ready again, the full state is reloaded.
 */
export class RedisStore implements StateStore {
  readonly key: string
  readonly channel: string
  readonly #options: RedisStoreOptions
  readonly #origin = randomUUID()
  #client: Redis | undefined
  #subscriber: Redis | undefined
  #ownsClient = false
  #closed = false
  #detach: () => void = () => {}

  constructor (options: RedisStoreOptions = {}) {
    if (options.client === undefined && options.url === undefined) {
      throw kitError('PLUGINKIT_ERR_INVALID_OPTION', 'option store', 'RedisStore', 'needs a client or a url')
    }
    this.#options = options
    this.key = options.key ?? 'pluginkit:state'
    this.channel = `${this.key}:changes`
  }

  async #connect (): Promise<Redis> {
    if (this.#closed) throw new Error('the store is closed')
    if (this.#client !== undefined) return this.#client
    if (this.#options.client !== undefined) {
      this.#client = this.#options.client
    } else {
      const { Redis: Client } = await import('ioredis')
      const client = new Client(this.#options.url as string, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: 2000,
        ...this.#options.redisOptions
      })
      // Connection errors surface as rejected commands; without a listener ioredis would crash the process.
      client.on('error', () => {})
      this.#client = client
      this.#ownsClient = true
      await client.connect()
    }
    return this.#client
  }

  #failure (action: string, error: unknown) {
    return kitError('PLUGINKIT_ERR_STATE_STORE', `Redis store ${this.key}`, undefined, `cannot ${action}: ${describe(error)}`, error)
  }

  async load (): Promise<StateMap> {
    let hash: Record<string, string>
    try {
      const client = await this.#connect()
      hash = await client.hgetall(this.key)
    } catch (error) {
      // Booting fails on this error; do not leave a client reconnecting in the background.
      if (this.#subscriber === undefined) await this.close()
      throw this.#failure('be read', error)
    }
    const states: StateMap = {}
    for (const [name, state] of Object.entries(hash)) if (isState(state)) states[name] = state
    return states
  }

  async save (name: string, state: PluginState): Promise<void> {
    try {
      const client = await this.#connect()
      const results = await client.multi()
        .hset(this.key, name, state)
        .publish(this.channel, JSON.stringify({ name, state, origin: this.#origin }))
        .exec()
      const failed = results?.find(([error]) => error !== null)
      if (results === null || failed !== undefined) throw failed?.[0] ?? new Error('transaction aborted')
    } catch (error) {
      throw this.#failure('be written', error)
    }
  }

  subscribe (listener: Listener): () => void {
    let active = true
    const reload = () => {
      if (!active) return
      this.load().then((states) => {
        if (!active) return
        for (const [name, state] of Object.entries(states)) listener(name, state)
      }, () => {})
    }
    const onMessage = (channel: string, message: string) => {
      if (!active || channel !== this.channel) return
      try {
        const { name, state, origin } = JSON.parse(message) as { name?: unknown, state?: unknown, origin?: unknown }
        // Our own changes are already applied; a late echo must not bring back an older state.
        if (origin !== this.#origin && typeof name === 'string' && isState(state)) listener(name, state)
      } catch {}
    }
    this.#connect().then((client) => {
      if (!active) return
      const subscriber = client.duplicate({ enableOfflineQueue: true, lazyConnect: false })
      this.#subscriber = subscriber
      subscriber.on('error', () => {})
      subscriber.on('message', onMessage)
      // Covers changes made between load() and now, and everything missed while disconnected
      // (whichever of the two connections comes back last can read the full state).
      subscriber.on('ready', reload)
      client.on('ready', reload)
      this.#detach = () => client.off('ready', reload)
      subscriber.subscribe(this.channel).then(reload, () => {})
    }, () => {})
    return () => {
      active = false
      this.#detach()
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#detach()
    const subscriber = this.#subscriber
    this.#subscriber = undefined
    if (subscriber !== undefined) subscriber.disconnect()
    if (this.#ownsClient && this.#client !== undefined) this.#client.disconnect()
    this.#client = undefined
  }
}

export default RedisStore
