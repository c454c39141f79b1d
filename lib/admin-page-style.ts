/** The admin page's CSS, inline (allowed by the response's style nonce): no external assets. */
export const PAGE_STYLE = `
  :root { color-scheme: light dark; --ok: #1a7f37; --off: #8c959f; --bad: #cf222e; }
  :root { --line: color-mix(in srgb, currentColor 15%, transparent); }
  body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 80rem; padding: 0 1rem; }
  h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
  h2 { font-size: 1.1rem; margin: 2rem 0 .5rem; }
  h3 { font-size: 1rem; margin: 1rem 0 .25rem; }
  p.meta { color: var(--off); margin: 0 0 1rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { border-bottom: 1px solid var(--line); padding: .45rem .5rem; text-align: left; vertical-align: top; }
  th { font-weight: 600; white-space: nowrap; }
  td:first-child { min-width: 16rem; }
  td.num { font-variant-numeric: tabular-nums; text-align: right; white-space: nowrap; }
  .state { border-radius: 1rem; display: inline-block; font-size: .8rem; padding: 0 .55rem; color: #fff; }
  .state.enabled { background: var(--ok); } .state.disabled { background: var(--off); } .state.quarantined { background: var(--bad); }
  .desc { color: var(--off); font-size: .85rem; }
  .health.ok { color: var(--ok); } .health.bad { color: var(--bad); font-weight: 600; }
  details { font-size: .85rem; margin-top: .25rem; }
  summary { cursor: pointer; color: var(--off); }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .75rem; margin: .4rem 0; }
  dt { color: var(--off); } dd { margin: 0; overflow-wrap: anywhere; }
  pre.readme { max-height: 20rem; max-width: 60ch; overflow: auto; white-space: pre-wrap; border: 1px solid var(--line); padding: .5rem; }
  .controls { display: flex; flex-wrap: wrap; gap: .3rem; }
  .controls form, .confirm form { display: inline-flex; gap: .25rem; margin: 0; }
  button { cursor: pointer; font: inherit; padding: .2rem .7rem; }
  button:disabled { cursor: progress; }
  #message { min-height: 1.4rem; } #message[data-kind="error"], .problem { color: var(--bad); }
  #message[data-kind="info"] { color: var(--ok); }
  .confirm { margin: 0 0 1rem; }
  form.install { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; }
  #operation { font-weight: 600; }
  #failures li { margin: .3rem 0; } #failures code { color: var(--bad); }
`
