/**
 * @internal The one entry point for what this package's own CLI and
 * benchmarks need beyond the public API (`lib/index.ts`): the raw binding
 * (the self-test's deliberately malformed bind, the replay source of the
 * fragment-pipeline benchmark), the package root, and how the CLI prints an
 * error. It is not in the package's `exports`, so users cannot import it.
 */
export { describeError } from './errors';
export { native, packageRoot } from './native';
export { zcrxPlan } from './zcrx';
