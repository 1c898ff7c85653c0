// @ts-check
// Checks the addon's netlink tables (native/netlink/spec.cc) against the kernel's own
// YAML specs (Documentation/netlink/specs/{netdev,ethtool}.yaml) from the same Debian
// linux-source the conformance mode unpacks: every command id we send, and every
// attribute we encode or decode: its id, its type, its multi-attr flag and the set it
// nests. What the addon leaves out is fine; what it has must be what the kernel says.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * A family's tables as the addon's testing.netlinkSpec() reports them.
 * @typedef {object} NetlinkSpec
 * @property {{ name: string, id: number }[]} commands
 * @property {Record<string, { name: string, type: number, kind: string, multi: boolean, nest?: string }[]>} sets attribute
 *   sets by name; each attribute's `type` is its id
 */
/**
 * The parts of a kernel YAML spec (Documentation/netlink/specs) that are checked.
 * @typedef {object} FamilyYaml
 * @property {{ name: string, 'subset-of'?: string, attributes: YamlAttribute[] }[]} attribute-sets
 * @property {{ 'enum-model'?: string, list: YamlOperation[] }} operations
 */
/**
 * @typedef {{ name: string, value?: number, type: string, 'multi-attr'?: boolean, 'nested-attributes'?: string }} YamlAttribute
 * @typedef {{ name: string, value?: number, do?: { request?: { value?: number } }, dump?: { request?: { value?: number } } }} YamlOperation
 * @typedef {{ id: number, type: string, multi: boolean, nest: string | undefined }} YamlAttrInfo
 */
/** @typedef {{ name: string, problems: string[] }} SpecCheck */

/** The families checked, and their YAML file. */
export const SPEC_FAMILIES = [
  { family: 'netdev', file: 'netdev.yaml' },
  { family: 'ethtool', file: 'ethtool.yaml' },
];

// YAML types and the codec kind each may be read as. The kernel's uint is 4 or 8 bytes.
/** @type {Record<string, string[]>} */
const KINDS = {
  u8: ['u8'],
  u16: ['u16'],
  u32: ['u32'],
  u64: ['u64', 'uint'],
  uint: ['uint', 'u64'],
  s32: ['s32'],
  string: ['string'],
  flag: ['flag'],
  binary: ['binary'],
  nest: ['nest'],
  'indexed-array': ['nest'],
};

const camel = (/** @type {string} */ name) => name.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());

/**
 * @param {string} file
 * @returns {FamilyYaml}
 */
function loadYaml(file) {
  // python3-yaml is one of the conformance mode's packages; Node has no YAML parser.
  const py = 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)';
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', py, file], { encoding: 'utf8', maxBuffer: 64 << 20 }));
}

/**
 * { setName: Map(camelName -> { id, type, multi, nest }) }, subsets resolved to their parent's ids and types.
 * @param {FamilyYaml} yaml
 */
function attributeSets(yaml) {
  /** @type {Map<string, Map<string, YamlAttrInfo>>} */
  const sets = new Map();
  for (const s of yaml['attribute-sets']) {
    if (s['subset-of']) continue;
    /** @type {Map<string, YamlAttrInfo>} */
    const attrs = new Map();
    let next = 1;
    for (const a of s.attributes) {
      const id = a.value ?? next;
      next = id + 1;
      attrs.set(camel(a.name), { id, type: a.type, multi: a['multi-attr'] === true, nest: a['nested-attributes'] });
    }
    sets.set(s.name, attrs);
  }
  for (const s of yaml['attribute-sets']) {
    if (!s['subset-of']) continue;
    const parent = sets.get(s['subset-of']);
    /** @type {Map<string, YamlAttrInfo>} */
    const attrs = new Map();
    for (const a of s.attributes) {
      const p = parent?.get(camel(a.name));
      if (p) attrs.set(camel(a.name), { ...p, ...(a['nested-attributes'] ? { nest: a['nested-attributes'] } : {}) });
    }
    sets.set(s.name, attrs);
  }
  return sets;
}

/**
 * The request id of each operation, in the family's enum model.
 * @param {FamilyYaml} yaml
 */
function commandIds(yaml) {
  /** @type {Map<string, number>} */
  const ids = new Map();
  const directional = yaml.operations['enum-model'] === 'directional';
  let next = 1;
  for (const op of yaml.operations.list) {
    if (directional) {
      if (!op.do && !op.dump) continue; // notifications have reply ids only
      const explicit = op.do?.request?.value ?? op.dump?.request?.value;
      const id = explicit ?? next;
      next = id + 1;
      ids.set(op.name, id);
    } else {
      const id = op.value ?? next;
      next = id + 1;
      ids.set(op.name, id);
    }
  }
  return ids;
}

/**
 * Problems with one family: [] when every command and attribute matches.
 * @param {NetlinkSpec} spec
 * @param {FamilyYaml} yaml
 * @returns {string[]}
 */
export function checkFamily(spec, yaml) {
  /** @type {string[]} */
  const problems = [];
  const sets = attributeSets(yaml);
  const ops = commandIds(yaml);
  for (const c of spec.commands) {
    const id = ops.get(c.name);
    if (id === undefined) problems.push(`command ${c.name}: not in the YAML`);
    else if (id !== c.id) problems.push(`command ${c.name}: id ${c.id}, the YAML says ${id}`);
  }
  for (const [setName, attrs] of Object.entries(spec.sets)) {
    const theirs = sets.get(setName);
    if (!theirs) {
      problems.push(`attribute set ${setName}: not in the YAML`);
      continue;
    }
    for (const a of attrs) {
      const t = theirs.get(a.name);
      const where = `${setName}.${a.name}`;
      if (!t) {
        problems.push(`${where}: not in the YAML set`);
        continue;
      }
      if (t.id !== a.type) problems.push(`${where}: id ${a.type}, the YAML says ${t.id}`);
      if (!(KINDS[t.type] ?? []).includes(a.kind)) problems.push(`${where}: read as ${a.kind}, the YAML type is ${t.type}`);
      if (t.multi !== a.multi) problems.push(`${where}: multi-attr ${a.multi}, the YAML says ${t.multi}`);
      if (a.nest !== undefined && t.nest !== undefined && a.nest !== t.nest) {
        // A nest may be decoded with a subset of the YAML's set (fewer attributes, same ids).
        const ours = spec.sets[a.nest] ?? [];
        const full = sets.get(t.nest);
        if (!full || !ours.every((x) => full.get(x.name)?.id === x.type))
          problems.push(`${where}: nests ${a.nest}, the YAML nests ${t.nest}`);
      }
    }
  }
  return problems;
}

/**
 * Checks every family in SPEC_FAMILIES; returns [{ name, problems }].
 * @param {{ repoRoot: string, specsDir: string }} dirs
 * @returns {SpecCheck[]}
 */
export function checkSpecs({ repoRoot, specsDir }) {
  const require = createRequire(import.meta.url);
  /** @type {{ testing: { netlinkSpec(family: string): NetlinkSpec | null } }} */
  const native = require(join(repoRoot, 'dist/lib/internal.js')).native();
  return SPEC_FAMILIES.map(({ family, file }) => {
    const spec = native.testing.netlinkSpec(family);
    if (!spec) return { name: `${family} spec`, problems: [`the addon has no ${family} family`] };
    return { name: `native/netlink/spec.cc ${family} matches ${file}`, problems: checkFamily(spec, loadYaml(join(specsDir, file))) };
  });
}
