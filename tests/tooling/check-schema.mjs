#!/usr/bin/env node
// Checks the playground's example operations against the gateway's schema with graphql-js, the
// reference implementation the browser tools (GraphiQL, codegen, Apollo) build on:
//   1. schema.graphql builds with `buildSchema` (the SDL async-graphql prints is standard);
//   2. every example in playground/src/examples.js parses and validates against it;
//   3. an example's variables coerce to its variable definitions.
//
//   npm --prefix tests/tooling ci && node tests/tooling/check-schema.mjs [SCHEMA] [EXAMPLES]
//
// Examples the current schema cannot serve yet are listed in KNOWN_GAPS with the reason; such an
// example is reported but does not fail the check, and a listed example that validates fails it
// (the entry is stale: remove it). Exit status 1 on any failure.
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { buildSchema, getVariableValues, parse, validate } from 'graphql';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const schemaPath = path.resolve(process.argv[2] ?? path.join(repo, 'schema.graphql'));
const examplesPath = path.resolve(process.argv[3] ?? path.join(repo, 'playground/src/examples.js'));

/** Example name -> why it does not validate against today's schema. */
const KNOWN_GAPS = {};

let passed = 0;
let failed = 0;
function report(ok, name, detail = '') {
  if (ok) passed += 1;
  else failed += 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
}

/** Every problem with one example, as messages ([] when it is valid). */
function problems(schema, example) {
  let document;
  try {
    document = parse(example.query);
  } catch (error) {
    return [`syntax: ${error.message}`];
  }
  const errors = validate(schema, document).map((e) => e.message);
  if (errors.length) return errors;
  if (example.variables) {
    let values;
    try {
      values = JSON.parse(example.variables);
    } catch (error) {
      return [`variables are not JSON: ${error.message}`];
    }
    for (const operation of document.definitions.filter((d) => d.kind === 'OperationDefinition')) {
      const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], values);
      if (coerced.errors) errors.push(...coerced.errors.map((e) => `variables: ${e.message}`));
    }
  }
  return errors;
}

async function main() {
  let schema;
  try {
    schema = buildSchema(await readFile(schemaPath, 'utf8'));
    report(true, `buildSchema(${path.relative(repo, schemaPath)})`);
  } catch (error) {
    report(false, `buildSchema(${path.relative(repo, schemaPath)})`, error.message);
    return;
  }
  const { EXAMPLES } = await import(pathToFileURL(examplesPath).href);
  if (!Array.isArray(EXAMPLES) || EXAMPLES.length === 0) {
    report(false, `${path.relative(repo, examplesPath)} exports EXAMPLES`, 'no examples found');
    return;
  }
  for (const example of EXAMPLES) {
    const errors = problems(schema, example);
    const gap = KNOWN_GAPS[example.name];
    if (gap && errors.length) {
      console.log(`gap  ${example.name} — known: ${gap} (${errors.join('; ')})`);
    } else if (gap) {
      report(false, example.name, `validates now: remove it from KNOWN_GAPS in ${path.relative(repo, fileURLToPath(import.meta.url))}`);
    } else {
      report(errors.length === 0, example.name, errors.join('; '));
    }
  }
  for (const name of Object.keys(KNOWN_GAPS)) {
    if (!EXAMPLES.some((e) => e.name === name)) report(false, `KNOWN_GAPS entry "${name}"`, 'no such example: remove the entry');
  }
}

try {
  await main();
} catch (error) {
  report(false, 'check-schema', error.stack ?? String(error));
}
console.log(`check-schema: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
