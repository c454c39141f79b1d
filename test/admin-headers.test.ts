// The admin's security headers (@fastify/helmet, scoped to the admin's context).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, makeTree } from './helpers.ts'

const secret = { 'x-admin': 's3cret' }

/** The app has a host route `/` answering `hello world`. */
async function adminApp () {
  const authorize = (request: { headers: Record<string, unknown> }) => request.headers['x-admin'] === 's3cret'
  return await buildApp(await makeTree({}), { admin: { authorize } }, { until: 'ready' })
}

test('every admin answer carries the security headers: the page, the API and a refused request', async () => {
  const app = await adminApp()
  const answers = {
    page: await app.inject({ url: '/pluginkit/', headers: secret }),
    api: await app.inject({ url: '/pluginkit/api/plugins', headers: secret }),
    refused: await app.inject('/pluginkit/api/plugins')
  }
  assert.deepEqual(Object.values(answers).map((answer) => answer.statusCode), [200, 200, 401])
  for (const [name, answer] of Object.entries(answers)) {
    const headers = answer.headers
    assert.match(String(headers['content-security-policy']), /^default-src 'none';/, name)
    // form-action 'self': the page's controls are forms posting to the admin.
    for (const directive of ["connect-src 'self'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"]) {
      assert.ok(String(headers['content-security-policy']).includes(directive), `${name}: ${directive}`)
    }
    assert.equal(headers['x-content-type-options'], 'nosniff', name)
    // No referrer to other sites; same-origin form posts keep their Origin header (the CSRF check's fallback).
    assert.equal(headers['referrer-policy'], 'same-origin', name)
    assert.equal(headers['x-frame-options'], 'DENY', name)
    assert.equal(headers['cross-origin-opener-policy'], 'same-origin', name)
    // A policy for the whole host is the host's to set.
    assert.equal(headers['strict-transport-security'], undefined, name)
  }
  assert.equal(answers.page.headers['cache-control'], 'no-store')
})

test('the page\'s inline script and style carry this response\'s nonces', async () => {
  const app = await adminApp()
  const page = await app.inject({ url: '/pluginkit/', headers: secret })
  const csp = String(page.headers['content-security-policy'])
  const script = /script-src 'nonce-([^']+)'/.exec(csp)?.[1]
  const style = /style-src 'nonce-([^']+)'/.exec(csp)?.[1]
  assert.ok(script !== undefined && style !== undefined, csp)
  assert.ok(page.body.includes(`<script nonce="${script}">`))
  assert.ok(page.body.includes(`<style nonce="${style}">`))
})

test('the host\'s own routes get none of the admin\'s headers', async () => {
  const app = await adminApp()
  const host = await app.inject('/')
  assert.equal(host.body, 'hello world')
  assert.equal(host.headers['content-security-policy'], undefined)
  assert.equal(host.headers['x-frame-options'], undefined)
})
