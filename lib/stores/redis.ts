import { randomUUID } from 'node:crypto'
import type { Redis, RedisOptions } from 'ioredis'
import { kitError, describe } from '../errors.js'
import type { PluginState, QuarantineRecord, StateDetail, StateMap, StateStore } from '../types.js'

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

type Listener = (name: string, state: PluginState, detail?: StateDetail) => void

interface Change {
  name: string
  state: PluginState
  detail?: StateDetail
  origin?: string
  /** Set by saves, so that the echo of a save that failed here can be recognised. */
  id?: string
}

/** How long to wait before reading Redis again while the outcome of a failed save is unknown. */
const RESYNC_MS = 200

// Writes back the states of running instances that the hash lost (KEYS[1]; ARGV: channel,
// origin, then name/state pairs). HSETNX never overwrites a state someone saved meanwhile;
// what it writes is published so that every instance, new ones included, applies it.
const RESEED = `
for i = 3, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('PUBLISH', ARGV[1], cjson.encode({ name = ARGV[i], state = ARGV[i + 1], origin = ARGV[2] }))
  end
end
return 0`

function isState (value: unknown): value is PluginState {
  return value === 'enabled' || value === 'disabled'
}

function isQuarantineRecord (value: unknown): value is QuarantineRecord {
  const record = value as { reason?: unknown, at?: unknown } | null
  return typeof record === 'object' && record !== null && typeof record.reason === 'string' && typeof record.at === 'string'
}

/** A stored or published detail, or undefined when it is absent or malformed. */
function toDetail (value: unknown): StateDetail | undefined {
  const quarantined = (value as { quarantined?: unknown } | null)?.quarantined
  return isQuarantineRecord(quarantined) ? { quarantined: { reason: quarantined.reason, at: quarantined.at } } : undefined
}

function parseChange (message: string): Change | undefined {
  try {
    const { name, state, detail, origin, id } = JSON.parse(message) as Record<string, unknown>
    if (typeof name !== 'string' || !isState(state)) return undefined
    return {
      name,
      state,
      detail: toDetail(detail),
      origin: typeof origin === 'string' ? origin : undefined,
      id: typeof id === 'string' ? id : undefined
    }
  } catch {
    return undefined
  }
}

function parseDetails (hash: Record<string, string>): Record<string, StateDetail> {
  const details: Record<string, StateDetail> = {}
  for (const [name, json] of Object.entries(hash)) {
    try {
      const detail = toDetail(JSON.parse(json))
      if (detail !== undefined) details[name] = detail
    } catch {}
  }
  return details
}

