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
