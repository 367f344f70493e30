/**
 * What a stack type adds to a scenario's own `requires`: each stack's requirements (harness/stacks/<type>/)
 * add to these, and effectiveRequirements (requirements.ts) collects them.
 */
export interface Needs {
  /** device-mapper targets `dmsetup targets` must list */
  targets: Set<string>;
  /** algorithms /proc/crypto must list */
  crypto: Set<string>;
  /** an option the program's --help must list */
  option(program: string, option: string): void;
  /** the target's lowest version (the highest of what every feature asks) */
  atLeast(target: string, min: string): void;
}
