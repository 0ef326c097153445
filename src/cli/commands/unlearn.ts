// Subcommands of the unlearn area (see src/cli/commands.ts).
export {};
