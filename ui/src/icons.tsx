/** Line icons (24×24, stroke = currentColor), drawn inline: no icon font, no network. */
const PATHS: Record<string, string> = {
  messages: 'M4 5h16v11H9l-5 4z',
  devices: 'M3 6h12v9H3zM1 18h16M18 8h4v11h-4z',
  links: 'M10 14a4 4 0 0 0 5.6 0l3-3a4 4 0 0 0-5.6-5.6l-1 1M14 10a4 4 0 0 0-5.6 0l-3 3a4 4 0 0 0 5.6 5.6l1-1',
  phone: 'M8 2h8a1 1 0 0 1 1 1v18a1 1 0 0 1-1 1H8a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1zM11 18h2',
  tablet: 'M5 3h14a1 1 0 0 1 1 1v16a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1zM11 18h2',
  laptop: 'M5 5h14v10H5zM2 19h20',
  desktop: 'M3 4h18v12H3zM9 20h6M12 16v4',
  watch: 'M8 6h8v12H8zM9 6l1-4h4l1 4M9 18l1 4h4l1-4',
  server: 'M4 4h16v6H4zM4 14h16v6H4zM7 7h.01M7 17h.01',
  send: 'M3 11l18-8-8 18-2-8z',
  search: 'M11 4a7 7 0 1 1 0 14 7 7 0 0 1 0-14zM16 16l5 5',
  plus: 'M12 5v14M5 12h14',
  back: 'M15 5l-7 7 7 7',
  check: 'M5 12l5 5 9-10',
  alert: 'M12 3l10 18H2zM12 10v5M12 18h.01',
  signal: 'M4 20v-3M9 20v-7M14 20v-11M19 20V5',
  attach: 'M20 11l-8.5 8.5a5 5 0 0 1-7-7L13 4a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L14 7',
  file: 'M6 2h8l5 5v15H6zM14 2v5h5'
}

export type IconName = keyof typeof PATHS

export function Icon ({ name, size = 20, label }: { name: IconName, size?: number, label?: string }) {
  return (
    <svg
      class='icon' width={size} height={size} viewBox='0 0 24 24' fill='none' stroke='currentColor'
      stroke-width='1.8' stroke-linecap='round' stroke-linejoin='round'
      role={label == null ? undefined : 'img'} aria-label={label} aria-hidden={label == null ? 'true' : undefined}
    >
      <path d={PATHS[name]} />
    </svg>
  )
}

/** A device's icon by its kind. */
export function KindIcon ({ kind, size }: { kind: string, size?: number }) {
  return <Icon name={(kind in PATHS ? kind : 'desktop')} size={size} />
}