function parseStates (hash: Record<string, string>): StateMap {
  const states: StateMap = {}
  for (const [name, state] of Object.entries(hash)) if (isState(state)) states[name] = state
  return states
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
  /** Own saves started and finished: a read that one overlapped may be older than the kit's state. */
  #saveEvents = 0
  /** Own saves that failed after being sent (id -> plugin): Redis may still run them. */
  readonly #uncertain = new Map<string, string>()
  /** Asks the subscription to read Redis until it answers; set while subscribed. */
  #resync: (() => void) | undefined
  #client: Redis | undefined
  #subscriber: Redis | undefined
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
    return kitError('PLUGINKIT_ERR_STATE_STORE', { store: `Redis store ${this.key}` }, undefined, `cannot ${action}: ${describe(error)}`, error)
  }

  async #hash (key: string): Promise<Record<string, string>> {
    try {
      const client = await this.#connect()
      return await client.hgetall(key)
    } catch (error) {
      // Booting fails on this error; do not leave a client reconnecting in the background.
      if (this.#subscriber === undefined) await this.close()
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
    this.#saveEvents++
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
      this.#uncertain.set(id, name)
      this.#resync?.()
      throw kitError('PLUGINKIT_ERR_STATE_STORE', { store: `Redis store ${this.key}` }, undefined,
        `did not confirm the change (${describe(error)}); it may still be applied: every instance, this one included, will follow what Redis holds once it answers`, error)
    } finally {
      this.#saveEvents++
    }
    // Older unconfirmed saves of this plugin ran before this one, if at all: their echo is outdated.
    for (const [key, plugin] of this.#uncertain) if (plugin === name) this.#uncertain.delete(key)
  }

  /**
   * Reports changes made by other instances, and the full state whenever it is read again.
   * `current` gives the states this instance runs with that differ from the plugins'
   * defaults: those missing from the hash (Redis lost its data) are written back.
   */
  subscribe (listener: Listener, current?: () => StateMap): () => void {
    let active = true
    /** The read in flight; a read started on a new connection supersedes it. */
    let reading: object | undefined
    let again = false
    /** Counts saves whose outcome became unknown; Redis has answered for those up to `answered`. */
    let unsure = 0
    let answered = 0
    /** Changes received; a read that one (or an own save) overlapped may be older than it and is done again. */
    let received = 0
    let retry: NodeJS.Timeout | undefined

    const read = async (token: object): Promise<void> => {
      const seen = received
      const saveEvents = this.#saveEvents
      // Saves that failed before this read is sent were sent before it: Redis's answer includes their outcome.
      const failed = unsure
      const uncertain = [...this.#uncertain.keys()]
      const client = await this.#connect()
      const results = await client.multi().hgetall(this.key).hgetall(this.detailsKey).exec()
      const [[statesError, statesHash] = [], [detailsError, detailsHash] = []] = results ?? []
      if (results === null || statesError != null || detailsError != null) throw statesError ?? detailsError ?? new Error('transaction aborted')
      if (!active || reading !== token) return
      if (received !== seen || this.#saveEvents !== saveEvents) {
        again = true
        return
      }
      for (const id of uncertain) this.#uncertain.delete(id)
      answered = Math.max(answered, failed)
      const states = parseStates(statesHash as Record<string, string>)
      const details = parseDetails(detailsHash as Record<string, string>)
      for (const [name, state] of Object.entries(states)) {
        if (!active) return
        listener(name, state, Object.hasOwn(details, name) ? details[name] : undefined)
      }
      const lost = Object.entries(current?.() ?? {}).filter(([name]) => !Object.hasOwn(states, name))
      if (lost.length > 0) await client.eval(RESEED, 1, this.key, this.channel, this.#origin, ...lost.flat())
    }
    const reload = (fresh = false) => {
      if (!active) return
      if (reading !== undefined && !fresh) {
        again = true
        return
      }
      const token = {}
      reading = token
      again = false
      clearTimeout(retry)
      read(token).catch(() => {
        if (active && reading === token && answered < unsure) retry = setTimeout(() => reload(), RESYNC_MS)
      }).finally(() => {
        if (reading !== token) return
        reading = undefined
        if (again) reload()
      })
    }
    // A connection that is ready again: a read sent on the old one may never be answered
    // (ioredis drops it, and it waits for its timeout), so read at once.
    const onReady = () => reload(true)
    const onMessage = (channel: string, message: string) => {
      if (!active || channel !== this.channel) return
      const change = parseChange(message)
      if (change === undefined) return
      received++
      // Our own changes are already applied (a late echo must not bring back an older
      // state), except those whose save failed here: Redis ran them after all.
      if (change.origin === this.#origin && (change.id === undefined || !this.#uncertain.delete(change.id))) return
      listener(change.name, change.state, change.detail)
    }
    this.#resync = () => {
      unsure++
      reload()
    }
    const timer = this.reloadInterval > 0 ? setInterval(() => reload(), this.reloadInterval).unref() : undefined
    let detach = () => {}

    this.#connect().then((client) => {
      if (!active) return
      // No command timeout: a handshake that timed out while Redis stalled would drop the
      // connection and retry, and the subscription would come back late.
      const subscriber = client.duplicate({ enableOfflineQueue: true, lazyConnect: false, commandTimeout: undefined })
      this.#subscriber = subscriber
      subscriber.on('error', () => {})
      subscriber.on('message', onMessage)
      // Covers changes made between load() and now, and everything missed while disconnected
      // (whichever of the two connections comes back last can read the full state).
      subscriber.on('ready', onReady)
      client.on('ready', onReady)
      detach = () => client.off('ready', onReady)
      subscriber.subscribe(this.channel).then(() => reload(), () => {})
    }, () => {})
    const stop = () => {
      active = false
      this.#resync = undefined
      clearInterval(timer)
      clearTimeout(retry)
      detach()
      this.#stops.delete(stop)
    }
    this.#stops.add(stop)
    return stop
  }

  async close (): Promise<void> {
    this.#closed = true
    for (const stop of [...this.#stops]) stop()
    const subscriber = this.#subscriber
    this.#subscriber = undefined
    if (subscriber !== undefined) subscriber.disconnect()
    if (this.#ownsClient && this.#client !== undefined) this.#client.disconnect()
    this.#client = undefined
  }
}

export default RedisStore
