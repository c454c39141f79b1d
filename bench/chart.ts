/** An SVG line chart of req/s against N (log scale) for kit, hand-wired and bare, no dependencies. */
export function lineChart (points: Array<{ n: number, kit: number, hand: number, bare: number }>, quick: boolean): string {
  const width = 680
  const height = 360
  const margin = { top: 40, right: 170, bottom: 50, left: 70 }
  const plotW = width - margin.left - margin.right
  const plotH = height - margin.top - margin.bottom
  const ns = points.map((point) => point.n)
  const minLog = Math.log10(Math.min(...ns))
  const maxLog = Math.log10(Math.max(...ns))
  const x = (n: number) => margin.left + (maxLog === minLog ? plotW / 2 : ((Math.log10(n) - minLog) / (maxLog - minLog)) * plotW)
  const top = Math.max(...points.flatMap((point) => [point.kit, point.hand, point.bare])) * 1.1
  const y = (value: number) => margin.top + plotH - (value / top) * plotH
  const series = [
    { key: 'bare' as const, label: 'bare Fastify', color: '#8c959f', dash: '6 4' },
    { key: 'kit' as const, label: 'fastify-pluginkit', color: '#1a7f37', dash: '' },
    { key: 'hand' as const, label: 'hand-wired hooks', color: '#cf222e', dash: '' }
  ]
  const ticks = Array.from({ length: 5 }, (_, index) => (top / 5) * (index + 1))
  const title = `Requests/s on a plugin route vs number of plugins (N)${quick ? ' — quick run' : ''}`
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${margin.left}" y="22" font-size="14" font-weight="600">${title}</text>`
  ]
  for (const tick of ticks) {
    parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y(tick)}" y2="${y(tick)}" stroke="#eaeef2"/>`)
    parts.push(`<text x="${margin.left - 8}" y="${y(tick) + 4}" text-anchor="end">${Math.round(tick / 1000)}k</text>`)
  }
  for (const n of ns) parts.push(`<text x="${x(n)}" y="${margin.top + plotH + 18}" text-anchor="middle">${n}</text>`)
  const axisLabel = 'N plugins, each with async before_request + after_request (log scale)'
  parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${axisLabel}</text>`)
  parts.push(`<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#57606a"/>`)
  const bottom = margin.top + plotH
  parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${bottom}" y2="${bottom}" stroke="#57606a"/>`)
  series.forEach((line, index) => {
    const path = points.map((point) => `${x(point.n).toFixed(1)},${y(point[line.key]).toFixed(1)}`).join(' ')
    const stroke = `stroke="${line.color}" stroke-width="2.5"${line.dash === '' ? '' : ` stroke-dasharray="${line.dash}"`}`
    parts.push(`<polyline points="${path}" fill="none" ${stroke}/>`)
    for (const point of points) {
      parts.push(`<circle cx="${x(point.n).toFixed(1)}" cy="${y(point[line.key]).toFixed(1)}" r="3.5" fill="${line.color}"/>`)
    }
    const legendY = margin.top + 10 + index * 20
    parts.push(`<line x1="${margin.left + plotW + 12}" x2="${margin.left + plotW + 32}" y1="${legendY}" y2="${legendY}" ${stroke}/>`)
    parts.push(`<text x="${margin.left + plotW + 38}" y="${legendY + 4}">${line.label}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
