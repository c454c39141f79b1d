// Direct tests of the hook chain runner (lib/hook-runner.ts) with fake request, reply and done:
// sync and async handlers, ending the chain, payload replacement, failure reporting, counters.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import {
  afterRequest, beforeRequest, chainRunner, isThenable, type Done, type Fail, type HandlerFn, type HookChain, type PhaseRules
} from '../lib/hook-runner.ts'
import type { PluginRecord } from '../lib/record.ts'
import { newStats } from '../lib/stats.ts'
import { PluginKitError } from '../lib/errors.ts'

interface FakeReply { sent: boolean, sentWith: unknown[], send (value: unknown): FakeReply }

function fakeReply (sendThrows?: Error): FakeReply {
  return {
    sent: false,
    sentWith: [],
    send (value) {
      if (sendThrows !== undefined) throw sendThrows
      this.sent = true
      this.sentWith.push(value)
      return this
    }
  }
}

const request = { url: '/x' } as unknown as FastifyRequest

function chainOf (...fns: HandlerFn[]): HookChain<HandlerFn> {
  return { fns, stats: fns.map(() => newStats()), records: fns.map((_, index) => ({ name: `p${index}` }) as PluginRecord) }
}

interface Failure { index: number, timed: boolean, thrown: unknown }

/**
 * Runs `chain` through a runner for `rules` and resolves once `done` is called (or after a
 * few turns when it never is): what done got, the failures reported, and the reply.
 */
interface RunOptions { payload?: unknown, timed?: boolean, reply?: FakeReply }

async function run (rules: PhaseRules, chain: HookChain<HandlerFn>, options: RunOptions = {}) {
  const failures: Failure[] = []
  const fail: Fail = (failedChain, index, started, thrown) => {
    assert.equal(failedChain, chain)
    failures.push({ index, timed: started >= 0, thrown })
    return new Error(`plugin p${index} failed`)
  }
  const reply = options.reply ?? fakeReply()
  const calls: Array<[Error | null | undefined, unknown]> = []
  let resolveDone: () => void = () => {}
  const finished = new Promise<void>((resolve) => { resolveDone = resolve })
  const done: Done = (error, payload) => {
    calls.push([error, payload])
    resolveDone()
  }
  chainRunner(rules, fail)(chain, options.timed ?? false, request, reply as unknown as FastifyReply, options.payload, done)
  await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 30))])
  // Let a late second call show up, if the runner let one through.
  await new Promise((resolve) => setImmediate(resolve))
  return { calls, failures, reply }
}

const later = <T>(value: T, ms = 1): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms))

test('isThenable: objects and functions with a then method', () => {
  assert.equal(isThenable(Promise.resolve()), true)
  assert.equal(isThenable({ then () {} }), true)
  assert.equal(isThenable(Object.assign(() => {}, { then () {} })), true)
  for (const value of [null, undefined, 1, 'then', {}, { then: 1 }]) assert.equal(isThenable(value), false)
})

test('before_request: sync handlers returning nothing run in order with (request, reply, payload); done() at the end', async () => {
  const seen: unknown[][] = []
  const chain = chainOf(
    (...args) => { seen.push(['a', ...args]) },
    (...args) => { seen.push(['b', ...args]) }
  )
  const { calls, failures, reply } = await run(beforeRequest, chain)
  assert.deepEqual(seen, [['a', request, reply, undefined], ['b', request, reply, undefined]])
  assert.deepEqual(calls, [[undefined, undefined]])
  assert.deepEqual(failures, [])
  assert.deepEqual(chain.stats.map((stats) => stats.hookCalls), [1, 1])
})

test('an empty chain finishes at once', async () => {
  assert.deepEqual((await run(beforeRequest, chainOf())).calls, [[undefined, undefined]])
  assert.deepEqual((await run(afterRequest, chainOf(), { payload: 'body' })).calls, [[null, 'body']])
})

test('before_request: a returned value is sent and ends the chain (STOP): later handlers and done do not run', async () => {
  let later = 0
  const chain = chainOf(() => undefined, () => ({ denied: true }), () => { later++ })
  const { calls, reply } = await run(beforeRequest, chain)
  assert.deepEqual(reply.sentWith, [{ denied: true }])
  assert.equal(later, 0)
  assert.deepEqual(calls, [])
  assert.deepEqual(chain.stats.map((stats) => stats.hookCalls), [1, 1, 0])
})

