export interface Stats {
  requests: number
  hookCalls: number
  hookErrors: number
  /** Hook time is sampled (see points/hep.ts); the mean is over sampled calls. */
  sampledCalls: number
  sampledMs: number
  /** Metrics (SPEC 13): gets each sampled duration, for the hook duration histogram. */
  observe?: (ms: number) => void
}

export function newStats (): Stats {
  return { requests: 0, hookCalls: 0, hookErrors: 0, sampledCalls: 0, sampledMs: 0 }
}
