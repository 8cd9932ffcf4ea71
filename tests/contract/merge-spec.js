#!/usr/bin/env node
// Merges GHL's contacts.json and businesses.json into one OpenAPI document for a Prism proxy
// (a proxy takes one document), inlining the `../common/common-schemas.json` references.
// Usage: node merge-spec.js <spec dir holding apps/ and common/> <output file>
// The output goes to a temporary directory: the spec is never copied into the repository.
'use strict';
const fs = require('fs');
const path = require('path');

const [specDir, out] = process.argv.slice(2);
if (!specDir || !out) {
  console.error('usage: node merge-spec.js <spec dir> <output file>');
  process.exit(2);
}
const read = (p) => JSON.parse(fs.readFileSync(path.join(specDir, p), 'utf8'));
const common = read('common/common-schemas.json');
const docs = ['apps/contacts.json', 'apps/businesses.json'].map(read);

const COMMON_REF = /^\.\.\/common\/common-schemas\.json#\/components\/schemas\//;
function inline(node) {
  if (Array.isArray(node)) return node.map(inline);
  if (node && typeof node === 'object') {
    const copy = {};
    for (const [k, v] of Object.entries(node)) {
      copy[k] = k === '$ref' && typeof v === 'string' ? v.replace(COMMON_REF, '#/components/schemas/') : inline(v);
    }
    return copy;
  }
  return node;
}

const merged = inline(docs[0]);
merged.info = { ...merged.info, title: 'GHL contacts + businesses (merged for contract tests)' };
merged.paths = {};
merged.components = { ...(merged.components || {}), schemas: { ...common.components.schemas } };
merged.components.securitySchemes = {};
merged.tags = [];
for (const doc of docs.map(inline)) {
  for (const [p, item] of Object.entries(doc.paths || {})) {
    if (merged.paths[p]) throw new Error(`path ${p} is defined twice`);
    merged.paths[p] = item;
  }
  for (const [name, schema] of Object.entries(doc.components?.schemas || {})) {
    const seen = merged.components.schemas[name];
    if (seen && JSON.stringify(seen) !== JSON.stringify(schema)) {
      throw new Error(`schema ${name} differs between documents`);
    }
    merged.components.schemas[name] = schema;
  }
  Object.assign(merged.components.securitySchemes, doc.components?.securitySchemes || {});
  merged.tags.push(...(doc.tags || []));
}
const left = JSON.stringify(merged).match(/"\$ref":"[^#][^"]*"/g);
if (left) throw new Error(`external references left: ${left.join(', ')}`);
fs.writeFileSync(out, JSON.stringify(merged, null, 1));
console.log(`wrote ${out}: ${Object.keys(merged.paths).length} paths`);
