// @ts-check
// Checks the addon's netlink tables (native/netlink/spec.cc) against the kernel's own
// YAML specs (Documentation/netlink/specs/{netdev,ethtool}.yaml) from the same Debian
// linux-source the conformance mode unpacks: every command id we send, every op name we
// report, every attribute we encode or decode (its id, its type, its multi-attr flag, the
// set it nests and the enum that names its values), and every enum or flags value we
// name. What the addon leaves out is fine; what it has must be what the kernel says.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * A family's tables as the addon's testing.netlinkSpec() reports them.
 * @typedef {object} NetlinkSpec
 * @property {{ name: string, id: number }[]} commands
 * @property {Record<string, { name: string, type: number, kind: string, multi: boolean, nest?: string, enum?: string }[]>} sets attribute
 *   sets by name; each attribute's `type` is its id
 * @property {Record<string, { flags: boolean, entries: { name: string, value: number }[] }>} [enums] enum and flags
 *   definitions by name; a flags entry's `value` is its bit's mask
 * @property {Record<string, number>} [ops] every op's id by name, notifications included
 */
/**
 * The parts of a kernel YAML spec (Documentation/netlink/specs) that are checked.
 * @typedef {object} FamilyYaml
 * @property {{ name: string, 'subset-of'?: string, attributes: YamlAttribute[] }[]} attribute-sets
 * @property {{ 'enum-model'?: string, list: YamlOperation[] }} operations
 * @property {YamlDefinition[]} [definitions]
 */
/**
 * @typedef {{ name: string, value?: number, type: string, 'multi-attr'?: boolean, 'nested-attributes'?: string, enum?: string }} YamlAttribute
 * @typedef {{ name: string, type: string, 'value-start'?: number, entries?: (string | { name: string, value?: number })[] }} YamlDefinition
 * @typedef {{ name: string, value?: number, do?: { request?: { value?: number } }, dump?: { request?: { value?: number } } }} YamlOperation
 * @typedef {{ id: number, type: string, multi: boolean, nest: string | undefined, enum: string | undefined }} YamlAttrInfo
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
      attrs.set(camel(a.name), { id, type: a.type, multi: a['multi-attr'] === true, nest: a['nested-attributes'], enum: a.enum });
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
 * Each enum and flags definition's values by name: an enum counts up from its
 * value-start (default 0), a flags definition's bits from bit value-start; an
 * entry may give its value outright.
 * @param {FamilyYaml} yaml
 */
function enumValues(yaml) {
  /** @type {Map<string, { flags: boolean, values: Map<string, number> }>} */
  const out = new Map();
  for (const d of yaml.definitions ?? []) {
    if (d.type !== 'enum' && d.type !== 'flags') continue;
    const flags = d.type === 'flags';
    /** @type {Map<string, number>} */
    const values = new Map();
    let next = d['value-start'] ?? 0;
    for (const e of d.entries ?? []) {
      const entry = typeof e === 'string' ? { name: e } : e;
      const n = entry.value ?? next;
      next = n + 1;
      values.set(entry.name, flags && entry.value === undefined ? 2 ** n : n);
    }
    out.set(d.name, { flags, values });
  }
  return out;
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
  const enums = enumValues(yaml);
  for (const c of spec.commands) {
    const id = ops.get(c.name);
    if (id === undefined) problems.push(`command ${c.name}: not in the YAML`);
    else if (id !== c.id) problems.push(`command ${c.name}: id ${c.id}, the YAML says ${id}`);
  }
  for (const [name, id] of Object.entries(spec.ops ?? {})) {
    const theirs = ops.get(name);
    if (theirs === undefined) problems.push(`op ${name}: not in the YAML`);
    else if (theirs !== id) problems.push(`op ${name}: id ${id}, the YAML says ${theirs}`);
  }
  for (const [name, e] of Object.entries(spec.enums ?? {})) {
    const theirs = enums.get(name);
    if (!theirs) {
      problems.push(`enum ${name}: not in the YAML definitions`);
      continue;
    }
    if (theirs.flags !== e.flags)
      problems.push(`enum ${name}: ${e.flags ? 'flags' : 'enum'}, the YAML says ${theirs.flags ? 'flags' : 'enum'}`);
    for (const x of e.entries) {
      const v = theirs.values.get(x.name);
      if (v === undefined) problems.push(`enum ${name}: ${x.name} is not in the YAML`);
      else if (v !== x.value) problems.push(`enum ${name}: ${x.name} is ${x.value}, the YAML says ${v}`);
    }
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
      if (a.enum !== t.enum) problems.push(`${where}: named by ${a.enum ?? 'nothing'}, the YAML says ${t.enum ?? 'nothing'}`);
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
