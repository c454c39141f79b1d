// Adds a stylesheet to every page that has a `base_head` slot, and a `shout` filter.
import { definePlugin } from 'fastify-pluginkit'

export default definePlugin({
  name: 'theme',
  version: '1.0.0',
  author: 'fastify-pluginkit',
  description: 'A warm colour theme for the host pages',
  register () {
    return {
      tep: { base_head: "{{ emit_assets('theme', 'theme.css') }}" },
      filter: { shout: (text: unknown) => `${String(text).toUpperCase()}!` }
    }
  }
})
