// Subcommands of the model area (see src/cli/commands.ts).
export {};
