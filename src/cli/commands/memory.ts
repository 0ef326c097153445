// Subcommands of the memory area (see src/cli/commands.ts).
export {};