test('before_request: null and false are answers too', async () => {
  for (const answer of [null, false, 0, '']) {
    const { calls, reply } = await run(beforeRequest, chainOf(() => answer, () => assert.fail('not reached')))
    assert.deepEqual(reply.sentWith, [answer])
    assert.deepEqual(calls, [])
  }
})

test('before_request: returning the reply, or sending it and returning nothing, ends the chain without a second send', async () => {
  const returned = await run(beforeRequest, chainOf((_request, reply) => reply.send('own'), () => assert.fail('not reached')))
  assert.deepEqual(returned.reply.sentWith, ['own'])
  assert.deepEqual(returned.calls, [])
  const sentOnly = await run(beforeRequest, chainOf((_request, reply) => { reply.send('own') }, () => assert.fail('not reached')))
  assert.deepEqual(sentOnly.reply.sentWith, ['own'])
  assert.deepEqual(sentOnly.calls, [])
})

test('before_request: when reply.send throws (a value that cannot be serialized), done gets that error', async () => {
  const { calls, failures } = await run(beforeRequest, chainOf(() => 'x'), { reply: fakeReply(new Error('cannot serialize')) })
  assert.equal(calls.length, 1)
  assert.match(String(calls[0]?.[0]), /cannot serialize/)
  assert.deepEqual(failures, [])
})

test('a handler that throws is reported through fail (plugin index) and ends the chain with its error', async () => {
  const thrown = new Error('boom')
  const chain = chainOf(() => undefined, () => { throw thrown }, () => assert.fail('not reached'))
  const { calls, failures } = await run(beforeRequest, chain)
  assert.deepEqual(failures, [{ index: 1, timed: false, thrown }])
  assert.deepEqual(calls.map(([error]) => error?.message), ['plugin p1 failed'])
})

test('async handlers: resolved undefined goes on, a resolved value answers, sync ones after them still run', async () => {
  const order: string[] = []
  const chain = chainOf(
    async () => { order.push('a') },
    () => { order.push('b') },
    async () => { await later(null); order.push('c'); return 'answer' },
    () => { order.push('d') }
  )
  const { calls, reply } = await run(beforeRequest, chain)
  assert.deepEqual(order, ['a', 'b', 'c'])
  assert.deepEqual(reply.sentWith, ['answer'])
  assert.deepEqual(calls, [])
  assert.deepEqual(chain.stats.map((stats) => stats.hookCalls), [1, 1, 1, 0])
})

test('async handlers: all resolving undefined ends with done(); a handler that sends and resolves undefined stops', async () => {
  const all = await run(beforeRequest, chainOf(async () => undefined, async () => later(undefined)))
  assert.deepEqual(all.calls, [[undefined, undefined]])
  const sent = await run(beforeRequest, chainOf(async (_request, reply) => { reply.send('mine') }, () => assert.fail('not reached')))
  assert.deepEqual(sent.reply.sentWith, ['mine'])
  assert.deepEqual(sent.calls, [])
})

test('async handlers: a rejection, or a throw after an await, is reported through fail with the handler\'s index', async () => {
  const rejecting = chainOf(async () => undefined, () => Promise.reject(new Error('no')), () => assert.fail('not reached'))
  const rejected = await run(beforeRequest, rejecting)
  assert.equal(rejected.failures.length, 1)
  assert.equal(rejected.failures[0]?.index, 1)
  assert.deepEqual(rejected.calls.map(([error]) => error?.message), ['plugin p1 failed'])
  const thrownLater = await run(beforeRequest, chainOf(async () => undefined, () => { throw new Error('sync after async') }))
  assert.equal(thrownLater.failures[0]?.index, 1)
  assert.match(String((thrownLater.failures[0]?.thrown as Error).message), /sync after async/)
})

test('a thenable that calls back twice, or whose then throws, moves the chain on once', async () => {
  let next = 0
  const twice = { then (resolve: (value: unknown) => void) { resolve(undefined); resolve('late') } }
  const once = await run(beforeRequest, chainOf(() => twice, () => { next++ }))
  assert.equal(next, 1)
  assert.deepEqual(once.calls, [[undefined, undefined]])
  const throwing = { then () { throw new Error('then failed') } }
  const failed = await run(beforeRequest, chainOf(() => throwing))
  assert.deepEqual(failed.failures.map((failure) => failure.index), [0])
  assert.equal(failed.calls.length, 1)
  const rejectsThenResolves = {
    then (resolve: (value: unknown) => void, reject: (error: unknown) => void) {
      reject(new Error('first'))
      resolve('second')
    }
  }
  const first = await run(beforeRequest, chainOf(async () => undefined, () => rejectsThenResolves))
  assert.equal(first.calls.length, 1)
  assert.equal(first.failures.length, 1)
})

