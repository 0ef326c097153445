// Subcommands of the world area (see src/cli/commands.ts).
export {};
