import type { Redis } from 'ioredis'
import type { PluginState, StateDetail, StateMap } from '../types.js'
import { parseChange, parseDetails, parseStates } from './redis-data.js'

export type Listener = (name: string, state: PluginState, detail?: StateDetail) => void

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

/** What a store's saves share with its subscription. */
export interface Saves {
  /** Own saves started and finished: a read that one overlapped may be older than the kit's state. */
  events: number
  /** Own saves that failed after being sent (id -> plugin): Redis may still run them. */
  readonly uncertain: Map<string, string>
  /** Asks the subscription to read Redis until it answers; set while subscribed. */
  resync: (() => void) | undefined
}

/** The store as its subscription sees it. */
export interface Followed {
  key: string
  detailsKey: string
  channel: string
  origin: string
  reloadInterval: number
  saves: Saves
  connect: () => Promise<Redis>
}

/**
 * Reports changes made by other instances, and the full state whenever it is read again.
 * `current` gives the states this instance runs with that differ from the plugins'
 * defaults: those missing from the hash (Redis lost its data) are written back.
 * Returns the function that stops it.
 */
export function follow (redis: Followed, listener: Listener, current?: () => StateMap): () => void {
  const { key, detailsKey, channel, origin, reloadInterval, saves, connect } = redis
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
    const saveEvents = saves.events
    // Saves that failed before this read is sent were sent before it: Redis's answer includes their outcome.
    const failed = unsure
    const uncertain = [...saves.uncertain.keys()]
    const client = await connect()
    const results = await client.multi().hgetall(key).hgetall(detailsKey).exec()
    const [[statesError, statesHash] = [], [detailsError, detailsHash] = []] = results ?? []
    if (results === null || statesError != null || detailsError != null) {
      throw statesError ?? detailsError ?? new Error('transaction aborted')
    }
    if (!active || reading !== token) return
    if (received !== seen || saves.events !== saveEvents) {
      again = true
      return
    }
    for (const id of uncertain) saves.uncertain.delete(id)
    answered = Math.max(answered, failed)
    const states = parseStates(statesHash as Record<string, string>)
    const details = parseDetails(detailsHash as Record<string, string>)
    for (const [name, state] of Object.entries(states)) {
      if (!active) return
      listener(name, state, Object.hasOwn(details, name) ? details[name] : undefined)
    }
    const lost = Object.entries(current?.() ?? {}).filter(([name]) => !Object.hasOwn(states, name))
    if (lost.length > 0) await client.eval(RESEED, 1, key, channel, origin, ...lost.flat())
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
  const onMessage = (from: string, message: string) => {
    if (!active || from !== channel) return
    const change = parseChange(message)
    if (change === undefined) return
    received++
    // Our own changes are already applied (a late echo must not bring back an older
    // state), except those whose save failed here: Redis ran them after all.
    if (change.origin === origin && (change.id === undefined || !saves.uncertain.delete(change.id))) return
    // ioredis rethrows what a 'message' listener throws on the next tick: an uncaught exception.
    try {
      listener(change.name, change.state, change.detail)
    } catch {
      reload() // what Redis holds is read again, and applied on its own terms
    }
  }
  saves.resync = () => {
    unsure++
    reload()
  }
  const timer = reloadInterval > 0 ? setInterval(() => reload(), reloadInterval).unref() : undefined
  /** Disconnects the subscription's own connection and stops following the command connection. */
  let detach = () => {}

  connect().then((client) => {
    if (!active) return
    // No command timeout: a handshake that timed out while Redis stalled would drop the
    // connection and retry, and the subscription would come back late.
    const subscriber = client.duplicate({ enableOfflineQueue: true, lazyConnect: false, commandTimeout: undefined })
    subscriber.on('error', () => {})
    subscriber.on('message', onMessage)
    // Covers changes made between load() and now, and everything missed while disconnected
    // (whichever of the two connections comes back last can read the full state).
    subscriber.on('ready', onReady)
    client.on('ready', onReady)
    detach = () => {
      client.off('ready', onReady)
      subscriber.disconnect()
    }
    subscriber.subscribe(channel).then(() => reload(), () => {})
  }, () => {})
  return () => {
    active = false
    saves.resync = undefined
    clearInterval(timer)
    clearTimeout(retry)
    detach()
  }
}
