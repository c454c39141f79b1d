import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * Whether a state-changing request that a cross-site page could forge (an HTML form post:
 * urlencoded or multipart) comes from the admin's own origin.
 *
 * Why the browser's Fetch Metadata and not a CSRF token: a token needs a secret shared by
 * every instance behind a load balancer and surviving the app swaps that installs cause
 * (@fastify/restartable), plus a session to bind it to (HTTP Basic has none), while the
 * browser already tells the server where a request comes from, and a page on another site
 * cannot change what it says:
 * - `Sec-Fetch-Site` (all current browsers) must be `same-origin`: `same-site` (a sibling
 *   subdomain), `cross-site` and `none` are refused.
 * - Without it (older browsers), `Origin` must name this host. `Origin: null` (sandboxed or
 *   privacy-redirected senders) is refused. The admin's `Referrer-Policy: same-origin` keeps
 *   the page's own form posts from sending `null` (`no-referrer` would).
 * - With neither header the request does not come from a browser (curl, scripts): there is
 *   no victim's browser whose credentials could be borrowed, and `authorize` has checked it.
 */
export function isSameOrigin (request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site']
  if (site !== undefined) return site === 'same-origin'
  const origin = request.headers.origin
  if (origin === undefined) return true
  try {
    // The Host header read with the Origin's scheme, so that default ports compare equal. The
    // scheme itself is not compared: a TLS-terminating proxy forwards https as http.
    const given = new URL(origin)
    return given.host === new URL(`${given.protocol}//${request.host}`).host
  } catch {
    return false
  }
}

/** Answers 403 to a cross-site form post; returns whether it did. */
export function refuseCrossSite (request: FastifyRequest, reply: FastifyReply): boolean {
  if (isSameOrigin(request)) return false
  const message = 'cross-site form posts are refused: submit the form from the admin page itself'
  reply.code(403).send({ statusCode: 403, error: 'Forbidden', message })
  return true
}
