import { test } from 'node:test'
import assert from 'node:assert/strict'
import type {} from '@fastify/view'
import type { FastifyInstance } from 'fastify'
import { buildApp, pluginSource, makeTree } from './helpers.ts'
import { captureLogs, ERROR, type LogLine } from './helpers-views.ts'

// Issue #11, item 11: a plugin's template contributions — `tep` entries, `tcp` functions and
// `dcp` callbacks — that throw (anything, or return a promise, whose rejection would end
// the process) never fail the page: each failure is logged with the plugin's name (the
// event name for a dcp callback of unknown origin), counted in that plugin's
// `stats.hookErrors`, and contributes nothing.

/** What a broken contribution may do: throw values of every kind, or go asynchronous. */
const FAULTS: Record<string, string> = {
  error: "throw new Error('kaboom')",
  string: "throw 'a string'",
  null: 'throw null',
  undefined: 'throw undefined',
  nullProto: 'throw Object.create(null)',
  badToString: "throw { toString () { throw new Error('no string either') } }",
  rejected: "return Promise.reject(new Error('rejected'))",
  resolved: "return Promise.resolve('too late')",
  thenable: 'return { then (ok) { ok(1) } }'
}

const PAGE = '<head>{{ emit_tep("head") }}</head><ctx>[{{ who }}|{{ shared }}|{{ fine }}]</ctx><dcp>{{ emit_dcp("footer", "x") }}</dcp>'

/**
 * `good` (loaded first) contributes everything that works; `bad` contributes one tcp
 * function, one dcp callback and one tep snippet per fault, plus a working entry of each.
 */
async function faultyApp (): Promise<{ app: FastifyInstance, lines: LogLine[] }> {
  const faults = Object.entries(FAULTS)
  const base = await makeTree({
    'templates/page.html': PAGE,
    'plugins/good/index.mjs': pluginSource({ name: 'good', version: '1.0.0', author: 'g' }, `
      ctx.kit.pushDcp('footer', (arg) => '<good-dcp ' + arg + '/>')
      return { tep: { head: '<good-tep/>' }, tcp: { who: 'good', shared: (request) => 'good-' + request.method } }`),
    'plugins/bad/index.mjs': pluginSource({ name: 'bad', version: '1.0.0', author: 'b', dependencies: ['good'] }, `
      const faults = { ${faults.map(([name, body]) => `${JSON.stringify(name)}: (request) => { ${body} }`).join(', ')} }
      for (const fault of Object.values(faults)) ctx.kit.pushDcp('footer', fault)
      ctx.kit.pushDcp('footer', () => ['<bad-dcp>', { toString () { throw new Error('bad array item') } }])
      ctx.kit.pushDcp('footer', () => '<bad-dcp-ok/>')
      return {
        tep: { head: [${faults.map(([name]) => `'{{ fault_${name}() }}'`).join(', ')}, '<bad-tep-ok/>'] },
        tcp: { shared: faults.error, fine: 'bad-fine', ...Object.fromEntries(Object.entries(faults).map(([name, fn]) => ['fault_' + name, fn])) }
      }`)
  })
  const logs = captureLogs()
  const app = await buildApp(base, { view: { templates: 'templates' } }, { fastify: logs.fastifyOptions })
  app.get('/page', (_request, reply) => reply.view('page.html'))
  await app.ready()
  return { app, lines: logs.lines }
}

