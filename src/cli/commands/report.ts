// Subcommands of the report area (see src/cli/commands.ts).
export {};
