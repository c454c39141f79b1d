import { randomUUID } from 'node:crypto'
import type { Redis, RedisOptions } from 'ioredis'
import { kitError, describe } from '../errors.js'
import type { PluginState, StateDetail, StateMap, StateStore } from '../types.js'
import { parseDetails, parseStates, type Change } from './redis-data.js'
import { follow, type Listener, type Saves } from './redis-sync.js'

export interface RedisStoreOptions {
  /** An ioredis client to use; it is duplicated for pub/sub and left open on close. */
  client?: Redis
  /** A Redis URL; the store creates (and closes) its own clients. */
  url?: string
  /**
   * The hash holding the states. Default `pluginkit:state`; quarantine records live in
   * `<key>:details` and changes are published on `<key>:changes`.
   */
  key?: string
  /** Extra ioredis options for clients created from `url`. */
  redisOptions?: RedisOptions
  /**
   * How often each instance re-reads the whole hash, in ms (default 5000; 0: never). It is
   * how instances notice that Redis lost its data (FLUSHALL, eviction) and write their
   * states back, and it repairs any change whose message they missed.
   */
  reloadInterval?: number
}

/**
 * States in a Redis hash, quarantine records in a second one; every change is also
 * published, so all app instances sharing the Redis apply it at once. While Redis is
 * unreachable, commands fail fast (no offline queue): enable/disable reject and change
 * nothing, and instances keep the last known state. Redis is what every instance follows:
 * the full state is reloaded when a connection is ready again, every `reloadInterval` ms,
 * and, after a save whose outcome is unknown (Redis stalled), until Redis answers.
 */
export class RedisStore implements StateStore {
  readonly key: string
  readonly detailsKey: string
  readonly channel: string
  readonly reloadInterval: number
  readonly #options: RedisStoreOptions
  readonly #origin = randomUUID()
  #saves = 0
  /** What the subscription needs to know of this instance's saves. */
  readonly #ownSaves: Saves = { events: 0, uncertain: new Map<string, string>(), resync: undefined }
  #client: Redis | undefined
  #subscribed = false
  #ownsClient = false
  #closed = false
  readonly #stops = new Set<() => void>()

  constructor (options: RedisStoreOptions = {}) {
    if (options.client === undefined && options.url === undefined) {
      throw kitError('PLUGINKIT_ERR_INVALID_OPTION', { option: 'store' }, 'RedisStore', 'needs a client or a url')
    }
    this.#options = options
    this.key = options.key ?? 'pluginkit:state'
    this.detailsKey = `${this.key}:details`
    this.channel = `${this.key}:changes`
    this.reloadInterval = options.reloadInterval ?? 5000
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
        // Reconnect at least every 200 ms, so that a Redis back from an outage is read within a second.
        retryStrategy: (times: number) => Math.min(times * 50, 200),
        // A save reported failed must not run later, on a new connection, when nobody waits for it.
        autoResendUnfulfilledCommands: false,
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
    const detail = `cannot ${action}: ${describe(error)}`
    return kitError('PLUGINKIT_ERR_STATE_STORE', { store: `Redis store ${this.key}` }, undefined, detail, error)
  }

  async #hash (key: string): Promise<Record<string, string>> {
    try {
      const client = await this.#connect()
      return await client.hgetall(key)
    } catch (error) {
      // Booting fails on this error; do not leave a client reconnecting in the background.
      if (!this.#subscribed) await this.close()
      throw this.#failure('be read', error)
    }
  }

