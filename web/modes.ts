/**
 * The page's modes as tabs: "One photo" (web/app.ts) by default, and others mounted into their
 * own `<section id="mode-ID">` the first time their tab is chosen (several photos -> 3D, webcam /
 * video streaming). `#ID` in the address opens a mode.
 */
export type ModeMount = (section: HTMLElement) => void | Promise<void>;

const mounted = new Set<string>(['single']);
const mounts = new Map<string, ModeMount>();

function tabs(): HTMLButtonElement[] {
  return [...document.querySelectorAll<HTMLButtonElement>('#modes [data-mode]')];
}

/** Shows mode `id` (mounting it on first use) and hides the others. */
export async function showMode(id: string): Promise<void> {
  const section = document.getElementById(`mode-${id}`);
  if (!section) return;
  for (const t of tabs()) t.setAttribute('aria-selected', String(t.dataset.mode === id));
  for (const s of document.querySelectorAll<HTMLElement>('[id^="mode-"][role=tabpanel]')) s.hidden = s !== section;
  if (!mounted.has(id)) {
    mounted.add(id);
    await mounts.get(id)?.(section);
  }
}

/** Adds a tab for a mode; `mount` fills its section the first time the tab is chosen. */
export function registerMode(id: string, label: string, mount: ModeMount): void {
  let section = document.getElementById(`mode-${id}`);
  if (!section) {
    section = document.createElement('section');
    section.id = `mode-${id}`;
    section.hidden = true;
    document.body.insertBefore(section, document.getElementById('drop-overlay'));
  }
  section.setAttribute('role', 'tabpanel');
  mounts.set(id, mount);
  const tab = document.createElement('button');
  tab.setAttribute('role', 'tab');
  tab.dataset.mode = id;
  tab.setAttribute('aria-controls', section.id);
  tab.setAttribute('aria-selected', 'false');
  tab.textContent = label;
  tab.addEventListener('click', () => { history.replaceState(null, '', `#${id}`); void showMode(id); });
  document.getElementById('modes')!.appendChild(tab);
  if (location.hash === `#${id}`) void showMode(id);
}

/** The mode the page is showing. */
export function currentMode(): string {
  return tabs().find((t) => t.getAttribute('aria-selected') === 'true')?.dataset.mode ?? 'single';
}

export function initModes(): void {
  document.querySelector<HTMLButtonElement>('#modes [data-mode="single"]')!.addEventListener('click', () => {
    history.replaceState(null, '', location.pathname + location.search);
    void showMode('single');
  });
}
