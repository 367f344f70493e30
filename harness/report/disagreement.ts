/** The model's first disagreement with the kernel, in words a kernel developer reads without our code. */
import type { Disagreement } from '../verdict/types.ts';
import type { StepRecord } from '../run/session/observations.ts';

const MEANING: Record<string, string> = {
  'silent-acceptance': 'the kernel returned data that must have failed its integrity check',
  'false-alarm': 'the kernel failed a read that must succeed',
  'wrong-errno': 'the read failed as it must, but with another errno',
  'data-mismatch': 'the read succeeded but returned other bytes than were written',
  'wrong-failing-blocks': 'another set of blocks failed than must fail',
  'mismatch-counter': "dm-integrity's mismatch counter differs from the number of checksum failures",
  log: 'the kernel log differs from what the stack must print',
  'journal-not-cleared': 'a clean close left dm-integrity journal entries for the next activation to replay',
};

/** A step's guest commands as one would type them (the last one is usually the I/O that disagreed). */
function stepCommand(step: StepRecord | undefined): string | undefined {
  const cmd = step?.commands.at(-1);
  return cmd === undefined ? undefined : cmd.argv.join(' ');
}

/** Lines: where (step, command, block, sector), expected vs. seen, what it means, how many more there are. */
export function describeDisagreements(dis: Disagreement[], steps: StepRecord[]): string[] {
  const d = dis[0];
  if (d === undefined) return [];
  const step = steps.find((s) => s.index === d.step);
  const where = [
    d.block !== undefined ? `block ${d.block}` : undefined,
    d.sector !== undefined ? `sector ${d.sector}` : undefined,
  ].filter((x) => x !== undefined).join(', ');
  const cmd = stepCommand(step);
  return [
    `step ${d.step}${step !== undefined ? ` (${step.kind})` : ''}${where !== '' ? `, ${where}` : ''}:`,
    ...(cmd !== undefined ? [`  command:  ${cmd}`] : []),
    `  expected: ${d.expected}`,
    `  seen:     ${d.found}`,
    `  (${d.kind}: ${MEANING[d.kind] ?? 'the observation differs from the model'})`,
    ...(dis.length > 1 ? [`${dis.length - 1} more disagreement(s) in disagreements.json`] : []),
  ];
}