  async load (): Promise<StateMap> {
    return parseStates(await this.#hash(this.key))
  }

  async loadDetails (): Promise<Record<string, StateDetail>> {
    return parseDetails(await this.#hash(this.detailsKey))
  }

  async save (name: string, state: PluginState, detail?: StateDetail): Promise<void> {
    const id = `${this.#origin}:${++this.#saves}`
    let sent = false
    this.#ownSaves.events++
    try {
      const client = await this.#connect()
      const quarantined = detail?.quarantined === undefined ? undefined : { quarantined: detail.quarantined }
      const change: Change = { name, state, origin: this.#origin, id, ...(quarantined === undefined ? {} : { detail: quarantined }) }
      const transaction = client.multi().hset(this.key, name, state)
      // Any save without a quarantine record ends the one it had.
      if (quarantined === undefined) transaction.hdel(this.detailsKey, name)
      else transaction.hset(this.detailsKey, name, JSON.stringify(quarantined))
      transaction.publish(this.channel, JSON.stringify(change))
      // A command for a connection that is not ready is refused before it is sent.
      sent = client.status === 'ready'
      const results = await transaction.exec()
      const failed = results?.find(([error]) => error !== null)
      if (results === null || failed !== undefined) throw failed?.[0] ?? new Error('transaction aborted')
    } catch (error) {
      if (!sent) throw this.#failure('be written, nothing was changed', error)
      // Sent but not confirmed (a timeout, a connection lost): Redis may run it yet. Its echo
      // is applied here too, and Redis is read again until it answers, so this instance ends
      // up with what Redis holds, as the others do.
      this.#ownSaves.uncertain.set(id, name)
      this.#ownSaves.resync?.()
      const unconfirmed = `did not confirm the change (${describe(error)}); it may still be applied: ` +
        'every instance, this one included, will follow what Redis holds once it answers'
      throw kitError('PLUGINKIT_ERR_STATE_STORE', { store: `Redis store ${this.key}` }, undefined, unconfirmed, error)
    } finally {
      this.#ownSaves.events++
    }
    // Older unconfirmed saves of this plugin ran before this one, if at all: their echo is outdated.
    for (const [key, plugin] of this.#ownSaves.uncertain) if (plugin === name) this.#ownSaves.uncertain.delete(key)
  }

  /**
   * Reports changes made by other instances, and the full state whenever it is read again.
   * `current` gives the states this instance runs with that differ from the plugins'
   * defaults: those missing from the hash (Redis lost its data) are written back.
   */
  subscribe (listener: Listener, current?: () => StateMap): () => void {
    this.#subscribed = true
    // Each subscription has a connection of its own, which its stop disconnects.
    const unfollow = follow({
      key: this.key,
      detailsKey: this.detailsKey,
      channel: this.channel,
      origin: this.#origin,
      reloadInterval: this.reloadInterval,
      saves: this.#ownSaves,
      connect: () => this.#connect()
    }, listener, current)
    const stop = () => {
      unfollow()
      this.#stops.delete(stop)
    }
    this.#stops.add(stop)
    return stop
  }

  /** The install lockfile shared by every instance: `<key>:lockfile`; uploaded tarballs in `<key>:upload:<package>@<version>`. */
  async loadLockfile (): Promise<string | undefined> {
    try {
      const client = await this.#connect()
      return (await client.get(`${this.key}:lockfile`)) ?? undefined
    } catch (error) {
      throw this.#failure('read the install lockfile', error)
    }
  }

  async saveLockfile (text: string, uploads: Record<string, Buffer>): Promise<void> {
    try {
      const client = await this.#connect()
      const transaction = client.multi()
      for (const [key, tarball] of Object.entries(uploads)) transaction.set(`${this.key}:upload:${key}`, tarball)
      const results = await transaction.set(`${this.key}:lockfile`, text).exec()
      const failed = results?.find(([error]) => error !== null)
      if (results === null || failed !== undefined) throw failed?.[0] ?? new Error('transaction aborted')
    } catch (error) {
      throw this.#failure('write the install lockfile', error)
    }
  }

  async loadUpload (key: string): Promise<Buffer | undefined> {
    try {
      const client = await this.#connect()
      return (await client.getBuffer(`${this.key}:upload:${key}`)) ?? undefined
    } catch (error) {
      throw this.#failure(`read the uploaded tarball ${key}`, error)
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    for (const stop of [...this.#stops]) stop()
    if (this.#ownsClient && this.#client !== undefined) this.#client.disconnect()
    this.#client = undefined
  }
}

export default RedisStore