test('after_request: a returned value replaces the payload for the next handler; done(null, payload) at the end', async () => {
  const seen: unknown[] = []
  const chain = chainOf(
    (_request, _reply, payload) => { seen.push(payload); return 'one' },
    (_request, _reply, payload) => { seen.push(payload) },
    async (_request, _reply, payload) => { seen.push(payload); return Buffer.from('two') },
    (_request, _reply, payload) => { seen.push(payload); return undefined }
  )
  const { calls } = await run(afterRequest, chain, { payload: 'original' })
  assert.deepEqual(seen, ['original', 'one', 'one', Buffer.from('two')])
  assert.deepEqual(calls, [[null, Buffer.from('two')]])
})

test('after_request: null, a Buffer, a Node stream, a web stream and a Response are payloads', async () => {
  const values: unknown[] = [null, Buffer.from('b'), Readable.from(['s']), new ReadableStream(), new Response('r')]
  for (const value of values) {
    const { calls, failures } = await run(afterRequest, chainOf(() => value), { payload: 'x' })
    assert.deepEqual(failures, [])
    assert.equal(calls[0]?.[1], value)
  }
})

test('after_request: anything else is the plugin\'s error, naming the plugin and the type', async () => {
  const cases: Array<[unknown, string]> = [[{ a: 1 }, 'object'], [[1], 'an array'], [42, 'number'], [true, 'boolean']]
  for (const [value, type] of cases) {
    const sync = await run(afterRequest, chainOf(() => undefined, () => value), { payload: 'x' })
    assert.equal(sync.failures.length, 1)
    assert.equal(sync.failures[0]?.index, 1)
    const error = sync.failures[0]?.thrown as PluginKitError
    assert.ok(error instanceof PluginKitError)
    assert.equal(error.code, 'PLUGINKIT_ERR_EXTENSION_POINT')
    assert.match(error.message, new RegExp(`plugin "p1".*hep\\.after_request.*returned ${type}; `))
    assert.match(error.message, /a replacement payload must be a string, a Buffer, a stream or null/)
    const async = await run(afterRequest, chainOf(async () => value), { payload: 'x' })
    assert.equal((async.failures[0]?.thrown as PluginKitError).code, 'PLUGINKIT_ERR_EXTENSION_POINT')
    assert.deepEqual(async.calls.map(([failure]) => failure?.message), ['plugin p0 failed'])
  }
})

test('timing: with `timed`, every handler call is sampled (sync and async); without, none is', async () => {
  const timed = chainOf(() => undefined, async () => later(undefined, 5), () => undefined)
  await run(beforeRequest, timed, { timed: true })
  assert.deepEqual(timed.stats.map((stats) => stats.sampledCalls), [1, 1, 1])
  assert.ok((timed.stats[1]?.sampledMs ?? 0) >= 4, `async time sampled: ${timed.stats[1]?.sampledMs}`)
  const untimed = chainOf(() => undefined, async () => undefined)
  await run(beforeRequest, untimed)
  assert.deepEqual(untimed.stats.map((stats) => [stats.hookCalls, stats.sampledCalls, stats.sampledMs]), [[1, 0, 0], [1, 0, 0]])
})

test('timing: a failing handler is handed to fail with its start time when timed', async () => {
  const sync = await run(beforeRequest, chainOf(() => { throw new Error('x') }), { timed: true })
  assert.equal(sync.failures[0]?.timed, true)
  const async = await run(beforeRequest, chainOf(async () => { throw new Error('x') }), { timed: true })
  assert.equal(async.failures[0]?.timed, true)
})

test('what finishing the chain throws after an async handler becomes the request\'s error', async () => {
  const calls: Array<Error | null | undefined> = []
  const done: Done = (error) => {
    calls.push(error)
    if (calls.length === 1) throw new Error('finishing failed')
  }
  const fail: Fail = () => new Error('unexpected')
  chainRunner(afterRequest, fail)(chainOf(async () => 'new'), false, request, fakeReply() as unknown as FastifyReply, 'old', done)
  await later(null, 5)
  assert.deepEqual(calls.map((error) => error?.message ?? error), [null, 'finishing failed'])
})
