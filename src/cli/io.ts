// Where a command writes its output: process stdout/stderr in `mlfp`, captured strings in tests.
// Its own module so that commands (run-command.ts) need not import main.ts, which imports them.

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stderr is a terminal: log lines in their readable one-line form instead of JSON */
  stderrIsTTY?: boolean;
}
