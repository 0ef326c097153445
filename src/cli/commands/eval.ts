// Subcommands of the eval area (see src/cli/commands.ts).
export {};
