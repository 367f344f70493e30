/** Plain-text mail layout: prose wrapped at word boundaries, preformatted lines folded, nothing over 80 columns. */
export const WIDTH = 80;

/** Wraps prose to `width`, continuing with `indent`; words longer than a line are folded. */
export function wrap(text: string, width = WIDTH, indent = ''): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    const candidate = line === '' ? (out.length === 0 ? word : indent + word) : `${line} ${word}`;
    if (candidate.length <= width) {
      line = candidate;
      continue;
    }
    if (line !== '') out.push(line);
    line = (out.length === 0 ? '' : indent) + word;
    while (line.length > width) {
      out.push(line.slice(0, width));
      line = indent + line.slice(width);
    }
  }
  if (line !== '' || out.length === 0) out.push(line);
  return out;
}

/**
 * Folds a preformatted line (a console line, a command) that is too long: the rest continues on the next
 * lines after `indent`, cut at a space where there is one in the second half of the line.
 */
export function fold(line: string, width = WIDTH, indent = '  '): string[] {
  const out: string[] = [];
  let rest = line.trimEnd();
  let prefix = '';
  while (prefix.length + rest.length > width) {
    const room = width - prefix.length;
    const space = rest.lastIndexOf(' ', room);
    const cut = space > room / 2 ? space : room;
    out.push(prefix + rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
    prefix = indent;
  }
  out.push(prefix + rest);
  return out;
}

/** A mail header folded as RFC 5322 allows: continuation lines start with a space. */
export function header(name: string, value: string, width = WIDTH): string[] {
  return wrap(`${name}: ${value}`, width, ' ');
}

/** Lines of a block (console, command), each folded under its own indentation plus two, with a left margin. */
export function block(lines: string[], margin = '', width = WIDTH): string[] {
  return lines.flatMap((l) => fold(margin + l, width, `${margin}${/^\s*/.exec(l)![0]}  `));
}

/** Prose wrapped to fit after `indent`, every line indented. */
export function indented(text: string, indent: string, width = WIDTH): string[] {
  return wrap(text, width - indent.length).map((l) => indent + l);
}
