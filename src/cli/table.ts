import Table from 'cli-table3';

/** A plain, borderless table that fits 80 columns when its cells do. */
export function table(head: string[], rows: Array<Array<string | number>>): string {
  const t = new Table({
    head,
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ' },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  t.push(...rows.map((r) => r.map(String)));
  return t.toString().split('\n').map((l) => l.trimEnd()).join('\n');
}
