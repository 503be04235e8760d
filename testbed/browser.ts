import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { REPO } from './device.ts'

/** Debian's Chromium (installed by .ci/run); Playwright's own browser download is not used. */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
/** Where tests leave screenshots of the page, to be looked at. */
export const SCREENSHOTS = join(REPO, 'test', 'out', 'screenshots')

export async function launchBrowser (): Promise<Browser> {
  return await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--disable-gpu', '--no-first-run'] })
}

/** A fresh browser profile (its own cookies) with a page of the given size. */
export async function newPage (browser: Browser, viewport = { width: 1280, height: 800 }): Promise<Page> {
  const context = await browser.newContext({ viewport, locale: 'en-GB', timezoneId: 'Europe/London', colorScheme: 'light' })
  context.setDefaultTimeout(15_000)
  return await context.newPage()
}

export async function screenshot (page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  const path = join(SCREENSHOTS, `${name}.png`)
  await page.screenshot({ path, animations: 'disabled' })
  return path
}

/**
 * Runs in the page (a string: this file is type-checked without the DOM): every status each
 * bubble shows, in order, as its data-status changes.
 */
const STATUS_RECORDER = `(() => {
  const seen = window.seenStatuses = {}
  const note = (el) => {
    const id = el.getAttribute('data-id'), status = el.getAttribute('data-status')
    if (id == null || status == null) return
    const list = seen[id] ??= []
    if (list.at(-1) !== status) list.push(status)
  }
  new MutationObserver(records => {
    for (const r of records) {
      if (r.type === 'attributes') note(r.target)
      for (const n of r.addedNodes) if (n instanceof Element) for (const el of [n, ...n.querySelectorAll('[data-id]')]) note(el)
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] })
})()`

export async function recordStatuses (page: Page): Promise<void> {
  await page.evaluate(STATUS_RECORDER)
}

/** The statuses the bubble of message `id` went through on `page`. */
export async function statusesSeen (page: Page, id: string): Promise<string[]> {
  return await page.evaluate(`window.seenStatuses[${JSON.stringify(id)}] ?? []`) as string[]
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/**
 * WCAG 2 A/AA problems axe-core finds on the page as it is now (serious and critical ones),
 * one line each: rule, what it asks, where.
 */
export async function accessibilityProblems (page: Page): Promise<string[]> {
  await page.evaluate(AXE)
  return await page.evaluate(`axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa'] }).then(r => r.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).slice(0, 5).join(', ')))`) as string[]
}

/**
 * Runs in the page before its scripts (a string, as above): every long task (the main thread
 * busy over 50 ms, which is what a user feels as a freeze) is kept with its duration.
 */
const LONG_TASK_RECORDER = `(() => {
  window.longTasks = []
  new PerformanceObserver(list => { for (const e of list.getEntries()) window.longTasks.push(Math.round(e.duration)) }).observe({ type: 'longtask', buffered: true })
})()`

/** From now on, on every page of the page's context: record long tasks (see longTasks). */
export async function recordLongTasks (page: Page): Promise<void> {
  await page.addInitScript(LONG_TASK_RECORDER)
}

/** The durations (ms) of the long tasks the page had since it loaded. */
export async function longTasks (page: Page): Promise<number[]> {
  return await page.evaluate('window.longTasks ?? []') as number[]
}
