// `mlfp` command line: bars, features, run (and later score, admin). Returns the process exit code.

export async function main(argv: readonly string[]): Promise<number> {
  process.stderr.write(`mlfp: not implemented yet (${argv.join(' ')})\n`);
  return 2;
}
