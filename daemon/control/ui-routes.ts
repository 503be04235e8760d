import { UiDisabledError } from '../errors.ts'
import { jsonRoute, type Route } from './router.ts'
import { API } from './contract.ts'

/** What `companion ui` asks of the web page's server. */
export interface UiLinks {
  link(): { url: string, expiresAt: number }
}

/** `POST /v1/ui`: a one-time link that signs a browser in to the page. */
export function uiRoutes (ui: UiLinks | undefined): Route[] {
  return [jsonRoute(API.uiLink, () => {
    if (ui == null) throw new UiDisabledError('this daemon runs without its web page (--no-ui)')
    return ui.link()
  })]
}
