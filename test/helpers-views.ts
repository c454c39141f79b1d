import { request, type Agent, type IncomingHttpHeaders } from 'node:http'
import { connect } from 'node:net'
import type { FastifyServerOptions } from 'fastify'

/** One parsed line of Fastify's JSON log output. */
export interface LogLine {
  level: number
  msg: string
  plugin?: string
  [key: string]: unknown
}

/**
 * Fastify options whose logger writes JSON lines into `lines` (level info and above), so a
 * test can assert what was logged.
 */
export function captureLogs (): { lines: LogLine[], fastifyOptions: FastifyServerOptions } {
  const lines: LogLine[] = []
  const stream = {
    write (chunk: string) {
      for (const line of chunk.split('\n')) {
        if (line.trim() !== '') lines.push(JSON.parse(line) as LogLine)
      }
    }
  }
  return { lines, fastifyOptions: { logger: { level: 'info', stream } } }
}

export const WARN = 40
export const ERROR = 50

/** The raw answer to one HTTP request sent over a real socket. */
export interface RawResponse {
  status: number
  /** The whole response as text: status line, headers and body. */
  raw: string
}

/**
 * Sends `method target HTTP/1.1` over a fresh TCP connection with the request-target
 * written verbatim (no URL normalisation of `..`, percent-escapes or backslashes), and
 * resolves with everything the server wrote before closing the connection.
 */
export function rawRequest (port: number, target: string, method = 'GET'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    const chunks: Buffer[] = []
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to ${method} ${target}`)))
    socket.on('connect', () => {
      socket.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`, 'latin1')
    })
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('latin1')
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(raw)
      if (match === null) reject(new Error(`no HTTP status line in the answer to ${method} ${target}: ${JSON.stringify(raw.slice(0, 200))}`))
      else resolve({ status: Number(match[1]), raw })
    })
  })
}

export interface HttpAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

export interface HttpOptions {
  method?: string
  /** A keep-alive agent, to send over persistent connections. */
  agent?: Agent
  headers?: Record<string, string>
  /** Sent as JSON (content-type application/json). */
  body?: string
  timeoutMs?: number
}

/** One HTTP request to 127.0.0.1 over a real socket; rejects on socket errors and timeouts. */
export function httpRequest (port: number, path: string, { method = 'GET', agent, headers = {}, body, timeoutMs = 10_000 }: HttpOptions = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const sent = body === undefined ? headers : { ...headers, 'content-type': 'application/json' }
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers: sent, timeout: timeoutMs }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)))
    req.on('error', reject)
    req.end(body)
  })
}
