#!/usr/bin/env node
// Entry point for the `rlcp` command: registers the TypeScript loader, then runs the CLI.
const { register } = await import('tsx/esm/api');
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
