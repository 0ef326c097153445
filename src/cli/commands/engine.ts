// Subcommands of the engine area (see src/cli/commands.ts).
export {};
