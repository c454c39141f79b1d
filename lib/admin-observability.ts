import type { AdminRoutes } from './admin.js'
import { checkHealth } from './health.js'
import { metricsRegistry } from './metrics.js'

/**
 * SPEC 13 in the admin: `GET {prefix}/metrics` (with the `metrics` option) serves the
 * registry the kit's series are in, in Prometheus text format; `GET {prefix}/api/health`
 * answers `app.pluginKit.health()` with 200 when every check is healthy, else 503.
 */
export const observabilityRoutes: AdminRoutes = async (instance, { state, options }) => {
  const metrics = options?.metrics
  if (metrics !== undefined) {
    const registry = await metricsRegistry(metrics.registry)
    instance.get('/metrics', async (_request, reply) => {
      const text = await registry.metrics()
      return reply.type(registry.contentType).header('cache-control', 'no-store').send(text)
    })
  }
  instance.get('/api/health', async (_request, reply) => {
    const report = await checkHealth(state.records)
    return reply.code(report.ok ? 200 : 503).header('cache-control', 'no-store').send(report)
  })
}
