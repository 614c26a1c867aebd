/** A mode's list of official models: choosing one puts its URL in the mode's weights-URL box. */
export function presetSelect(presets: ReadonlyArray<{ label: string; url: string }>, urlBox: HTMLInputElement): HTMLSelectElement {
  const select = document.createElement('select');
  select.dataset.role = 'preset';
  select.append(new Option(presets.length ? 'an official model…' : '(no official models)', ''));
  for (const p of presets) select.append(new Option(p.label, p.url));
  select.addEventListener('change', () => { if (select.value) urlBox.value = select.value; });
  return select;
}