test('throwing tep, tcp and dcp contributions: the page renders, the working contributions show, each failure is logged and counted', async () => {
  const { app, lines } = await faultyApp()
  const faults = Object.keys(FAULTS).length
  // Per render: tcp fails once per fault key plus `shared`; the tep snippets call the
  // (failed, so undefined) tcp values and fail once per fault; the dcp callbacks of `bad`
  // fail once per fault plus the array with a throwing item.
  const tcpFailures = faults + 1
  const tepFailures = faults
  const dcpFailures = faults + 1

  for (let round = 1; round <= 3; round++) {
    const before = lines.length
    const response = await app.inject('/page')
    assert.equal(response.statusCode, 200, response.body)
    assert.equal(response.body, '<head><good-tep/><bad-tep-ok/></head><ctx>[good|good-GET|bad-fine]</ctx><dcp><good-dcp x/><bad-dcp-ok/></dcp>')

    const errors = lines.slice(before).filter((line) => line.level >= ERROR)
    const byKind = (pattern: RegExp) => errors.filter((line) => pattern.test(line.msg))
    const tcp = byKind(/tcp context processor/)
    const tep = byKind(/tep contribution/)
    const dcp = byKind(/dcp callback/)
    assert.equal(tcp.length, tcpFailures, JSON.stringify(tcp))
    assert.equal(tep.length, tepFailures, JSON.stringify(tep))
    assert.ok([0, dcpFailures].includes(dcp.length), `dcp failures are logged once each (or as warnings until the kit passes its logger): ${dcp.length}`)
    assert.equal(errors.length, tcp.length + tep.length + dcp.length, 'nothing else failed')
    for (const line of [...tcp, ...tep]) {
      assert.equal(line.plugin, 'bad')
      assert.match(line.msg, /\bbad\b/)
    }
    assert.deepEqual(new Set(tcp.map((line) => line.key)), new Set(['shared', ...Object.keys(FAULTS).map((name) => `fault_${name}`)]))
    assert.ok(tep.every((line) => line.slot === 'head'))
    assert.ok(dcp.every((line) => line.event === 'footer' && /footer/.test(line.msg)))
    assert.ok(tcp.some((line) => JSON.stringify(line).includes('kaboom')), 'the thrown error is logged')
    assert.ok(tcp.some((line) => /must be synchronous/.test(JSON.stringify(line))), 'a promise is reported as such')

    const bad = app.pluginKit.get('bad').stats
    const attributedDcp = dcp.filter((line) => line.plugin === 'bad').length
    assert.equal(bad.hookErrors, round * (tcpFailures + tepFailures) + (attributedDcp === 0 ? 0 : round * dcpFailures), `round ${round}`)
    assert.equal(app.pluginKit.get('good').stats.hookErrors, 0)
  }

  // Outside a request, through the API, the same isolation.
  assert.equal(app.pluginKit.emitTep('head'), '<good-tep/><bad-tep-ok/>')
  assert.equal(app.pluginKit.emitDcp('footer', 'y'), '<good-dcp y/><bad-dcp-ok/>')

  // Disabled, `bad` contributes nothing and fails nothing; its tcp keys fall back to `good`'s.
  await app.pluginKit.disable('bad')
  const before = lines.length
  const response = await app.inject('/page')
  assert.equal(response.body, '<head><good-tep/></head><ctx>[good|good-GET|]</ctx><dcp><good-dcp x/><bad-dcp-ok/></dcp>')
  assert.equal(lines.slice(before).filter((line) => line.level >= ERROR && !/dcp/.test(line.msg)).length, 0)
})

test('a dcp callback pushed by the host that throws is skipped and reported with the event name; the others still contribute', async (t) => {
  const base = await makeTree({ 'templates/page.html': '<f>{{ emit_dcp("host-footer") }}</f>' })
  const logs = captureLogs()
  const app = await buildApp(base, { view: { templates: 'templates' } }, { fastify: logs.fastifyOptions })
  app.get('/page', (_request, reply) => reply.view('page.html'))
  await app.ready()
  const warnings: string[] = []
  const onWarning = (warning: Error) => warnings.push(warning.message)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))

  app.pluginKit.pushDcp('host-footer', () => '<a/>')
  app.pluginKit.pushDcp('host-footer', () => { throw new Error('host callback broke') })
  app.pluginKit.pushDcp('host-footer', async () => '<async/>')
  app.pluginKit.pushDcp('host-footer', () => '<b/>')
  const response = await app.inject('/page')
  assert.equal(response.statusCode, 200)
  assert.equal(response.body, '<f><a/><b/></f>')
  assert.equal(app.pluginKit.emitDcp('host-footer'), '<a/><b/>')
  await new Promise((resolve) => setImmediate(resolve))

  // Reported through the kit's logger (with the event), or as process warnings when the
  // kit did not hand its logger to the dcp table.
  const logged = logs.lines.filter((line) => line.level >= ERROR && line.event === 'host-footer')
  const reported = logged.length > 0 ? logged.map((line) => line.msg) : warnings.filter((message) => message.includes('host-footer'))
  assert.equal(reported.length, 4, `two failures per emit, reported once each: ${JSON.stringify({ logged, warnings })}`)
  for (const message of reported) assert.match(message, /dcp callback for event "host-footer" failed/)
})
