import type { FastifyInstance } from 'fastify'
import type { KitState } from './kit.js'
import type { ResolvedOptions } from './options.js'

export function mountAdmin (_app: FastifyInstance, _state: KitState, _admin: NonNullable<ResolvedOptions['admin']>): void {
  throw new Error('not yet')
}
