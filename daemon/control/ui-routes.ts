import { ControlError } from '../errors.ts'
import type { Route } from './router.ts'

/** What `companion ui` asks of the web page's server. */
export interface UiLinks {
  link(): { url: string, expiresAt: number }
}

/** `POST /v1/ui`: a one-time link that signs a browser in to the page. */
export function uiRoutes (ui: UiLinks | undefined): Route[] {
  return [{
    method: 'POST',
    path: '/v1/ui',
    json: () => {
      if (ui == null) throw new ControlError(409, 'ui_disabled', 'this daemon runs without its web page (--no-ui)')
      return ui.link()
    }
  }]
}
